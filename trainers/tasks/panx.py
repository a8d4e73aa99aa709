"""PAN-X (WikiANN) named-entity recognition, as XTREME prepares it."""

from trainers.tasks.registry import HubSource, LocalFiles, Task

# IOB2 tags in the hub's ClassLabel order.
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
# google-research/xtreme evaluate.py, XTREME_TASK2LANGS["panx"] (sorted here).
PANX_LANGUAGES = (
    "af", "ar", "bg", "bn", "de", "el", "en", "es", "et", "eu",
    "fa", "fi", "fr", "he", "hi", "hu", "id", "it", "ja", "jv",
    "ka", "kk", "ko", "ml", "mr", "ms", "my", "nl", "pt", "ru",
    "sw", "ta", "te", "th", "tl", "tr", "ur", "vi", "yo", "zh",
)  # fmt: skip
# XTREME_R_TASK2LANGS["panx"] minus the above.
PANX_XTREME_R_EXTRA = ("az", "gu", "lt", "pa", "pl", "qu", "ro", "uk")

PANX = Task(
    name="panx",
    format="tagging",
    # XTREME's files are `token<TAB>tag`; the raw WikiANN archives prefix tokens with "xx:",
    # which this reader strips (see `read_panx_tsv`).
    reader="panx_tsv",
    labels=PANX_TAGS,
    metric="f1",
    languages=PANX_LANGUAGES,
    roles=("target",),
    local=LocalFiles(
        train="panx/train-en.tsv", dev="panx/dev-{lang}.tsv", test="panx/test-{lang}.tsv"
    ),
    # google/xtreme covers XTREME's 40 languages; the XTREME-R extras are local-only.
    hub=HubSource(
        dataset="google/xtreme",
        config="PAN-X.{lang}",
        columns={"tokens": "tokens", "tags": "ner_tags"},
        label_names=PANX_TAGS,
    ),
    description="PAN-X / WikiANN NER (40 languages), seqeval entity F1",
    benchmarks=("xtreme", "xtreme-r"),
    xtreme_r_extra_languages=PANX_XTREME_R_EXTRA,
)

TASKS = (PANX,)
