"""PAWS-X paraphrase identification (an XTREME target; not part of XTREME-R)."""

from trainers.tasks.registry import HubSource, LocalFiles, Task

# The release's 0/1 in order: 1 means the pair is a paraphrase.
PAWSX_LABELS = ("not_paraphrase", "paraphrase")
PAWSX_LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")

PAWSX = Task(
    name="pawsx",
    format="classification",
    reader="pawsx_tsv",
    labels=PAWSX_LABELS,
    metric="accuracy",
    languages=PAWSX_LANGUAGES,
    roles=("target",),
    # google-research/xtreme's download_data.sh layout (its test files carry no labels).
    local=LocalFiles(
        train="pawsx/train-en.tsv", dev="pawsx/dev-{lang}.tsv", test="pawsx/test-{lang}.tsv"
    ),
    # Per-language configs; non-English train splits are machine translations (unused here).
    hub=HubSource(
        dataset="google-research-datasets/paws-x",
        config="{lang}",
        columns={"text_a": "sentence1", "text_b": "sentence2", "label": "label"},
        label_names=PAWSX_LABELS,
    ),
    description="PAWS-X, cross-lingual paraphrase identification (7 languages)",
    benchmarks=("xtreme",),
)

TASKS = (PAWSX,)
