"""Cross-lingual extractive QA targets: XQuAD, MLQA and TyDiQA-GoldP (SQuAD-format JSON).

XTREME's download script strips the answers of these test files (and of TyDiQA's dev files,
which are its test set); the reader refuses stripped files, so put the original releases' files
in their place (XQuAD and MLQA keep their names; TyDiQA's `tydiqa-goldp-dev-{name}.json` are
renamed `tydiqa.goldp.{lang}.dev.json` as XTREME renames them).
"""

from trainers.tasks.registry import HubSource, LocalFiles, Task
from trainers.tasks.squad import SQUAD_COLUMNS, SQUAD_V1_DEV, SQUAD_V1_HUB, SQUAD_V1_TRAIN

# google-research/xtreme evaluate.py, XTREME_TASK2LANGS (sorted here); XTREME-R adds ro to XQuAD.
XQUAD_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
MLQA_LANGUAGES = ("ar", "de", "en", "es", "hi", "vi", "zh")
# TyDiQA GoldP ids start with the language's English name (XTREME splits its files by them).
TYDIQA_NAMES = {
    "ar": "arabic",
    "bn": "bengali",
    "en": "english",
    "fi": "finnish",
    "id": "indonesian",
    "ko": "korean",
    "ru": "russian",
    "sw": "swahili",
    "te": "telugu",
}

XQUAD = Task(
    name="xquad",
    format="span_qa",
    reader="squad_json",
    labels=(),
    metric="f1",
    languages=XQUAD_LANGUAGES,
    roles=("target",),
    local=LocalFiles(train=SQUAD_V1_TRAIN, dev=SQUAD_V1_DEV, test="xquad/xquad.{lang}.json"),
    hub=(
        SQUAD_V1_HUB,
        HubSource(
            dataset="google/xtreme",
            config="XQuAD.{lang}",
            splits={"test": "validation"},
            columns=SQUAD_COLUMNS,
        ),
    ),
    description="XQuAD (11 languages), trained on SQuAD v1.1",
    benchmarks=("xtreme", "xtreme-r"),
    xtreme_r_extra_languages=("ro",),
)

MLQA = Task(
    name="mlqa",
    # MLQA's own answer normalisation (Unicode punctuation, per-language articles).
    format="span_qa_mlqa",
    reader="squad_json",
    labels=(),
    metric="f1",
    languages=MLQA_LANGUAGES,
    roles=("target",),
    # Context language = question language, as XTREME evaluates it.
    local=LocalFiles(
        train=SQUAD_V1_TRAIN,
        dev=SQUAD_V1_DEV,
        test="mlqa/MLQA_V1/test/test-context-{lang}-question-{lang}.json",
    ),
    hub=(
        SQUAD_V1_HUB,
        HubSource(
            dataset="google/xtreme",
            config="MLQA.{lang}.{lang}",
            splits={"test": "test"},
            columns=SQUAD_COLUMNS,
        ),
    ),
    description="MLQA (7 languages), trained on SQuAD v1.1",
    benchmarks=("xtreme", "xtreme-r"),
)

TYDIQA = Task(
    name="tydiqa",
    format="span_qa",
    reader="squad_json",
    labels=(),
    metric="f1",
    languages=tuple(TYDIQA_NAMES),
    roles=("target",),
    # GoldP has no held-out dev: XTREME tests on the dev files, so English model selection
    # sees the English test set here (zero-shot languages are never used to select).
    local=LocalFiles(
        train="tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json",
        dev="tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json",
        test="tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json",
    ),
    hub=HubSource(
        dataset="google/xtreme",
        config="tydiqa",
        splits={"train": "train", "dev": "validation", "test": "validation"},
        columns=SQUAD_COLUMNS,
        id_prefix_by_lang={lang: f"{name}-" for lang, name in TYDIQA_NAMES.items()},
    ),
    description="TyDiQA-GoldP (9 languages), trained on its English GoldP train set",
    benchmarks=("xtreme", "xtreme-r"),
)

TASKS = (XQUAD, MLQA, TYDIQA)
