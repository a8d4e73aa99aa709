"""Any multilingual encoder through the same code: XLM-R, mBERT and mT5's encoder, each built from a
tiny random config, train a step with a task head; loading is strict."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForMaskedLM

from trainers.config import ModelConfig, TinyEncoder
from trainers.data.examples import ClassificationExample, TaggingExample
from trainers.formats import get_format
from trainers.model import (
    LoadMismatch,
    TaskModel,
    fingerprint,
    hidden_size,
    load_encoder,
    masked_lm_loss,
    save_encoder,
    tiny_config,
)
from trainers.tasks import get_task

ARCHITECTURES = ["xlm-roberta", "bert", "mt5"]


class WordTokenizer:
    """Enough of a tokenizer for featurisation: one id per character, no downloads."""

    pad_token_id, cls_token_id, sep_token_id, unk_token_id = 1, 0, 2, 3

    def __call__(
        self, texts, pairs=None, truncation=False, max_length=None, add_special_tokens=True
    ):
        def ids(text):
            return [5 + (ord(ch) % 90) for ch in text.replace(" ", "")]

        if add_special_tokens is False:
            return {"input_ids": [ids(t) for t in texts]}
        out = []
        for i, text in enumerate(texts):
            seq = [0, *ids(text), 2] + ([2, *ids(pairs[i]), 2] if pairs else [])
            out.append(seq[:max_length])
        return {"input_ids": out}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("task_name", ["synth_xnli", "synth_udpos"])
def test_each_architecture_trains_a_step_with_a_head_on_hidden_states(architecture, task_name):
    torch.manual_seed(0)
    model_cfg = ModelConfig(
        name="tiny",
        tokenizer="x",
        tiny=TinyEncoder(
            architecture=architecture,
            hidden_size=32,
            num_heads=2,
            num_layers=1,
            intermediate_size=64,
        ),
        pooling="mean",
    )
    encoder = load_encoder("random", model_cfg, vocab_size=100)
    task = get_task(task_name)
    fmt = get_format(task.format)
    model = TaskModel(encoder, fmt.build_head(task, hidden_size(encoder), model_cfg.pooling))
    if task.format == "classification":
        examples = [
            ClassificationExample("ab cd", "ef", "neutral"),
            ClassificationExample("gh", "ij kl", "entailment"),
        ]
    else:
        examples = [
            TaggingExample(("ab", "cd"), ("NOUN", "VERB")),
            TaggingExample(("ef",), ("DET",)),
        ]
    batch = fmt.collate(fmt.featurize(task, examples, WordTokenizer(), 32), pad_id=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = fingerprint(model.encoder)
    loss = fmt.loss(model(batch), batch)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert fingerprint(model.encoder) != before
    assert all(p.grad is not None for p in model.parameters()), (
        "every parameter must get a gradient (ZeRO needs it)"
    )


def test_an_encoder_saved_and_loaded_has_identical_weights(tmp_path):
    model_cfg = ModelConfig(
        name="tiny",
        tokenizer="x",
        tiny=TinyEncoder(hidden_size=32, num_layers=1, intermediate_size=64),
    )
    encoder = load_encoder("random", model_cfg, vocab_size=100)

    class NoTokenizer:
        def save_pretrained(self, directory):
            pass

    save_encoder(encoder, NoTokenizer(), tmp_path / "enc")
    again = load_encoder(str(tmp_path / "enc"), model_cfg, vocab_size=100)
    assert fingerprint(again) == fingerprint(encoder)


def test_loading_weights_that_do_not_match_is_an_error_not_a_warning(tmp_path):
    from safetensors.torch import load_file, save_file

    model_cfg = ModelConfig(
        name="tiny",
        tokenizer="x",
        tiny=TinyEncoder(hidden_size=32, num_layers=1, intermediate_size=64),
    )
    encoder = load_encoder("random", model_cfg, vocab_size=100)
    encoder.save_pretrained(tmp_path / "enc")
    weights = load_file(tmp_path / "enc" / "model.safetensors")
    dropped = next(k for k in weights if "layer.0.attention" in k)
    del weights[dropped]
    save_file(weights, tmp_path / "enc" / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(LoadMismatch, match="missing"):
        load_encoder(str(tmp_path / "enc"), model_cfg, vocab_size=100)


@pytest.mark.parametrize("architecture", ["xlm-roberta", "bert"])
def test_the_masked_only_mlm_loss_equals_the_full_projection_loss(architecture):
    tiny = TinyEncoder(architecture=architecture, hidden_size=32, num_layers=1, dropout=0.0)
    mlm = AutoModelForMaskedLM.from_config(tiny_config(tiny, vocab_size=60)).eval()
    ids = torch.randint(5, 60, (3, 12), generator=torch.Generator().manual_seed(0))
    labels = torch.full_like(ids, -100)
    labels[:, ::4] = ids[:, ::4]
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    assert masked_lm_loss(mlm, batch).item() == pytest.approx(mlm(**batch).loss.item(), rel=1e-5)
