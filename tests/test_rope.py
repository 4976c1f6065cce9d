"""Rotary embeddings: the rotation itself, agreement with HF transformers, LongRoPE's n_hat and search."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig, PretrainedConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

import bltlib.rope
from bltlib.rope import (
    N_HAT_CHOICES,
    RotaryCache,
    apply_rotary,
    crossover,
    default_inv_freq,
    interleaved_to_half,
    longrope_scaling,
    longrope_search,
    monotone_repair,
    mutate,
    rescale_factors,
    resolve_base,
    rope_cos_sin,
    rope_parameters,
    seed_factors,
)

HEAD_DIM = 16
ORIGINAL = 64


def hf_rope_parameters(head_dim: int, base: float, scaling: dict, seq_len: int | None = None):
    """HF transformers' reference: a minimal config whose max_position_embeddings is the training length."""
    config = PretrainedConfig(
        hidden_size=head_dim * 2,
        num_attention_heads=2,
        head_dim=head_dim,
        max_position_embeddings=scaling.get("original_max_position_embeddings", ORIGINAL),
        rope_parameters={"rope_theta": base, **scaling},
    )
    return ROPE_INIT_FUNCTIONS[scaling["rope_type"]](config, "cpu", seq_len)


def roformer_interleaved(x: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    """RoFormer's original form, written out: pair (2i, 2i+1) turns by position * inv_freq[i]."""
    angles = torch.arange(x.shape[-2]).float()[:, None] * inv_freq[None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * angles.cos() - odd * angles.sin()
    out[..., 1::2] = even * angles.sin() + odd * angles.cos()
    return out


# --------------------------------------------------------------------------- rotation


def test_rotation_preserves_norms_and_position_zero_is_identity():
    x = torch.randn(2, 3, 10, HEAD_DIM)
    cos, sin = rope_cos_sin(default_inv_freq(HEAD_DIM), torch.arange(10))
    y = apply_rotary(x, cos, sin)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(y[..., 0, :], x[..., 0, :])
    assert not torch.allclose(y[..., 1:, :], x[..., 1:, :])


def test_interleaved_roformer_is_a_permutation_of_half_rotation():
    x = torch.randn(2, 12, HEAD_DIM)
    inv_freq = default_inv_freq(HEAD_DIM)
    cos, sin = rope_cos_sin(inv_freq, torch.arange(12))
    perm = interleaved_to_half(HEAD_DIM)
    torch.testing.assert_close(
        roformer_interleaved(x, inv_freq)[..., perm], apply_rotary(x[..., perm], cos, sin)
    )
    # Without the permutation the layouts differ: the equivalence is not trivial.
    assert not torch.allclose(roformer_interleaved(x, inv_freq), apply_rotary(x, cos, sin))


@pytest.mark.parametrize("offset", [0, 5, 37, 200])
def test_score_depends_only_on_relative_distance(offset):
    torch.manual_seed(offset)
    q, k = torch.randn(HEAD_DIM), torch.randn(HEAD_DIM)
    cos, sin = rope_cos_sin(default_inv_freq(HEAD_DIM), torch.arange(300))

    def score(m: int, n: int) -> torch.Tensor:
        qm = apply_rotary(q[None], cos[m : m + 1], sin[m : m + 1])
        kn = apply_rotary(k[None], cos[n : n + 1], sin[n : n + 1])
        return (qm * kn).sum()

    for distance in (0, 1, 7, 50):
        torch.testing.assert_close(score(offset + distance, offset), score(distance, 0), atol=1e-4, rtol=1e-4)
    assert not torch.isclose(score(offset + 7, offset), score(offset + 8, offset))


def test_attention_factor_scales_cos_and_sin():
    inv_freq = default_inv_freq(HEAD_DIM)
    cos1, sin1 = rope_cos_sin(inv_freq, torch.arange(5))
    cos2, sin2 = rope_cos_sin(inv_freq, torch.arange(5), attention_factor=1.5)
    torch.testing.assert_close(cos2, 1.5 * cos1)
    torch.testing.assert_close(sin2, 1.5 * sin1)


# --------------------------------------------------------------------------- agreement with HF


def _assert_same_as_hf(scaling: dict, seq_len: int | None = None, base: float = 10000.0) -> None:
    ours, ours_factor = rope_parameters(HEAD_DIM, base, scaling, seq_len)
    theirs, theirs_factor = hf_rope_parameters(HEAD_DIM, base, scaling, seq_len)
    assert ours.shape == (HEAD_DIM // 2,)
    assert (ours - theirs).abs().max().item() < 1e-5
    assert ours_factor == pytest.approx(theirs_factor, rel=0, abs=0)


@pytest.mark.parametrize("factor", [0.5, 1.0, 4.0])
@pytest.mark.parametrize("base", [10000.0, 500000.0])
def test_linear_matches_hf(factor, base):
    _assert_same_as_hf({"rope_type": "linear", "factor": factor}, base=base)


@pytest.mark.parametrize("seq_len", [None, 10, ORIGINAL, ORIGINAL + 1, 3 * ORIGINAL, 1000])
def test_dynamic_matches_hf(seq_len):
    _assert_same_as_hf(
        {"rope_type": "dynamic", "factor": 2.0, "original_max_position_embeddings": ORIGINAL}, seq_len
    )


def test_dynamic_is_plain_rope_within_the_training_length():
    scaling = {"rope_type": "dynamic", "factor": 4.0, "original_max_position_embeddings": ORIGINAL}
    torch.testing.assert_close(
        rope_parameters(HEAD_DIM, scaling=scaling, seq_len=ORIGINAL)[0], default_inv_freq(16)
    )
    assert not torch.allclose(
        rope_parameters(HEAD_DIM, scaling=scaling, seq_len=2 * ORIGINAL)[0], default_inv_freq(16)
    )


YARN_CASES = [
    {},
    {"attention_factor": 0.9},
    {"mscale": 0.707},  # mscale alone is ignored (HF needs both)
    {"mscale": 1.0, "mscale_all_dim": 0.707},
    {"mscale": 0.707, "mscale_all_dim": 0.707},
    {"truncate": False},
    {"beta_fast": 16, "beta_slow": 2, "truncate": False},
    {"beta_fast": 64, "beta_slow": 0.5},
]


@pytest.mark.parametrize("extra", YARN_CASES, ids=lambda e: ",".join(e) or "plain")
@pytest.mark.parametrize("factor", [1.0, 4.0, 16.0])
def test_yarn_matches_hf(extra, factor):
    _assert_same_as_hf(
        {"rope_type": "yarn", "factor": factor, "original_max_position_embeddings": ORIGINAL, **extra}
    )


def test_yarn_with_a_large_original_length_matches_hf():
    _assert_same_as_hf({"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 4096})


def _longrope(**extra) -> dict:
    return {
        "rope_type": "longrope",
        "factor": 4.0,
        "original_max_position_embeddings": ORIGINAL,
        "short_factor": [1.0 + 0.01 * i for i in range(HEAD_DIM // 2)],
        "long_factor": [1.0 + 0.5 * i for i in range(HEAD_DIM // 2)],
        **extra,
    }


@pytest.mark.parametrize("seq_len", [None, 10, ORIGINAL, ORIGINAL + 1, 4 * ORIGINAL])
@pytest.mark.parametrize(
    "extra", [{}, {"attention_factor": 1.3}, {"factor": 1.0}], ids=["auto", "given", "f=1"]
)
def test_longrope_matches_hf(seq_len, extra):
    _assert_same_as_hf(_longrope(**extra), seq_len)


def test_longrope_picks_long_factors_only_beyond_the_training_length():
    scaling = _longrope()
    base = default_inv_freq(HEAD_DIM)
    short = torch.tensor(scaling["short_factor"])
    long = torch.tensor(scaling["long_factor"])
    torch.testing.assert_close(rope_parameters(HEAD_DIM, scaling=scaling, seq_len=ORIGINAL)[0], base / short)
    torch.testing.assert_close(
        rope_parameters(HEAD_DIM, scaling=scaling, seq_len=ORIGINAL + 1)[0], base / long
    )


def test_ntk_raises_the_base():
    factor = 8.0
    inv_freq, attention_factor = rope_parameters(HEAD_DIM, 10000.0, {"rope_type": "ntk", "factor": factor})
    expected = default_inv_freq(HEAD_DIM, 10000.0 * factor ** (HEAD_DIM / (HEAD_DIM - 2)))
    torch.testing.assert_close(inv_freq, expected)
    assert attention_factor == 1.0
    factors = rescale_factors(HEAD_DIM, scaling={"rope_type": "ntk", "factor": factor})
    # The highest frequency is untouched and the lowest is interpolated by exactly `factor`.
    assert factors[0].item() == pytest.approx(1.0)
    assert factors[-1].item() == pytest.approx(factor, rel=1e-5)


def test_seed_factors_are_monotone_and_within_one_and_factor():
    seeds = seed_factors(HEAD_DIM, 4.0, original_max_position_embeddings=ORIGINAL)
    assert set(seeds) == {"pi", "ntk", "yarn"}
    torch.testing.assert_close(seeds["pi"], torch.full((HEAD_DIM // 2,), 4.0))
    for f in seeds.values():
        assert f.shape == (HEAD_DIM // 2,)
        assert (f.diff() >= -1e-5).all()
        assert f.min() >= 1 - 1e-5 and f.max() <= 4 + 1e-4
    # YaRN keeps the fastest pairs unscaled and fully interpolates the slowest ones.
    assert seeds["yarn"][0].item() == pytest.approx(1.0)
    assert seeds["yarn"][-1].item() == pytest.approx(4.0, rel=1e-5)


def test_longrope_scaling_round_trips_the_factors():
    factors = torch.linspace(1.0, 4.0, HEAD_DIM // 2)
    scaling = longrope_scaling(factors, n_hat=4, factor=4.0, original_max_position_embeddings=ORIGINAL)
    torch.testing.assert_close(rescale_factors(HEAD_DIM, scaling=scaling, seq_len=4 * ORIGINAL), factors)
    torch.testing.assert_close(rescale_factors(HEAD_DIM, scaling=scaling, seq_len=ORIGINAL), torch.ones(8))


# --------------------------------------------------------------------------- HF's rope_parameters as they are

# One dict per type, as a user writes it; HF's config standardises it (adds rope_theta, and
# original_max_position_embeddings for yarn and longrope) before bltlib sees it.
HF_DICTS = {
    "default": {"rope_type": "default"},
    "linear": {"rope_type": "linear", "factor": 4.0},
    "dynamic": {"rope_type": "dynamic", "factor": 4.0},
    "yarn": {"rope_type": "yarn", "factor": 4.0, "beta_fast": 16.0},
    "longrope": {
        "rope_type": "longrope",
        "factor": 4.0,
        "short_factor": [1.0 + 0.01 * i for i in range(HEAD_DIM // 2)],
        "long_factor": [1.0 + 0.5 * i for i in range(HEAD_DIM // 2)],
    },
}


def llama_config(rope: dict, theta: float = 500000.0) -> LlamaConfig:
    """A real transformers config class; its rope_parameters are what a loaded checkpoint carries."""
    return LlamaConfig(
        hidden_size=2 * HEAD_DIM,
        num_attention_heads=2,
        head_dim=HEAD_DIM,
        max_position_embeddings=ORIGINAL,
        rope_parameters={**rope, "rope_theta": theta},
    )


@pytest.mark.parametrize("seq_len", [None, ORIGINAL, 4 * ORIGINAL])
@pytest.mark.parametrize("rope_type", list(HF_DICTS))
def test_takes_a_transformers_config_rope_parameters_as_they_are(rope_type, seq_len, recwarn):
    config = llama_config(HF_DICTS[rope_type])
    standardized = config.rope_parameters
    assert standardized["rope_theta"] == 500000.0  # HF put it there; bltlib must not refuse it
    if rope_type == "default":  # computed by the model class in transformers 5
        theirs, theirs_factor = LlamaRotaryEmbedding.compute_default_rope_parameters(config)
    else:
        theirs, theirs_factor = ROPE_INIT_FUNCTIONS[rope_type](config, "cpu", seq_len)
    # rope_theta is the base: leave base out, or give the same one.
    for base in (None, 500000.0):
        ours, ours_factor = rope_parameters(
            HEAD_DIM, base, standardized, seq_len, max_position_embeddings=config.max_position_embeddings
        )
        assert (ours - theirs).abs().max().item() < 1e-6
        assert ours_factor == pytest.approx(theirs_factor, rel=1e-12)
    assert not [w for w in recwarn.list if "does not use" in str(w.message)], "HF's own keys need no warning"
    with pytest.raises(ValueError, match="base=10000 contradicts the scaling's rope_theta=500000"):
        rope_parameters(HEAD_DIM, 10000.0, standardized, max_position_embeddings=ORIGINAL)


@pytest.mark.parametrize(
    "rope",
    [
        {"rope_type": "linear", "factor": 4.0, "original_max_position_embeddings": ORIGINAL},
        {"rope_type": "ntk", "factor": 4.0, "original_max_position_embeddings": ORIGINAL},
        {**HF_DICTS["yarn"], "original_max_position_embeddings": ORIGINAL, "low_freq_factor": 1.0},
    ],
    ids=["linear", "ntk", "yarn"],
)
def test_keys_a_type_does_not_use_are_ignored_with_a_warning_as_hf_does(rope):
    with_key = {**rope, "rope_theta": 10000.0}
    unused = "low_freq_factor" if "low_freq_factor" in rope else "original_max_position_embeddings"
    with pytest.warns(UserWarning, match=f"does not use {unused} \\(ignored\\)"):
        ours, factor = rope_parameters(HEAD_DIM, scaling=with_key)
    without = {k: v for k, v in rope.items() if k != unused}
    torch.testing.assert_close(ours, rope_parameters(HEAD_DIM, 10000.0, without)[0])
    if rope["rope_type"] == "linear":  # HF reads the same dict the same way (after its own warning)
        theirs, _ = ROPE_INIT_FUNCTIONS["linear"](llama_config(rope, theta=10000.0), "cpu")
        torch.testing.assert_close(ours, theirs)


def test_hf_old_type_key_and_full_partial_rotary_factor_are_accepted(recwarn):
    old = {"type": "linear", "factor": 2.0, "partial_rotary_factor": 1.0, "rope_theta": 10000.0}
    torch.testing.assert_close(rope_parameters(HEAD_DIM, scaling=old)[0], default_inv_freq(HEAD_DIM) / 2)
    assert not recwarn.list


def test_base_comes_from_rope_theta_everywhere_it_is_used():
    hf = {"rope_type": "linear", "factor": 2.0, "rope_theta": 500000.0}
    assert resolve_base(None, hf) == 500000.0 and resolve_base(None, None) == 10000.0
    torch.testing.assert_close(rescale_factors(HEAD_DIM, scaling=hf), torch.full((HEAD_DIM // 2,), 2.0))
    cache = RotaryCache(HEAD_DIM, 8, scaling=hf)
    assert cache.base == 500000.0
    with pytest.raises(ValueError, match="contradicts"):
        RotaryCache(HEAD_DIM, 8, base=10000.0, scaling=hf)


# --------------------------------------------------------------------------- cache and n_hat


def test_rotary_cache_slices_and_refuses_longer_sequences():
    rope = RotaryCache(HEAD_DIM, max_seq_len=32)
    full_cos, full_sin = rope(32)
    cos, sin = rope(4, offset=10)
    torch.testing.assert_close(cos, full_cos[10:14])
    torch.testing.assert_close(sin, full_sin[10:14])
    with pytest.raises(ValueError, match="positions up to 33 exceed the rotary cache's max_seq_len 32"):
        rope(33)
    with pytest.raises(ValueError, match="positions up to 34 exceed"):
        rope(4, offset=30)
    with pytest.raises(ValueError, match="non-negative"):
        rope(4, offset=-1)


def test_rotary_cache_uses_the_frequencies_for_its_length():
    scaling = {"rope_type": "dynamic", "factor": 2.0, "original_max_position_embeddings": ORIGINAL}
    rope = RotaryCache(HEAD_DIM, max_seq_len=4 * ORIGINAL, scaling=scaling)
    inv_freq, _ = rope_parameters(HEAD_DIM, scaling=scaling, seq_len=4 * ORIGINAL)
    expected_cos, _ = rope_cos_sin(inv_freq, torch.arange(4 * ORIGINAL))
    torch.testing.assert_close(rope.cos, expected_cos)


def test_n_hat_keeps_the_first_positions_unscaled():
    factors = torch.linspace(1.0, 4.0, HEAD_DIM // 2)
    n_hat = 8
    scaling = longrope_scaling(factors, n_hat=n_hat, factor=4.0, original_max_position_embeddings=ORIGINAL)
    scaling["attention_factor"] = 1.0
    length = 2 * ORIGINAL
    with_n_hat = RotaryCache(HEAD_DIM, length, scaling=scaling)
    without = RotaryCache(HEAD_DIM, length, scaling={**scaling, "n_hat": 0})
    plain = RotaryCache(HEAD_DIM, length)
    torch.testing.assert_close(with_n_hat.cos[:n_hat], plain.cos[:n_hat])
    torch.testing.assert_close(with_n_hat.sin[:n_hat], plain.sin[:n_hat])
    torch.testing.assert_close(with_n_hat.cos[n_hat:], without.cos[n_hat:])
    assert not torch.allclose(without.cos[1:n_hat], plain.cos[1:n_hat])


# --------------------------------------------------------------------------- LongRoPE search

monotone_vectors = st.lists(st.floats(1.0, 8.0), min_size=2, max_size=12).map(
    lambda xs: torch.tensor(sorted(xs), dtype=torch.float64)
)


def _is_monotone_in_bounds(f: torch.Tensor, max_factor: float) -> bool:
    return bool((f.diff() >= 0).all() and f.min() >= 1.0 and f.max() <= max_factor)


@settings(max_examples=60, deadline=None)
@given(monotone_vectors, st.integers(0, 2**31 - 1), st.floats(0.0, 1.0), st.floats(0.0, 2.0))
def test_mutation_keeps_factors_monotone_and_in_bounds(factors, seed, rate, scale):
    child, n_hat = mutate(
        factors, 4, torch.Generator().manual_seed(seed), max_factor=8.0, rate=rate, scale=scale
    )
    assert child.shape == factors.shape
    assert _is_monotone_in_bounds(child, 8.0)
    assert n_hat in N_HAT_CHOICES


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(0, 2**31 - 1))
def test_crossover_keeps_factors_monotone_and_in_bounds(data, seed):
    a = data.draw(monotone_vectors)
    b = data.draw(st.lists(st.floats(1.0, 8.0), min_size=len(a), max_size=len(a)))
    b = torch.tensor(sorted(b), dtype=torch.float64)
    child, n_hat = crossover(a, 2, b, 16, torch.Generator().manual_seed(seed), max_factor=8.0)
    assert _is_monotone_in_bounds(child, 8.0)
    assert n_hat in (2, 16)
    # Every factor comes from a parent, or is lifted to an earlier one by the repair.
    assert all(any(math.isclose(c, p) for p in a.tolist() + b.tolist()) for c in child.tolist())


def test_monotone_repair_fixes_dips_and_clamps():
    out = monotone_repair(torch.tensor([2.0, 0.1, 5.0, 3.0, 20.0]), max_factor=10.0)
    assert out.tolist() == [2.0, 2.0, 5.0, 5.0, 10.0]


def _toy_problem():
    """Distance to a known monotone target, with a preferred n_hat: the search must approach it."""
    target = torch.linspace(1.2, 3.5, HEAD_DIM // 2).double()
    calls = []

    def fitness(factors: torch.Tensor, n_hat: int) -> float:
        calls.append(n_hat)
        return float((factors.double() - target).pow(2).sum()) + 0.01 * abs(n_hat - 16)

    return fitness, calls


def _search(fitness, seed: int = 0):
    return longrope_search(
        fitness, HEAD_DIM, factor=4.0, original_max_position_embeddings=ORIGINAL,
        population=12, generations=15, seed=seed, progress=False,
    )  # fmt: skip


def test_search_improves_on_its_initial_population():
    fitness, _ = _toy_problem()
    result = _search(fitness)
    assert len(result.history) == 16
    assert result.fitness < 0.5 * result.history[0]["best"]
    bests = [h["best"] for h in result.history]
    assert bests == sorted(bests, reverse=True)  # elitism: the best never gets worse
    assert result.fitness == pytest.approx(fitness(result.factors, result.n_hat), rel=1e-5)
    assert _is_monotone_in_bounds(result.factors.double(), 5.0)
    assert result.n_hat in N_HAT_CHOICES


def test_search_is_deterministic_given_a_seed_and_scores_each_candidate_once():
    fitness, calls = _toy_problem()
    first = _search(fitness, seed=3)
    n_calls = len(calls)
    assert n_calls <= 12 + 15 * (12 - 3)
    second = _search(fitness, seed=3)
    torch.testing.assert_close(first.factors, second.factors)
    assert (first.n_hat, first.fitness) == (second.n_hat, second.fitness)
    assert first.history == second.history


def test_search_starts_from_pi_ntk_and_yarn():
    seen = []

    def fitness(factors: torch.Tensor, n_hat: int) -> float:
        seen.append(factors.float())
        return 0.0

    longrope_search(
        fitness,
        HEAD_DIM,
        4.0,
        original_max_position_embeddings=ORIGINAL,
        population=4,
        generations=0,
        progress=False,
    )
    for name, seed in seed_factors(HEAD_DIM, 4.0, original_max_position_embeddings=ORIGINAL).items():
        assert any(torch.allclose(s, seed) for s in seen), name


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("head_dim", "message"),
    [(7, "head_dim must be even, got 7"), (0, "head_dim must be a positive int, got 0"), (2, "at least 4")],
)
def test_bad_head_dim(head_dim, message):
    with pytest.raises(ValueError, match=message):
        rope_parameters(head_dim)


@pytest.mark.parametrize(
    ("scaling", "message"),
    [
        ({"rope_type": "linear", "factor": 0}, "factor must be a positive number, got 0"),
        ({"rope_type": "ntk", "factor": -2.0}, "factor must be a positive number, got -2.0"),
        ({"rope_type": "linear"}, "needs a 'factor'"),
        ({"rope_type": "xpos", "factor": 2.0}, "unknown rope_type 'xpos'"),
        ({"factor": 2.0}, "unknown rope_type None"),
        ({"rope_type": "linear", "factr": 2.0}, "needs a 'factor'"),
        ({"rope_type": "linear", "factor": 2.0, "partial_rotary_factor": 0.5}, "partial_rotary_factor=0.5"),
        ({"rope_type": "linear", "factor": 2.0, "rope_theta": 0}, "rope_theta must be a positive number"),
        ({"rope_type": "yarn", "factor": 2.0}, "needs original_max_position_embeddings"),
        ({"rope_type": "dynamic", "factor": 2.0, "original_max_position_embeddings": 0}, "got 0"),
        (_longrope(long_factor=[1.0] * 3), "long_factor must have head_dim // 2 = 8 values, got 3"),
        (_longrope(short_factor=[0.0] * 8), "short_factor must be positive"),
        ({k: v for k, v in _longrope().items() if k != "short_factor"}, "needs 'short_factor'"),
        (_longrope(n_hat=-1), "n_hat must be a non-negative int, got -1"),
    ],
)
@pytest.mark.filterwarnings("ignore:rope_type 'linear' does not use factr")  # warned, then refused
def test_bad_scaling(scaling, message):
    with pytest.raises(ValueError, match=message):
        rope_parameters(HEAD_DIM, scaling=scaling)


def test_bad_cache_and_rotation_inputs():
    with pytest.raises(ValueError, match="max_seq_len must be a positive int, got 0"):
        RotaryCache(HEAD_DIM, 0)
    cos, sin = rope_cos_sin(default_inv_freq(HEAD_DIM), torch.arange(4))
    with pytest.raises(ValueError, match=r"x has \(time, head_dim\) = \(5, 16\)"):
        apply_rotary(torch.randn(5, HEAD_DIM), cos, sin)
    with pytest.raises(ValueError, match="inv_freq must be"):
        rope_cos_sin(torch.ones(3, 8), torch.arange(4))
    with pytest.raises(ValueError, match="base must be > 1"):
        default_inv_freq(HEAD_DIM, base=1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"factor": 0.0}, "factor must be a number >= 1"),
        ({"factor": 0.5}, r"factor must be a number >= 1 \(a context extension\), got 0.5"),
        ({"population": 2}, "population must be an int >= 4"),
        ({"generations": -1}, "generations must be a non-negative int"),
        ({"parents": 12}, "parents must be in"),
        ({"max_factor": 2.0}, "max_factor 2.0 must be at least factor 4.0"),
        ({"n_hat_choices": [-1]}, "n_hat_choices must be non-negative ints"),
        ({"head_dim": 7}, "head_dim must be even"),
    ],
)
def test_bad_search_arguments(kwargs, message):
    args = {
        "head_dim": HEAD_DIM,
        "factor": 4.0,
        "original_max_position_embeddings": ORIGINAL,
        "population": 12,
    }
    with pytest.raises(ValueError, match=message):
        longrope_search(lambda f, n: 0.0, **{**args, **kwargs}, progress=False)


def test_search_refuses_a_nan_fitness():
    with pytest.raises(ValueError, match="fitness returned NaN for n_hat=0"):
        longrope_search(
            lambda f, n: float("nan"),
            HEAD_DIM,
            4.0,
            original_max_position_embeddings=ORIGINAL,
            progress=False,
        )


def test_docstring_examples():
    assert doctest.testmod(bltlib.rope).failed == 0
