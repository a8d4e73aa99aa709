"""What every reader shares: opening a file with a clear error, line-numbered rows, and the rule
that nothing is skipped silently (skips are counted and reported, once per file)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from trainers.data.examples import DataError


def open_text(path: Path):
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    # newline="" keeps a quoted field's embedded newlines for the csv module; plain line
    # iteration still splits on "\n".
    return open(path, encoding="utf-8", newline="")


def jsonl_rows(path: Path, what: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a bad line names file:line."""
    with open_text(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{line_no}: not a {what} record ({err.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{line_no}: not a {what} record (not a JSON object)")
            yield line_no, row


def delimited_rows(
    path: Path, delimiter: str = "\t", quoting: int = csv.QUOTE_MINIMAL
) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) per record, blank lines skipped.

    XTREME wrote its XNLI/PAWS-X TSVs with Python's csv writer, so a sentence containing a
    double quote is quoted there; GLUE's TSVs are plain (read them with QUOTE_NONE).
    """
    with open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter, quoting=quoting)
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                raise DataError(f"{path}:{start}: {err}") from None
            if fields:
                yield start, fields


def read_json(path: Path, what: str):
    with open_text(path) as fh:
        try:
            return json.load(fh)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path}:{err.lineno}:{err.colno}: not a {what} file ({err.msg})"
            ) from None


def line_of(path: Path, needle: str) -> int:
    """Line number where `needle` first appears (for errors found after json.load); 1 if never."""
    text = path.read_text(encoding="utf-8")
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def report_skipped(path: Path, skipped: int, why: str) -> None:
    if skipped:
        print(f"{path}: skipped {skipped} examples {why}")


def nonempty(examples: list, path: Path) -> list:
    if not examples:
        raise DataError(f"{path}: no examples")
    return examples


def label_by_index(raw: str, labels: tuple[str, ...]) -> str | None:
    """A "0"/"1" style label as the task's label name (labels in the release's integer order)."""
    raw = raw.strip()
    if raw.isdigit() and int(raw) < len(labels):
        return labels[int(raw)]
    return None
