"""Universal Dependencies part-of-speech tagging, as XTREME prepares it."""

from trainers.tasks.registry import HubSource, LocalFiles, Task
from trainers.tasks.synthetic import UPOS

# ISO code -> the language name google/xtreme uses in its `udpos.<Name>` configs.
UDPOS_NAMES = {
    "af": "Afrikaans",
    "ar": "Arabic",
    "bg": "Bulgarian",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "et": "Estonian",
    "eu": "Basque",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "he": "Hebrew",
    "hi": "Hindi",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "kk": "Kazakh",
    "ko": "Korean",
    "mr": "Marathi",
    "nl": "Dutch",
    "pt": "Portuguese",
    "ru": "Russian",
    "ta": "Tamil",
    "te": "Telugu",
    "th": "Thai",
    "tl": "Tagalog",
    "tr": "Turkish",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "yo": "Yoruba",
    "zh": "Chinese",
}

UDPOS = Task(
    name="udpos",
    format="tagging",
    reader="conll_tsv",
    labels=UPOS,
    metric="f1",
    languages=tuple(sorted(UDPOS_NAMES)),
    roles=("target",),
    local=LocalFiles(
        train="udpos/train-en.tsv", dev="udpos/dev-{lang}.tsv", test="udpos/test-{lang}.tsv"
    ),
    hub=HubSource(
        dataset="google/xtreme",
        config_by_lang={lang: f"udpos.{name}" for lang, name in UDPOS_NAMES.items()},
        columns={"tokens": "tokens", "tags": "pos_tags"},
        label_names=UPOS,
    ),
    description="UD part-of-speech tagging (33 languages), seqeval F1 as XTREME reports it",
    benchmarks=("xtreme", "xtreme-r"),
    # XTREME-R's additions (from UD 2.7; google/xtreme has no hub configs for them).
    xtreme_r_extra_languages=("lt", "pl", "uk", "wo", "ro"),
)

TASKS = (UDPOS,)
