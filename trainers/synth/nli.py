"""NLI pairs decided on meanings: the target task (synth_xnli) and the English
intermediate task (synth_mnli).

The label logic is the same small theory in both, so skills carry over:
entailment restates premise facts (possibly with fewer details), contradiction restates a
fact with its polarity flipped, an antonym adjective or another number, and neutral states
a fact the premise does not mention. synth_mnli differs in its "genres" (subordinate
clauses, fronted places, passives, hedged speech) and adds a neutral kind that XNLI lacks
(an added detail), so it is a related but genuinely different task.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from trainers.synth import lexicon as lx
from trainers.synth.grammar import Clause, Rates, sample_clause, sample_subject, without_modifiers
from trainers.synth.languages import ENGLISH

LABELS = ("entailment", "neutral", "contradiction")
PREMISE_RATES = Rates(
    pronoun=0.0, animal_subject=0.1, adjective=0.5, count=0.7, negated=0.15, place=0.3, adverb=0.2
)


@dataclass(frozen=True)
class Pair:
    premise: list[Clause]
    hypothesis: Clause
    label: str


def balanced_labels(rng: random.Random, n: int) -> list[str]:
    """Exactly balanced labels in random order, so chance accuracy is one third."""
    labels = [LABELS[i % 3] for i in range(n)]
    rng.shuffle(labels)
    return labels


def sample_pair(
    rng: random.Random, label: str, *, clauses: int, added_detail_rate: float = 0.0
) -> Pair:
    premise: list[Clause] = []
    used: set[str] = set()
    for _ in range(clauses):
        clause = sample_clause(rng, PREMISE_RATES, avoid=used)
        premise.append(clause)
        used |= clause.lemmas()
    target = rng.choice(premise)
    if label == "entailment":
        # Dropping a detail under negation is not entailed ("not the red dog" is not "not the dog").
        hypothesis = (
            replace(target, adverb=None) if target.negated else without_modifiers(target, rng)
        )
    elif label == "contradiction":
        hypothesis = contradict(target, rng)
    elif rng.random() < added_detail_rate and not target.negated:
        hypothesis = add_detail(target, used, rng)
    else:
        hypothesis = new_fact(target, used, rng)
    return Pair(premise, hypothesis, label)


def contradict(clause: Clause, rng: random.Random) -> Clause:
    """Change the object's number, flip polarity, or swap the adjective for its antonym.

    A number change is the most common where the object has one: digits are written
    alike in every language, so such contradictions can be recognized in any of them."""
    roll = rng.random()
    if (
        clause.negated
        or roll < 0.3
        or clause.obj.count is None
        and clause.obj.adjective not in lx.ANTONYM_OF
    ):
        changed = replace(clause, negated=not clause.negated)
    elif clause.obj.adjective in lx.ANTONYM_OF and (roll < 0.5 or clause.obj.count is None):
        changed = replace(
            clause, obj=replace(clause.obj, adjective=lx.ANTONYM_OF[clause.obj.adjective])
        )
    else:
        other = rng.choice([n for n in range(2, 10) if n != clause.obj.count])
        changed = replace(clause, obj=replace(clause.obj, count=other))
    return replace(changed, place=changed.place if rng.random() < 0.5 else None, adverb=None)


def new_fact(clause: Clause, used: set[str], rng: random.Random) -> Clause:
    """A fact the premise is silent about: mostly the same event with someone the premise
    never names (names are shared anchors too), otherwise a new event with a new person."""
    fresh_name = sample_subject(rng, replace(PREMISE_RATES, animal_subject=0.0), avoid=used)
    if rng.random() < 0.8:
        return replace(without_modifiers(clause, rng), subject=fresh_name, negated=False)
    return sample_clause(rng, replace(PREMISE_RATES, negated=0.0), avoid=used, subject=fresh_name)


def add_detail(clause: Clause, used: set[str], rng: random.Random) -> Clause:
    """A restated fact with a detail the premise never gave (synth_mnli only)."""
    if clause.obj.adjective is None and rng.random() < 0.6:
        return replace(clause, obj=replace(clause.obj, adjective=rng.choice(lx.ADJECTIVES)))
    place = (rng.choice(lx.PREPOSITIONS), rng.choice([p for p in lx.PLACES if p not in used]))
    return replace(clause, place=place, adverb=None)


def xnli_pairs(rng: random.Random, n: int) -> list[Pair]:
    return [
        sample_pair(rng, label, clauses=2 if rng.random() < 0.4 else 1)
        for label in balanced_labels(rng, n)
    ]


# --- synth_mnli: English-only surface forms --------------------------------------------

GENRES = ("fiction", "government", "slate", "telephone", "travel")
HEDGES = ("well", "yeah", "uh", "you know")


def _words(tagged: list[tuple[str, str]]) -> list[str]:
    return [w for w, _ in tagged]


def passive(c: Clause) -> list[str]:
    """English passive voice: "the red dog was seen by Anna" (a paraphrase for entailment)."""
    participle = lx.VERBS[c.verb][2]
    plural = c.obj.count is not None
    aux = ("were" if plural else "was") if c.past else ("are" if plural else "is")
    words = _words(ENGLISH.noun_phrase(c.obj)) + [aux] + (["not"] if c.negated else [])
    words += [participle, "by"] + _words(ENGLISH.noun_phrase(c.subject))
    if c.place:
        words += [c.place[0], "the", c.place[1]]
    return words + ([c.adverb] if c.adverb else [])


def active(c: Clause, rng: random.Random) -> list[str]:
    if c.negated and c.past and rng.random() < 0.4:
        # "never" is a second negation word that synth_xnli's English never uses.
        words = _words(ENGLISH.clause(replace(c, negated=False)))
        verb_at = len(ENGLISH.noun_phrase(c.subject))
        return words[:verb_at] + ["never"] + words[verb_at:]
    return _words(ENGLISH.clause(c))


def mnli_premise(clauses: list[Clause], genre: str, rng: random.Random) -> list[str]:
    first = active(clauses[0], rng) if genre != "government" else passive(clauses[0])
    rest = [active(c, rng) for c in clauses[1:]]
    if genre == "travel" and clauses[0].place:
        prep, place = clauses[0].place
        first = [prep, "the", place, ","] + active(replace(clauses[0], place=None), rng)
    joiner = {"fiction": ["because"], "slate": [",", "while"]}.get(genre, ["and"])
    words = first + [w for clause in rest for w in joiner + clause]
    if genre == "telephone":
        words = [rng.choice(HEDGES), ",", "i", "think"] + words
    return words + ["."]


def _words_of(tagged: list[tuple[str, str]]) -> str:
    return " ".join(w for w, _ in tagged)


def _sentence(words: list[str]) -> str:
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def mnli_records(
    rng: random.Random, n: int, split: str, translate_to=None
) -> list[dict[str, object]]:
    """MultiNLI 1.0 jsonl records (the fields the release has that a reader can rely on).

    `translate_to` (a synthetic language): the same pairs with their meaning rendered in that
    language instead, a stand-in for machine-translated training data (translate-train). The
    English draws still happen, so the pairs and labels are those of the English file."""
    records = []
    for i, label in enumerate(balanced_labels(rng, n)):
        genre = rng.choice(GENRES)
        pair = sample_pair(
            rng, label, clauses=2 if genre != "government" else 1, added_detail_rate=0.4
        )
        hypothesis = (
            passive(pair.hypothesis) + ["."]
            if rng.random() < 0.3
            else active(pair.hypothesis, rng) + ["."]
        )
        prompt = f"{split}{i:05d}"
        records.append(
            {
                "annotator_labels": [label],
                "genre": genre,
                "gold_label": label,
                "pairID": f"{prompt}{'enc'[LABELS.index(label)]}",
                "promptID": prompt,
                "sentence1": _sentence(mnli_premise(pair.premise, genre, rng)),
                "sentence2": _sentence(hypothesis),
            }
        )
        if translate_to is not None:
            records[-1]["sentence1"] = _words_of(translate_to.sentence(pair.premise))
            records[-1]["sentence2"] = _words_of(translate_to.sentence([pair.hypothesis]))
    return records
