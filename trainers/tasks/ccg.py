"""CCG supertagging (an intermediate task) from user-supplied CCGbank-derived files.

CCGbank is licensed (LDC), so nothing is downloaded: the user converts it to `token<TAB>supertag`
files (a blank line between sentences) and lists the supertag set, one per line, in
`ccg/tags.txt`. The tag set depends on that conversion (commonly the tags seen at least 10 times
in training, plus a catch-all), so it is read at run time: `labels` is empty here and
`trainers.data.source.resolve_labels` fills it from the label file.
"""

from trainers.tasks.registry import LocalFiles, Task

CCG = Task(
    name="ccg",
    format="tagging",
    reader="conll_tsv",
    labels=(),
    label_file="ccg/tags.txt",
    # Supertags are not IOB chunks; token accuracy is the measure CCG work reports.
    metric="token_accuracy",
    languages=("en",),
    roles=("intermediate",),
    local=LocalFiles(train="ccg/train.tsv", dev="ccg/dev.tsv", test="ccg/test.tsv"),
    description="CCG supertagging on CCGbank (user-supplied), English token tagging",
)

TASKS = (CCG,)
