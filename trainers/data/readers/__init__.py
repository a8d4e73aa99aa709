"""Readers for the on-disk formats of the real releases (and of the synthetic benchmark).

Every reader names the file and line of the first malformed row (JSON documents: the line of
the offending record's id and its JSON path), raises `DataError` naming a missing file, and
never skips rows silently: skips are counted and reported.

Two kinds, by what a split is made of:
- `READERS`: one file -> a list of examples; a split with several files is their concatenation.
- `SET_READERS`: all of a split's files at once (in the task's declared order) -> one
  `RetrievalSet` (queries, candidate pool, gold).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from trainers.data.examples import RetrievalSet
from trainers.data.readers.classification import (
    read_anli_jsonl,
    read_glue_tsv,
    read_mnli_jsonl,
    read_nli_jsonl,
    read_pawsx_tsv,
    read_xnli_tsv,
)
from trainers.data.readers.multiple_choice import (
    read_commonsenseqa_jsonl,
    read_copa_jsonl,
    read_cosmosqa,
    read_hellaswag_jsonl,
)
from trainers.data.readers.retrieval import read_bucc, read_lareqa, read_mewslix, read_tatoeba
from trainers.data.readers.span_qa import read_squad_json
from trainers.data.readers.tagging import read_conll_tsv, read_panx_tsv

READERS: dict[str, Callable[[Path, tuple[str, ...]], list]] = {
    "xnli_tsv": read_xnli_tsv,
    "pawsx_tsv": read_pawsx_tsv,
    "glue_tsv": read_glue_tsv,
    "mnli_jsonl": read_mnli_jsonl,
    "anli_jsonl": read_anli_jsonl,
    "nli_jsonl": read_nli_jsonl,
    "conll_tsv": read_conll_tsv,
    "panx_tsv": read_panx_tsv,
    "hellaswag_jsonl": read_hellaswag_jsonl,
    "cosmosqa": read_cosmosqa,
    "commonsenseqa_jsonl": read_commonsenseqa_jsonl,
    "copa_jsonl": read_copa_jsonl,
    "squad_json": read_squad_json,
}

SET_READERS: dict[str, Callable[[Sequence[Path], tuple[str, ...]], RetrievalSet]] = {
    "bucc": read_bucc,
    "tatoeba": read_tatoeba,
    "lareqa": read_lareqa,
    "mewslix": read_mewslix,
}

__all__ = [
    "READERS",
    "SET_READERS",
    "read_anli_jsonl",
    "read_bucc",
    "read_commonsenseqa_jsonl",
    "read_conll_tsv",
    "read_copa_jsonl",
    "read_cosmosqa",
    "read_glue_tsv",
    "read_hellaswag_jsonl",
    "read_lareqa",
    "read_mewslix",
    "read_mnli_jsonl",
    "read_nli_jsonl",
    "read_panx_tsv",
    "read_pawsx_tsv",
    "read_squad_json",
    "read_tatoeba",
    "read_xnli_tsv",
]
