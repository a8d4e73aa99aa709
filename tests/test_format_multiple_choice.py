"""Multiple choice: pairing and truncation, flattened batches, a training step, predictions."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer

from trainers.config import TinyEncoder
from trainers.data.examples import MultipleChoiceExample
from trainers.formats import get_format
from trainers.formats.multiple_choice import choice_pair
from trainers.model import TaskModel, build_from_config, tiny_config
from trainers.tasks.registry import LocalFiles, Task

TASK = Task(
    name="toy_mc",
    format="multiple_choice",
    reader="none",
    labels=(),
    metric="accuracy",
    languages=("en",),
    roles=("intermediate",),
    local=LocalFiles("train", "dev", "test"),
)
EXAMPLES = [
    MultipleChoiceExample("the cat sat on the mat", "", ("and slept", "and flew", "and sang"), 0),
    MultipleChoiceExample("", "what do dogs chase?", ("cats", "clouds", "numbers"), 0),
    MultipleChoiceExample("a man walks", "what happens next?", ("he stops", "he runs", "he"), 2),
]


@pytest.fixture(scope="module")
def tokenizer(benchmark):
    return AutoTokenizer.from_pretrained(benchmark / "tokenizer")


@pytest.fixture()
def fmt():
    return get_format("multiple_choice")


def test_choices_pair_with_the_context_or_with_the_question_when_there_is_no_context():
    assert choice_pair(EXAMPLES[0], "and slept") == ("the cat sat on the mat", "and slept")
    assert choice_pair(EXAMPLES[1], "cats") == ("what do dogs chase?", "cats")
    assert choice_pair(EXAMPLES[2], "he runs") == ("a man walks", "what happens next? he runs")


def test_each_example_is_one_feature_with_one_sequence_per_choice(tokenizer, fmt):
    features = fmt.featurize(TASK, EXAMPLES, tokenizer, max_length=64)
    assert [len(f["input_ids"]) for f in features] == [3, 3, 3]
    assert [f["label"] for f in features] == [0, 0, 2]
    assert [f["example"] for f in features] == [0, 1, 2]
    # <s> first </s></s> second </s>
    assert all(ids.count(tokenizer.sep_token_id) == 3 for f in features for ids in f["input_ids"])


def test_a_long_context_is_cut_from_its_start_and_the_choice_is_kept_whole(tokenizer, fmt):
    context = " ".join(f"word{i}" for i in range(80))
    example = MultipleChoiceExample(context, "", ("the very last ending", "another one"), 1)
    features = fmt.featurize(TASK, [example], tokenizer, max_length=24)
    for ids, choice in zip(features[0]["input_ids"], example.choices, strict=True):
        assert len(ids) == 24
        choice_ids = tokenizer(choice, add_special_tokens=False)["input_ids"]
        assert ids[-len(choice_ids) - 1 : -1] == choice_ids
        # The context keeps its end (what the ending continues), not its start.
        text = tokenizer.decode(ids, skip_special_tokens=True)
        assert "word79" in text and "word0 " not in text


def test_collate_flattens_choices_and_pads_to_the_longest_sequence_in_the_batch(tokenizer, fmt):
    short = MultipleChoiceExample("a b", "", ("c", "d"), 1)
    features = fmt.featurize(TASK, [EXAMPLES[0], short], tokenizer, max_length=64)
    batch = fmt.collate(features, tokenizer.pad_token_id)
    longest = max(len(ids) for f in features for ids in f["input_ids"])
    assert batch["input_ids"].shape == (2 * 3, longest)
    assert batch["choice_mask"].tolist() == [[True, True, True], [True, True, False]]
    assert batch["labels"].tolist() == [0, 1]


def test_a_missing_choice_never_wins(fmt):
    head = fmt.build_head(TASK, hidden_size=8, pooling="first")
    batch = {
        "attention_mask": torch.ones(4, 3, dtype=torch.long),
        "choice_mask": torch.tensor([[True, True], [True, False]]),
    }
    scores = head(torch.randn(4, 3, 8), batch)
    assert scores.shape == (2, 2)
    assert scores[1, 1] < -1e30


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_multiple_choice_trains_a_step_and_predicts_one_choice_per_example(tokenizer, fmt, pooling):
    torch.manual_seed(0)
    config = tiny_config(
        TinyEncoder(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64),
        vocab_size=len(tokenizer),
    )
    model = TaskModel(build_from_config(config), fmt.build_head(TASK, 32, pooling))
    features = fmt.featurize(TASK, EXAMPLES, tokenizer, max_length=64)
    batch = fmt.collate(features, tokenizer.pad_token_id)
    logits = model(batch)
    assert logits.shape == (3, 3)
    loss = fmt.loss(logits, batch)
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)

    predictions = fmt.predict(logits.detach(), batch)
    assert len(predictions) == 3 and all(0 <= p < 3 for p in predictions)
    assert fmt.score(TASK, EXAMPLES, features, [0, 1, 2]) == {"accuracy": pytest.approx(2 / 3)}
