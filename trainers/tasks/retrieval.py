"""Sentence retrieval targets with no training data: BUCC 2018 mining and Tatoeba.

Both are evaluated straight on the intermediate-phase model (`needs_training=False`), embedding
sentences by mean pooling layer 14 of 24 as XTREME's scripts do for XLM-R Large.
"""

from trainers.tasks.registry import HubSource, LocalFiles, Representation, Task

BUCC_LANGUAGES = ("de", "fr", "ru", "zh")
# ISO 639-1 -> the ISO 639-3 code in Tatoeba's file names (google-research/xtreme
# utils_preprocess.py); the first 36 are XTREME's languages, the last 5 XTREME-R's additions.
TATOEBA_CODES = {
    "af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell",
    "es": "spa", "et": "est", "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra",
    "he": "heb", "hi": "hin", "hu": "hun", "id": "ind", "it": "ita", "ja": "jpn",
    "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar",
    "nl": "nld", "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel",
    "th": "tha", "tl": "tgl", "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn",
    "az": "aze", "lt": "lit", "pl": "pol", "uk": "ukr", "ro": "ron",
}  # fmt: skip
TATOEBA_XTREME_R_EXTRA = ("az", "lt", "pl", "uk", "ro")


def _bucc(split: str) -> tuple[str, ...]:
    # Source side, English side, gold pairs: the order `read_bucc` expects.
    return tuple(f"bucc2018/{{lang}}-en.{split}.{side}" for side in ("{lang}", "en", "gold"))


BUCC = Task(
    name="bucc",
    format="retrieval",
    reader="bucc",
    labels=(),
    metric="f1",
    languages=BUCC_LANGUAGES,
    roles=("target",),
    # download_data.sh layout: BUCC's sample set renamed dev, its training set renamed test.
    # The script deletes the test gold; keep the training-gold archive's .gold as test.gold.
    local=LocalFiles(train=None, dev=_bucc("dev"), test=_bucc("test")),
    # No hub source: google/xtreme's bucc18 configs hold only the gold pairs, not the corpora
    # a miner must search.
    description="BUCC 2018 bitext mining (de fr ru zh vs en), F1 over mined pairs",
    benchmarks=("xtreme",),
    needs_training=False,
    representation=Representation(layer=14, reference_layers=24, pooling="mean"),
)

TATOEBA = Task(
    name="tatoeba",
    format="retrieval",
    reader="tatoeba",
    labels=(),
    metric="accuracy",
    languages=tuple(lang for lang in TATOEBA_CODES if lang not in TATOEBA_XTREME_R_EXTRA),
    roles=("target",),
    # LASER's release files (LASER/data/tatoeba/v1), line-aligned; XTREME's processed copy
    # sorts the English side, which loses the gold alignment. One split only: test.
    local=LocalFiles(
        train=None,
        dev=None,
        test=("tatoeba/tatoeba.{code}-eng.{code}", "tatoeba/tatoeba.{code}-eng.eng"),
        codes=TATOEBA_CODES,
    ),
    hub=HubSource(
        dataset="google/xtreme",
        config_by_lang={lang: f"tatoeba.{code}" for lang, code in TATOEBA_CODES.items()},
        splits={"test": "validation"},
        columns={"query": "source_sentence", "candidate": "target_sentence"},
    ),
    description="Tatoeba (36 languages vs en), top-1 retrieval accuracy",
    benchmarks=("xtreme", "xtreme-r"),
    xtreme_r_extra_languages=TATOEBA_XTREME_R_EXTRA,
    needs_training=False,
    representation=Representation(layer=14, reference_layers=24, pooling="mean"),
)

TASKS = (BUCC, TATOEBA)
