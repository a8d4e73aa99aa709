"""Paraphrase pairs (synth_pawsx), named entities (synth_panx), bitext mining (synth_bucc) and
multiple choice (synth_hellaswag, synth_xcopa).

- Paraphrases follow PAWS: both sentences of every pair hold the same words. A paraphrase
  reorders two conjoined clauses; a non-paraphrase also swaps the subject and object of one
  of them ("the fox saw Ana" / "Ana saw the fox"), so word overlap says nothing.
- Entities are people (names, sometimes with a surname: B-PER I-PER) and places (the noun of
  a place phrase: B-LOC), tagged IOB2 in each language's own word order and morphology.
- BUCC pairs hide translations among sentences that have none on the other side.
- A multiple-choice item asks which option follows from the premise: one restates a premise
  fact, the others contradict it or state facts it never mentions (NLI's theory, as choices).
"""

from __future__ import annotations

import random
from dataclasses import replace

from trainers.synth.corpus import POS_RATES, parallel_sentences, sample_sentence
from trainers.synth.grammar import (
    Clause,
    NounPhrase,
    Rates,
    sample_clause,
    sample_subject,
    without_modifiers,
)
from trainers.synth.languages import ENGLISH, Language
from trainers.synth.nli import PREMISE_RATES, contradict, new_fact

PARAPHRASE, NOT_PARAPHRASE = "1", "0"
ANIMATE = Rates(pronoun=0.0, animal_subject=0.5, adjective=0.3, negated=0.15, place=0.3)
SURNAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Novak", "Haddad", "Kowalski", "Silva")
SURNAME_RATE = 0.4


def paraphrase_pairs(rng: random.Random, n: int) -> list[tuple[list[Clause], list[Clause], str]]:
    """`n` (first, second, label) pairs, labels exactly balanced in random order."""
    labels = [PARAPHRASE if i % 2 else NOT_PARAPHRASE for i in range(n)]
    rng.shuffle(labels)
    pairs = []
    for label in labels:
        opening = _animate_clause(rng, set())
        first = [opening, _animate_clause(rng, opening.lemmas())]
        second = [first[1], first[0]]
        if label == NOT_PARAPHRASE:
            which = rng.randrange(2)
            second[which] = _swap_roles(second[which])
        pairs.append((first, second, label))
    return pairs


def _animate_clause(rng: random.Random, avoid: set[str]) -> Clause:
    # Both roles animate, so swapping them gives another sensible clause.
    subject = sample_subject(rng, ANIMATE, avoid)
    obj = sample_subject(rng, ANIMATE, avoid | {subject.head})
    return sample_clause(rng, ANIMATE, avoid, subject=subject, obj=_as_object(obj))


def _as_object(np: NounPhrase) -> NounPhrase:
    return replace(np, count=None, definite=True)


def _swap_roles(clause: Clause) -> Clause:
    return replace(clause, subject=_as_object(clause.obj), obj=_as_object(clause.subject))


def render(language: Language, clauses: list[Clause]) -> str:
    return " ".join(w for w, _ in language.sentence(clauses))


def entity_sentences(rng: random.Random, language: Language, n: int) -> list[list[tuple[str, str]]]:
    """`n` sentences as (word, IOB2 tag) pairs."""
    return [_entities(rng, language, *sample_sentence(rng, POS_RATES)) for _ in range(n)]


def _entities(rng, language: Language, clauses: list[Clause], contrast: bool):
    words: list[tuple[str, str]] = []
    for i, clause in enumerate(clauses):
        if i:
            words.append((language.conjunction(contrast), "O"))
        parts = language.parts(clause)
        for key in language.order:
            for word, pos in parts[key]:
                if pos == "PROPN":
                    words.append((word, "B-PER"))
                    if rng.random() < SURNAME_RATE:
                        words.append((rng.choice(SURNAMES), "I-PER"))
                elif key == "place" and pos == "NOUN":
                    words.append((word, "B-LOC"))
                else:
                    words.append((word, "O"))
    words.append((".", "O"))
    rendered = language.sentence(clauses, contrast)
    words[0] = (rendered[0][0], words[0][1])  # the sentence's capitalised first word
    return words


def bitext(
    rng: random.Random, language: Language, pairs: int, distractors: int
) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """(source sentences, English sentences, gold (source index, English index) pairs): `pairs`
    translations and `distractors` untranslated sentences per side, shuffled apart."""
    rendered = parallel_sentences(rng, [language, ENGLISH], pairs + 2 * distractors)
    code = language.code
    source = rendered[code][: pairs + distractors]
    english = rendered["en"][:pairs] + rendered["en"][pairs + distractors :]
    source_order = list(range(len(source)))
    english_order = list(range(len(english)))
    rng.shuffle(source_order)
    rng.shuffle(english_order)
    source_at = {old: new for new, old in enumerate(source_order)}
    english_at = {old: new for new, old in enumerate(english_order)}
    gold = sorted((source_at[i], english_at[i]) for i in range(pairs))
    return [source[i] for i in source_order], [english[i] for i in english_order], gold


def choice_items(
    rng: random.Random, n: int, choices: int
) -> list[tuple[list[Clause], list[Clause], int]]:
    """`n` (premise clauses, option clauses, index of the option the premise entails)."""
    items = []
    while len(items) < n:
        premise: list[Clause] = []
        used: set[str] = set()
        for _ in range(rng.choice((1, 2))):
            clause = sample_clause(rng, PREMISE_RATES, avoid=used)
            premise.append(clause)
            used |= clause.lemmas()
        target = rng.choice(premise)
        right = replace(target, adverb=None) if target.negated else without_modifiers(target, rng)
        wrong: list[Clause] = []
        for _ in range(20 * choices):  # distinct options only; retry the item if none come
            option = contradict(target, rng) if rng.random() < 0.5 else new_fact(target, used, rng)
            if option != right and option not in wrong:
                wrong.append(option)
            if len(wrong) == choices - 1:
                answer = rng.randrange(choices)
                items.append((premise, wrong[:answer] + [right] + wrong[answer:], answer))
                break
    return items
