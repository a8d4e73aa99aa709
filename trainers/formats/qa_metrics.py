"""Extractive QA metrics: exact match and token F1, max over the gold answers.

Two normalisations, as the official scripts define them (re-implemented here):
- "squad": SQuAD v1.1's evaluate script (also XQuAD's and TyDiQA-GoldP's in XTREME): lowercase,
  drop ASCII punctuation, drop the English articles a/an/the, split on whitespace.
- "mlqa": MLQA's evaluate script: lowercase, drop every Unicode punctuation character (category
  P*, plus ASCII punctuation), drop the language's own articles, then split on whitespace, or
  for Chinese split every CJK character and punctuation mark into a token of its own.

Unanswerable questions (SQuAD v2) have no gold answers and are scored against "": they count 1
only when the prediction is empty, as SQuAD v2's script does. Scores are fractions in [0, 1]
(the official scripts print percentages).
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from trainers.formats.base import ExampleStats, ratios

NORMALIZATIONS = ("squad", "mlqa")

_SQUAD_PUNCT = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")

# MLQA's article lists per language; Hindi and Chinese have none. Arabic's "al-" is a prefix,
# and MLQA's script removes the letters ال wherever they occur, which we keep for comparability.
_MLQA_ARTICLES = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "ar": re.compile("ال"),
}
_MIXED_SEGMENTATION = frozenset({"zh"})
_CJK = re.compile(r"[\u4e00-\u9fa5]")


@lru_cache(maxsize=1)
def _unicode_punct() -> frozenset[str]:
    # Built on first use: scanning every code point takes a fraction of a second.
    return (
        frozenset(
            chr(i)
            for i in range(sys.maxunicode + 1)
            if unicodedata.category(chr(i)).startswith("P")
        )
        | _SQUAD_PUNCT
    )


def normalize_squad(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _SQUAD_PUNCT)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def normalize_mlqa(text: str, language: str) -> str:
    """MLQA's normalisation; a language outside MLQA's seven gets no article list and
    whitespace tokens (MLQA's script would refuse it)."""
    punct = _unicode_punct()
    text = "".join(ch for ch in text.lower() if ch not in punct)
    articles = _MLQA_ARTICLES.get(language)
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = _mixed_segmentation(text, punct) if language in _MIXED_SEGMENTATION else text.split()
    return " ".join(t for t in tokens if t.strip())


def _mixed_segmentation(text: str, punct: frozenset[str]) -> list[str]:
    """Each CJK character (and punctuation mark) is a token; other runs split on whitespace."""
    tokens: list[str] = []
    run = ""
    for ch in text:
        if _CJK.match(ch) or ch in punct:
            tokens.extend(run.split())
            tokens.append(ch)
            run = ""
        else:
            run += ch
    tokens.extend(run.split())
    return tokens


def answer_tokens(text: str, normalization: str = "squad", language: str = "en") -> list[str]:
    if normalization == "squad":
        return normalize_squad(text).split()
    if normalization == "mlqa":
        return normalize_mlqa(text, language).split()
    raise ValueError(f"unknown QA normalization {normalization!r}; known: {NORMALIZATIONS}")


def exact_match(
    prediction: str, gold: str, normalization: str = "squad", language: str = "en"
) -> float:
    return float(
        answer_tokens(prediction, normalization, language)
        == answer_tokens(gold, normalization, language)
    )


def token_f1(
    prediction: str, gold: str, normalization: str = "squad", language: str = "en"
) -> float:
    pred = answer_tokens(prediction, normalization, language)
    ref = answer_tokens(gold, normalization, language)
    if not pred or not ref:  # an empty side (a no-answer) only matches another empty side
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def qa_scores(
    predictions: Sequence[str],
    golds: Sequence[Sequence[str]],
    normalization: str = "squad",
    language: str = "en",
) -> dict[str, float]:
    """{"exact", "f1"}: per question the max over its gold answers, then the mean."""
    return ratios(qa_stats(predictions, golds, normalization, language))


def qa_stats(
    predictions: Sequence[str],
    golds: Sequence[Sequence[str]],
    normalization: str = "squad",
    language: str = "en",
) -> ExampleStats:
    """Per question, its exact match and F1 (each the max over its gold answers) over 1: the
    metrics are means over questions."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} questions")
    if not golds:
        raise ValueError("no questions to score")
    exact, f1 = [], []
    for prediction, answers in zip(predictions, golds, strict=True):
        answers = [a for a in answers if answer_tokens(a, normalization, language)] or [""]
        exact.append(max(exact_match(prediction, a, normalization, language) for a in answers))
        f1.append(max(token_f1(prediction, a, normalization, language) for a in answers))
    ones = [1.0] * len(golds)
    return {"exact": (exact, ones), "f1": (f1, list(ones))}
