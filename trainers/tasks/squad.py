"""SQuAD v2.0 (an intermediate task), and the SQuAD v1.1 sources the QA targets train on."""

from trainers.tasks.registry import HubSource, LocalFiles, Task

# Hub columns of every SQuAD-format dataset (answers: {text: [...], answer_start: [...]}).
SQUAD_COLUMNS = {"id": "id", "question": "question", "context": "context", "answers": "answers"}
# XTREME's download_data.sh puts SQuAD v1.1 here; XQuAD and MLQA train and select on it.
SQUAD_V1_TRAIN = "squad/train-v1.1.json"
SQUAD_V1_DEV = "squad/dev-v1.1.json"
SQUAD_V1_HUB = HubSource(
    dataset="rajpurkar/squad",
    splits={"train": "train", "dev": "validation"},
    columns=SQUAD_COLUMNS,
    languages=("en",),
)

SQUAD_V2 = Task(
    name="squad_v2",
    # SQuAD v2 scoring: a question may have no answer, predicted when the null score wins.
    format="span_qa_v2",
    reader="squad_json",
    labels=(),
    metric="f1",
    languages=("en",),
    roles=("intermediate",),
    # As the SQuAD 2.0 release names its files; its test set is hidden, so dev doubles as test.
    local=LocalFiles(
        train="squad/train-v2.0.json", dev="squad/dev-v2.0.json", test="squad/dev-v2.0.json"
    ),
    hub=HubSource(
        dataset="rajpurkar/squad_v2",
        splits={"train": "train", "dev": "validation", "test": "validation"},
        columns=SQUAD_COLUMNS,
    ),
    description="SQuAD 2.0, English extractive QA with unanswerable questions",
)

TASKS = (SQUAD_V2,)
