"""The synthetic benchmark (trainers.synth): generation is deterministic per seed, every
language has its corpus and test files, the files parse in the real releases' formats, the
tokenizer loads offline as a fast XLM-R-style tokenizer, and ensure_benchmark regenerates
only a missing or stale benchmark.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: never touch the network

from trainers.synth import GENERATOR_VERSION, LANGUAGES, ensure_benchmark, generate
from trainers.synth import generator as generator_module

NLI_LABELS = {"entailment", "neutral", "contradiction"}
UPOS = {
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
}


@pytest.fixture(scope="session")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_benchmark(tmp_path_factory.mktemp("synth") / "bench", seed=0)


@pytest.fixture(scope="session")
def tokenizer(bench: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(bench / "tokenizer"))


def digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_same_seed_gives_byte_identical_files(bench: Path, tmp_path: Path) -> None:
    assert digests(generate(tmp_path / "again", seed=0)) == digests(bench)


def test_another_seed_gives_different_data(bench: Path, tmp_path: Path) -> None:
    ours, theirs = digests(bench), digests(generate(tmp_path / "other", seed=1))
    assert ours.keys() == theirs.keys()
    data = [name for name in ours if name.startswith(("corpus/", "synth_"))]
    assert data and all(ours[name] != theirs[name] for name in data)


def test_every_language_has_a_corpus_and_test_files(bench: Path) -> None:
    assert set(LANGUAGES) == {"en", "qaa", "qab", "qac"}
    for lang in LANGUAGES:
        for rel in (
            f"corpus/{lang}.txt",
            f"synth_xnli/test-{lang}.tsv",
            f"synth_xnli/dev-{lang}.tsv",
            f"synth_udpos/test-{lang}.tsv",
            f"synth_udpos/dev-{lang}.tsv",
        ):
            assert (bench / rel).stat().st_size > 0, rel
    for rel in ("synth_xnli/train-en.tsv", "synth_udpos/train-en.tsv"):
        assert (bench / rel).stat().st_size > 0, rel


def test_the_low_resource_language_has_a_much_smaller_corpus(bench: Path) -> None:
    lines = {lang: len(corpus_lines(bench, lang)) for lang in LANGUAGES}
    assert lines["qac"] < 0.25 * lines["en"]
    assert len(set(lines.values())) == len(lines)  # every language has its own resource level


def test_one_language_is_written_in_a_non_latin_script(bench: Path) -> None:
    manifest = json.loads((bench / "manifest.json").read_text(encoding="utf-8"))
    scripts = {lang: meta["script"] for lang, meta in manifest["languages"].items()}
    assert scripts["qab"] == "Cyrillic"
    text = (bench / "corpus" / "qab.txt").read_text(encoding="utf-8")
    cyrillic = sum("\u0400" <= ch <= "\u04ff" for ch in text)
    assert cyrillic > 0.5 * sum(ch.isalpha() for ch in text)


def test_the_manifest_describes_languages_and_hashes_every_file(bench: Path) -> None:
    manifest = json.loads((bench / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == GENERATOR_VERSION and manifest["seed"] == 0
    for meta in manifest["languages"].values():
        assert {"name", "script", "word_order", "morphology", "resource"} <= meta.keys()
    on_disk = {k: v for k, v in digests(bench).items() if k != "manifest.json"}
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == on_disk


def test_xnli_files_are_three_column_tsv_with_nli_labels(bench: Path) -> None:
    for path in sorted((bench / "synth_xnli").glob("*.tsv")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines, path
        for line in lines:
            premise, hypothesis, label = line.split("\t")
            assert premise and hypothesis and label in NLI_LABELS, (path, line)


def test_udpos_files_have_token_tag_lines_and_no_empty_sentences(bench: Path) -> None:
    for path in sorted((bench / "synth_udpos").glob("*.tsv")):
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n\n") and "\n\n\n" not in text, path
        for sentence in text.strip("\n").split("\n\n"):
            rows = [line.split("\t") for line in sentence.split("\n")]
            assert all(len(r) == 2 and r[0] and " " not in r[0] and r[1] in UPOS for r in rows)
            assert rows[-1] == [".", "PUNCT"]


def test_mnli_files_are_multinli_jsonl(bench: Path) -> None:
    for name in ("multinli_1.0_train.jsonl", "multinli_1.0_dev_matched.jsonl"):
        records = [
            json.loads(line) for line in (bench / "synth_mnli" / name).open(encoding="utf-8")
        ]
        assert len({r["pairID"] for r in records}) == len(records)
        for r in records:
            assert (
                r["gold_label"] in NLI_LABELS and r["sentence1"] and r["sentence2"] and r["genre"]
            )


def test_the_intermediate_task_has_more_training_data_than_the_target(bench: Path) -> None:
    mnli = (bench / "synth_mnli" / "multinli_1.0_train.jsonl").read_text(encoding="utf-8")
    xnli = (bench / "synth_xnli" / "train-en.tsv").read_text(encoding="utf-8")
    assert mnli.count("\n") > 2 * xnli.count("\n")


def test_the_tokenizer_loads_offline_as_fast_with_xlmr_special_ids(tokenizer) -> None:
    assert tokenizer.is_fast
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>")}
    assert ids == {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    assert tokenizer.mask_token == "<mask>" and tokenizer.mask_token_id not in ids.values()
    assert 1_000 <= len(tokenizer) <= 8_000


def test_the_tokenizer_encodes_a_pair_as_xlmr_does(tokenizer) -> None:
    ids = tokenizer("Anna saw the dog .", "Anna did not see the dog .")["input_ids"]
    a = tokenizer("Anna saw the dog .", add_special_tokens=False)["input_ids"]
    b = tokenizer("Anna did not see the dog .", add_special_tokens=False)["input_ids"]
    assert ids == [0, *a, 2, 2, *b, 2]


def test_the_tokenizer_maps_sub_tokens_back_to_words(tokenizer) -> None:
    words = ["Anna", "çözmedi", "3", "ванисысе", "."]
    enc = tokenizer(words, is_split_into_words=True)
    word_ids = enc.word_ids()
    assert word_ids[0] is None and word_ids[-1] is None
    assert sorted({w for w in word_ids if w is not None}) == list(range(len(words)))


def test_ensure_benchmark_keeps_a_current_benchmark(bench: Path, monkeypatch) -> None:
    def fail(*_args, **_kwargs):
        raise AssertionError("regenerated a current benchmark")

    monkeypatch.setattr(generator_module, "generate", fail)
    assert ensure_benchmark(bench, seed=0) == bench


@pytest.mark.parametrize("stale", [{"version": "0", "seed": 0}, {"seed": 7}, None])
def test_ensure_benchmark_replaces_a_stale_or_missing_benchmark(
    tmp_path: Path, monkeypatch, stale
) -> None:
    out = tmp_path / "bench"
    out.mkdir()
    (out / "leftover.txt").write_text("from an older generator\n")
    if stale is not None:
        manifest = {"version": GENERATOR_VERSION, **stale}
        (out / "manifest.json").write_text(json.dumps(manifest))
    calls = []

    def fake_generate(target: Path, *, seed: int) -> Path:
        calls.append(seed)
        (Path(target) / "manifest.json").write_text(
            json.dumps({"version": GENERATOR_VERSION, "seed": seed})
        )
        return Path(target)

    monkeypatch.setattr(generator_module, "generate", fake_generate)
    assert ensure_benchmark(out, seed=0) == out
    assert calls == [0]
    assert not (out / "leftover.txt").exists()
    # Generated beside the target and renamed into place: nothing half-written is left over.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["bench"]


def corpus_lines(bench: Path, lang: str) -> list[str]:
    return (bench / "corpus" / f"{lang}.txt").read_text(encoding="utf-8").splitlines()


def test_the_tatoeba_bitexts_are_line_aligned_and_unambiguous(bench: Path) -> None:
    for lang in ("qaa", "qab", "qac"):
        own = (bench / "synth_tatoeba" / f"tatoeba.{lang}-eng.{lang}").read_text().splitlines()
        english = (bench / "synth_tatoeba" / f"tatoeba.{lang}-eng.eng").read_text().splitlines()
        assert len(own) == len(english) == 300
        assert len(set(own)) == len(set(english)) == 300  # one gold per query
        assert not set(own) & set(english)
