"""Checks for lesson 2 (RoPE and long context): the rotation, position interpolation and YaRN's ramp,
each compared with :mod:`bltlib.rope` on a handful of cases, the simplest first.

In a notebook: ``checks.rope.rotate(rotate)`` prints a pass line, or stops at the first wrong case with
the input, the expected and the actual value, and a hint.

>>> from bltlib.rope import apply_rotary, default_inv_freq, rope_cos_sin
>>> rotate(lambda x, positions, base=10000.0: apply_rotary(
...     x, *rope_cos_sin(default_inv_freq(x.shape[-1], base), positions)))
✓ rotate: all 5 cases pass
>>> rotate(lambda x, positions, base=10000.0: x, raise_on_fail=False).message.splitlines()[0]
'✗ rotate: case 1 of 5 (d = 4, unit vectors: position m turns the first pair by m radians)'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from bltlib.checks.core import Case, CheckResult, check
from bltlib.rope import apply_rotary, default_inv_freq, rope_cos_sin, rope_parameters

_HINT_TENSOR = "return a torch tensor of the same shape as the reference (float32)"


def _close(actual: Any, expected: torch.Tensor) -> bool:
    """A float tensor of the expected shape, equal up to float32 rounding."""
    return (
        isinstance(actual, torch.Tensor)
        and actual.shape == expected.shape
        and actual.is_floating_point()
        and torch.allclose(actual.float(), expected, atol=1e-5, rtol=1e-4)
    )


def reference_rotate(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """RoPE of ``x [T, d]`` at ``positions [T]``: pair ``(i, i + d/2)`` turns by ``position * base**(-2i/d)``.

    >>> reference_rotate(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([2])).mul(1000).round().tolist()
    [[-416.0, 0.0, 909.0, 0.0]]
    """
    return apply_rotary(x, *rope_cos_sin(default_inv_freq(x.shape[-1], base), positions))


def reference_pi_inv_freq(head_dim: int, base: float, factor: float) -> torch.Tensor:
    """Position interpolation's frequencies: the default ones divided by ``factor``.

    >>> reference_pi_inv_freq(4, 100.0, 2.0).tolist()
    [0.5, 0.05000000074505806]
    """
    return rope_parameters(head_dim, base, {"rope_type": "linear", "factor": factor})[0]


def reference_yarn_ramp(
    head_dim: int,
    base: float,
    original_max_position_embeddings: int,
    beta_fast: float = 32,
    beta_slow: float = 1,
) -> torch.Tensor:
    """YaRN's ramp per pair: 0 keeps a pair's frequency (fast pairs), 1 interpolates it fully (slow ones).

    Read back from ``bltlib.rope``'s YaRN frequencies, ``inv_yarn = inv * (1 - ramp * (1 - 1/factor))``.

    >>> [round(r, 2) for r in reference_yarn_ramp(16, 10000.0, 256).tolist()]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]
    """
    factor = 2.0  # any factor > 1 gives the same ramp
    scaling = {
        "rope_type": "yarn",
        "factor": factor,
        "original_max_position_embeddings": original_max_position_embeddings,
        "beta_fast": beta_fast,
        "beta_slow": beta_slow,
    }
    ratio = rope_parameters(head_dim, base, scaling)[0] / default_inv_freq(head_dim, base)
    return ((1 - ratio) / (1 - 1 / factor)).clamp(0, 1)


def _x(t: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(t, d, generator=torch.Generator().manual_seed(seed))


def rotate(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(x [T, d], positions [T], base) -> [T, d]``: RoPE in the half layout (pair ``i`` with
    ``i + d/2``)."""
    halves = (
        "pair channel i with channel i + d/2 (the two halves of the vector), not neighbours 2i and 2i+1: "
        "x1, x2 = x[..., :d//2], x[..., d//2:]"
    )
    sign = (
        "a turn by angle a maps (x1, x2) to (x1 cos a - x2 sin a, x1 sin a + x2 cos a): check which "
        "half gets the minus sign"
    )
    # Unit vectors at d = 4: the first pair (channels 0 and 2) turns by m radians at position m.
    units, steps = (
        torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]),
        torch.arange(3),
    )
    cases = [
        Case(
            (units, steps),
            reference_rotate(units, steps),
            kwargs={"base": 10000.0},
            label="d = 4, unit vectors: position m turns the first pair by m radians",
            hint=f"{halves}; {sign}",
        ),
        Case(
            (_x(3, 4, 0), torch.zeros(3, dtype=torch.long)),
            _x(3, 4, 0),
            kwargs={"base": 10000.0},
            label="position 0 everywhere: nothing turns",
            hint="angles are positions[t] * inv_freq (use the positions given, not the row index t): "
            "at position 0, cos = 1 and sin = 0, so x comes back unchanged",
        ),
        Case(
            (_x(4, 8, 1), torch.arange(4)),
            reference_rotate(_x(4, 8, 1), torch.arange(4), base=100.0),
            kwargs={"base": 100.0},
            label="d = 8, base 100: which channels form a pair",
            hint=halves,
        ),
        Case(
            (_x(3, 16, 2), torch.tensor([5, 100, 1000])),
            reference_rotate(_x(3, 16, 2), torch.tensor([5, 100, 1000])),
            kwargs={"base": 10000.0},
            label="d = 16, far positions",
            hint="inv_freq[i] = base ** (-2i / d) for i in range(d // 2); "
            "the angle is position * inv_freq[i]",
        ),
        Case(
            (_x(2, 6, 3), torch.tensor([7, 3])),
            reference_rotate(_x(2, 6, 3), torch.tensor([7, 3]), base=500.0),
            kwargs={"base": 500.0},
            label="positions in any order (d = 6, base 500)",
            hint="use positions[t] for row t, not t itself",
        ),
    ]
    return check("rotate", fn, cases, compare=_close, hint=_HINT_TENSOR, raise_on_fail=raise_on_fail)


def pi_inv_freq(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(head_dim, base, factor) -> inv_freq [head_dim // 2]`` for position interpolation."""
    wrong_way = (
        "PI squeezes positions: position m is treated as m / factor, so every angle m * inv_freq becomes "
        "m * inv_freq / factor; divide the frequencies by factor (not multiply, not the base)"
    )
    cases = [
        Case(
            (4, 100.0, 1.0),
            reference_pi_inv_freq(4, 100.0, 1.0),
            label="factor 1 is plain RoPE",
            hint="inv_freq[i] = base ** (-2i / head_dim), i = 0 .. head_dim/2 - 1, before any scaling",
        ),
        Case(
            (4, 100.0, 2.0),
            reference_pi_inv_freq(4, 100.0, 2.0),
            label="factor 2, head_dim 4",
            hint=wrong_way,
        ),
        Case(
            (16, 10000.0, 8.0),
            reference_pi_inv_freq(16, 10000.0, 8.0),
            label="factor 8, head_dim 16: every pair, fast and slow, is divided alike",
            hint="PI treats all pairs the same: no pair keeps its frequency, none gets a different factor",
        ),
        Case((32, 500000.0, 4.0), reference_pi_inv_freq(32, 500000.0, 4.0), label="Llama-3's base, factor 4"),
    ]
    return check("pi_inv_freq", fn, cases, compare=_close, hint=_HINT_TENSOR, raise_on_fail=raise_on_fail)


def yarn_ramp(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(head_dim, base, original_max_position_embeddings, beta_fast, beta_slow) -> ramp``."""
    swapped = (
        "beta_fast (32 turns over the context) marks the FAST pairs, which come first (low index): "
        "low = floor(dim(beta_fast)), high = ceil(dim(beta_slow))"
    )
    direction = "the ramp is 0 for the first (fast) pairs, which keep their frequency, and rises to 1"
    cases = [
        Case(
            (16, 10000.0, 256, 32, 1),
            reference_yarn_ramp(16, 10000.0, 256, 32, 1),
            label="head_dim 16, context 256, betas 32 and 1",
            hint=direction,
        ),
        Case(
            (32, 10000.0, 256, 32, 1),
            reference_yarn_ramp(32, 10000.0, 256, 32, 1),
            label="head_dim 32, context 256: the lesson's model",
            hint=swapped,
        ),
        Case(
            (64, 10000.0, 4096, 32, 1),
            reference_yarn_ramp(64, 10000.0, 4096, 32, 1),
            label="head_dim 64, context 4096 (Llama-2-like)",
            hint="low and high are rounded outwards: floor(dim(beta_fast)) and ceil(dim(beta_slow)), then "
            "clamped to [0, head_dim - 1]",
        ),
        Case(
            (64, 10000.0, 4096, 16, 2),
            reference_yarn_ramp(64, 10000.0, 4096, 16, 2),
            label="other betas: 16 and 2",
            hint="dim(turns) = head_dim * ln(L / (turns * 2 pi)) / (2 ln base); use the betas you are given",
        ),
    ]
    return check("yarn_ramp", fn, cases, compare=_close, hint=_HINT_TENSOR, raise_on_fail=raise_on_fail)
