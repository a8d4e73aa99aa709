"""The shared English lexicon and each synthetic language's word forms for it.

Lemmas are English words; every other language gets its own stems for them, drawn
deterministically from the language's own phonotactics. The lexicon never depends on the
benchmark seed: a seed changes which sentences are sampled, never what the languages are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# A deliberately small lexicon: a tiny encoder pretrained for a minute or two must see
# every word often enough to learn it, in every language.
# fmt: off
NAMES = ("Anna", "Marco", "Lena", "Omar", "Sofia", "Ivan", "Yuki", "Pedro")
# Animals can be subjects as well as objects; things are only objects.
ANIMALS = ("dog", "cat", "horse", "bird")
THINGS = (
    "apple", "bread", "book", "letter", "car", "boat", "house", "table",
    "chair", "cup", "key", "phone", "song", "picture", "bus", "taxi",
)
PLACES = ("park", "market", "school", "station", "garden")
ANTONYMS = (("big", "small"), ("old", "new"), ("long", "short"), ("heavy", "light"), ("clean", "dirty"))
COLOURS = ("red", "blue", "green")
# lemma -> (third person singular present, past, past participle)
VERBS = {
    "see": ("sees", "saw", "seen"), "buy": ("buys", "bought", "bought"),
    "find": ("finds", "found", "found"), "carry": ("carries", "carried", "carried"),
    "wash": ("washes", "washed", "washed"), "paint": ("paints", "painted", "painted"),
    "sell": ("sells", "sold", "sold"), "open": ("opens", "opened", "opened"),
    "hold": ("holds", "held", "held"), "take": ("takes", "took", "taken"),
    "bring": ("brings", "brought", "brought"), "draw": ("draws", "drew", "drawn"),
}
# fmt: on
ADJECTIVES = tuple(a for pair in ANTONYMS for a in pair) + COLOURS
ANTONYM_OF = {a: b for x, y in ANTONYMS for a, b in ((x, y), (y, x))}
# Adverbs that only fit one tense; the rest fit both.
PAST_ADVERBS = ("yesterday",)
PRESENT_ADVERBS = ("today", "often")
ANY_ADVERBS = ("again", "quickly")
PREPOSITIONS = ("in", "near", "behind")
PRONOUNS = ("he", "she")

IRREGULAR_PLURALS = {"bus": "buses"}
# International words that every language borrows, adapted to its own spelling: like real
# loanwords they give the languages a few shared subwords besides names and digits.
LOANWORDS = ("phone", "bus", "taxi")


def english_plural(noun: str) -> str:
    return IRREGULAR_PLURALS.get(noun, noun + "s")


def content_lemmas() -> tuple[str, ...]:
    """Every lemma that a synthetic language relexifies (names and digits are shared)."""
    return (
        ANIMALS
        + THINGS
        + PLACES
        + ADJECTIVES
        + tuple(VERBS)
        + PAST_ADVERBS
        + PRESENT_ADVERBS
        + ANY_ADVERBS
        + PREPOSITIONS
        + PRONOUNS
    )


@dataclass(frozen=True)
class Phonology:
    """How a language builds stems: syllable shapes over its own letters."""

    onsets: tuple[str, ...]
    vowels: tuple[str, ...]
    codas: tuple[str, ...]
    coda_rate: float
    final_coda_rate: float
    # Maps Latin letters onto the script, for loanwords and proper names (None: keep Latin).
    transliteration: dict[str, str] | None = None

    def stem(self, rng: random.Random, syllables: int) -> str:
        parts = []
        for i in range(syllables):
            parts.append(rng.choice(self.onsets) + rng.choice(self.vowels))
            last = i == syllables - 1
            if rng.random() < (self.final_coda_rate if last else self.coda_rate):
                parts.append(rng.choice(self.codas))
        return "".join(parts)

    def adapt(self, word: str) -> str:
        if self.transliteration is None:
            return word
        table, lower, out, i = self.transliteration, word.lower(), [], 0
        while i < len(lower):
            # Two-letter Latin clusters ("sh", "ch") before single letters.
            step = 2 if lower[i : i + 2] in table else 1
            out.append(table.get(lower[i : i + step], lower[i : i + step]))
            i += step
        text = "".join(out)
        return text[:1].upper() + text[1:] if word[:1].isupper() else text


CYRILLIC = {
    "sh": "ш",
    "ch": "ч",
    "ph": "ф",
    "th": "т",
    "a": "а",
    "b": "б",
    "c": "к",
    "d": "д",
    "e": "е",
    "f": "ф",
    "g": "г",
    "h": "х",
    "i": "и",
    "j": "ж",
    "k": "к",
    "l": "л",
    "m": "м",
    "n": "н",
    "o": "о",
    "p": "п",
    "q": "к",
    "r": "р",
    "s": "с",
    "t": "т",
    "u": "у",
    "v": "в",
    "w": "в",
    "x": "кс",
    "y": "й",
    "z": "з",
}


def build_stems(code: str, phonology: Phonology, reserved: set[str]) -> dict[str, str]:
    """One unique stem per content lemma; loanwords are adapted rather than invented."""
    rng = random.Random(f"xstilts-synth-lexicon:{code}")
    stems: dict[str, str] = {}
    taken = set(reserved)
    for lemma in content_lemmas():
        if lemma in LOANWORDS:
            stem = phonology.adapt(lemma)
        else:
            # Short stems for frequent closed-class words, longer for open classes.
            closed = lemma in PREPOSITIONS or lemma in PRONOUNS
            stem = ""
            while not stem or stem in taken:
                stem = phonology.stem(rng, 1 if closed else rng.choice((1, 2, 2, 3)))
        stems[lemma] = stem
        taken.add(stem)
    return stems
