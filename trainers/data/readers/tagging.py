"""Token tagging files: `token<TAB>tag` per line, a blank line between sentences (XTREME's
UD-POS and PAN-X, user-supplied CCG supertag files)."""

from __future__ import annotations

import re
from pathlib import Path

from trainers.data.examples import DataError, TaggingExample
from trainers.data.readers._common import nonempty, open_text

# PAN-X as released (WikiANN's per-language archives) prefixes every token with its language:
# "en:Paris". XTREME's preprocessing strips the prefix; both layouts read the same here.
PANX_PREFIX = re.compile(r"^([a-z]{2,3}):(?=.)")


def read_conll_tsv(path: Path, labels: tuple[str, ...]) -> list[TaggingExample]:
    """XTREME's UD-POS/PAN-X layout: `token<TAB>tag` per line, a blank line between sentences."""
    return _sentences(path, _token_lines(path, labels))


def read_panx_tsv(path: Path, labels: tuple[str, ...]) -> list[TaggingExample]:
    """PAN-X in XTREME's layout, or the raw release whose tokens carry a `lang:` prefix.

    The prefix is stripped only when every token of the file carries the same one, so a real
    token such as "re:Invent" in a processed file is never cut.
    """
    lines = _token_lines(path, labels)
    prefixes = {m.group(1) if (m := PANX_PREFIX.match(tok)) else None for _, tok, _ in lines if tok}
    if len(prefixes) == 1 and None not in prefixes:
        cut = len(prefixes.pop()) + 1
        lines = [(n, tok[cut:] if tok else tok, tag) for n, tok, tag in lines]
    return _sentences(path, lines)


def _token_lines(path: Path, labels: tuple[str, ...]) -> list[tuple[int, str, str]]:
    """(line number, token, tag) per line; a blank line is ("", "") and ends a sentence."""
    known = set(labels)
    lines = []
    with open_text(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                lines.append((line_no, "", ""))
                continue
            cols = line.split("\t")
            if len(cols) == 1:
                raise DataError(
                    f"{path}:{line_no}: expected 'token<TAB>tag', found no tag (XTREME strips "
                    "test tags; use labelled files or evaluate on dev)"
                )
            if len(cols) != 2 or not cols[0]:
                raise DataError(f"{path}:{line_no}: expected 'token<TAB>tag', found {line[:60]!r}")
            if cols[1] not in known:
                raise DataError(f"{path}:{line_no}: unknown tag {cols[1]!r}")
            lines.append((line_no, cols[0], cols[1]))
    return lines


def _sentences(path: Path, lines: list[tuple[int, str, str]]) -> list[TaggingExample]:
    examples: list[TaggingExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    for _, token, tag in [*lines, (0, "", "")]:
        if token:
            tokens.append(token)
            tags.append(tag)
        elif tokens:
            examples.append(TaggingExample(tuple(tokens), tuple(tags)))
            tokens, tags = [], []
    return nonempty(examples, path)
