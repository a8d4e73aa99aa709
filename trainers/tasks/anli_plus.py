"""ANLI+: SNLI, MultiNLI and ANLI rounds 1-3 under one 3-way NLI head (an intermediate task).

Each split concatenates the releases' files (or hub datasets) in the same order. The releases'
own test sets are used as test except MultiNLI's, whose labels are hidden: its mismatched dev set
stands in, so no example is both dev and test.
"""

from trainers.tasks.registry import HubSource, LocalFiles, Task
from trainers.tasks.synthetic import NLI_LABELS

ANLI_ROUNDS = ("R1", "R2", "R3")
NLI_COLUMNS = {"text_a": "premise", "text_b": "hypothesis", "label": "label"}


def _anli(split: str) -> tuple[str, ...]:
    return tuple(f"anli_v1.0/{r}/{split}.jsonl" for r in ANLI_ROUNDS)


ANLI_PLUS = Task(
    name="anli_plus",
    format="classification",
    # SNLI and MultiNLI share one jsonl schema, ANLI has its own: the reader tells them apart.
    reader="nli_jsonl",
    labels=NLI_LABELS,
    metric="accuracy",
    languages=("en",),
    roles=("intermediate",),
    # As the SNLI 1.0, MultiNLI 1.0 and ANLI v1.0 releases unpack.
    local=LocalFiles(
        train=(
            "snli_1.0/snli_1.0_train.jsonl",
            "multinli_1.0/multinli_1.0_train.jsonl",
            *_anli("train"),
        ),
        dev=(
            "snli_1.0/snli_1.0_dev.jsonl",
            "multinli_1.0/multinli_1.0_dev_matched.jsonl",
            *_anli("dev"),
        ),
        test=(
            "snli_1.0/snli_1.0_test.jsonl",
            "multinli_1.0/multinli_1.0_dev_mismatched.jsonl",
            *_anli("test"),
        ),
    ),
    # All three store labels as entailment/neutral/contradiction ints (-1: no gold label).
    hub=(
        HubSource(dataset="stanfordnlp/snli", columns=NLI_COLUMNS, label_names=NLI_LABELS),
        HubSource(
            dataset="nyu-mll/multi_nli",
            splits={"train": "train", "dev": "validation_matched", "test": "validation_mismatched"},
            columns=NLI_COLUMNS,
            label_names=NLI_LABELS,
        ),
        HubSource(
            dataset="facebook/anli",
            splits={s: tuple(f"{s}_r{i}" for i in (1, 2, 3)) for s in ("train", "dev", "test")},
            columns=NLI_COLUMNS,
            label_names=NLI_LABELS,
        ),
    ),
    description="SNLI + MultiNLI + ANLI R1-R3, English NLI under one head",
)

TASKS = (ANLI_PLUS,)
