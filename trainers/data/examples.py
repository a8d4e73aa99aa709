"""The in-memory examples every reader produces and every format consumes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassificationExample:
    """One sentence (text_b None) or a sentence pair with its gold label name."""

    text_a: str
    text_b: str | None
    label: str


@dataclass(frozen=True)
class TaggingExample:
    """One sentence as words with one gold tag per word."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class MultipleChoiceExample:
    """A context, an optional question, and the candidate endings/answers; `label` indexes the
    right one. HellaSwag: context = ctx, question = "" ; Cosmos QA: context + question;
    CommonsenseQA: context = "", question = stem; XCOPA: premise + a cause/effect question."""

    context: str
    question: str
    choices: tuple[str, ...]
    label: int


@dataclass(frozen=True)
class Answer:
    """A gold answer span: its text and its character offset in the context."""

    text: str
    start: int


@dataclass(frozen=True)
class SpanQAExample:
    """Extractive QA (SQuAD format); no answers means unanswerable (SQuAD v2)."""

    qid: str
    question: str
    context: str
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class RetrievalSet:
    """Queries, a candidate pool, and the gold candidates of each query (by id).

    BUCC: queries = one language's sentences, candidates = the English side, gold = the gold
    pairs (most queries have none). Tatoeba: aligned sentences, gold i -> i. LAReQA: questions,
    the answer sentences of every language. Mewsli-X: mentions in context, entity descriptions.
    """

    query_ids: tuple[str, ...]
    queries: tuple[str, ...]
    candidate_ids: tuple[str, ...]
    candidates: tuple[str, ...]
    gold: dict[str, frozenset[str]]


class DataError(ValueError):
    """A data file is missing or malformed; the message names the file (and line)."""
