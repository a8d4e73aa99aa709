"""Shared formats: how a task's examples become features, which head they need, how they score.

A task names its format; the loop and the evaluator only talk to the `Format` interface.
"""

from trainers.formats.base import Batch, Feature, Format
from trainers.formats.classification import ClassificationFormat
from trainers.formats.multiple_choice import MultipleChoiceFormat
from trainers.formats.span_qa import SpanQAFormat
from trainers.formats.tagging import TaggingFormat

# Sentence retrieval (BUCC, Tatoeba, LAReQA, Mewsli-X) trains no head, so it is no `Format`:
# its embedding and metric functions live in `trainers.formats.retrieval`.
FORMATS: dict[str, Format] = {
    "classification": ClassificationFormat(),
    "tagging": TaggingFormat(),
    "multiple_choice": MultipleChoiceFormat(),
    # Span QA variants share features and head and differ in scoring (see span_qa.py).
    "span_qa": SpanQAFormat("span_qa"),
    "span_qa_v2": SpanQAFormat("span_qa_v2", allow_null=True),
    "span_qa_mlqa": SpanQAFormat("span_qa_mlqa", normalization="mlqa"),
}


def get_format(name: str, windows=None) -> Format:
    """The named format; with `windows` (a `trainers.config.Windows`), span QA uses its doc
    stride, query and answer lengths instead of the defaults."""
    try:
        fmt = FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown format {name!r}; known: {sorted(FORMATS)}") from None
    if windows is not None and isinstance(fmt, SpanQAFormat):
        return fmt.with_windows(
            windows.doc_stride, windows.max_query_length, windows.max_answer_length
        )
    return fmt


__all__ = ["Batch", "Feature", "Format", "FORMATS", "get_format"]
