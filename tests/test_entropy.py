"""Entropy model: entropies by hand, per-row and per-window consistency, bits per byte, save/load."""

import json
import math
from dataclasses import asdict

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file, save_model

from bltlib.data import encode_bytes, load_text
from bltlib.entropy import (
    DEFAULT_WEIGHTS,
    FORMAT,
    bits_per_byte,
    chunk_spans,
    entropies,
    entropy_from_logits,
    entropy_model_card,
    entropy_model_config,
    load_entropy_model,
    save_entropy_model,
    train_entropy_model,
)
from bltlib.train import CheckpointError, TrainConfig
from bltlib.transformer import TransformerConfig, TransformerLM

TEXT = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife."
)


def tiny(seed=0, **overrides):
    """A random model; its embeddings (tied to the head) are scaled up so that predictions are peaked and
    depend visibly on the context, unlike a fresh model's near-uniform ones."""
    torch.manual_seed(seed)
    base = dict(dim=16, n_layers=2, n_heads=2, max_seq_len=32, sliding_window=8)
    model = TransformerLM(entropy_model_config(**{**base, **overrides})).eval()
    with torch.no_grad():
        model.tok_emb.weight.mul_(100)
    return model


# ----------------------------------------------------------------------------- entropy_from_logits


def test_entropy_from_logits_by_hand():
    assert entropy_from_logits(torch.zeros(260)).item() == pytest.approx(math.log(260), abs=1e-5)
    p = torch.tensor([0.5, 0.25, 0.25])
    assert entropy_from_logits(p.log()).item() == pytest.approx(1.5 * math.log(2), abs=1e-6)
    assert entropy_from_logits(torch.tensor([0.0, -1e4, -1e4])).item() == 0.0  # certain: exactly 0
    # softmax is shift-invariant, and the result is float32 even for bf16 logits
    logits = torch.randn(2, 5, 260)
    assert torch.allclose(entropy_from_logits(logits), entropy_from_logits(logits + 7.0), atol=1e-5)
    out = entropy_from_logits(logits.bfloat16())
    assert out.dtype == torch.float32 and out.shape == (2, 5)
    with pytest.raises(TypeError, match="floating-point"):
        entropy_from_logits(torch.ones(3, dtype=torch.long))


def test_zero_head_model_is_uniform():
    model = tiny()
    with torch.no_grad():
        model.lm_head.weight.zero_()  # tied to the embedding: logits are all 0
    e = entropies(model, TEXT)
    assert torch.allclose(e, torch.full_like(e, math.log(260)), atol=1e-5)
    assert bits_per_byte(model, TEXT) == pytest.approx(math.log2(260), abs=1e-5)


# ----------------------------------------------------------------------------- shapes and indexing


def test_shapes_dtypes_and_indexing():
    model = tiny()
    e = entropies(model, TEXT)
    n = len(TEXT.encode()) + 1  # BOS first
    assert e.shape == (n,) and e.dtype == torch.float32 and e.device.type == "cpu"
    assert torch.equal(entropies(model, TEXT.encode()), e)
    assert torch.equal(entropies(model, encode_bytes(TEXT)), e)
    # entropies[i] is the entropy of the prediction made at position i (of token i + 1)
    ids = encode_bytes(TEXT)[None, :20]
    logits, _ = model(ids)
    assert torch.allclose(entropies(model, ids)[0], entropy_from_logits(logits[0]), atol=1e-6)
    assert entropies(model, torch.randint(0, 260, (3, 70))).shape == (3, 70)
    assert model.training is False


def test_bits_per_byte_by_hand():
    model = tiny()
    ids = encode_bytes(TEXT[:30])
    logits, loss = model(ids[None, :-1], ids[None, 1:])
    assert bits_per_byte(model, TEXT[:30]) == pytest.approx(loss.item() / math.log(2), abs=1e-5)


# ----------------------------------------------------------------------------- rows and windows


def test_no_leakage_across_rows():
    model = tiny()
    rows = torch.randint(4, 260, (4, 60))
    base = entropies(model, rows)
    changed = rows.clone()
    changed[1:] = torch.randint(4, 260, (3, 60))
    again = entropies(model, changed)
    assert torch.equal(again[0], base[0])
    assert (again[1] - base[1]).abs().max() > 1e-2
    assert torch.allclose(entropies(model, rows[0]), base[0], atol=1e-6)  # alone == in a batch
    assert torch.allclose(entropies(model, rows, batch_size=1), base, atol=1e-6)


def test_long_text_equals_each_window_computed_directly():
    model = tiny()
    ids = encode_bytes(TEXT * 2)  # 235 tokens, max_seq_len 32
    long = entropies(model, ids, overlap=8)
    spans = chunk_spans(len(ids), 32, 8)
    assert len(spans) > 5
    for start, keep_from, keep_to in spans:
        direct = entropies(model, ids[start : start + 32])
        assert torch.allclose(long[keep_from:keep_to], direct[keep_from - start : keep_to - start], atol=1e-5)


def test_overlap_of_one_window_gives_full_context():
    # one layer with a window of 8: each prediction depends on the last 8 tokens only, so windows that
    # overlap by 8 reproduce one pass over the whole text (RoPE is relative; only rounding differs)
    model = tiny(n_layers=1)
    ids = encode_bytes(TEXT * 2)
    chunked = entropies(model, ids, overlap=8)
    whole = entropies(tiny(n_layers=1).set_rope(scaling=None, max_seq_len=len(ids)), ids)
    assert torch.allclose(chunked, whole, atol=1e-4)
    # with no overlap, positions just after a cut lose their context and differ
    assert (entropies(model, ids, overlap=0) - whole).abs().max() > 1e-3


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 400), st.integers(1, 64), st.data())
def test_chunk_spans_partition_the_sequence(n, length, data):
    overlap = data.draw(st.integers(0, length - 1))
    spans = chunk_spans(n, length, overlap)
    kept = [i for _, a, b in spans for i in range(a, b)]
    assert kept == list(range(n))  # every position scored exactly once, in order
    width = min(n, length)  # every window has the same width, so windows batch together
    for k, (start, keep_from, keep_to) in enumerate(spans):
        assert 0 <= start and start + width <= n and start <= keep_from < keep_to <= start + width
        if k > 0:
            assert keep_from - start >= overlap  # at least `overlap` tokens of context


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ("", ValueError, "empty"),
        (b"", ValueError, "empty"),
        (torch.empty(0, dtype=torch.long), ValueError, "non-empty"),
        (torch.ones(3), TypeError, "integer"),
        (torch.ones(2, 2, 2, dtype=torch.long), ValueError, "1-D or 2-D"),
        (torch.tensor([1, 300]), ValueError, "260"),
        ([1, 2, 3], TypeError, "str, bytes"),
    ],
)
def test_bad_data(data, error, match):
    with pytest.raises(error, match=match):
        entropies(tiny(), data)


def test_bad_model_and_arguments():
    wrong_vocab = TransformerLM(
        TransformerConfig(vocab_size=256, dim=16, n_layers=1, n_heads=2, max_seq_len=16)
    )
    with pytest.raises(ValueError, match="vocab_size 256"):
        entropies(wrong_vocab, TEXT)
    with pytest.raises(TypeError, match="TransformerLM"):
        entropies(torch.nn.Linear(2, 2), TEXT)
    with pytest.raises(ValueError, match="batch_size"):
        entropies(tiny(), TEXT, batch_size=0)
    with pytest.raises(ValueError, match="overlap"):
        entropies(tiny(), TEXT, overlap=32)
    with pytest.raises(ValueError, match="two tokens"):
        bits_per_byte(tiny(), torch.tensor([1]))


# ----------------------------------------------------------------------------- train, save, load


def test_train_save_load_round_trip(tmp_path):
    cfg = entropy_model_config(dim=16, n_layers=1, n_heads=2, max_seq_len=32, sliding_window=8)
    train_cfg = TrainConfig(steps=20, lr=1e-2, warmup=3, eval_every=10, batch_size=8, progress=False)
    model, history = train_entropy_model(TEXT * 20, cfg, train_cfg)
    assert not model.training and history[-1]["val_loss"] < history[0]["loss"]

    path = save_entropy_model(model, tmp_path / "em.safetensors", card={"note": "test"})
    loaded = load_entropy_model(path)
    assert loaded.config == model.config and not loaded.training
    assert torch.equal(entropies(loaded, TEXT), entropies(model.cpu(), TEXT))  # trained on CUDA if any
    assert entropy_model_card(path) == {"note": "test"}


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no entropy model"):
        load_entropy_model(tmp_path / "missing.safetensors")

    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_entropy_model(corrupt)

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match="not a bltlib entropy model"):
        load_entropy_model(foreign)

    cfg = TransformerConfig(vocab_size=100, dim=16, n_layers=1, n_heads=2, max_seq_len=16)
    wrong = tmp_path / "wrong_vocab.safetensors"
    save_model(TransformerLM(cfg), str(wrong), metadata={"format": FORMAT, "config": json.dumps(asdict(cfg))})
    with pytest.raises(CheckpointError, match="vocab_size 100"):
        load_entropy_model(wrong)

    good = save_entropy_model(tiny(), tmp_path / "good.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(CheckpointError):
        load_entropy_model(truncated)

    with pytest.raises(ValueError, match="vocab_size"):
        save_entropy_model(TransformerLM(cfg), tmp_path / "x.safetensors")


def test_shipped_model_loads_and_compresses_english():
    assert DEFAULT_WEIGHTS.is_file(), "bltlib/weights/entropy_model.safetensors is missing"
    model = load_entropy_model()
    assert model.config.vocab_size == 260
    assert bits_per_byte(model, load_text("austen", split="test")[:4000]) < 2.3
