"""`xstilts score` reads prediction files in XTREME's submission formats, scores them with the
metric code training uses, prints JSON, and rejects a malformed file with one line that names
the file and line (exit 2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.cli import main
from trainers.config import DataConfig
from trainers.data.source import load_examples
from trainers.tasks import get_task

ROOT = Path(__file__).parent / "fixtures" / "xtreme"
DATA = DataConfig(source="local", root=str(ROOT))

TARGETS = [
    ("xnli", "de", "accuracy"),
    ("pawsx", "de", "accuracy"),
    ("xcopa", "et", "accuracy"),
    ("udpos", "de", "f1"),
    ("panx", "de", "f1"),
    ("xquad", "de", "f1"),
    ("mlqa", "de", "f1"),
    ("tydiqa", "fi", "f1"),
    ("bucc", "de", "f1"),
    ("tatoeba", "de", "accuracy"),
    ("lareqa", "de", "map@20"),
    ("mewslix", "de", "mrr@20"),
]


def gold(task: str, lang: str) -> list:
    return load_examples(get_task(task), "test", lang, DATA)


def perfect_submission(task: str, examples: list) -> str:
    """The gold answers written in the task's submission format."""
    fmt = get_task(task).format
    if fmt == "classification":
        return "".join(f"{e.label}\n" for e in examples)
    if fmt == "multiple_choice":
        return "".join(f"{e.label}\n" for e in examples)
    if fmt == "tagging":
        return "".join(
            "".join(f"{w}\t{t}\n" for w, t in zip(e.tokens, e.tags, strict=True)) + "\n"
            for e in examples
        )
    if fmt.startswith("span_qa"):
        return json.dumps({e.qid: (e.answers[0].text if e.answers else "") for e in examples})
    (rs,) = examples
    if task == "bucc":
        return "".join(f"{q}\t{c}\n" for q, cs in rs.gold.items() for c in cs)
    if task == "tatoeba":
        return "".join(f"{rs.candidate_ids.index(min(rs.gold[q]))}\n" for q in rs.query_ids)
    return "".join(f"{q}\t{' '.join(sorted(rs.gold[q]))}\n" for q in rs.query_ids if rs.gold.get(q))


def score(
    tmp_path: Path, task: str, lang: str, text: str, capsys, *extra: str
) -> tuple[int, dict | str]:
    pred = tmp_path / f"{task}-{lang}.pred"
    pred.write_text(text, encoding="utf-8")
    code = main(["score", "--task", task, "--lang", lang, "--pred", str(pred), *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def by_root(tmp_path, task, lang, text, capsys):
    return score(tmp_path, task, lang, text, capsys, "--data-root", str(ROOT))


@pytest.mark.parametrize(("task", "lang", "metric"), TARGETS)
def test_the_gold_answers_as_predictions_score_perfectly(tmp_path, capsys, task, lang, metric):
    examples = gold(task, lang)
    code, result = by_root(tmp_path, task, lang, perfect_submission(task, examples), capsys)
    assert code == 0
    assert result["task"] == task and result["language"] == lang
    assert result["metrics"][metric] == pytest.approx(1.0)


def test_one_wrong_label_in_three_scores_two_thirds(tmp_path, capsys):
    examples = gold("xnli", "de")
    labels = [e.label for e in examples]
    labels[1] = next(label for label in get_task("xnli").labels if label != labels[1])
    code, result = by_root(tmp_path, "xnli", "de", "\n".join(labels) + "\n", capsys)
    assert (code, result["n_examples"]) == (0, 3)
    assert result["metrics"]["accuracy"] == pytest.approx(2 / 3)


def test_one_wrong_tag_costs_one_token(tmp_path, capsys):
    examples = gold("udpos", "de")
    words = sum(len(e.tokens) for e in examples)
    text = perfect_submission("udpos", examples).splitlines()
    word, tag = text[0].split("\t")
    text[0] = f"{word}\t{'NOUN' if tag != 'NOUN' else 'VERB'}"
    code, result = by_root(tmp_path, "udpos", "de", "\n".join(text) + "\n", capsys)
    assert code == 0
    assert result["metrics"]["token_accuracy"] == pytest.approx((words - 1) / words)
    assert result["metrics"]["f1"] < 1.0


def test_a_wrong_answer_scores_zero_exact_for_its_question(tmp_path, capsys):
    examples = gold("xquad", "de")
    answers = {e.qid: e.answers[0].text for e in examples}
    answers[examples[0].qid] = "völlig falsch"
    code, result = by_root(tmp_path, "xquad", "de", json.dumps(answers), capsys)
    assert code == 0
    assert result["metrics"]["exact"] == pytest.approx(0.5)


def test_bucc_counts_an_extra_pair_against_precision(tmp_path, capsys):
    (rs,) = gold("bucc", "de")
    wrong = next(
        (q, c) for q in rs.query_ids for c in rs.candidate_ids if c not in rs.gold.get(q, ())
    )
    text = perfect_submission("bucc", [rs]) + f"{wrong[0]}\t{wrong[1]}\n"
    code, result = by_root(tmp_path, "bucc", "de", text, capsys)
    assert code == 0
    assert result["metrics"]["recall"] == pytest.approx(1.0)
    assert result["metrics"]["precision"] == pytest.approx(2 / 3)


def test_mewslix_ranks_the_gold_entity_second_for_half_the_reciprocal_rank(tmp_path, capsys):
    (rs,) = gold("mewslix", "de")
    lines = []
    for q in rs.query_ids:
        right = min(rs.gold[q])
        other = next(c for c in rs.candidate_ids if c not in rs.gold[q])
        lines.append(f"{q}\t{other} {right}")
    code, result = by_root(tmp_path, "mewslix", "de", "\n".join(lines) + "\n", capsys)
    assert code == 0
    assert result["metrics"]["mrr@20"] == pytest.approx(0.5)
    assert result["metrics"]["map@20"] == pytest.approx(0.5)


def test_gold_files_can_be_named_instead_of_a_data_root(tmp_path, capsys):
    examples = gold("xnli", "de")
    code, result = score(
        tmp_path, "xnli", "de", perfect_submission("xnli", examples), capsys,
        "--gold", str(ROOT / "xnli" / "test-de.tsv"),
    )  # fmt: skip
    assert code == 0 and result["metrics"]["accuracy"] == 1.0
    assert result["gold"] == [str(ROOT / "xnli" / "test-de.tsv")]


@pytest.mark.parametrize(
    ("task", "text", "message"),
    [
        ("xnli", "entailment\n", r"\.pred: 1 lines for 3 examples"),
        ("xnli", "entailment\nmaybe\nneutral\n", r"\.pred:2: label 'maybe' is not one of"),
        ("xcopa", "0\n7\n", r"\.pred:2: '7' is not an index below 2"),
        ("udpos", "NOUN\n\nVERB\n", r"\.pred:1: sentence 1 has 1 tags for \d+ words"),
        ("xquad", '{"a": ', r"\.pred:1: not JSON"),
        ("xquad", '{"nope": "x"}', r"\.pred: 2 questions without an answer"),
        ("bucc", "x\ty\n", r"\.pred:1: expected 'source id<TAB>English id'"),
        ("lareqa", "nobody\tx\n", r"\.pred:1: query id 'nobody' is not in the gold set"),
    ],
)
def test_a_malformed_prediction_file_is_named_with_its_line(tmp_path, capsys, task, text, message):
    lang = {"xcopa": "et"}.get(task, "de")
    code, err = by_root(tmp_path, task, lang, text, capsys)
    assert code == 2
    assert err.startswith("xstilts: ") and err.count("\n") == 1
    assert re.search(message, err), err


def test_the_real_cli_exits_2_without_a_traceback_on_an_unknown_task(tmp_path):
    pred = tmp_path / "p.txt"
    pred.write_text("x\n")
    done = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "score", "--task", "xnlii", "--lang", "de",
         "--pred", str(pred), "--data-root", str(ROOT)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("xstilts: --task: unknown task 'xnlii'")
    assert "Traceback" not in done.stderr


def test_a_missing_prediction_file_is_named(tmp_path, capsys):
    code = main(
        ["score", "--task", "xnli", "--lang", "de", "--pred", str(tmp_path / "none.txt"),
         "--data-root", str(ROOT)]
    )  # fmt: skip
    assert code == 2
    assert "none.txt: prediction file not found" in capsys.readouterr().err
