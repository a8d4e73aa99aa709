"""GLUE intermediate tasks: QQP (question-pair paraphrase) and SST-2 (single-sentence sentiment).

GLUE hides its test labels, so each task's dev set is also its test set (as MNLI's is).
"""

from trainers.tasks.registry import HubSource, LocalFiles, Task

# GLUE's integer label order (its hub ClassLabel names).
QQP_LABELS = ("not_duplicate", "duplicate")
SST2_LABELS = ("negative", "positive")
GLUE_SPLITS = {"train": "train", "dev": "validation", "test": "validation"}

QQP = Task(
    name="qqp",
    format="classification",
    reader="glue_tsv",
    labels=QQP_LABELS,
    metric="accuracy",
    languages=("en",),
    roles=("intermediate",),
    # As GLUE's QQP archive unpacks (header: id qid1 qid2 question1 question2 is_duplicate).
    local=LocalFiles(train="QQP/train.tsv", dev="QQP/dev.tsv", test="QQP/dev.tsv"),
    hub=HubSource(
        dataset="nyu-mll/glue",
        config="qqp",
        splits=GLUE_SPLITS,
        columns={"text_a": "question1", "text_b": "question2", "label": "label"},
        label_names=QQP_LABELS,
    ),
    description="Quora Question Pairs, English paraphrase classification",
)

SST2 = Task(
    name="sst2",
    format="classification",
    reader="glue_tsv",
    labels=SST2_LABELS,
    metric="accuracy",
    languages=("en",),
    roles=("intermediate",),
    # As GLUE's SST-2 archive unpacks (header: sentence label).
    local=LocalFiles(train="SST-2/train.tsv", dev="SST-2/dev.tsv", test="SST-2/dev.tsv"),
    hub=HubSource(
        dataset="nyu-mll/glue",
        config="sst2",
        splits=GLUE_SPLITS,
        columns={"text_a": "sentence", "label": "label"},
        label_names=SST2_LABELS,
    ),
    description="Stanford Sentiment Treebank (binary), English single-sentence classification",
)

TASKS = (QQP, SST2)
