"""XCOPA causal commonsense reasoning (an XTREME-R target), trained on English COPA.

XTREME-R trains on SIQa and then COPA; here the target's training data is COPA (SIQa would be
an intermediate task of its own). XTREME's download script zeroes the XCOPA test labels; the
reader refuses such a file, so keep the original release's test files under these names.
"""

from trainers.tasks.registry import HubSource, LocalFiles, Task

# google-research/xtreme evaluate.py, XTREME_R_TASK2LANGS["xcopa"]; English is COPA, not XCOPA.
XCOPA_LANGUAGES = ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh")
COPA_COLUMNS = {
    "context": "premise",
    "question": "question",
    "choices": ("choice1", "choice2"),
    "label": "label",
}

XCOPA = Task(
    name="xcopa",
    format="multiple_choice",
    reader="copa_jsonl",
    labels=(),
    num_choices=2,
    metric="accuracy",
    languages=XCOPA_LANGUAGES,
    roles=("target",),
    # download_data.sh layout: COPA as {train,val}-en.jsonl, XCOPA as {val,test}-{lang}.jsonl.
    local=LocalFiles(
        train="xcopa/train-en.jsonl", dev="xcopa/val-{lang}.jsonl", test="xcopa/test-{lang}.jsonl"
    ),
    hub=(
        HubSource(
            dataset="aps/super_glue",
            config="copa",
            splits={"train": "train", "dev": "validation"},
            columns=COPA_COLUMNS,
            languages=("en",),
        ),
        HubSource(
            dataset="cambridgeltl/xcopa",
            config="{lang}",
            splits={"dev": "validation", "test": "test"},
            columns=COPA_COLUMNS,
            languages=XCOPA_LANGUAGES,
        ),
    ),
    description="XCOPA (11 languages), trained on English COPA",
    benchmarks=("xtreme-r",),
)

TASKS = (XCOPA,)
