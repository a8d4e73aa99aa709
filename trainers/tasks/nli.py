"""Natural language inference: MNLI (intermediate) and XNLI (target)."""

from trainers.tasks.registry import HubSource, LocalFiles, Task
from trainers.tasks.synthetic import NLI_LABELS

XNLI_LANGUAGES = (
    "ar",
    "bg",
    "de",
    "el",
    "en",
    "es",
    "fr",
    "hi",
    "ru",
    "sw",
    "th",
    "tr",
    "ur",
    "vi",
    "zh",
)

MNLI = Task(
    name="mnli",
    format="classification",
    reader="mnli_jsonl",
    labels=NLI_LABELS,
    metric="accuracy",
    languages=("en",),
    roles=("intermediate",),
    # As the MultiNLI 1.0 release unpacks; test is the matched dev set (test labels are hidden).
    local=LocalFiles(
        train="multinli_1.0/multinli_1.0_train.jsonl",
        dev="multinli_1.0/multinli_1.0_dev_matched.jsonl",
        test="multinli_1.0/multinli_1.0_dev_matched.jsonl",
    ),
    hub=HubSource(
        dataset="nyu-mll/multi_nli",
        splits={"train": "train", "dev": "validation_matched", "test": "validation_matched"},
        columns={"text_a": "premise", "text_b": "hypothesis", "label": "label"},
        label_names=NLI_LABELS,
    ),
    description="MultiNLI, English sentence-pair classification",
)

XNLI = Task(
    name="xnli",
    format="classification",
    reader="xnli_tsv",
    labels=NLI_LABELS,
    metric="accuracy",
    languages=XNLI_LANGUAGES,
    roles=("target",),
    # google-research/xtreme's download_data.sh layout (train-en.tsv is MultiNLI's train set).
    local=LocalFiles(
        train="xnli/train-en.tsv", dev="xnli/dev-{lang}.tsv", test="xnli/test-{lang}.tsv"
    ),
    hub=HubSource(
        dataset="facebook/xnli",
        config="{lang}",
        columns={"text_a": "premise", "text_b": "hypothesis", "label": "label"},
        label_names=NLI_LABELS,
    ),
    description="XNLI, cross-lingual NLI (15 languages)",
    benchmarks=("xtreme", "xtreme-r"),
)

TASKS = (MNLI, XNLI)
