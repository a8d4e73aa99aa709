"""The task registry: a task is a declaration (source files, format, labels, metric, languages).

Formats (how examples become features, heads and scores) are shared code in
`trainers.formats`; a task only names one. Tasks are registered explicitly in
`trainers.tasks.__init__`, never by scanning a folder.

Several sources per split: a split of `LocalFiles` may name a tuple of files and `Task.hub` may
be a tuple of `HubSource`s. For example-list readers the files (or hub sources) are read one
after the other and concatenated (ANLI+ = SNLI + MNLI + ANLI r1-r3); retrieval readers receive
all the split's files at once, in the declared order (BUCC: source side, English side, gold).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("intermediate", "target")
BENCHMARKS = ("xtreme", "xtreme-r")

# One file, or several read together (see the module docstring); None: the split does not exist.
Files = str | tuple[str, ...] | None


@dataclass(frozen=True)
class LocalFiles:
    """Where a task's files sit under a local data root.

    `{lang}` is filled with the language code, `{code}` with `codes[lang]` (the release's own
    name for the language, e.g. Tatoeba's ISO 639-3 `deu`), defaulting to the language code.
    """

    train: Files
    dev: Files
    test: Files
    codes: dict[str, str] = field(default_factory=dict)

    def paths(self, split: str, lang: str) -> tuple[str, ...]:
        """The split's files for `lang`, in declared order; () when the split does not exist."""
        files = getattr(self, split)
        if files is None:
            return ()
        names = (files,) if isinstance(files, str) else files
        code = self.codes.get(lang, lang)
        return tuple(name.format(lang=lang, code=code) for name in names)

    def path(self, split: str, lang: str) -> str:
        """The single file of a split (most tasks); several files is an error here."""
        paths = self.paths(split, lang)
        if len(paths) != 1:
            raise ValueError(f"{split} has {len(paths)} files; use paths()")
        return paths[0]


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face `datasets` id for the task; `{lang}` in `config` is filled per language.

    Column keys per format (values are the hub's column names):
    classification: text_a, text_b (optional), label; tagging: tokens, tags;
    multiple_choice: context and question (optional), choices (one list column, a
    {label, text} dict column, or a tuple of columns), label; span_qa: id, question, context,
    answers ({text: [...], answer_start: [...]}); retrieval: query, candidate (aligned pairs,
    gold i -> i).
    """

    dataset: str
    config: str | None = None
    # Per-language config names where the hub does not use ISO codes (e.g. udpos.English).
    config_by_lang: dict[str, str] = field(default_factory=dict)
    # Hub split name(s) per split; a tuple is concatenated (ANLI's train_r1..r3). A source that
    # lacks a split is skipped for it (XCOPA: English COPA for train, XCOPA for dev/test).
    splits: dict[str, str | tuple[str, ...]] = field(
        default_factory=lambda: {"train": "train", "dev": "validation", "test": "test"}
    )
    columns: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    # Label names in the hub's integer order, where the hub stores labels as ints.
    label_names: tuple[str, ...] = ()
    # For hub splits that mix languages: the prefix of the id column marking each language
    # (TyDiQA GoldP ids start with the language's English name, e.g. "english-").
    id_prefix_by_lang: dict[str, str] = field(default_factory=dict)
    # Languages this source serves (empty: all); XCOPA's English data is COPA, another dataset.
    languages: tuple[str, ...] = ()

    def serves(self, split: str, lang: str) -> bool:
        return split in self.splits and (not self.languages or lang in self.languages)

    def config_for(self, lang: str) -> str | None:
        if lang in self.config_by_lang:
            return self.config_by_lang[lang]
        if self.config_by_lang and self.config is None:
            raise ValueError(f"{self.dataset} has no config for language {lang!r}")
        return self.config.format(lang=lang) if self.config else None


@dataclass(frozen=True)
class Representation:
    """How a retrieval task embeds a sentence without a trained head: mean (or first-token)
    pooling of one hidden layer. XTREME's Tatoeba script (and jiant, for BUCC and Tatoeba) use
    layer 14 of XLM-R Large's 24; `layer` counts transformer layers from 1, so it is
    `hidden_states[layer]` in Hugging Face outputs (index 0 is the embeddings)."""

    layer: int = 14
    reference_layers: int = 24
    pooling: str = "mean"

    def layer_for(self, num_layers: int) -> int:
        """The same relative depth in an encoder of another size (the tiny demo model)."""
        return max(1, round(self.layer * num_layers / self.reference_layers))


@dataclass(frozen=True)
class Task:
    """One task: what it reads, how it is formatted and scored, in which languages."""

    name: str
    format: str
    reader: str
    labels: tuple[str, ...]
    metric: str
    # Test languages as XTREME lists them (or the only list, for tasks outside XTREME).
    languages: tuple[str, ...]
    roles: tuple[str, ...]
    local: LocalFiles
    # One source, several concatenated per split, or None (local files only).
    hub: HubSource | tuple[HubSource, ...] | None = None
    train_language: str = "en"
    description: str = ""
    # Benchmarks that include the task (empty: none, e.g. intermediate or synthetic tasks).
    benchmarks: tuple[str, ...] = ()
    # Languages XTREME-R adds to this task's XTREME list (UD-POS: lt pl uk wo ro).
    xtreme_r_extra_languages: tuple[str, ...] = ()
    # False: no training data; evaluated straight on the intermediate model (BUCC, Tatoeba).
    needs_training: bool = True
    # Candidates per multiple-choice example (the chance floor is 1 / num_choices).
    num_choices: int = 0
    # Labels read at run time from this file under the data root (one per line), for label
    # sets that come with the user's data (CCG supertags); `labels` stays empty in the
    # declaration. See `trainers.data.source.resolve_labels`.
    label_file: str | None = None
    # Retrieval tasks: the pooled layer used as the sentence embedding.
    representation: Representation | None = None
    # Translated training data under the data root, in the train file's format; `{lang}` is
    # filled in (translate-train: `task@lang` in a spec). None: the spec must name the files.
    translate_train: str | None = None

    def __post_init__(self) -> None:
        bad = [r for r in self.roles if r not in ROLES]
        if bad:
            raise ValueError(f"task {self.name}: unknown role(s) {bad}; expected {ROLES}")
        unknown = [b for b in self.benchmarks if b not in BENCHMARKS]
        if unknown:
            raise ValueError(f"task {self.name}: unknown benchmark(s) {unknown}; {BENCHMARKS}")
        both = set(self.xtreme_r_extra_languages) & set(self.languages)
        if both:
            raise ValueError(f"task {self.name}: XTREME-R extras already listed: {sorted(both)}")
        if self.format == "retrieval" and self.representation is None:
            raise ValueError(f"task {self.name}: a retrieval task declares its representation")
        if not self.needs_training and "intermediate" in self.roles:
            raise ValueError(f"task {self.name}: an intermediate task needs training data")
        if self.needs_training and self.local.train is None:
            raise ValueError(f"task {self.name}: needs training but declares no train files")

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def hub_sources(self) -> tuple[HubSource, ...]:
        if self.hub is None:
            return ()
        return (self.hub,) if isinstance(self.hub, HubSource) else self.hub

    def in_benchmark(self, benchmark: str) -> bool:
        return not self.benchmarks or benchmark in self.benchmarks

    def test_languages(self, benchmark: str = "xtreme") -> tuple[str, ...]:
        """The languages `benchmark` evaluates this task in (XTREME-R: plus its extras)."""
        if benchmark not in BENCHMARKS:
            raise ValueError(f"benchmark must be one of {BENCHMARKS}, not {benchmark!r}")
        if self.benchmarks and benchmark not in self.benchmarks:
            raise ValueError(f"task {self.name} is not part of {benchmark}")
        extra = self.xtreme_r_extra_languages if benchmark == "xtreme-r" else ()
        return self.languages + extra

    def chance(self) -> float:
        """Score of a uniform random guess: the floor a report compares against."""
        if self.labels:
            return 1.0 / len(self.labels)
        return 1.0 / self.num_choices if self.num_choices else 0.0


class TaskRegistry:
    """Tasks by name; a second task with the same name is an error, never a silent override."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def add(self, task: Task) -> Task:
        if task.name in self._tasks:
            raise ValueError(f"task {task.name!r} is registered twice")
        self._tasks[task.name] = task
        return task

    def get(self, name: str) -> Task:
        try:
            return self._tasks[name]
        except KeyError:
            known = ", ".join(sorted(self._tasks))
            raise KeyError(f"unknown task {name!r}; known tasks: {known}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def names(self, role: str | None = None) -> list[str]:
        return sorted(n for n, t in self._tasks.items() if role is None or role in t.roles)
