"""English and the three synthetic languages: how each one turns a clause into words.

Each language differs from English in vocabulary, word order and morphology. A clause is
realized as constituents (subject, verb group, object, place, adverb) that each language
builds with its own morphology and then orders its own way; every word is tagged, so POS
tags follow the language's own structure.

Code-switching (corpora only) swaps whole constituents for their English realization,
kept in the host language's slot, as real code-switching happens at constituent
boundaries. Because the English verb group carries "did not" where the host has its own
negation, this is what lets an encoder align function words, not just content words.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from trainers.synth import lexicon as lx
from trainers.synth.grammar import Clause, NounPhrase, Tagged

CONSTITUENTS = ("subject", "verb", "object", "place", "adverb")


@dataclass(frozen=True)
class LanguageInfo:
    """Typological metadata, exported in the manifest for the analysis code."""

    code: str
    name: str
    script: str
    word_order: str
    adjective_order: str
    adposition: str
    morphology: str
    resource: str
    corpus_fraction: float  # corpus size relative to English


class Language:
    info: LanguageInfo
    order: tuple[str, ...] = CONSTITUENTS  # the language's constituent order
    function_words: tuple[str, ...] = ()
    phonology: lx.Phonology | None = None

    def __init__(self) -> None:
        reserved = set(self.function_words)
        self.stems = (
            lx.build_stems(self.info.code, self.phonology, reserved) if self.phonology else {}
        )

    @property
    def code(self) -> str:
        return self.info.code

    def stem(self, lemma: str) -> str:
        return self.stems[lemma]

    def conjunction(self, contrast: bool) -> str:
        raise NotImplementedError

    def parts(self, c: Clause) -> dict[str, Tagged]:
        """The clause's constituents (empty when absent), keyed by CONSTITUENTS."""
        raise NotImplementedError

    def clause(self, c: Clause, swap: AbstractSet[str] = frozenset()) -> Tagged:
        parts = self.parts(c)
        if swap:
            english = ENGLISH.parts(c)
            parts = {key: english[key] if key in swap else words for key, words in parts.items()}
        return [word for key in self.order for word in parts[key]]

    def sentence(
        self, clauses: list[Clause], contrast: bool = False, swap: AbstractSet[str] = frozenset()
    ) -> Tagged:
        words: Tagged = []
        for i, c in enumerate(clauses):
            if i:
                words.append((self.conjunction(contrast), "CCONJ"))
            words.extend(self.clause(c, swap))
        words.append((".", "PUNCT"))
        first = words[0][0]
        words[0] = (first[:1].upper() + first[1:], words[0][1])
        return words


class English(Language):
    info = LanguageInfo(
        "en", "English", "Latin", "SVO", "AdjN", "preposition", "analytic", "high", 1.0
    )

    def conjunction(self, contrast: bool) -> str:
        return "but" if contrast else "and"

    def noun_phrase(self, np: NounPhrase) -> Tagged:
        if np.kind == "name":
            return [(np.head, "PROPN")]
        if np.kind == "pronoun":
            return [(np.head, "PRON")]
        adj = [(np.adjective, "ADJ")] if np.adjective else []
        if np.count is not None:
            return [(str(np.count), "NUM"), *adj, (lx.english_plural(np.head), "NOUN")]
        first = np.adjective or np.head
        article = "the" if np.definite else ("an" if first[0] in "aeiou" else "a")
        return [(article, "DET"), *adj, (np.head, "NOUN")]

    def verb_group(self, c: Clause) -> Tagged:
        present, past, _ = lx.VERBS[c.verb]
        if c.negated:
            return [("did" if c.past else "does", "AUX"), ("not", "PART"), (c.verb, "VERB")]
        return [(past if c.past else present, "VERB")]

    def parts(self, c: Clause) -> dict[str, Tagged]:
        place = [(c.place[0], "ADP"), ("the", "DET"), (c.place[1], "NOUN")] if c.place else []
        return {
            "subject": self.noun_phrase(c.subject),
            "verb": self.verb_group(c),
            "object": self.noun_phrase(c.obj),
            "place": place,
            "adverb": [(c.adverb, "ADV")] if c.adverb else [],
        }


ENGLISH = English()


def _back(word: str) -> bool:
    """Vowel harmony: suffixes agree with the last vowel of the stem (back: a ı o u)."""
    vowels = [ch for ch in word if ch in "aeiouıöü"]
    return bool(vowels) and vowels[-1] in "aıou"


class Qaa(Language):
    """SOV, agglutinative (case, number, negation and tense suffixes), no definite article."""

    info = LanguageInfo(
        "qaa", "Tarkanic", "Latin", "SOV", "AdjN", "postposition", "agglutinative", "high", 0.6
    )
    order = ("subject", "adverb", "place", "object", "verb")
    function_words = ("bir", "ve", "ama")
    phonology = lx.Phonology(
        onsets=("b", "d", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "y", "z", "ş", "ç"),
        vowels=("a", "e", "i", "o", "u", "ı", "ü", "ö"),
        codas=("k", "l", "m", "n", "r", "s", "t", "z"),
        coda_rate=0.2,
        final_coda_rate=0.5,
    )

    def suffix(self, stem: str, back: str, front: str) -> str:
        return stem + (back if _back(stem) else front)

    def conjunction(self, contrast: bool) -> str:
        return "ama" if contrast else "ve"

    def noun_phrase(self, np: NounPhrase, is_object: bool) -> Tagged:
        if np.kind == "name":
            return [(np.head, "PROPN")]
        if np.kind == "pronoun":
            return [(self.stem(np.head), "PRON")]
        adj = [(self.stem(np.adjective), "ADJ")] if np.adjective else []
        stem = self.stem(np.head)
        if np.count is not None:
            return [(str(np.count), "NUM"), *adj, (self.suffix(stem, "lar", "ler"), "NOUN")]
        if not is_object:
            return [*adj, (stem, "NOUN")]
        if not np.definite:
            return [*adj, ("bir", "DET"), (stem, "NOUN")]
        # Definite objects take the accusative suffix, with a buffer "y" after a vowel.
        acc = ("yı", "yi") if stem[-1] in "aeiouıöü" else ("ı", "i")
        return [*adj, (self.suffix(stem, *acc), "NOUN")]

    def verb(self, c: Clause) -> str:
        form = self.stem(c.verb)
        if c.negated:
            form = self.suffix(form, "ma", "me") if c.past else self.suffix(form, "maz", "mez")
        if c.past:
            return self.suffix(form, "dı", "di")
        if c.negated:
            return form
        return form + "r" if form[-1] in "aeiouıöü" else self.suffix(form, "ar", "er")

    def parts(self, c: Clause) -> dict[str, Tagged]:
        place: Tagged = []
        if c.place:
            prep, noun = c.place
            if prep == "in":  # a locative case suffix rather than a separate word
                place = [(self.suffix(self.stem(noun), "da", "de"), "NOUN")]
            else:
                place = [(self.stem(noun), "NOUN"), (self.stem(prep), "ADP")]
        return {
            "subject": self.noun_phrase(c.subject, is_object=False),
            "verb": [(self.verb(c), "VERB")],
            "object": self.noun_phrase(c.obj, is_object=True),
            "place": place,
            "adverb": [(self.stem(c.adverb), "ADV")] if c.adverb else [],
        }


class Qab(Language):
    """VSO, fusional case/number endings, adjectives after the noun and agreeing, Cyrillic."""

    info = LanguageInfo(
        "qab", "Veltsky", "Cyrillic", "VSO", "NAdj", "preposition", "fusional", "medium", 0.35
    )
    order = ("verb", "subject", "object", "place", "adverb")
    function_words = ("не", "и", "но")
    phonology = lx.Phonology(
        onsets=(
            "б",
            "в",
            "г",
            "д",
            "ж",
            "з",
            "к",
            "л",
            "м",
            "н",
            "п",
            "р",
            "с",
            "т",
            "ф",
            "х",
            "ч",
            "ш",
        ),
        vowels=("а", "е", "и", "о", "у", "ы"),
        codas=("к", "л", "м", "н", "р", "с", "т", "в"),
        coda_rate=0.15,
        final_coda_rate=0.9,
        transliteration=lx.CYRILLIC,
    )
    # (noun ending, adjective ending): one ending fuses case and number.
    ENDINGS = {"nom": ("", "ый"), "acc": ("у", "ую"), "pl": ("ов", "ые"), "loc": ("е", "ом")}

    def conjunction(self, contrast: bool) -> str:
        return "но" if contrast else "и"

    def noun_phrase(self, np: NounPhrase, case: str) -> Tagged:
        if np.kind == "name":
            # International names stay in Latin script, as shared anchors with English.
            return [(np.head, "PROPN")]
        if np.kind == "pronoun":
            return [(self.stem(np.head), "PRON")]
        noun_end, adj_end = self.ENDINGS["pl" if np.count is not None else case]
        words: Tagged = [(str(np.count), "NUM")] if np.count is not None else []
        words.append((self.stem(np.head) + noun_end, "NOUN"))
        if np.adjective:
            words.append((self.stem(np.adjective) + adj_end, "ADJ"))
        return words

    def parts(self, c: Clause) -> dict[str, Tagged]:
        verb: Tagged = [("не", "PART")] if c.negated else []
        verb.append((self.stem(c.verb) + ("ал" if c.past else "ет"), "VERB"))
        place: Tagged = []
        if c.place:
            place = [
                (self.stem(c.place[0]), "ADP"),
                *self.noun_phrase(NounPhrase(c.place[1], "noun"), "loc"),
            ]
        return {
            "subject": self.noun_phrase(c.subject, "nom"),
            "verb": verb,
            "object": self.noun_phrase(c.obj, "acc"),
            "place": place,
            "adverb": [(self.stem(c.adverb), "ADV")] if c.adverb else [],
        }


class Qac(Language):
    """SVO but noun-adjective and postpositions; isolating: tense and negation are particles."""

    info = LanguageInfo(
        "qac", "Moanu", "Latin", "SVO", "NAdj", "postposition", "isolating", "low", 0.1
    )
    function_words = ("le", "ta", "ua", "ka", "mo", "pe")
    phonology = lx.Phonology(
        onsets=("p", "t", "k", "m", "n", "l", "s", "h", "w", "f"),
        vowels=("a", "e", "i", "o", "u", "á", "é", "ó"),
        codas=("n",),
        coda_rate=0.0,
        final_coda_rate=0.15,
    )

    def conjunction(self, contrast: bool) -> str:
        return "pe" if contrast else "mo"

    def noun_phrase(self, np: NounPhrase) -> Tagged:
        if np.kind == "name":
            return [(np.head, "PROPN")]
        if np.kind == "pronoun":
            return [(self.stem(np.head), "PRON")]
        noun = (self.stem(np.head), "NOUN")
        adj = [(self.stem(np.adjective), "ADJ")] if np.adjective else []
        if np.count is not None:  # no plural marking: the number says it
            return [(str(np.count), "NUM"), noun, *adj]
        if np.definite:
            return [noun, *adj, ("le", "DET")]
        return [("ta", "DET"), noun, *adj]

    def parts(self, c: Clause) -> dict[str, Tagged]:
        verb: Tagged = [("ua", "AUX")] if c.past else []
        if c.negated:
            verb.append(("ka", "PART"))
        verb.append((self.stem(c.verb), "VERB"))
        place: Tagged = []
        if c.place:
            place = [(self.stem(c.place[1]), "NOUN"), ("le", "DET"), (self.stem(c.place[0]), "ADP")]
        return {
            "subject": self.noun_phrase(c.subject),
            "verb": verb,
            "object": self.noun_phrase(c.obj),
            "place": place,
            "adverb": [(self.stem(c.adverb), "ADV")] if c.adverb else [],
        }


LANGUAGES: dict[str, Language] = {lang.code: lang for lang in (ENGLISH, Qaa(), Qab(), Qac())}
