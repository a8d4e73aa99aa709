"""Multiple-choice intermediate tasks: HellaSwag, Cosmos QA and CommonsenseQA.

Their test labels are hidden, so each dev set doubles as the test set.
"""

from trainers.tasks.registry import HubSource, LocalFiles, Task

DEV_AS_TEST = {"train": "train", "dev": "validation", "test": "validation"}

HELLASWAG = Task(
    name="hellaswag",
    format="multiple_choice",
    reader="hellaswag_jsonl",
    labels=(),
    num_choices=4,
    metric="accuracy",
    languages=("en",),
    roles=("intermediate",),
    # As the HellaSwag release names its files.
    local=LocalFiles(
        train="hellaswag/hellaswag_train.jsonl",
        dev="hellaswag/hellaswag_val.jsonl",
        test="hellaswag/hellaswag_val.jsonl",
    ),
    # The hub stores the label as a digit string ("" on test).
    hub=HubSource(
        dataset="Rowan/hellaswag",
        splits=DEV_AS_TEST,
        columns={"context": "ctx", "choices": "endings", "label": "label"},
    ),
    description="HellaSwag, English commonsense sentence completion (4 endings)",
)

COSMOSQA = Task(
    name="cosmosqa",
    format="multiple_choice",
    reader="cosmosqa",
    labels=(),
    num_choices=4,
    metric="accuracy",
    languages=("en",),
    roles=("intermediate",),
    # As the Cosmos QA release (wilburOne/cosmosqa data/) names its files.
    local=LocalFiles(
        train="cosmosqa/train.csv", dev="cosmosqa/valid.csv", test="cosmosqa/valid.csv"
    ),
    hub=HubSource(
        dataset="allenai/cosmos_qa",
        splits=DEV_AS_TEST,
        columns={
            "context": "context",
            "question": "question",
            "choices": ("answer0", "answer1", "answer2", "answer3"),
            "label": "label",
        },
    ),
    description="Cosmos QA, English commonsense reading comprehension (4 answers)",
)

COMMONSENSEQA = Task(
    name="commonsenseqa",
    format="multiple_choice",
    reader="commonsenseqa_jsonl",
    labels=(),
    num_choices=5,
    metric="accuracy",
    languages=("en",),
    roles=("intermediate",),
    # As the CommonsenseQA release (random split) names its files.
    local=LocalFiles(
        train="commonsenseqa/train_rand_split.jsonl",
        dev="commonsenseqa/dev_rand_split.jsonl",
        test="commonsenseqa/dev_rand_split.jsonl",
    ),
    # choices is a {label: ["A".."E"], text: [...]} column; answerKey names the right label.
    hub=HubSource(
        dataset="tau/commonsense_qa",
        splits=DEV_AS_TEST,
        columns={"question": "question", "choices": "choices", "label": "answerKey"},
    ),
    description="CommonsenseQA, English commonsense question answering (5 answers)",
)

TASKS = (HELLASWAG, COSMOSQA, COMMONSENSEQA)
