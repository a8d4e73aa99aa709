"""Retrieval releases, each split read as one `RetrievalSet` from all of its files at once.

BUCC 2018 (`id<TAB>sentence` per side + gold pairs), Tatoeba (LASER's aligned line files),
LAReQA's XQuAD-R (SQuAD JSON with sentence breaks, one file per language) and Mewsli-X
(mentions in context + the candidate entity set). Queries without any gold candidate (most of
BUCC's) are absent from `gold`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trainers.data.examples import DataError, RetrievalSet
from trainers.data.readers._common import jsonl_rows, open_text, read_json, report_skipped


def read_bucc(paths: Sequence[Path], labels: tuple[str, ...]) -> RetrievalSet:
    """paths: `{lang}-en.{split}.{lang}`, `{lang}-en.{split}.en`, `{lang}-en.{split}.gold`."""
    source, english, gold_file = _expect(paths, ("source side", "English side", "gold pairs"))
    query_ids, queries = _id_sentences(source)
    candidate_ids, candidates = _id_sentences(english)
    if not gold_file.is_file():
        raise DataError(
            f"{gold_file}: file not found (XTREME's download script deletes the test gold; "
            "keep the training-gold archive's .gold file under this name)"
        )
    known_q, known_c = set(query_ids), set(candidate_ids)
    gold: dict[str, set[str]] = {}
    with open_text(gold_file) as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) != 2:
                raise DataError(f"{gold_file}:{line_no}: expected 'source_id<TAB>english_id'")
            if cols[0] not in known_q or cols[1] not in known_c:
                raise DataError(f"{gold_file}:{line_no}: pair {cols} names an unknown sentence id")
            gold.setdefault(cols[0], set()).add(cols[1])
    if not gold:
        raise DataError(f"{gold_file}: no gold pairs")
    return _retrieval_set(query_ids, queries, candidate_ids, candidates, gold)


def read_tatoeba(paths: Sequence[Path], labels: tuple[str, ...]) -> RetrievalSet:
    """paths: `tatoeba.{iso3}-eng.{iso3}`, `tatoeba.{iso3}-eng.eng` (LASER's release, line i of
    one file translates line i of the other; XTREME's copy sorts the English side, losing that)."""
    source, english = _expect(paths, ("source side", "English side"))
    queries, candidates = _lines(source), _lines(english)
    if len(queries) != len(candidates):
        raise DataError(
            f"{source}: {len(queries)} sentences but {english} has {len(candidates)}; "
            "Tatoeba's sides must be line-aligned"
        )
    ids = tuple(str(i) for i in range(len(queries)))
    return _retrieval_set(ids, queries, ids, candidates, {i: {i} for i in ids})


def read_lareqa(paths: Sequence[Path], labels: tuple[str, ...]) -> RetrievalSet:
    """paths: the query language's `xquad-r/{lang}.json`, then every language of the pool.

    Candidates are the sentences (by `sentence_breaks`) of every paragraph in every pool
    language; a question's gold is the sentence holding its answer in each language (XQuAD-R
    is 11-way parallel, question ids shared). Candidates are the sentences alone: XTREME-R
    appends the paragraph for its fine-tuned dual encoder, but with a pooled layer and no
    training that would give every sentence of a paragraph nearly the same embedding.
    """
    if not paths:
        raise DataError("LAReQA needs the query language's file and the pool's files")
    parsed = {path: list(_xquad_r_paragraphs(path)) for path in dict.fromkeys(paths)}
    candidate_ids: list[str] = []
    candidates: list[str] = []
    answers: dict[str, set[str]] = {}  # question id -> its answer sentence in every language
    for path, paragraphs in parsed.items():
        for p, context, breaks, qas in paragraphs:
            sentence_ids = [f"{path.stem}_{p}_{s}" for s in range(len(breaks))]
            candidate_ids.extend(sentence_ids)
            candidates.extend(context[a:b] for a, b in breaks)
            for qid, _, start in qas:
                hit = _sentence_of(start, breaks)
                if hit is not None:
                    answers.setdefault(qid, set()).add(sentence_ids[hit])
    query_ids, queries, gold, skipped = [], [], {}, 0
    for _, _, breaks, qas in parsed[paths[0]]:
        for qid, question, start in qas:
            if _sentence_of(start, breaks) is None:
                skipped += 1  # XTREME skips these too: a sentence-breaking slip in the release
                continue
            query = f"{qid}_{paths[0].stem}"
            query_ids.append(query)
            queries.append(question)
            gold[query] = answers[qid]
    report_skipped(paths[0], skipped, "whose answer starts outside every sentence break")
    return _retrieval_set(query_ids, queries, candidate_ids, candidates, gold)


def _sentence_of(start: int, breaks: list[tuple[int, int]]) -> int | None:
    return next((i for i, (a, b) in enumerate(breaks) if a <= start < b), None)


def read_mewslix(paths: Sequence[Path], labels: tuple[str, ...]) -> RetrievalSet:
    """paths: `wikinews_mentions/{split}-{lang}.jsonl`, `candidate_set_entities.jsonl`.

    A query is the mention's sentence with the mention marked and repeated in front, as
    XTREME-R's baseline does ("Smith: ... for { Smith }, who ..."), so truncation never
    drops it; a candidate is its entity's description.
    """
    mentions_file, entities_file = _expect(paths, ("mentions", "candidate entities"))
    candidate_ids, candidates = [], []
    for line_no, row in jsonl_rows(entities_file, "Mewsli-X entity"):
        try:
            entity, description = row["entity_id"], row["description"]
            spans = [(s["start"], s["end"]) for s in row.get("sentence_spans", [])]
        except (KeyError, TypeError) as err:
            raise DataError(f"{entities_file}:{line_no}: not a Mewsli-X entity ({err!r})") from None
        text = " ".join(description[a:b] for a, b in spans) if spans else description
        candidate_ids.append(entity)
        candidates.append(" ".join(text.split()))
    known = set(candidate_ids)
    query_ids, queries, gold = [], [], {}
    for line_no, row in jsonl_rows(mentions_file, "Mewsli-X mentions"):
        try:
            text = row["context"]["text"]
            breaks = [(s["start"], s["end"]) for s in row["context"]["sentence_spans"]]
            mentions = [
                (m["example_id"], m["mention_span"], m["entity_id"]) for m in row["mentions"]
            ]
        except (KeyError, TypeError) as err:
            raise DataError(f"{mentions_file}:{line_no}: not a Mewsli-X record ({err!r})") from None
        for example_id, span, entity in mentions:
            where = f"{mentions_file}:{line_no}: mention {example_id}"
            if not entity:
                raise DataError(
                    f"{where}: no entity_id (XTREME's download script blanks test labels; "
                    "use dev or the original release's labelled test file)"
                )
            if entity not in known:
                raise DataError(f"{where}: entity {entity} is not in {entities_file.name}")
            query_ids.append(example_id)
            queries.append(_marked_mention(where, text, breaks, span))
            gold[example_id] = {entity}
    return _retrieval_set(query_ids, queries, candidate_ids, candidates, gold)


def _marked_mention(where: str, text: str, breaks: list, span: dict) -> str:
    try:
        start, end, mention = span["start"], span["end"], span["text"]
    except (KeyError, TypeError) as err:
        raise DataError(f"{where}: bad mention_span ({err!r})") from None
    if text[start:end] != mention:
        raise DataError(f"{where}: span {start}-{end} is {text[start:end]!r}, not {mention!r}")
    sentence = next(((a, b) for a, b in breaks if a <= start and end <= b), None)
    if sentence is None:
        raise DataError(f"{where}: the mention is not inside one sentence span")
    a, b = sentence
    return f"{mention}: {text[a:start]}{{ {mention} }}{text[end:b]}"


def _xquad_r_paragraphs(path: Path):
    """(paragraph number, context, sentence breaks, [(question id, question, answer start)])."""
    doc = read_json(path, "XQuAD-R")
    number = 0
    try:
        for article in doc["data"]:
            for paragraph in article["paragraphs"]:
                number += 1
                breaks = [(int(a), int(b)) for a, b in paragraph["sentence_breaks"]]
                qas = [
                    (str(qa["id"]), qa["question"], qa["answers"][0]["answer_start"])
                    for qa in paragraph["qas"]
                ]
                yield number, paragraph["context"], breaks, qas
    except (KeyError, TypeError, IndexError, ValueError) as err:
        raise DataError(
            f"{path}: paragraph {number}: not XQuAD-R (missing or bad {err!r}; plain XQuAD "
            "files have no sentence_breaks)"
        ) from None


def _id_sentences(path: Path) -> tuple[list[str], list[str]]:
    ids, sentences = [], []
    with open_text(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            cols = line.rstrip("\r\n").split("\t", 1)
            if len(cols) != 2 or not cols[0] or not cols[1].strip():
                raise DataError(f"{path}:{line_no}: expected 'id<TAB>sentence'")
            ids.append(cols[0])
            sentences.append(cols[1])
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: sentence ids are not unique")
    if not ids:
        raise DataError(f"{path}: no sentences")
    return ids, sentences


def _lines(path: Path) -> list[str]:
    lines = []
    with open_text(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                # A blank line would shift the alignment of every later pair.
                raise DataError(f"{path}:{line_no}: empty sentence")
            lines.append(line)
    if not lines:
        raise DataError(f"{path}: no sentences")
    return lines


def _expect(paths: Sequence[Path], roles: tuple[str, ...]) -> tuple[Path, ...]:
    if len(paths) != len(roles):
        raise DataError(f"expected {len(roles)} files ({', '.join(roles)}), got {list(paths)}")
    return tuple(paths)


def _retrieval_set(query_ids, queries, candidate_ids, candidates, gold) -> RetrievalSet:
    return RetrievalSet(
        tuple(query_ids),
        tuple(queries),
        tuple(candidate_ids),
        tuple(candidates),
        {q: frozenset(c) for q, c in gold.items()},
    )
