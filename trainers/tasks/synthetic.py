"""The project's synthetic benchmark tasks (written by `trainers.synth`), in real on-disk formats.

They read exactly like their real counterparts (MultiNLI jsonl, XTREME's XNLI TSV and UD-POS
token/tag files), so the offline demo exercises the same readers a cluster run uses.
"""

from trainers.tasks.registry import LocalFiles, Representation, Task

SYNTH_LANGUAGES = ("en", "qaa", "qab", "qac")
NLI_LABELS = ("entailment", "neutral", "contradiction")
UPOS = (
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
)

SYNTH_MNLI = Task(
    name="synth_mnli",
    format="classification",
    reader="mnli_jsonl",
    labels=NLI_LABELS,
    metric="accuracy",
    languages=("en",),
    roles=("intermediate",),
    local=LocalFiles(
        train="synth_mnli/multinli_1.0_train.jsonl",
        dev="synth_mnli/multinli_1.0_dev_matched.jsonl",
        test="synth_mnli/multinli_1.0_dev_matched.jsonl",
    ),
    description="synthetic English NLI (MultiNLI format), an intermediate task",
)

SYNTH_XNLI = Task(
    name="synth_xnli",
    format="classification",
    reader="xnli_tsv",
    labels=NLI_LABELS,
    metric="accuracy",
    languages=SYNTH_LANGUAGES,
    roles=("target", "intermediate"),
    local=LocalFiles(
        train="synth_xnli/train-en.tsv",
        dev="synth_xnli/dev-{lang}.tsv",
        test="synth_xnli/test-{lang}.tsv",
    ),
    description="synthetic cross-lingual NLI (XTREME XNLI layout)",
)

SYNTH_UDPOS = Task(
    name="synth_udpos",
    format="tagging",
    reader="conll_tsv",
    labels=UPOS,
    metric="f1",
    languages=SYNTH_LANGUAGES,
    roles=("target", "intermediate"),
    local=LocalFiles(
        train="synth_udpos/train-en.tsv",
        dev="synth_udpos/dev-{lang}.tsv",
        test="synth_udpos/test-{lang}.tsv",
    ),
    description="synthetic cross-lingual POS tagging (XTREME UD-POS layout)",
)

SYNTH_TATOEBA = Task(
    name="synth_tatoeba",
    format="retrieval",
    reader="tatoeba",
    labels=(),
    metric="accuracy",
    languages=tuple(lang for lang in SYNTH_LANGUAGES if lang != "en"),
    roles=("target",),
    local=LocalFiles(
        train=None,
        dev=None,
        test=("synth_tatoeba/tatoeba.{lang}-eng.{lang}", "synth_tatoeba/tatoeba.{lang}-eng.eng"),
    ),
    description="synthetic sentence retrieval against English (LASER's Tatoeba layout)",
    needs_training=False,
    representation=Representation(layer=14, reference_layers=24, pooling="mean"),
)

TASKS = (SYNTH_MNLI, SYNTH_XNLI, SYNTH_UDPOS, SYNTH_TATOEBA)
