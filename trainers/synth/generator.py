"""Writes the synthetic benchmark to disk in the real releases' formats, deterministically.

`generate` always writes; `ensure_benchmark` writes only when the directory is missing or
was made by another generator version or seed, and swaps a finished copy in atomically so
concurrent sweep trials and crashes never see a half-written benchmark.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from trainers.synth.corpus import corpus_lines, parallel_sentences, tagged_sentences
from trainers.synth.grammar import Tagged
from trainers.synth.languages import ENGLISH, LANGUAGES
from trainers.synth.more_tasks import (
    bitext,
    choice_items,
    entity_sentences,
    paraphrase_pairs,
    render,
)
from trainers.synth.nli import mnli_records, xnli_pairs
from trainers.synth.qa import UNANSWERABLE_RATE, documents, squad_paragraph
from trainers.synth.tokenizer import train_tokenizer

# Bump whenever the output for a given seed changes, so stale copies are regenerated.
GENERATOR_VERSION = "5"

CORPUS_LINES_EN = 20_000  # other languages get their `corpus_fraction` of this
VOCAB_SIZE = 2_000
MNLI_SIZES = {"train": 3_000, "dev": 500}
# English train is small on purpose: it leaves room for intermediate training to matter.
XNLI_SIZES = {"train": 600, "dev": 200, "test": 400}
UDPOS_SIZES = {"train": 1_000, "dev": 200, "test": 400}
TATOEBA_SIZE = 300
PAWSX_SIZES = {"train": 600, "dev": 200, "test": 400}
PANX_SIZES = {"train": 1_000, "dev": 200, "test": 400}
# Per language: translated pairs, and untranslated sentences on each side.
BUCC_SIZES = {"dev": (50, 100), "test": (150, 300)}
SQUAD_SIZES = {"train": 2_000, "dev": 300}  # questions, a third of them unanswerable
XQUAD_SIZES = {"train": 1_000, "dev": 200, "test": 300}  # all answerable
MLQA_TEST_SIZE = 300  # MLQA trains on SQuAD v1.1: synth_xquad's English train and dev
TYDIQA_SIZES = {"train": 600, "dev": 300}  # GoldP: its own English train; dev doubles as test
HELLASWAG_SIZES = {"train": 2_000, "val": 300}  # four endings each
XCOPA_SIZES = {"train": 600, "val": 100, "test": 400}  # two choices each


def _rng(seed: int, stream: str) -> random.Random:
    # A string seed is hashed with SHA-512 by `random`, so streams are independent and stable.
    return random.Random(f"xstilts-synth:{seed}:{stream}")


def generate(out_dir: Path | str, *, seed: int = 0) -> Path:
    """Writes the whole benchmark into `out_dir` (created if needed) and returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpora = {
        code: corpus_lines(
            _rng(seed, f"corpus:{code}"), lang, round(CORPUS_LINES_EN * lang.info.corpus_fraction)
        )
        for code, lang in LANGUAGES.items()
    }
    for code, lines in corpora.items():
        _write_lines(out / "corpus" / f"{code}.txt", lines)
    _write_mnli(out / "synth_mnli", seed)
    _write_xnli(out / "synth_xnli", seed)
    _write_udpos(out / "synth_udpos", seed)
    _write_tatoeba(out / "synth_tatoeba", seed)
    # Added in versions 3 and 4 on streams of their own: the files above are unchanged.
    _write_pawsx(out / "synth_pawsx", seed)
    _write_panx(out / "synth_panx", seed)
    _write_bucc(out / "synth_bucc", seed)
    _write_squad(out / "synth_squad", seed)
    _write_xquad(out / "synth_xquad", seed)
    _write_mlqa(out / "synth_mlqa", seed)
    _write_tydiqa(out / "synth_tydiqa", seed)
    _write_hellaswag(out / "synth_hellaswag", seed)
    _write_xcopa(out / "synth_xcopa", seed)
    # Version 5: translated intermediate data, from the English file's own stream.
    _write_mnli_translations(out / "translate-train" / "synth_mnli", seed)
    vocab = train_tokenizer(
        (line for lines in corpora.values() for line in lines), out / "tokenizer", VOCAB_SIZE
    )
    _write_manifest(out, seed, vocab)
    return out


def _write_mnli(task_dir: Path, seed: int) -> None:
    for split, name in (("train", "train"), ("dev", "dev_matched")):
        records = mnli_records(_rng(seed, f"mnli:{split}"), MNLI_SIZES[split], split)
        _write_jsonl(task_dir / f"multinli_1.0_{name}.jsonl", records)


def _write_mnli_translations(out_dir: Path, seed: int) -> None:
    """translate-train: the English training pairs (same stream, same labels) in every other
    language, in MultiNLI's own format."""
    for code, lang in LANGUAGES.items():
        if code == "en":
            continue
        records = mnli_records(_rng(seed, "mnli:train"), MNLI_SIZES["train"], "train", lang)
        _write_jsonl(out_dir / f"multinli_1.0_train.{code}.jsonl", records)


def _write_xnli(task_dir: Path, seed: int) -> None:
    train = xnli_pairs(_rng(seed, "xnli:train"), XNLI_SIZES["train"])
    _write_lines(
        task_dir / "train-en.tsv",
        [_tsv_row(ENGLISH, p.premise, p.hypothesis, p.label) for p in train],
    )
    for split in ("dev", "test"):
        write_parallel_nli(task_dir, split, XNLI_SIZES[split], seed, f"xnli:{split}")


def write_parallel_nli(task_dir: Path, split: str, size: int, seed: int, stream: str) -> None:
    """`size` NLI pairs in every language, in XNLI's layout. Like XNLI, dev and test are
    parallel: the same pairs in every language. (Benchmarks ask for larger test sets.)"""
    pairs = xnli_pairs(_rng(seed, stream), size)
    for code, lang in LANGUAGES.items():
        rows = [_tsv_row(lang, p.premise, p.hypothesis, p.label) for p in pairs]
        _write_lines(Path(task_dir) / f"{split}-{code}.tsv", rows)


def _tsv_row(lang, premise, hypothesis, label: str) -> str:
    text = " ".join(w for w, _ in lang.sentence(premise))
    return f"{text}\t{' '.join(w for w, _ in lang.sentence([hypothesis]))}\t{label}"


def _write_udpos(task_dir: Path, seed: int) -> None:
    for code, lang in LANGUAGES.items():
        for split in ("train", "dev", "test") if code == "en" else ("dev", "test"):
            # Unlike XNLI, UD treebanks are not translations: each language samples its own.
            sentences = tagged_sentences(
                _rng(seed, f"udpos:{split}:{code}"), lang, UDPOS_SIZES[split]
            )
            _write_lines(task_dir / f"{split}-{code}.tsv", _conll_lines(sentences))


def _write_tatoeba(task_dir: Path, seed: int) -> None:
    """LASER's Tatoeba layout: per language, its side and the English side, line-aligned."""
    for code, lang in LANGUAGES.items():
        if code == "en":
            continue
        sides = parallel_sentences(_rng(seed, f"tatoeba:{code}"), [lang, ENGLISH], TATOEBA_SIZE)
        _write_lines(task_dir / f"tatoeba.{code}-eng.{code}", sides[code])
        _write_lines(task_dir / f"tatoeba.{code}-eng.eng", sides["en"])


def _write_pawsx(task_dir: Path, seed: int) -> None:
    for split, size in PAWSX_SIZES.items():
        pairs = paraphrase_pairs(_rng(seed, f"pawsx:{split}"), size)
        # Like PAWS-X, dev and test are the same pairs in every language; train is English.
        for code, lang in LANGUAGES.items() if split != "train" else [("en", ENGLISH)]:
            rows = [f"{render(lang, a)}\t{render(lang, b)}\t{label}" for a, b, label in pairs]
            _write_lines(task_dir / f"{split}-{code}.tsv", rows)


def _write_panx(task_dir: Path, seed: int) -> None:
    for code, lang in LANGUAGES.items():
        for split in ("train", "dev", "test") if code == "en" else ("dev", "test"):
            sentences = entity_sentences(
                _rng(seed, f"panx:{split}:{code}"), lang, PANX_SIZES[split]
            )
            _write_lines(task_dir / f"{split}-{code}.tsv", _conll_lines(sentences))


def _write_bucc(task_dir: Path, seed: int) -> None:
    """BUCC 2018's files: `id<TAB>sentence` per side and `source id<TAB>English id` gold."""
    for code, lang in LANGUAGES.items():
        if code == "en":
            continue
        for split, (pairs, distractors) in BUCC_SIZES.items():
            source, english, gold = bitext(
                _rng(seed, f"bucc:{split}:{code}"), lang, pairs, distractors
            )
            stem = task_dir / f"{code}-en.{split}"
            _write_lines(stem.with_name(f"{stem.name}.{code}"), [
                f"{code}-{i:09d}\t{text}" for i, text in enumerate(source)
            ])  # fmt: skip
            _write_lines(stem.with_name(f"{stem.name}.en"), [
                f"en-{i:09d}\t{text}" for i, text in enumerate(english)
            ])  # fmt: skip
            _write_lines(
                stem.with_name(f"{stem.name}.gold"),
                [f"{code}-{s:09d}\ten-{e:09d}" for s, e in gold],
            )


def _write_squad(task_dir: Path, seed: int) -> None:
    for split, size in SQUAD_SIZES.items():
        docs = documents(_rng(seed, f"squad:{split}"), size, UNANSWERABLE_RATE)
        _write_squad_json(task_dir / f"{split}-v2.0.json", ENGLISH, docs, "v2.0", split)


def _write_xquad(task_dir: Path, seed: int) -> None:
    """SQuAD v1.1-style English train/dev, and XQuAD's test: the same documents and questions
    in every language."""
    for split in ("train", "dev"):
        docs = documents(_rng(seed, f"xquad:{split}"), XQUAD_SIZES[split], 0.0)
        _write_squad_json(task_dir / f"{split}-v1.1.json", ENGLISH, docs, "1.1", split)
    docs = documents(_rng(seed, "xquad:test"), XQUAD_SIZES["test"], 0.0)
    for code, lang in LANGUAGES.items():
        _write_squad_json(task_dir / f"xquad.{code}.json", lang, docs, "1.1", "test")


def _write_mlqa(task_dir: Path, seed: int) -> None:
    """MLQA's layout, context and question in the same language: parallel test questions."""
    docs = documents(_rng(seed, "mlqa:test"), MLQA_TEST_SIZE, 0.0)
    for code, lang in LANGUAGES.items():
        name = f"MLQA_V1/test/test-context-{code}-question-{code}.json"
        _write_squad_json(task_dir / name, lang, docs, "1.0", "test")


def _write_tydiqa(task_dir: Path, seed: int) -> None:
    """TyDiQA-GoldP's layout; like TyDiQA, each language asks its own questions."""
    docs = documents(_rng(seed, "tydiqa:train"), TYDIQA_SIZES["train"], 0.0)
    train = "tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json"
    _write_squad_json(task_dir / train, ENGLISH, docs, "1.1", "train")
    for code, lang in LANGUAGES.items():
        docs = documents(_rng(seed, f"tydiqa:dev:{code}"), TYDIQA_SIZES["dev"], 0.0)
        name = f"tydiqa-goldp-v1.1-dev/tydiqa.goldp.{code}.dev.json"
        _write_squad_json(task_dir / name, lang, docs, "1.1", f"dev-{code}")


def _write_squad_json(path: Path, lang, docs, version: str, split: str) -> None:
    paragraphs = [squad_paragraph(lang, doc, f"{split}-{n}") for n, doc in enumerate(docs)]
    if version != "v2.0":  # SQuAD v1.1 and XQuAD carry no is_impossible key
        for paragraph in paragraphs:
            for qa in paragraph["qas"]:
                del qa["is_impossible"]
    article = {"title": f"synthetic-{split}", "paragraphs": paragraphs}
    doc = {"version": version, "data": [article]}
    _write_lines(path, [json.dumps(doc, ensure_ascii=False, sort_keys=True)])


def _write_hellaswag(task_dir: Path, seed: int) -> None:
    for split, size in HELLASWAG_SIZES.items():
        rows = [
            {
                "ctx": render(ENGLISH, premise),
                "endings": [render(ENGLISH, [o]) for o in options],
                "label": answer,
                "ind": n,
            }
            for n, (premise, options, answer) in enumerate(
                choice_items(_rng(seed, f"hellaswag:{split}"), size, 4)
            )
        ]
        _write_jsonl(task_dir / f"hellaswag_{split}.jsonl", rows)


def _write_xcopa(task_dir: Path, seed: int) -> None:
    """COPA's English train, and XCOPA's val and test: the same items in every language."""
    for split, size in XCOPA_SIZES.items():
        items = choice_items(_rng(seed, f"xcopa:{split}"), size, 2)
        for code, lang in LANGUAGES.items() if split != "train" else [("en", ENGLISH)]:
            rows = [
                {
                    "premise": render(lang, premise),
                    "choice1": render(lang, [options[0]]),
                    "choice2": render(lang, [options[1]]),
                    "question": "effect",
                    "label": answer,
                    "idx": n,
                }
                for n, (premise, options, answer) in enumerate(items)
            ]
            _write_jsonl(task_dir / f"{split}-{code}.jsonl", rows)


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    _write_lines(path, [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in rows])


def _conll_lines(sentences: list[Tagged]) -> list[str]:
    lines: list[str] = []
    for sentence in sentences:
        lines.extend(f"{word}\t{tag}" for word, tag in sentence)
        lines.append("")
    return lines


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(line + "\n" for line in lines)


def _write_manifest(out: Path, seed: int, vocab_size: int) -> None:
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"):
        data = path.read_bytes()
        files[path.relative_to(out).as_posix()] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "lines": data.count(b"\n"),
        }
    manifest = {
        "generator": "trainers.synth",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "languages": {code: asdict(lang.info) for code, lang in LANGUAGES.items()},
        "examples": {
            "corpus": {
                code: round(CORPUS_LINES_EN * lang.info.corpus_fraction)
                for code, lang in LANGUAGES.items()
            },
            "synth_mnli": MNLI_SIZES,
            "synth_xnli": XNLI_SIZES,
            "synth_udpos": UDPOS_SIZES,
            "synth_pawsx": PAWSX_SIZES,
            "synth_panx": PANX_SIZES,
            "synth_bucc": {split: sum(sizes) for split, sizes in BUCC_SIZES.items()},
            "synth_squad": SQUAD_SIZES,
            "synth_xquad": XQUAD_SIZES,
            "synth_mlqa": {"test": MLQA_TEST_SIZE},
            "synth_tydiqa": TYDIQA_SIZES,
            "synth_hellaswag": HELLASWAG_SIZES,
            "synth_xcopa": XCOPA_SIZES,
        },
        "tokenizer": {"model": "BPE", "vocab_size": vocab_size},
        "files": files,
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def read_manifest(out_dir: Path | str) -> dict | None:
    """The benchmark's manifest, or None when there is none or it is unreadable."""
    try:
        return json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _is_current(out_dir: Path, seed: int) -> bool:
    manifest = read_manifest(out_dir)
    return (
        manifest is not None
        and manifest.get("version") == GENERATOR_VERSION
        and manifest.get("seed") == seed
    )


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    # Sweep trials on one machine may all call ensure_benchmark at once: one generates.
    with open(out_dir.parent / f".{out_dir.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_benchmark(out_dir: Path | str, *, seed: int = 0) -> Path:
    """Returns `out_dir`, (re)generating it first unless its manifest matches version and seed."""
    out = Path(out_dir)
    if _is_current(out, seed):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        if _is_current(out, seed):  # another process generated it while we waited
            return out
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        try:
            generate(tmp, seed=seed)
            if out.exists():
                stale = Path(tempfile.mkdtemp(prefix=f".{out.name}.stale-", dir=out.parent))
                os.replace(out, stale / out.name)
                shutil.rmtree(stale)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out
