"""The project's synthetic benchmark tasks (written by `trainers.synth`), in real on-disk formats.

They read exactly like their real counterparts (MultiNLI jsonl, XTREME's XNLI, PAWS-X, UD-POS and
PAN-X files, LASER's Tatoeba and BUCC 2018's files), so the offline demo exercises the same
readers a cluster run uses.
"""

from trainers.tasks.panx import PANX_TAGS
from trainers.tasks.pawsx import PAWSX_LABELS
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


def xtreme_layout(directory: str, dev: str = "dev", ext: str = "tsv") -> LocalFiles:
    """XTREME's target layout: English train, dev and test files per language."""
    return LocalFiles(
        train=f"{directory}/train-en.{ext}",
        dev=f"{directory}/{dev}-{{lang}}.{ext}",
        test=f"{directory}/test-{{lang}}.{ext}",
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
    translate_train="translate-train/synth_mnli/multinli_1.0_train.{lang}.jsonl",
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
    local=xtreme_layout("synth_xnli"),
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
    local=xtreme_layout("synth_udpos"),
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

SYNTH_PAWSX = Task(
    name="synth_pawsx",
    format="classification",
    reader="pawsx_tsv",
    labels=PAWSX_LABELS,
    metric="accuracy",
    languages=SYNTH_LANGUAGES,
    roles=("target",),
    local=xtreme_layout("synth_pawsx"),
    description="synthetic paraphrase pairs of identical words (XTREME PAWS-X layout)",
)

SYNTH_PANX = Task(
    name="synth_panx",
    format="tagging",
    reader="panx_tsv",
    labels=PANX_TAGS,
    metric="f1",
    languages=SYNTH_LANGUAGES,
    roles=("target",),
    local=xtreme_layout("synth_panx"),
    description="synthetic named entities, people and places in IOB2 (XTREME PAN-X layout)",
)


def _bucc(split: str) -> tuple[str, ...]:
    return tuple(f"synth_bucc/{{lang}}-en.{split}.{side}" for side in ("{lang}", "en", "gold"))


SYNTH_BUCC = Task(
    name="synth_bucc",
    format="retrieval",
    reader="bucc",
    labels=(),
    metric="f1",
    languages=tuple(lang for lang in SYNTH_LANGUAGES if lang != "en"),
    roles=("target",),
    local=LocalFiles(train=None, dev=_bucc("dev"), test=_bucc("test")),
    description="synthetic bitext mining against English (BUCC 2018 layout)",
    needs_training=False,
    representation=Representation(layer=14, reference_layers=24, pooling="mean"),
)

SYNTH_SQUAD = Task(
    name="synth_squad",
    format="span_qa_v2",
    reader="squad_json",
    labels=(),
    metric="f1",
    languages=("en",),
    roles=("intermediate",),
    local=LocalFiles(
        train="synth_squad/train-v2.0.json",
        dev="synth_squad/dev-v2.0.json",
        test="synth_squad/dev-v2.0.json",
    ),
    description="synthetic cloze QA with unanswerable questions (SQuAD 2.0 format)",
)

SYNTH_XQUAD = Task(
    name="synth_xquad",
    format="span_qa",
    reader="squad_json",
    labels=(),
    metric="f1",
    languages=SYNTH_LANGUAGES,
    roles=("target",),
    local=LocalFiles(
        train="synth_xquad/train-v1.1.json",
        dev="synth_xquad/dev-v1.1.json",
        test="synth_xquad/xquad.{lang}.json",
    ),
    description="synthetic cross-lingual cloze QA (SQuAD v1.1 train, XQuAD-style test)",
)

SYNTH_MLQA = Task(
    name="synth_mlqa",
    format="span_qa_mlqa",  # MLQA's answer normalisation
    reader="squad_json",
    labels=(),
    metric="f1",
    languages=SYNTH_LANGUAGES,
    roles=("target",),
    local=LocalFiles(
        train="synth_xquad/train-v1.1.json",
        dev="synth_xquad/dev-v1.1.json",
        test="synth_mlqa/MLQA_V1/test/test-context-{lang}-question-{lang}.json",
    ),
    description="synthetic cloze QA in MLQA's layout and scoring, trained on synth_xquad's SQuAD",
)

SYNTH_TYDIQA = Task(
    name="synth_tydiqa",
    format="span_qa",
    reader="squad_json",
    labels=(),
    metric="f1",
    languages=SYNTH_LANGUAGES,
    roles=("target",),
    local=LocalFiles(
        train="synth_tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json",
        dev="synth_tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json",
        test="synth_tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json",
    ),
    description="synthetic cloze QA in TyDiQA-GoldP's layout, each language its own questions",
)

SYNTH_HELLASWAG = Task(
    name="synth_hellaswag",
    format="multiple_choice",
    reader="hellaswag_jsonl",
    labels=(),
    num_choices=4,
    metric="accuracy",
    languages=("en",),
    roles=("intermediate",),
    local=LocalFiles(
        train="synth_hellaswag/hellaswag_train.jsonl",
        dev="synth_hellaswag/hellaswag_val.jsonl",
        test="synth_hellaswag/hellaswag_val.jsonl",
    ),
    description="synthetic four-way choice of the ending a context entails (HellaSwag format)",
)

SYNTH_XCOPA = Task(
    name="synth_xcopa",
    format="multiple_choice",
    reader="copa_jsonl",
    labels=(),
    num_choices=2,
    metric="accuracy",
    languages=SYNTH_LANGUAGES,
    roles=("target",),
    local=xtreme_layout("synth_xcopa", dev="val", ext="jsonl"),
    description="synthetic two-way choice, the same items in every language (XCOPA layout)",
)

TASKS = (
    SYNTH_MNLI,
    SYNTH_XNLI,
    SYNTH_UDPOS,
    SYNTH_TATOEBA,
    SYNTH_PAWSX,
    SYNTH_PANX,
    SYNTH_BUCC,
    SYNTH_SQUAD,
    SYNTH_XQUAD,
    SYNTH_MLQA,
    SYNTH_TYDIQA,
    SYNTH_HELLASWAG,
    SYNTH_XCOPA,
)
