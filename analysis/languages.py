"""Language metadata for grouping per-language zero-shot results in the report.

`languages.csv` (shipped with the package) has one row per language that an XTREME or XTREME-R
task evaluates, keyed by the ISO 639-1 code XTREME uses. The project's synthetic languages
(qaa, qab, qac) get rows built from their own `LanguageInfo` in `trainers.synth.languages`.

Where each column comes from is in `SOURCES` (the report's footnote reads it through
`sources()`). The morphology labels are the four classical ideal types; real languages mix
them, and the CSV's `notes` column says where a label is debatable or a language mixes types.
`resource_level` is a coarse label derived from Joshi et al.'s class by `resource_level_for`:
classes 4-5 are high, 3 medium, 0-2 low (classes 0-2 have at most a few labelled data sets).

No torch, no pandas: the report imports this, and so may a notebook.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

GROUPINGS = ("family", "script", "resource_level", "morphology")
MORPHOLOGIES = ("isolating", "fusional", "agglutinative", "introflexive")
RESOURCE_LEVELS = ("high", "medium", "low")
SYNTHETIC_FAMILY = "synthetic"
UNKNOWN = "unknown"

SOURCES = {
    "code": "ISO 639-1 codes as XTREME (Hu et al. 2020) and XTREME-R (Ruder et al. 2021) use "
    "them; qaa-qtz is ISO 639's private-use range, used by the synthetic languages.",
    "name": "English language names as in XTREME / XTREME-R.",
    "family": "Top-level family as in Glottolog (Hammarström et al., glottolog.org) and WALS "
    "(Dryer & Haspelmath 2013, wals.info): Glottolog's names where WALS's grouping is outdated "
    "(Turkic for WALS's Altaic, Japonic, Koreanic); Niger-Congo as WALS has it (Glottolog's "
    "top node there is Atlantic-Congo); Creole for Haitian Creole (WALS: other).",
    "genus": "WALS genus (WALS Online, CLDF release v2020.4); Haitian Creole: French-based "
    "creole (WALS: Creoles and Pidgins).",
    "script": "ISO 15924 script name (Unicode Consortium, unicode.org/iso15924), shortened "
    "(e.g. Bengali for 'Bengali (Bangla)'); script_code is the ISO 15924 code.",
    "resource_class": "Joshi et al. 2020, 'The State and Fate of Linguistic Diversity and "
    "Inclusion in the NLP World' (ACL), class 0-5, from the paper's lang2tax.txt "
    "(microsoft.github.io/linguisticdiversity).",
    "resource_level": "Derived from resource_class: 4-5 high, 3 medium, 0-2 low "
    "(synthetic languages: their declared resource level).",
    "morphology": "Classical morphological types (isolating, agglutinative, fusional; "
    "introflexive for Semitic root-and-pattern morphology, after Skalicka) as in standard "
    "typology references (Comrie 1989, 'Language Universals and Linguistic Typology'; "
    "Haspelmath & Sims 2010, 'Understanding Morphology'), checked against WALS chapters 20-22 "
    "(Bickel & Nichols) and 26 (Dryer); the notes column says where a label is debatable.",
}


@dataclass(frozen=True)
class LanguageMeta:
    """One language's row; `resource_class` is None where Joshi et al. give none (synthetic)."""

    code: str
    name: str
    family: str
    genus: str
    script: str
    script_code: str
    resource_class: int | None
    resource_level: str
    morphology: str
    notes: str = ""

    def __post_init__(self) -> None:
        if self.morphology not in MORPHOLOGIES:
            raise ValueError(f"{self.code}: morphology {self.morphology!r} not in {MORPHOLOGIES}")
        if self.resource_level not in RESOURCE_LEVELS:
            raise ValueError(
                f"{self.code}: resource_level {self.resource_level!r} not in {RESOURCE_LEVELS}"
            )
        if self.resource_class is not None:
            expected = resource_level_for(self.resource_class)
            if self.resource_level != expected:
                raise ValueError(
                    f"{self.code}: class {self.resource_class} is {expected!r}, "
                    f"not {self.resource_level!r}"
                )

    def group(self, grouping: str) -> str:
        if grouping not in GROUPINGS:
            raise ValueError(f"grouping must be one of {GROUPINGS}, not {grouping!r}")
        return getattr(self, grouping)


def resource_level_for(resource_class: int) -> str:
    """Joshi et al.'s class 0-5 as a coarse level: 4-5 high, 3 medium, 0-2 low."""
    if resource_class not in range(6):
        raise ValueError(f"Joshi et al. classes run 0-5, not {resource_class!r}")
    if resource_class >= 4:
        return "high"
    return "medium" if resource_class == 3 else "low"


def read_csv_rows() -> list[dict[str, str]]:
    """The shipped table's rows as strings, in file order (duplicates kept, for checking)."""
    text = resources.files("analysis").joinpath("languages.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _from_csv(row: dict[str, str]) -> LanguageMeta:
    return LanguageMeta(
        code=row["code"],
        name=row["name"],
        family=row["family"],
        genus=row["genus"],
        script=row["script"],
        script_code=row["script_code"],
        resource_class=int(row["resource_class"]),
        resource_level=row["resource_level"],
        morphology=row["morphology"],
        notes=row["notes"],
    )


def _synthetic(real: dict[str, LanguageMeta]) -> dict[str, LanguageMeta]:
    # Imported here, not at the top: `trainers.synth` pulls in its generator and the
    # `tokenizers` library (no torch), which callers that only group real languages skip.
    from trainers.synth.languages import LANGUAGES

    script_codes = {m.script: m.script_code for m in real.values()}
    rows = {}
    for code, language in LANGUAGES.items():
        if code in real:  # English: the real row, not the synthetic benchmark's sketch of it
            continue
        info = language.info
        rows[code] = LanguageMeta(
            code=code,
            name=info.name,
            family=SYNTHETIC_FAMILY,
            genus=info.name,
            script=info.script,
            script_code=script_codes.get(info.script, ""),
            resource_class=None,
            resource_level=info.resource,
            morphology=info.morphology,
            notes=f"synthetic ({info.word_order}, {info.adposition}s); trainers.synth.languages",
        )
    return rows


@functools.cache
def language_table() -> dict[str, LanguageMeta]:
    """Every known language by code: the shipped table, then the synthetic languages."""
    real: dict[str, LanguageMeta] = {}
    for row in read_csv_rows():
        meta = _from_csv(row)
        if meta.code in real:
            raise ValueError(f"languages.csv lists {meta.code!r} twice")
        real[meta.code] = meta
    return {**real, **_synthetic(real)}


def meta(code: str) -> LanguageMeta | None:
    return language_table().get(code)


def group_of(code: str, grouping: str) -> str:
    """The language's group under `grouping` (one of GROUPINGS); "unknown" if not in the table."""
    if grouping not in GROUPINGS:
        raise ValueError(f"grouping must be one of {GROUPINGS}, not {grouping!r}")
    found = meta(code)
    return found.group(grouping) if found else UNKNOWN


def sources() -> dict[str, str]:
    """Where each column comes from, for the report's footnote."""
    return dict(SOURCES)
