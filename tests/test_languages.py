"""The language metadata table the report groups zero-shot results by: it covers every language
an XTREME or XTREME-R task evaluates, its resource levels follow Joshi et al.'s classes, a few
rows are golden, the synthetic languages have rows, and the shipped CSV is well formed."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.languages import (
    GROUPINGS,
    MORPHOLOGIES,
    UNKNOWN,
    LanguageMeta,
    group_of,
    language_table,
    meta,
    read_csv_rows,
    resource_level_for,
    sources,
)
from trainers.synth.languages import LANGUAGES as SYNTH_LANGUAGES
from trainers.tasks import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = [
    "code",
    "name",
    "family",
    "genus",
    "script",
    "script_code",
    "resource_class",
    "resource_level",
    "morphology",
    "notes",
]
REQUIRED = [c for c in COLUMNS if c != "notes"]


def benchmark_languages(benchmark: str) -> set[str]:
    """Every language any task of `benchmark` in the registry is evaluated in."""
    langs: set[str] = set()
    for name in REGISTRY.names():
        task = REGISTRY.get(name)
        if benchmark in task.benchmarks:
            langs.update(task.test_languages(benchmark))
    return langs


def test_every_xtreme_and_xtreme_r_language_has_a_row_with_every_column_filled():
    evaluated = benchmark_languages("xtreme") | benchmark_languages("xtreme-r")
    table = language_table()
    missing = sorted(evaluated - table.keys())
    assert not missing, f"no metadata for {missing}"
    for code in sorted(evaluated):
        row = table[code]
        empty = [c for c in REQUIRED if getattr(row, c) in ("", None)]
        assert not empty, f"{code}: empty {empty}"


def test_the_benchmarks_evaluate_forty_and_fifty_languages_all_in_the_shipped_csv():
    xtreme, xtreme_r = benchmark_languages("xtreme"), benchmark_languages("xtreme-r")
    assert (len(xtreme), len(xtreme_r), len(xtreme | xtreme_r)) == (40, 50, 50)
    assert {row["code"] for row in read_csv_rows()} == xtreme | xtreme_r


@pytest.mark.parametrize(
    ("resource_class", "level"),
    [(0, "low"), (1, "low"), (2, "low"), (3, "medium"), (4, "high"), (5, "high")],
)
def test_resource_level_follows_the_documented_mapping_from_joshi_class(resource_class, level):
    assert resource_level_for(resource_class) == level


def test_every_row_with_a_joshi_class_has_the_level_the_mapping_gives():
    for row in language_table().values():
        if row.resource_class is not None:
            assert row.resource_level == resource_level_for(row.resource_class), row.code


def test_a_row_whose_level_contradicts_its_class_is_rejected():
    with pytest.raises(ValueError, match="class 2 is 'low'"):
        LanguageMeta("xx", "X", "F", "G", "Latin", "Latn", 2, "high", "fusional")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("en", ("Indo-European", "Germanic", "Latin", 5, "high", "fusional")),
        ("ja", ("Japonic", "Japanese", "Japanese", 5, "high", "agglutinative")),
        ("yo", ("Niger-Congo", "Defoid", "Latin", 2, "low", "isolating")),
        ("ar", ("Afro-Asiatic", "Semitic", "Arabic", 5, "high", "introflexive")),
        ("zh", ("Sino-Tibetan", "Chinese", "Han (Simplified)", 5, "high", "isolating")),
        ("tr", ("Turkic", "Turkic", "Latin", 4, "high", "agglutinative")),
        ("sw", ("Niger-Congo", "Bantu", "Latin", 2, "low", "agglutinative")),
        ("hi", ("Indo-European", "Indic", "Devanagari", 4, "high", "fusional")),
        ("eu", ("Basque (isolate)", "Basque", "Latin", 4, "high", "agglutinative")),
        ("qu", ("Quechuan", "Quechuan", "Latin", 1, "low", "agglutinative")),
    ],
)
def test_golden_rows_match_the_literature(code, expected):
    row = meta(code)
    got = (row.family, row.genus, row.script, row.resource_class)
    got += (row.resource_level, row.morphology)
    assert got == expected


def test_japanese_script_is_han_plus_kana():
    assert meta("ja").script_code == "Jpan"
    assert "Hiragana" in meta("ja").notes and "Katakana" in meta("ja").notes


@pytest.mark.parametrize("code", sorted(set(SYNTH_LANGUAGES) - {"en"}))
def test_a_synthetic_language_has_a_row_from_its_language_info(code):
    info = SYNTH_LANGUAGES[code].info
    row = meta(code)
    assert row.family == "synthetic"
    assert (row.name, row.genus, row.script) == (info.name, info.name, info.script)
    assert (row.resource_level, row.morphology) == (info.resource, info.morphology)
    assert row.resource_class is None
    assert row.script_code in ("Latn", "Cyrl")


def test_english_keeps_its_real_row_alongside_the_synthetic_languages():
    assert meta("en").family == "Indo-European"
    assert group_of("qaa", "family") == group_of("qac", "family") == "synthetic"


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_an_unknown_code_groups_as_unknown(grouping):
    assert meta("xx") is None
    assert group_of("xx", grouping) == UNKNOWN


def test_group_of_gives_the_row_value_and_rejects_an_unknown_grouping():
    assert group_of("de", "family") == "Indo-European"
    assert group_of("th", "script") == "Thai"
    assert group_of("wo", "resource_level") == "low"
    assert group_of("vi", "morphology") == "isolating"
    with pytest.raises(ValueError, match="grouping"):
        group_of("de", "genus_of_the_month")


def test_the_csv_parses_with_the_documented_columns_and_no_duplicate_codes():
    path = ROOT / "analysis" / "languages.csv"
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == COLUMNS
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes)), "duplicate codes"
    assert all(len(r) == len(COLUMNS) and None not in r for r in rows)
    assert all(int(r["resource_class"]) in range(6) for r in rows)
    assert {r["morphology"] for r in rows} <= set(MORPHOLOGIES)


def test_the_csv_is_shipped_as_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the project supports 3.10
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "languages.csv" in config["tool"]["setuptools"]["package-data"]["analysis"]


def test_every_column_and_grouping_cites_a_source():
    cited = sources()
    assert set(COLUMNS) - {"notes", "script_code"} <= cited.keys()
    assert "Joshi" in cited["resource_class"] and "Glottolog" in cited["family"]
    assert "WALS" in cited["genus"] and "ISO 15924" in cited["script"]
    assert "4-5 high, 3 medium, 0-2 low" in cited["resource_level"]


def test_loading_the_table_does_not_import_torch():
    code = (
        "import sys; from analysis.languages import language_table; language_table(); "
        "sys.exit('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr or "torch was imported"
