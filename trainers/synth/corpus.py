"""Monolingual MLM corpora and POS-tagged sentences, per language.

Corpora are short "documents": consecutive lines keep talking about the same few people
and things, as real text does. Predicting a masked word from its earlier mention teaches
an encoder to match identical words wherever they occur, a skill that does not depend on
the language and that NLI (does the hypothesis restate the premise?) builds on.

They are also "web-like": a share of the lines in the synthetic languages code-switch some
content words into English, which (with shared names, digits and loanwords) is the
anchor signal a small multilingual encoder aligns its languages on.
"""

from __future__ import annotations

import random

from trainers.synth.grammar import (
    Clause,
    Rates,
    Tagged,
    sample_clause,
    sample_object,
    sample_subject,
)
from trainers.synth.languages import CONSTITUENTS, Language

CORPUS_RATES = Rates()
POS_RATES = Rates(negated=0.2, place=0.35, adverb=0.3)
CODE_SWITCH_LINES = 0.3  # share of non-English lines that code-switch
CODE_SWITCH_PARTS = 0.4  # chance that each constituent of such a line is said in English
CAST_REUSE = 0.9  # chance that a clause's subject / object is one the document already met


def sample_sentence(rng: random.Random, rates: Rates) -> tuple[list[Clause], bool]:
    """One to three clauses, and whether they are joined contrastively ("but")."""
    n = rng.choices((1, 2, 3), weights=(5, 4, 1))[0]
    clauses: list[Clause] = []
    used: set[str] = set()
    for _ in range(n):
        clause = sample_clause(rng, rates, avoid=used)
        clauses.append(clause)
        used |= clause.lemmas()
    return clauses, rng.random() < 0.2


def document(rng: random.Random, rates: Rates) -> list[tuple[list[Clause], bool]]:
    """Three to six sentences about a small cast; most clauses reuse its members."""
    subjects = [sample_subject(rng, rates) for _ in range(2)]
    objects = [sample_object(rng, rates) for _ in range(3)]
    sentences = []
    for _ in range(rng.randint(3, 6)):
        clauses = []
        for _ in range(rng.choices((1, 2), weights=(3, 2))[0]):
            subject = rng.choice(subjects) if rng.random() < CAST_REUSE else None
            obj = rng.choice(objects) if rng.random() < CAST_REUSE else None
            clauses.append(sample_clause(rng, rates, subject=subject, obj=obj))
        sentences.append((clauses, rng.random() < 0.2))
    return sentences


def corpus_lines(rng: random.Random, language: Language, n: int) -> list[str]:
    lines: list[str] = []
    while len(lines) < n:
        for clauses, contrast in document(rng, CORPUS_RATES)[: n - len(lines)]:
            lines.append(_line(rng, language, clauses, contrast))
    return lines


def _line(rng: random.Random, language: Language, clauses: list[Clause], contrast: bool) -> str:
    swap: set[str] = set()
    if language.code != "en" and rng.random() < CODE_SWITCH_LINES:
        swap = {part for part in CONSTITUENTS if rng.random() < CODE_SWITCH_PARTS}
    return " ".join(w for w, _ in language.sentence(clauses, contrast, swap))


def tagged_sentences(rng: random.Random, language: Language, n: int) -> list[Tagged]:
    return [language.sentence(*sample_sentence(rng, POS_RATES)) for _ in range(n)]


def parallel_sentences(
    rng: random.Random, languages: list[Language], n: int
) -> dict[str, list[str]]:
    """`n` distinct sentences rendered in every language, line-aligned (a Tatoeba-like
    bitext: the same meaning in each, no code-switching)."""
    seen: set[str] = set()
    rendered: dict[str, list[str]] = {lang.code: [] for lang in languages}
    while len(rendered[languages[0].code]) < n:
        clauses, contrast = sample_sentence(rng, POS_RATES)
        texts = {
            lang.code: " ".join(w for w, _ in lang.sentence(clauses, contrast))
            for lang in languages
        }
        if any(t in seen for t in texts.values()):
            continue  # duplicates would make the gold ambiguous
        seen.update(texts.values())
        for code, text in texts.items():
            rendered[code].append(text)
    return rendered
