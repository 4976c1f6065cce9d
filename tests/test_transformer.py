"""The shared decoder-only transformer: masks, attention paths, KV cache, generation, errors."""

from __future__ import annotations

import doctest
import math
import warnings

import pytest
import torch
import torch.nn.functional as F

import bltlib.transformer
from bltlib.rope import apply_rotary, longrope_scaling
from bltlib.transformer import (
    Attention,
    KVCache,
    RMSNorm,
    SwiGLU,
    TransformerConfig,
    TransformerLM,
    dense_mask,
    mask_mod,
    window_attention,
)

VOCAB = 32


def tiny(**overrides) -> TransformerLM:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, max_seq_len=24)
    for key, value in overrides.items():
        setattr(config, key, value)
    config.__post_init__()
    return TransformerLM(config).eval()


def tokens(b: int = 2, t: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (b, t), generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- shapes and pieces


def test_shapes_and_initial_loss_near_uniform():
    model = tiny()
    idx = tokens()
    logits, loss = model(idx, targets=tokens(seed=1))
    assert logits.shape == (2, 16, VOCAB)
    assert loss.shape == ()
    assert abs(loss.item() - math.log(VOCAB)) < 0.3  # small init: predictions close to uniform
    assert model(idx)[1] is None


def test_ignored_targets_do_not_count():
    model = tiny()
    idx, targets = tokens(), tokens(seed=1)
    masked = targets.clone()
    masked[:, 8:] = -100
    _, loss_masked = model(idx, masked)
    logits, _ = model(idx)
    expected = F.cross_entropy(logits[:, :8].reshape(-1, VOCAB), targets[:, :8].reshape(-1))
    torch.testing.assert_close(loss_masked, expected)


def test_rmsnorm_gives_unit_rms_and_swiglu_keeps_the_width():
    x = 5 * torch.randn(3, 7, 32)
    y = RMSNorm(32)(x)
    torch.testing.assert_close(y.pow(2).mean(-1), torch.ones(3, 7), atol=1e-3, rtol=1e-3)
    assert SwiGLU(32, 88)(x).shape == x.shape


def test_rmsnorm_is_its_formula_in_float32_and_computes_in_float32_for_bf16():
    torch.manual_seed(0)
    norm = RMSNorm(32)
    norm.weight.data.uniform_(0.5, 1.5)
    x = 5 * torch.randn(3, 7, 32)
    by_formula = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.eps) * norm.weight
    torch.testing.assert_close(norm(x), by_formula, atol=1e-6, rtol=1e-6)
    half = x.bfloat16()
    expected = (half.float() * torch.rsqrt(half.float().pow(2).mean(-1, keepdim=True) + norm.eps)).bfloat16()
    assert torch.equal(norm(half), expected * norm.weight)  # bf16 states, float32 weight: float32 out


def test_num_params_counts_tied_weights_once():
    tied, untied = tiny(), tiny(tie_embeddings=False)
    assert untied.num_params() - tied.num_params() == VOCAB * 32
    assert tied.num_params(exclude_embeddings=True) == tied.num_params() - VOCAB * 32
    assert tied.lm_head.weight is tied.tok_emb.weight


# --------------------------------------------------------------------------- causality and masks


def test_changing_a_future_token_never_changes_earlier_logits():
    model = tiny()
    idx = tokens()
    changed = idx.clone()
    changed[:, 10] = (changed[:, 10] + 1) % VOCAB
    before, after = model(idx)[0], model(changed)[0]
    torch.testing.assert_close(before[:, :10], after[:, :10])
    assert not torch.allclose(before[:, 10:], after[:, 10:])


@pytest.mark.parametrize("window", [1, 3, 5])
def test_sliding_window_hides_tokens_beyond_the_receptive_field(window):
    n_layers = 2
    model = tiny(sliding_window=window, n_layers=n_layers)
    idx = tokens(t=20)
    # After L layers a position sees L * (w - 1) positions back; one further must not matter.
    reach = n_layers * (window - 1)
    query = 19
    beyond, inside = query - reach - 1, query - reach
    base = model(idx)[0][:, query]

    def with_changed(position: int) -> torch.Tensor:
        changed = idx.clone()
        changed[:, position] = (changed[:, position] + 1) % VOCAB
        return model(changed)[0][:, query]

    torch.testing.assert_close(with_changed(beyond), base)
    assert not torch.allclose(with_changed(inside), base)


def test_sliding_window_attention_equals_an_explicit_masked_softmax():
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=VOCAB, dim=32, n_heads=4, max_seq_len=24, sliding_window=4)
    attn = Attention(config).eval()
    model = TransformerLM(config)
    x = torch.randn(2, 12, 32)
    cos, sin = model.rope(12)
    out = attn(x, cos, sin)

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.view(2, 12, 4, 8).transpose(1, 2)

    q, k, v = heads(attn.q(x)), heads(attn.k(x)), heads(attn.v(x))
    q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
    i = torch.arange(12)
    allowed = (i[None, :] <= i[:, None]) & (i[:, None] - i[None, :] < 4)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(8)
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
    expected = attn.out((weights @ v).transpose(1, 2).reshape(2, 12, 32))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def _blocked_and_dense(t, window, heads, d, device="cpu", dtype=torch.float64):
    """``window_attention`` and SDPA under ``dense_mask`` on the same random q, k, v (batch 2, laid out
    as the model makes them: [B, T, H, d] transposed) and output gradient: each one's value and its
    gradients for (q, k, v). Seed first."""
    q, k, v = (
        torch.randn(2, t, heads, d, device=device, dtype=dtype).transpose(1, 2).requires_grad_()
        for _ in range(3)
    )
    grad = torch.randn(2, heads, t, d, device=device, dtype=dtype)
    blocked = window_attention(q, k, v, window)
    blocked_grads = torch.autograd.grad(blocked, (q, k, v), grad)
    dense = F.scaled_dot_product_attention(q, k, v, attn_mask=dense_mask(t, t, window, device))
    dense_grads = torch.autograd.grad(dense, (q, k, v), grad)
    return blocked, blocked_grads, dense, dense_grads


@pytest.mark.parametrize(("t", "window"), [(12, 4), (37, 4), (33, 7), (5, 1), (100, 16), (9, 16), (64, 8)])
def test_blocked_window_attention_equals_sdpa_under_the_dense_mask_values_and_gradients(t, window):
    # odd windows (blocks of the whole window), lengths that are not a multiple of the block, and a
    # sequence shorter than one block
    torch.manual_seed(t * 100 + window)
    blocked, blocked_grads, dense, dense_grads = _blocked_and_dense(t, window, heads=3, d=4)
    torch.testing.assert_close(blocked, dense)
    for got, expected in zip(blocked_grads, dense_grads, strict=True):
        torch.testing.assert_close(got, expected)


def test_dense_mask_is_the_mask_function_with_a_cache_offset():
    q_idx, kv_idx = torch.arange(3)[:, None], torch.arange(9)[None, :]
    expected = mask_mod(sliding_window=4, q_offset=6)(None, None, q_idx, kv_idx)
    torch.testing.assert_close(dense_mask(3, 9, 4), expected)
    assert dense_mask(3, 9, 4)[0].int().tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0]
    assert dense_mask(4, 4).int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]


@pytest.mark.parametrize("window", [None, 3])
def test_flex_attention_path_equals_sdpa_on_cpu(window):
    sdpa, flex = tiny(sliding_window=window, attn_impl="sdpa"), tiny(sliding_window=window, attn_impl="flex")
    flex.load_state_dict(sdpa.state_dict())
    idx = tokens(t=20)
    # flex attention runs on CPU in eager mode, without backward: compare under no_grad.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # it warns when it runs uncompiled
        flex_logits = flex(idx)[0]
        torch.testing.assert_close(flex_logits, sdpa(idx)[0], atol=1e-5, rtol=1e-5)
    with pytest.raises(RuntimeError, match="flex attention cannot backpropagate on CPU"):
        flex(idx)


# --------------------------------------------------------------------------- KV cache and generation


@pytest.mark.parametrize("window", [None, 4])
def test_kv_cache_gives_the_same_logits_as_a_full_forward(window):
    model = tiny(sliding_window=window)
    idx = tokens(t=18)
    full = model(idx)[0]
    caches = model.new_kv_caches(batch_size=2)
    chunks = [model(idx[:, a:b], kv_caches=caches)[0] for a, b in [(0, 7), (7, 8), (8, 13), (13, 18)]]
    torch.testing.assert_close(torch.cat(chunks, dim=1), full, atol=1e-5, rtol=1e-5)
    assert caches[0].length == 18


@pytest.mark.parametrize("window", [None, 3])
def test_greedy_generation_matches_decoding_without_a_cache(window):
    model = tiny(sliding_window=window)
    prompt = tokens(t=5)
    out = model.generate(prompt, max_new_tokens=10, temperature=0)
    seq = prompt
    for _ in range(10):
        nxt = model(seq)[0][:, -1].argmax(-1, keepdim=True)
        seq = torch.cat([seq, nxt], dim=1)
    assert torch.equal(out, seq)


def test_sampling_is_reproducible_and_top_k_one_is_greedy():
    model = tiny()
    prompt = tokens(t=4)
    a = model.generate(prompt, 8, temperature=1.5, generator=torch.Generator().manual_seed(7))
    b = model.generate(prompt, 8, temperature=1.5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert a.shape == (2, 12) and torch.equal(a[:, :4], prompt)
    greedy = model.generate(prompt, 8, temperature=0)
    assert torch.equal(model.generate(prompt, 8, top_k=1, generator=torch.Generator().manual_seed(1)), greedy)
    assert torch.equal(model.generate(prompt, 0), prompt)


def test_kv_cache_refuses_to_overflow():
    cache = KVCache(batch_size=1, n_heads=2, head_dim=4, capacity=3)
    cache.update(torch.ones(1, 2, 2, 4), torch.ones(1, 2, 2, 4))
    with pytest.raises(ValueError, match="KV cache holds 3 positions; cannot add 2 after 2"):
        cache.update(torch.ones(1, 2, 2, 4), torch.ones(1, 2, 2, 4))
    model = tiny()
    caches = model.new_kv_caches(batch_size=2, capacity=6)
    model(tokens(t=5), kv_caches=caches)
    with pytest.raises(ValueError, match="KV cache holds 6 positions; cannot add 2 after 5"):
        model(tokens(t=2), kv_caches=caches)
    with pytest.raises(ValueError, match="KV caches were made for batch size 2, idx has 3"):
        model(tokens(b=3, t=1), kv_caches=caches)
    with pytest.raises(ValueError, match="expected 2 KV caches"):
        model(tokens(t=2), kv_caches=caches[:1])
    with pytest.raises(ValueError, match="capacity 30 exceeds the model's max_seq_len 24"):
        model.new_kv_caches(batch_size=1, capacity=30)


# --------------------------------------------------------------------------- longer contexts


def test_longer_sequences_need_a_deliberate_set_rope():
    model = tiny()
    long = tokens(t=40)
    with pytest.raises(ValueError, match="sequence length 40 exceeds the model's max_seq_len 24.*set_rope"):
        model(long)
    model.set_rope(scaling={"rope_type": "linear", "factor": 2.0}, max_seq_len=48)
    assert model.max_seq_len == 48
    assert model(long)[0].shape == (2, 40, VOCAB)
    model.reset_rope()
    assert model.max_seq_len == 24
    with pytest.raises(ValueError, match="exceeds"):
        model(long)


def test_set_rope_changes_positions_only_as_asked():
    model = tiny()
    idx = tokens(t=16)
    trained = model(idx)[0]
    # Plain RoPE over a longer cache: the same rotation for the same positions.
    torch.testing.assert_close(model.set_rope(scaling=None, max_seq_len=64)(idx)[0], trained)
    stretched = model.set_rope(scaling={"rope_type": "linear", "factor": 4.0}, max_seq_len=64)(idx)[0]
    torch.testing.assert_close(stretched[:, 0], trained[:, 0])  # position 0 is never rotated
    assert not torch.allclose(stretched[:, 1:], trained[:, 1:])


def test_longrope_n_hat_through_the_model():
    model = tiny()
    idx = tokens(t=20)
    trained = model(idx)[0]
    factors = torch.linspace(1.0, 4.0, model.config.head_dim // 2)
    scaling = {**longrope_scaling(factors, n_hat=0, factor=4.0, original_max_position_embeddings=24)}
    scaling["attention_factor"] = 1.0
    # Beyond the original length the long factors apply, except to the first n_hat positions.
    scaled = model.set_rope(scaling=scaling, max_seq_len=96)(idx)[0]
    assert not torch.allclose(scaled, trained)
    kept = model.set_rope(scaling={**scaling, "n_hat": 32}, max_seq_len=96)(idx)[0]
    torch.testing.assert_close(kept, trained)


# --------------------------------------------------------------------------- training


def test_overfitting_a_tiny_batch_drops_the_loss():
    model = tiny()
    model.train()
    idx = tokens(b=4, t=16, seed=5)
    x, y = idx[:, :-1], idx[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = None
    for _ in range(25):
        _, loss = model(x, y)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.3 * first


def test_dropout_is_active_only_in_training():
    model = tiny(dropout=0.5)
    idx = tokens()
    torch.testing.assert_close(model(idx)[0], model(idx)[0])
    model.train()
    assert not torch.allclose(model(idx)[0], model(idx)[0])


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dim": 30, "n_heads": 4}, "dim 30 is not divisible by n_heads 4"),
        ({"dim": 28, "n_heads": 4}, "head_dim must be even, got 7"),
        ({"n_layers": 0}, "n_layers must be a positive int, got 0"),
        ({"vocab_size": 2.5}, "vocab_size must be a positive int"),
        ({"sliding_window": 0}, "sliding_window must be a positive int or None, got 0"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
        ({"ffn_mult": 0}, "ffn_mult must be positive"),
        ({"attn_impl": "flash"}, "attn_impl must be one of auto, sdpa, flex, got 'flash'"),
    ],
)
def test_bad_config(overrides, message):
    with pytest.raises(ValueError, match=message):
        TransformerConfig(**overrides)


def test_bad_rope_settings_fail_in_the_config():
    with pytest.raises(ValueError, match="unknown rope_type 'nope'"):
        TransformerConfig(rope_scaling={"rope_type": "nope"})
    with pytest.raises(ValueError, match="base must be > 1, got 0.5"):
        TransformerConfig(rope_base=0.5)


@pytest.mark.parametrize(
    ("idx", "error", "message"),
    [
        (torch.zeros(2, 4), TypeError, "idx must hold integer token ids.*float32"),
        ([[1, 2]], TypeError, "idx must be a torch.Tensor"),
        (torch.zeros(4, dtype=torch.long), ValueError, r"idx must have shape \(batch, time\), got \(4,\)"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, "idx is empty"),
        (torch.tensor([[1, VOCAB]]), ValueError, f"token id {VOCAB}, out of range for vocab_size {VOCAB}"),
        (torch.tensor([[-1, 2]]), ValueError, "token id -1, out of range"),
    ],
)
def test_bad_tokens(idx, error, message):
    with pytest.raises(error, match=message):
        tiny()(idx)


def test_bad_targets():
    model = tiny()
    idx = tokens(t=4)
    with pytest.raises(ValueError, match=r"targets shape \(2, 3\) does not match idx shape \(2, 4\)"):
        model(idx, tokens(t=3))
    with pytest.raises(ValueError, match="targets has token id 99"):
        model(idx, torch.full((2, 4), 99))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"max_new_tokens": 30},
            r"prompt of 4 tokens \+ 30 new ones = 34 exceeds the model's max_seq_len 24",
        ),
        ({"max_new_tokens": -1}, "max_new_tokens must be a non-negative int"),
        ({"max_new_tokens": 2, "temperature": -1.0}, "temperature must be a number >= 0"),
        ({"max_new_tokens": 2, "top_k": 0}, "top_k must be a positive int or None, got 0"),
    ],
)
def test_bad_generate_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny().generate(tokens(t=4), **kwargs)


def test_docstring_examples():
    assert doctest.testmod(bltlib.transformer).failed == 0
