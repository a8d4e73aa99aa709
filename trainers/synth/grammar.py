"""The language-neutral meaning of a sentence, and how to sample one.

A sentence is one or more clauses; a clause is a small fact ("who did what to which
thing, where"). Every language realizes the same clause, so NLI labels and POS tags are
decided once, on meanings, and stay correct whatever the surface word order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from trainers.synth import lexicon as lx

Tagged = list[tuple[str, str]]
"""A realized sentence: (word, UPOS tag) pairs."""


@dataclass(frozen=True)
class NounPhrase:
    head: str
    kind: str  # "name", "pronoun" or "noun"
    adjective: str | None = None
    count: int | None = None  # a digit for plural objects; None means singular
    definite: bool = True


@dataclass(frozen=True)
class Clause:
    subject: NounPhrase
    verb: str
    obj: NounPhrase
    past: bool
    negated: bool = False
    place: tuple[str, str] | None = None  # (preposition lemma, place noun lemma)
    adverb: str | None = None

    def lemmas(self) -> set[str]:
        """Content lemmas the clause mentions (names included), for overlap checks."""
        found = {self.subject.head, self.verb, self.obj.head}
        found.update(x for x in (self.subject.adjective, self.obj.adjective, self.adverb) if x)
        if self.place:
            found.update(self.place)
        return found


@dataclass(frozen=True)
class Rates:
    """How often optional parts appear; corpora, NLI and POS data use different mixes."""

    pronoun: float = 0.1
    animal_subject: float = 0.3
    adjective: float = 0.4
    count: float = 0.25
    negated: float = 0.15
    place: float = 0.3
    adverb: float = 0.2


def sample_subject(rng: random.Random, rates: Rates, avoid: set[str] = frozenset()) -> NounPhrase:
    roll = rng.random()
    if roll < rates.pronoun:
        return NounPhrase(rng.choice(lx.PRONOUNS), "pronoun")
    animals = [a for a in lx.ANIMALS if a not in avoid]
    # Long sentences can use up the few animals; a name subject then takes their place.
    if roll < rates.pronoun + rates.animal_subject and animals:
        animal = rng.choice(animals)
        return NounPhrase(animal, "noun", _maybe(rng, rates.adjective / 2, lx.ADJECTIVES))
    return NounPhrase(rng.choice([n for n in lx.NAMES if n not in avoid]), "name")


def sample_object(rng: random.Random, rates: Rates, avoid: set[str] = frozenset()) -> NounPhrase:
    noun = rng.choice([n for n in lx.THINGS + lx.ANIMALS if n not in avoid])
    adjective = _maybe(rng, rates.adjective, lx.ADJECTIVES)
    if rng.random() < rates.count:
        return NounPhrase(noun, "noun", adjective, count=rng.randint(2, 9))
    return NounPhrase(noun, "noun", adjective, definite=rng.random() < 0.6)


def sample_clause(
    rng: random.Random,
    rates: Rates,
    avoid: set[str] = frozenset(),
    subject: NounPhrase | None = None,
    obj: NounPhrase | None = None,
) -> Clause:
    """A random clause whose new lemmas avoid `avoid` (so NLI can build truly new facts)."""
    past = rng.random() < 0.6
    verb = rng.choice([v for v in lx.VERBS if v not in avoid])
    place = None
    if rng.random() < rates.place:
        place = (rng.choice(lx.PREPOSITIONS), rng.choice([p for p in lx.PLACES if p not in avoid]))
    adverbs = lx.ANY_ADVERBS + (lx.PAST_ADVERBS if past else lx.PRESENT_ADVERBS)
    return Clause(
        subject=subject or sample_subject(rng, rates, avoid),
        verb=verb,
        obj=obj or sample_object(rng, rates, avoid),
        past=past,
        negated=rng.random() < rates.negated,
        place=place,
        adverb=_maybe(rng, rates.adverb, adverbs),
    )


def without_modifiers(clause: Clause, rng: random.Random) -> Clause:
    """Drops some optional parts; for a positive clause the result is still entailed."""
    obj = clause.obj
    if obj.adjective and rng.random() < 0.5:
        obj = replace(obj, adjective=None)
    place = clause.place if rng.random() < 0.5 else None
    adverb = clause.adverb if rng.random() < 0.5 else None
    return replace(clause, obj=obj, place=place, adverb=adverb)


def _maybe(rng: random.Random, rate: float, choices: tuple[str, ...]) -> str | None:
    return rng.choice(choices) if rng.random() < rate else None
