"""Rotary position embedding (RoPE) and the ways to stretch it past the training length.

RoPE rotates each pair of channels of a query or key by an angle proportional to its position:
pair ``i`` at position ``m`` turns by ``m * inv_freq[i]``, with ``inv_freq[i] = base ** (-2i / d)``.
A query at ``m`` and a key at ``n`` then meet with a score that depends only on ``m - n``.

Every long-context method here changes only ``inv_freq`` (and maybe a scalar on cos/sin):

- ``linear`` (position interpolation, PI): divide every frequency by ``factor``;
- ``ntk``: raise the base to ``base * factor ** (d / (d - 2))``, so high frequencies barely move and the
  lowest one is divided by ``factor``;
- ``dynamic``: NTK with a factor that grows with the sequence length (HF transformers' formula);
- ``yarn``: interpolate low frequencies, keep high ones, ramp in between; scale attention by ``mscale``;
- ``longrope``: any per-dimension factors (found by search), plus ``n_hat`` unscaled first positions.

The scaling dicts use HF transformers' vocabulary (``rope_type``, ``factor``,
``original_max_position_embeddings``, ...) and give the same numbers as its ``ROPE_INIT_FUNCTIONS``.

>>> inv_freq, attention_factor = rope_parameters(8, base=10000.0)
>>> [round(f, 4) for f in inv_freq.tolist()], attention_factor
([1.0, 0.1, 0.01, 0.001], 1.0)
>>> rescale_factors(8, scaling={"rope_type": "linear", "factor": 4.0}).tolist()
[4.0, 4.0, 4.0, 4.0]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from bltlib.config import int_at_least

ROPE_TYPES = ("default", "linear", "ntk", "dynamic", "yarn", "longrope")

# The keys each rope_type reads (``n_hat`` is bltlib's LongRoPE extra; ``ntk`` is not an HF type).
_USED_KEYS = {
    "default": set(),
    "linear": {"factor"},
    "ntk": {"factor"},
    "dynamic": {"factor", "original_max_position_embeddings"},
    "yarn": {
        "factor",
        "original_max_position_embeddings",
        "beta_fast",
        "beta_slow",
        "mscale",
        "mscale_all_dim",
        "attention_factor",
        "truncate",
    },
    "longrope": {
        "factor",
        "original_max_position_embeddings",
        "short_factor",
        "long_factor",
        "attention_factor",
        "n_hat",
    },
}
# Keys HF transformers accepts in every rope_parameters dict: its configs add rope_theta to each
# (transformers 5), "type" is rope_type's old name, and partial_rotary_factor must be 1 here.
_COMMON_KEYS = {"rope_type", "type", "rope_theta", "partial_rotary_factor"}
DEFAULT_BASE = 10000.0

# The LongRoPE paper's candidate numbers of leading positions kept at the original rotation.
N_HAT_CHOICES = (0, 1, 2, 4, 8, 12, 16, 20, 24, 28, 32, 64, 128, 256)


# --------------------------------------------------------------------------- rotation


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Split the last dim in halves ``(a, b)`` and return ``(-b, a)``: a 90 degree turn of each pair.

    >>> rotate_half(torch.tensor([1.0, 2.0, 3.0, 4.0])).tolist()
    [-3.0, -4.0, 1.0, 2.0]
    """
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` (``[..., T, head_dim]``) by the angles in ``cos``/``sin`` (``[T, head_dim]``).

    This is the half-rotation layout of Llama and HF transformers: channel ``i`` pairs with channel
    ``i + d/2``. The original RoFormer pairs neighbours ``(2i, 2i + 1)`` instead ("interleaved"). The two
    are the same rotation up to a fixed permutation of channels: with
    ``perm = interleaved_to_half(d)``, ``roformer(x)[..., perm] == apply_rotary(x[..., perm], cos, sin)``.
    Since q and k are permuted alike, their dot products (and so attention) are identical; a checkpoint
    moves between layouts by permuting the rows of ``W_q`` and ``W_k``.

    >>> cos, sin = rope_cos_sin(torch.tensor([1.0]), torch.tensor([0, 1]))
    >>> apply_rotary(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), cos, sin).mul(1000).round().tolist()
    [[1000.0, 0.0], [540.0, 841.0]]
    """
    if x.shape[-1] != cos.shape[-1] or x.shape[-2] != cos.shape[-2]:
        raise ValueError(
            f"x has (time, head_dim) = {tuple(x.shape[-2:])} but cos/sin were built for {tuple(cos.shape)}"
        )
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return x * cos + rotate_half(x) * sin


def interleaved_to_half(head_dim: int) -> torch.Tensor:
    """The channel order that turns RoFormer's interleaved pairs into the half-rotation layout.

    >>> interleaved_to_half(6).tolist()
    [0, 2, 4, 1, 3, 5]
    """
    _check_head_dim(head_dim)
    return torch.cat((torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)))


def rope_cos_sin(
    inv_freq: torch.Tensor, positions: torch.Tensor, attention_factor: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of ``positions * inv_freq``, each ``[T, 2 * len(inv_freq)]``, times ``attention_factor``.

    ``inv_freq`` is ``[d/2]`` (the same frequencies at every position) or ``[T, d/2]`` (one row per
    position, as LongRoPE's ``n_hat`` needs). Scaling cos and sin by ``a`` scales every q.k score by ``a**2``:
    that is how YaRN and LongRoPE sharpen attention at long range.

    >>> cos, sin = rope_cos_sin(torch.tensor([1.0, 0.5]), torch.arange(3))
    >>> cos.shape, [round(v, 3) for v in sin[2].tolist()]
    (torch.Size([3, 4]), [0.909, 0.841, 0.909, 0.841])
    """
    positions = positions.to(torch.float32)
    if inv_freq.dim() == 1:
        angles = positions[:, None] * inv_freq[None, :].float()
    elif inv_freq.dim() == 2 and inv_freq.shape[0] == positions.shape[0]:
        angles = positions[:, None] * inv_freq.float()
    else:
        raise ValueError(
            f"inv_freq must be [d/2] or [T, d/2] with T = {positions.shape[0]}, got {tuple(inv_freq.shape)}"
        )
    angles = torch.cat((angles, angles), dim=-1)  # half layout: pair i and i + d/2 share an angle
    return angles.cos() * attention_factor, angles.sin() * attention_factor


def n_hat_inv_freq(
    scaled: torch.Tensor, unscaled: torch.Tensor, positions: torch.Tensor, n_hat: int
) -> torch.Tensor:
    """Per-position frequencies ``[T, d/2]``: the first ``n_hat`` positions keep the original rotation.

    LongRoPE observes that the first few tokens get most attention, so leaving their positions exactly as
    in training (no interpolation) helps. Only the angles change: an ``attention_factor`` still applies
    to every position.

    >>> n_hat_inv_freq(torch.tensor([0.5]), torch.tensor([1.0]), torch.arange(4), n_hat=2).tolist()
    [[1.0], [1.0], [0.5], [0.5]]
    """
    keep = (positions < n_hat)[:, None]
    return torch.where(keep, unscaled[None, :], scaled[None, :])


# --------------------------------------------------------------------------- frequencies


def default_inv_freq(head_dim: int, base: float = 10000.0) -> torch.Tensor:
    """``base ** (-2i / d)`` for ``i < d/2``, computed exactly as HF transformers does (float32).

    >>> default_inv_freq(4, base=100.0).tolist()
    [1.0, 0.10000000149011612]
    """
    _check_head_dim(head_dim)
    if not base > 1.0:
        raise ValueError(f"base must be > 1, got {base}")
    exponents = torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim
    return 1.0 / (base**exponents)


def rope_parameters(
    head_dim: int,
    base: float | None = None,
    scaling: dict | None = None,
    seq_len: int | None = None,
    *,
    max_position_embeddings: int | None = None,
) -> tuple[torch.Tensor, float]:
    """``(inv_freq [head_dim // 2], attention_factor)`` for plain RoPE or one of its scalings.

    ``seq_len`` is the length the frequencies are for; only ``dynamic`` (NTK grows with it) and
    ``longrope`` (``long_factor`` when it exceeds ``original_max_position_embeddings``) read it.

    ``scaling`` may be an HF transformers ``config.rope_parameters`` dict as it is: its ``rope_theta`` is
    the base (``base`` may be left out, or must agree), and a key the type does not use is ignored with a
    warning, as HF does. ``max_position_embeddings`` (the HF config's) stands in for a missing
    ``original_max_position_embeddings``, as HF's ``dynamic`` and its config standardisation use it.

    >>> inv, a = rope_parameters(4, base=100.0, scaling={"rope_type": "ntk", "factor": 4.0})
    >>> [round(v, 4) for v in inv.tolist()], a
    ([1.0, 0.025], 1.0)
    >>> hf = {"rope_type": "linear", "factor": 4.0, "rope_theta": 100.0}  # LlamaConfig(...).rope_parameters
    >>> [round(v, 4) for v in rope_parameters(4, scaling=hf)[0].tolist()]
    [0.25, 0.025]
    """
    _check_head_dim(head_dim)
    scaling = dict(scaling or {"rope_type": "default"})
    base = resolve_base(base, scaling)
    if scaling.get("original_max_position_embeddings") is None and max_position_embeddings is not None:
        if scaling.get("rope_type", scaling.get("type")) in ("dynamic", "yarn", "longrope"):
            scaling["original_max_position_embeddings"] = max_position_embeddings
    rope_type = _check_scaling(scaling, head_dim)
    d = head_dim
    if rope_type == "default":
        return default_inv_freq(d, base), 1.0
    if rope_type == "linear":
        return default_inv_freq(d, base) / scaling["factor"], 1.0
    if rope_type == "ntk":
        return default_inv_freq(d, base * scaling["factor"] ** (d / (d - 2))), 1.0
    if rope_type == "dynamic":
        return _dynamic_inv_freq(d, base, scaling, seq_len), 1.0
    if rope_type == "yarn":
        return _yarn_parameters(d, base, scaling)
    return _longrope_parameters(d, base, scaling, seq_len)


def _dynamic_inv_freq(d: int, base: float, scaling: dict, seq_len: int | None) -> torch.Tensor:
    # Up to the training length nothing changes; beyond it the NTK factor grows linearly with length.
    original = scaling["original_max_position_embeddings"]
    seq_len = max(seq_len or original, original)
    factor = scaling["factor"]
    ntk_factor = factor * seq_len / original - (factor - 1)
    return default_inv_freq(d, base * ntk_factor ** (d / (d - 2)))


def _yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    # YaRN's attention temperature: 0.1 * ln(s) + 1 (DeepSeek weights the log term by mscale).
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def _yarn_parameters(d: int, base: float, scaling: dict) -> tuple[torch.Tensor, float]:
    factor = scaling["factor"]
    original = scaling["original_max_position_embeddings"]
    attention_factor = scaling.get("attention_factor")
    if attention_factor is None:
        mscale, mscale_all_dim = scaling.get("mscale"), scaling.get("mscale_all_dim")
        if mscale and mscale_all_dim:
            attention_factor = _yarn_mscale(factor, mscale) / _yarn_mscale(factor, mscale_all_dim)
        else:
            attention_factor = _yarn_mscale(factor)
    beta_fast = scaling.get("beta_fast") or 32
    beta_slow = scaling.get("beta_slow") or 1

    # The dimension index at which a pair makes `turns` full turns over the original context.
    def dim_for_turns(turns: float) -> float:
        return d * math.log(original / (turns * 2 * math.pi)) / (2 * math.log(base))

    low, high = dim_for_turns(beta_fast), dim_for_turns(beta_slow)
    if scaling.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    low, high = max(low, 0), min(high, d - 1)
    if low == high:
        high += 0.001  # avoid dividing by zero in the ramp
    # ramp = 0 for fast pairs (many turns: keep, i.e. extrapolate) to 1 for slow ones (interpolate).
    ramp = ((torch.arange(d // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
    inv_freq = default_inv_freq(d, base)
    return inv_freq / factor * ramp + inv_freq * (1 - ramp), float(attention_factor)


def _longrope_parameters(
    d: int, base: float, scaling: dict, seq_len: int | None
) -> tuple[torch.Tensor, float]:
    original = scaling["original_max_position_embeddings"]
    attention_factor = scaling.get("attention_factor")
    if attention_factor is None:
        factor = scaling["factor"]
        attention_factor = 1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(original))
    key = "long_factor" if seq_len and seq_len > original else "short_factor"
    ext = torch.tensor(scaling[key], dtype=torch.float32)
    return default_inv_freq(d, base) / ext, float(attention_factor)


def rescale_factors(
    head_dim: int, base: float | None = None, scaling: dict | None = None, seq_len: int | None = None
) -> torch.Tensor:
    """Any scaling as per-dimension factors: original ``inv_freq`` / scaled ``inv_freq``.

    Factor 1 means "rotate as in training" (extrapolate), ``factor`` means "interpolate fully". This puts
    PI, NTK, YaRN and LongRoPE on one plot, and seeds the LongRoPE search.

    >>> [round(v, 2) for v in rescale_factors(8, scaling={"rope_type": "ntk", "factor": 8.0}).tolist()]
    [1.0, 2.0, 4.0, 8.0]
    """
    inv_freq, _ = rope_parameters(head_dim, base, scaling, seq_len)
    return default_inv_freq(head_dim, resolve_base(base, scaling)) / inv_freq


def seed_factors(
    head_dim: int, factor: float, base: float = 10000.0, *, original_max_position_embeddings: int
) -> dict[str, torch.Tensor]:
    """PI, NTK and YaRN as per-dimension factors for a target ``factor``: the LongRoPE search's seeds.

    >>> seeds = seed_factors(4, 2.0, original_max_position_embeddings=64)
    >>> {k: [round(x, 1) for x in v.tolist()] for k, v in seeds.items()}
    {'pi': [2.0, 2.0], 'ntk': [1.0, 2.0], 'yarn': [1.0, 2.0]}
    """
    common = {"factor": factor}
    return {
        "pi": rescale_factors(head_dim, base, {"rope_type": "linear", **common}),
        "ntk": rescale_factors(head_dim, base, {"rope_type": "ntk", **common}),
        "yarn": rescale_factors(
            head_dim,
            base,
            {
                "rope_type": "yarn",
                "original_max_position_embeddings": original_max_position_embeddings,
                **common,
            },
        ),
    }


def longrope_scaling(
    factors: Sequence[float] | torch.Tensor, n_hat: int, factor: float, original_max_position_embeddings: int
) -> dict:
    """The scaling dict for searched LongRoPE factors (used beyond the original length; unscaled within).

    >>> longrope_scaling([1.0, 2.0], n_hat=4, factor=2.0, original_max_position_embeddings=64)["short_factor"]
    [1.0, 1.0]
    """
    factors = [float(f) for f in (factors.tolist() if isinstance(factors, torch.Tensor) else factors)]
    return {
        "rope_type": "longrope",
        "factor": factor,
        "original_max_position_embeddings": original_max_position_embeddings,
        "long_factor": factors,
        "short_factor": [1.0] * len(factors),
        "n_hat": n_hat,
    }


def _check_head_dim(head_dim: int) -> None:
    if not int_at_least(head_dim, 1):
        raise ValueError(f"head_dim must be a positive int, got {head_dim!r}")
    if head_dim % 2:
        raise ValueError(f"head_dim must be even, got {head_dim}")
    if head_dim < 4:
        # NTK-style formulas divide by d - 2.
        raise ValueError(f"head_dim must be at least 4, got {head_dim}")


def _is_positive_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def resolve_base(base: float | None, scaling: dict | None) -> float:
    """The RoPE base: ``base``, or the scaling's ``rope_theta`` (HF's name for it); both must agree.

    >>> hf = {"rope_theta": 5e5}
    >>> resolve_base(None, None), resolve_base(None, hf), resolve_base(5e5, hf)
    (10000.0, 500000.0, 500000.0)
    """
    theta = (scaling or {}).get("rope_theta")
    if theta is None:
        return DEFAULT_BASE if base is None else base
    if not _is_positive_number(theta):
        raise ValueError(f"rope_theta must be a positive number, got {theta!r}")
    if base is not None and not math.isclose(base, theta, rel_tol=1e-9):
        raise ValueError(
            f"base={base:g} contradicts the scaling's rope_theta={theta:g}: "
            "give the base once, or the same twice"
        )
    return float(theta)


def _check_scaling(scaling: dict, head_dim: int) -> str:
    """Validate a scaling dict (normalising HF's old ``type`` key into ``rope_type``); return its rope_type.

    Keys the type does not use are ignored with a warning, as HF transformers does."""
    if "rope_type" not in scaling and "type" in scaling:
        scaling["rope_type"] = scaling["type"]  # HF's old name, which its standardisation still accepts
    rope_type = scaling.get("rope_type")
    if rope_type not in ROPE_TYPES:
        raise ValueError(f"unknown rope_type {rope_type!r}; choose one of {', '.join(ROPE_TYPES)}")
    partial = scaling.get("partial_rotary_factor")
    if partial is not None and partial != 1:
        raise ValueError(
            f"partial_rotary_factor={partial!r} is not supported: "
            "bltlib rotates every channel of a head (1.0)"
        )
    unknown = set(scaling) - _USED_KEYS[rope_type] - _COMMON_KEYS
    if unknown:
        warnings.warn(
            f"rope_type {rope_type!r} does not use {', '.join(sorted(unknown))} (ignored); "
            f"its keys are {', '.join(sorted(_USED_KEYS[rope_type])) or '(none)'}",
            UserWarning,
            stacklevel=3,
        )
    needs_factor = rope_type in ("linear", "ntk", "dynamic", "yarn") or (
        rope_type == "longrope" and scaling.get("attention_factor") is None
    )
    if needs_factor and "factor" not in scaling:
        raise ValueError(f"rope_type {rope_type!r} needs a 'factor'")
    if "factor" in scaling and not _is_positive_number(scaling["factor"]):
        raise ValueError(f"factor must be a positive number, got {scaling['factor']!r}")
    if rope_type in ("dynamic", "yarn", "longrope"):
        original = scaling.get("original_max_position_embeddings")
        if not int_at_least(original, 1):
            raise ValueError(
                f"rope_type {rope_type!r} needs original_max_position_embeddings (the training length) "
                f"as a positive int, got {original!r} (for an HF config's rope_parameters, pass "
                "max_position_embeddings=config.max_position_embeddings)"
            )
    if rope_type == "longrope":
        for key in ("short_factor", "long_factor"):
            values = scaling.get(key)
            if values is None:
                raise ValueError(f"rope_type 'longrope' needs {key!r} (one factor per pair of channels)")
            if len(values) != head_dim // 2:
                raise ValueError(f"{key} must have head_dim // 2 = {head_dim // 2} values, got {len(values)}")
            if any(not v > 0 for v in values):
                raise ValueError(f"{key} must be positive, got {list(values)}")
        n_hat = scaling.get("n_hat", 0)
        if not int_at_least(n_hat, 0):
            raise ValueError(f"n_hat must be a non-negative int, got {n_hat!r}")
    return rope_type


# --------------------------------------------------------------------------- cache


class RotaryCache(nn.Module):
    """cos/sin for positions ``0 .. max_seq_len - 1``, built once; asking for more is an error.

    The frequencies are those for ``seq_len = max_seq_len``: ``dynamic`` uses its NTK factor for that
    length, ``longrope`` its long factors when ``max_seq_len`` exceeds the original length. Every position
    uses the same frequencies, so keys in a KV cache never go stale.

    >>> rope = RotaryCache(head_dim=8, max_seq_len=16)
    >>> [t.shape for t in rope(4, offset=2)]
    [torch.Size([4, 8]), torch.Size([4, 8])]
    """

    def __init__(
        self, head_dim: int, max_seq_len: int, base: float | None = None, scaling: dict | None = None
    ) -> None:
        super().__init__()
        if not int_at_least(max_seq_len, 1):
            raise ValueError(f"max_seq_len must be a positive int, got {max_seq_len!r}")
        base = resolve_base(base, scaling)
        self.head_dim, self.max_seq_len, self.base = head_dim, max_seq_len, base
        self.scaling = dict(scaling) if scaling else None
        inv_freq, self.attention_factor = rope_parameters(head_dim, base, scaling, seq_len=max_seq_len)
        positions = torch.arange(max_seq_len)
        n_hat = (scaling or {}).get("n_hat", 0)
        if n_hat:
            inv_freq = n_hat_inv_freq(inv_freq, default_inv_freq(head_dim, base), positions, n_hat)
        cos, sin = rope_cos_sin(inv_freq, positions, self.attention_factor)
        # Not saved in checkpoints: they are a pure function of the config.
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, seq_len: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin for positions ``offset .. offset + seq_len - 1``."""
        if offset < 0 or seq_len < 0:
            raise ValueError(
                f"offset and seq_len must be non-negative, got offset={offset}, seq_len={seq_len}"
            )
        if offset + seq_len > self.max_seq_len:
            raise ValueError(
                f"positions up to {offset + seq_len} exceed the rotary cache's max_seq_len {self.max_seq_len}"
            )
        return self.cos[offset : offset + seq_len], self.sin[offset : offset + seq_len]

    def extra_repr(self) -> str:
        kind = (self.scaling or {}).get("rope_type", "default")
        return f"head_dim={self.head_dim}, max_seq_len={self.max_seq_len}, base={self.base}, rope_type={kind}"


# --------------------------------------------------------------------------- LongRoPE search


@dataclass
class LongRopeSearchResult:
    """The best per-dimension factors and ``n_hat`` found, and how the search got there.

    ``history[g]`` describes generation ``g`` (0 = the initial population): ``best`` and ``mean``
    fitness, and the best individual so far (``best_factors``, ``best_n_hat``), for plotting.
    """

    factors: torch.Tensor
    n_hat: int
    fitness: float
    history: list[dict] = field(default_factory=list)


def monotone_repair(factors: torch.Tensor, max_factor: float) -> torch.Tensor:
    """Clamp to ``[1, max_factor]``, then make non-decreasing with a running maximum.

    LongRoPE's constraint: high-frequency pairs (low index) need little interpolation, low-frequency
    ones more, so factors never decrease with the index. A factor below 1 would extrapolate, rotating
    faster than in training.

    >>> monotone_repair(torch.tensor([0.5, 3.0, 2.0, 9.0]), max_factor=4.0).tolist()
    [1.0, 3.0, 3.0, 4.0]
    """
    return factors.clamp(1.0, max_factor).cummax(dim=-1).values


def mutate(
    factors: torch.Tensor,
    n_hat: int,
    generator: torch.Generator,
    max_factor: float,
    rate: float = 0.3,
    scale: float = 0.1,
    n_hat_choices: Sequence[int] = N_HAT_CHOICES,
) -> tuple[torch.Tensor, int]:
    """Multiply a random ``rate`` of the factors by ``exp(scale * N(0, 1))``; maybe redraw ``n_hat``.

    The result is repaired to stay monotone and within ``[1, max_factor]``.
    """
    hit = torch.rand(factors.shape, generator=generator, dtype=torch.float64) < rate
    noise = torch.exp(scale * torch.randn(factors.shape, generator=generator, dtype=torch.float64))
    child = torch.where(hit, factors.double() * noise, factors.double())
    if torch.rand((), generator=generator) < rate:
        n_hat = n_hat_choices[int(torch.randint(len(n_hat_choices), (), generator=generator))]
    return monotone_repair(child, max_factor), n_hat


def crossover(
    a: torch.Tensor,
    n_hat_a: int,
    b: torch.Tensor,
    n_hat_b: int,
    generator: torch.Generator,
    max_factor: float,
) -> tuple[torch.Tensor, int]:
    """Each factor from parent ``a`` or ``b`` at random (then repaired), ``n_hat`` from either.

    Mixing two monotone vectors index by index can step down where the parents cross; the repair
    lifts such a dip to the running maximum.
    """
    pick = torch.rand(a.shape, generator=generator) < 0.5
    child = torch.where(pick, a.double(), b.double())
    n_hat = n_hat_a if torch.rand((), generator=generator) < 0.5 else n_hat_b
    return monotone_repair(child, max_factor), n_hat


def longrope_search(
    fitness: Callable[[torch.Tensor, int], float],
    head_dim: int,
    factor: float,
    base: float = 10000.0,
    *,
    original_max_position_embeddings: int,
    population: int = 16,
    generations: int = 10,
    parents: int | None = None,
    max_factor: float | None = None,
    n_hat_choices: Sequence[int] = N_HAT_CHOICES,
    mutation_rate: float = 0.3,
    mutation_scale: float = 0.1,
    seed: int = 0,
    progress: bool = True,
    desc: str = "LongRoPE search",
) -> LongRopeSearchResult:
    """LongRoPE's evolutionary search for per-dimension rescale factors and ``n_hat``.

    ``fitness(factors [head_dim // 2], n_hat) -> float`` scores a candidate, lower is better; typically
    the perplexity at the target length on a held-out search split, with
    ``longrope_scaling(factors, n_hat, factor, original_max_position_embeddings)`` applied.

    The first population holds PI, NTK and YaRN (as per-dimension factors, ``n_hat = 0``) and mutants
    of them. Each generation keeps the ``parents`` best (default: a quarter) and fills up with mutants
    of parents and mutated crossovers of two parents. Factors stay in ``[1, max_factor]`` (default
    ``1.25 * factor``: a little headroom above full interpolation for the lowest frequencies) and
    non-decreasing in the dimension index. Identical candidates are scored once. The same ``seed`` and
    a deterministic ``fitness`` give the same result.
    """
    _check_head_dim(head_dim)
    if not (_is_positive_number(factor) and factor >= 1):
        raise ValueError(f"factor must be a number >= 1 (a context extension), got {factor!r}")
    if not (isinstance(population, int) and population >= 4):
        raise ValueError(f"population must be an int >= 4, got {population!r}")
    if not (isinstance(generations, int) and generations >= 0):
        raise ValueError(f"generations must be a non-negative int, got {generations!r}")
    parents = max(2, population // 4) if parents is None else parents
    if not 2 <= parents < population:
        raise ValueError(f"parents must be in [2, population), got {parents} with population {population}")
    max_factor = 1.25 * factor if max_factor is None else max_factor
    if max_factor < factor:
        raise ValueError(f"max_factor {max_factor} must be at least factor {factor}")
    if not n_hat_choices or any(not isinstance(n, int) or n < 0 for n in n_hat_choices):
        raise ValueError(f"n_hat_choices must be non-negative ints, got {list(n_hat_choices)}")

    generator = torch.Generator().manual_seed(seed)
    scores: dict[tuple, float] = {}

    def score(candidate: tuple[torch.Tensor, int]) -> float:
        key = (tuple(round(v, 8) for v in candidate[0].tolist()), candidate[1])
        if key not in scores:
            value = float(fitness(candidate[0].clone(), candidate[1]))
            if math.isnan(value):  # NaN would scramble the ranking; inf (a hopeless candidate) is fine
                raise ValueError(f"fitness returned NaN for n_hat={candidate[1]}, factors={list(key[0])}")
            scores[key] = value
        return scores[key]

    def mutant(candidate: tuple[torch.Tensor, int]) -> tuple[torch.Tensor, int]:
        return mutate(*candidate, generator, max_factor, mutation_rate, mutation_scale, n_hat_choices)

    def pick(pool: list) -> tuple[torch.Tensor, int]:
        return pool[int(torch.randint(len(pool), (), generator=generator))]

    seeds = seed_factors(
        head_dim, factor, base, original_max_position_embeddings=original_max_position_embeddings
    )
    pool = [(monotone_repair(f.double(), max_factor), 0) for f in seeds.values()]
    pool += [mutant(pick(pool[:3])) for _ in range(population - len(pool))]

    history: list[dict] = []

    def record(generation: int, ranked: list, values: list[float]) -> None:
        history.append(
            {
                "generation": generation,
                "best": values[0],
                "mean": sum(values) / len(values),
                "best_factors": ranked[0][0].tolist(),
                "best_n_hat": ranked[0][1],
            }
        )

    def rank(pool: list) -> tuple[list, list[float]]:
        values = [score(c) for c in pool]
        order = sorted(range(len(pool)), key=lambda i: values[i])  # stable: ties keep their order
        return [pool[i] for i in order], [values[i] for i in order]

    ranked, values = rank(pool)
    record(0, ranked, values)
    bar = tqdm(range(1, generations + 1), desc=desc, disable=not progress)
    for generation in bar:
        elite = ranked[:parents]
        children = []
        for i in range(population - parents):
            if i % 2:
                a, b = pick(elite), pick(elite)
                children.append(mutant(crossover(a[0], a[1], b[0], b[1], generator, max_factor)))
            else:
                children.append(mutant(pick(elite)))
        ranked, values = rank(elite + children)
        record(generation, ranked, values)
        bar.set_postfix(best=f"{values[0]:.4g}")
    best_factors, best_n_hat = ranked[0]
    return LongRopeSearchResult(best_factors.float(), best_n_hat, values[0], history)
