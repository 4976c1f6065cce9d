"""Checks for lesson 2 (RoPE and long context): the rotation (half and interleaved layouts), position
interpolation and YaRN's ramp, each compared with :mod:`bltlib.rope` on a handful of cases, the simplest
first.

In a notebook: ``checks.rope.rotate(rotate)`` prints a pass line, or stops at the first wrong case with
a short summary of the input, the expected and the actual value, and a hint that names the idea that is
wrong (the answer is compared with known mistakes: neighbour pairs, the turn's direction, the frequency
exponent, swapped betas...). ``more=True`` adds a worked example of that idea and the verdict on every
case; no message shows the solution's code.

>>> rotate(reference_rotate)
✓ rotate: all 6 cases pass
>>> rotate(lambda x, positions, base=10000.0: x, raise_on_fail=False).message.splitlines()[0]
'✗ rotate: case 1 of 6 (d = 4, unit vectors: position m turns the first pair by m radians)'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from bltlib.checks.core import Case, CheckResult, Idea, Mistake, a_type, check
from bltlib.rope import apply_rotary, default_inv_freq, interleaved_to_half, rope_cos_sin, rope_parameters


def _close(actual: Any, expected: torch.Tensor) -> bool:
    """A float tensor of the expected shape, equal up to float32 rounding."""
    return (
        isinstance(actual, torch.Tensor)
        and actual.shape == expected.shape
        and actual.is_floating_point()
        and torch.allclose(actual.float(), expected.float(), atol=1e-5, rtol=1e-4)
    )


def _alike(actual: Any, wrong: Any) -> bool:
    """The learner's answer is a known mistake's: the same values, NaN where it has NaN."""
    return (
        isinstance(actual, torch.Tensor)
        and isinstance(wrong, torch.Tensor)
        and actual.shape == wrong.shape
        and actual.is_floating_point()
        and torch.allclose(actual.float(), wrong.float(), atol=1e-5, rtol=1e-4, equal_nan=True)
    )


def _tensor_form(actual: Any, expected: torch.Tensor) -> Idea | None:
    if not isinstance(actual, torch.Tensor):
        return Idea("return a tensor", f"a float32 torch tensor, not {a_type(actual)}")
    if not actual.is_floating_point():
        return Idea("return floats", "a float32 tensor: angles, cosines and rotated vectors are not integers")
    if actual.shape != expected.shape:
        return Idea("shape", f"the answer has shape {list(actual.shape)}, expected {list(expected.shape)}")
    if not bool(torch.isfinite(actual).all()):
        return Idea("finite values", "the answer holds NaN or inf: look for a division by zero")
    return None


def _inv_freq(
    d: int, base: float, exponent: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> torch.Tensor:
    i = torch.arange(d // 2, dtype=torch.float32)
    return base ** (exponent(i) if exponent else -2 * i / d)


def _turn(
    x: torch.Tensor,
    positions: torch.Tensor,
    inv: torch.Tensor,
    *,
    layout: str = "half",
    sign: int = 1,
    angles: str = "cat",
    swap: bool = False,
    sequential: bool = False,
) -> torch.Tensor:
    """Rotate ``x`` pair by pair, with switches for the usual mistakes (the defaults give RoPE):
    ``swap`` puts sin where cos goes, ``sequential`` computes the second channel from the first one
    already turned."""
    a = positions.float()[:, None] * inv[None, :]
    cos, sin = (a.sin(), a.cos()) if swap else (a.cos(), a.sin())
    d = x.shape[-1]
    if layout == "half":
        if angles == "interleave":  # the angles of the interleaved layout, on the half layout
            full = a.repeat_interleave(2, dim=-1)
            x1, x2 = x[..., : d // 2], x[..., d // 2 :]
            rot = torch.cat((-x2, x1), dim=-1)
            return x * full.cos() + sign * rot * full.sin()
        x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    else:
        x1, x2 = x[..., 0::2], x[..., 1::2]
    first = x1 * cos - sign * x2 * sin
    second = sign * (first if sequential else x1) * sin + x2 * cos
    if layout in ("half", "unmerged"):  # unmerged: interleaved pairs left as [all firsts, all seconds]
        return torch.cat((first, second), dim=-1)
    return torch.stack((first, second), dim=-1).flatten(-2)


# ----------------------------------------------------------------------------- 1. rotate (half layout)


def reference_rotate(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """RoPE of ``x [T, d]`` at ``positions [T]``: pair ``(i, i + d/2)`` turns by ``position * base**(-2i/d)``.

    >>> reference_rotate(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.tensor([2])).mul(1000).round().tolist()
    [[-416.0, 0.0, 909.0, 0.0]]
    """
    return apply_rotary(x, *rope_cos_sin(default_inv_freq(x.shape[-1], base), positions))


_TURN_EXAMPLE = (
    "d = 4: the pairs are channels (0, 2) and (1, 3). The unit vector (1, 0, 0, 0) at position m has "
    "its first pair at (1, 0); turned by m radians it becomes (cos m, sin m), in channels 0 and 2: at "
    "m = 1, (0.540, 0, 0.841, 0). The second pair turns by m * base**(-2/4): with base 100 that is "
    "0.1 m, ten times slower."
)
_HALVES = Idea(
    "pair i with i + d/2",
    "in this layout channel i pairs with channel i + d/2 (the first half of the vector with the second), "
    "not with its neighbour i + 1",
    more=_TURN_EXAMPLE,
)
_SIGN = Idea(
    "the direction of the turn",
    "a turn by angle a maps the pair (p, q) to (p cos a - q sin a, p sin a + q cos a): the minus sign "
    "goes on the first channel's formula",
    more="Turning (1, 0) by a = 1 radian gives (cos 1, sin 1) = (0.540, 0.841): counter-clockwise, the "
    "second channel grows. (0, 1) turned by 1 radian gives (-0.841, 0.540).",
)
_PAIR_ANGLE = Idea(
    "both channels of a pair share one angle",
    "pair i (channels i and i + d/2) turns by position * theta_i; both of its channels use that same "
    "angle, so the angles for the second half repeat those of the first half",
    more=_TURN_EXAMPLE,
)
_POSITIONS = Idea(
    "use the positions given",
    "row t turns by positions[t] * theta_i, whatever t is: at position 0 nothing turns (cos = 1, "
    "sin = 0), so x comes back unchanged",
    more="Rows are not positions: a query may sit at position 1000 in row 0, and the rows may come in "
    "any order, e.g. positions [7, 3]. Each row's angles come from its own entry of positions.",
)
_FREQ = Idea(
    "the frequency of pair i",
    "theta_i = base ** (-2i / d) for the pair index i = 0 .. d/2 - 1: pair 0 turns at 1 radian per "
    "position and each later pair more slowly, the last at nearly 1 / base",
    more="d = 4, base 100: pair 0 has theta_0 = 100**0 = 1 and pair 1 has theta_1 = 100**(-2/4) = 0.1. "
    "The exponent runs over the even numbers 0, 2, 4 .. d - 2, divided by d, and is negative.",
)
_BASE = Idea(
    "use the base given",
    "the frequencies depend on base (theta_i = base ** (-2i / d)); the check calls with bases other than "
    "10000",
    more="With base 100 and d = 4 the second pair turns at 0.1 radian per position; with 10000 it would "
    "turn at 0.01.",
)
_COS_SIN = Idea(
    "cos for the channel itself",
    "a turn by angle a keeps cos a of each channel and mixes in sin a of its partner: the pair (p, q) "
    "becomes (p cos a - q sin a, p sin a + q cos a), so at position 0 (cos = 1, sin = 0) nothing moves",
    more="Turning (1, 0) by a = 1 radian gives (cos 1, sin 1) = (0.540, 0.841). With sin and cos "
    "exchanged it would give (sin 1, cos 1) = (0.841, 0.540), and at a = 0 the pair (1, 0) would "
    "become (0, 1): a quarter turn where no turn is due.",
)
_BEFORE = Idea(
    "turn the pair as it was",
    "both new channels are computed from the pair's values BEFORE the turn: the second channel's "
    "formula uses the original first channel, not the first channel just turned",
    more="(1, 0) turned by 1 radian: the first channel becomes 1 cos 1 - 0 sin 1 = 0.540 and the second "
    "1 sin 1 + 0 cos 1 = 0.841. Putting the new first channel, 0.540, into the second formula gives "
    "0.540 sin 1 = 0.455 instead: the pair (0.540, 0.455) has length 0.706, not 1, so it was not "
    "turned but shrunk. Keep the old values until both new ones are computed.",
)
_TABLE = Idea(
    "one angle per pair",
    "the angles form a [T, d/2] table, one column per pair, while x has d channels: each pair's angle "
    "goes with both channels of that pair, i.e. with the pairs' first channels and with their second "
    "channels ([T, d/2] each), not with the whole of x at once",
    more="d = 4, T = 3: the table is [3, 2], one angle per pair; x is [3, 4]. Pair 0 is channels 0 and "
    "2 in the half layout (0 and 1 in the interleaved one): both use column 0 of the table. Either take "
    "the [3, 2] first and second channels of the pairs, or repeat the table so that every channel "
    "finds its pair's angle.",
)


def _table_mismatch(exc: Exception) -> bool:
    return isinstance(exc, RuntimeError) and "must match the size of tensor" in str(exc)


def _first_turn(halves: bool) -> Idea:
    """The first case's own idea: what the turn of the unit vectors looks like, in each layout."""
    partner, turned = (2, "(cos m, 0, sin m, 0)") if halves else (1, "(cos m, sin m, 0, 0)")
    return Idea(
        "turn each pair by its angle",
        f"pair 0 (channels 0 and {partner}) turns by m * theta_0 = m radians at position m: the unit "
        f"vector (1, 0, 0, 0) at position m becomes {turned}; compare your rows with that",
        more=_TURN_EXAMPLE if halves else _NEIGHBOURS.more,
    )


def _slips(reference: Callable, layout: str) -> tuple[Mistake, ...]:
    """The mistakes either layout can make: positions counted from 1 (or from -1), cos and sin swapped,
    the second channel computed from the first one already turned, and 2i used where i is meant in the
    exponent (``arange(0, d, 2)``, which already holds 2i, doubled again)."""

    def turn(**switches: Any) -> Callable:
        return lambda x, p, base=1e4: _turn(x, p, _inv_freq(x.shape[-1], base), layout=layout, **switches)

    return (
        Mistake(lambda x, p, base=1e4: reference(x, p + 1, base), _POSITIONS),
        Mistake(lambda x, p, base=1e4: reference(x, p - 1, base), _POSITIONS),
        Mistake(turn(swap=True), _COS_SIN),
        Mistake(turn(sequential=True), _BEFORE),
        Mistake(
            lambda x, p, base=1e4: _turn(
                x, p, _inv_freq(x.shape[-1], base, lambda i: -4 * i / x.shape[-1]), layout=layout
            ),
            _FREQ,
        ),
    )


_ROTATE_MISTAKES = (
    Mistake(lambda x, p, base=1e4: _turn(x, p, _inv_freq(x.shape[-1], base), layout="interleaved"), _HALVES),
    Mistake(lambda x, p, base=1e4: _turn(x, p, _inv_freq(x.shape[-1], base), sign=-1), _SIGN),
    Mistake(
        lambda x, p, base=1e4: _turn(x, p, _inv_freq(x.shape[-1], base), angles="interleave"), _PAIR_ANGLE
    ),
    Mistake(lambda x, p, base=1e4: reference_rotate(x, torch.arange(x.shape[0]), base), _POSITIONS),
    Mistake(lambda x, p, base=1e4: reference_rotate(x, p, 10000.0), _BASE),
    Mistake(
        lambda x, p, base=1e4: _turn(x, p, _inv_freq(x.shape[-1], base, lambda i: -i / x.shape[-1])), _FREQ
    ),
    Mistake(
        lambda x, p, base=1e4: _turn(x, p, _inv_freq(x.shape[-1], base, lambda i: 2 * i / x.shape[-1])), _FREQ
    ),
    *_slips(reference_rotate, "half"),
)


def _rotation_cases(reference: Callable, halves: bool) -> list[Case]:
    names = ("x", "positions")

    def case(x: torch.Tensor, positions: torch.Tensor, base: float, label: str, hint: Idea) -> Case:
        expected = reference(x, positions, base)
        return Case((x, positions), expected, kwargs={"base": base}, label=label, hint=hint, names=names)

    # d = 4. Half layout: the pairs are channels (0, 2) and (1, 3); interleaved: (0, 1) and (2, 3).
    first, partner, second = ([1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, 1.0, 0, 0])
    if not halves:
        partner, second = second, partner
    units, steps = torch.tensor([first, first, partner]), torch.arange(3)
    layout = _HALVES if halves else _NEIGHBOURS
    return [
        case(
            units,
            steps,
            10000.0,
            "d = 4, unit vectors: position m turns the first pair by m radians",
            _first_turn(halves),
        ),
        case(
            _x(3, 4, 0),
            torch.zeros(3, dtype=torch.long),
            10000.0,
            "position 0 everywhere: nothing turns",
            _POSITIONS,
        ),
        case(
            torch.tensor([second] * 3),
            steps,
            100.0,
            "d = 4, base 100: the second pair turns at 0.1 per position",
            _FREQ,
        ),
        case(_x(4, 8, 1), torch.arange(4), 100.0, "d = 8, base 100: which channels form a pair", layout),
        case(_x(3, 16, 2), torch.tensor([5, 100, 1000]), 10000.0, "d = 16, far positions", _FREQ),
        case(
            _x(2, 6, 3), torch.tensor([7, 3]), 500.0, "positions in any order (d = 6, base 500)", _POSITIONS
        ),
    ]


def _x(t: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(t, d, generator=torch.Generator().manual_seed(seed))


def rotate(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(x [T, d], positions [T], base) -> [T, d]``: RoPE in the half layout (pair ``i`` with
    ``i + d/2``). ``more=True`` explains a failure at length, with a worked example and the verdict on
    every case."""
    return check(
        "rotate",
        fn,
        _rotation_cases(reference_rotate, halves=True),
        compare=_close,
        match=_alike,
        hint=_FREQ,
        mistakes=_ROTATE_MISTAKES,
        form=_tensor_form,
        errors=[(_table_mismatch, _TABLE)],
        more=more,
        lesson="rope",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 2. variant: interleaved


def reference_rotate_interleaved(
    x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0
) -> torch.Tensor:
    """RoFormer's RoPE: neighbours ``(2i, 2i + 1)`` form pair ``i``, which turns by
    ``position * base**(-2i/d)``. The same rotation as :func:`reference_rotate` up to a permutation of
    channels (:func:`bltlib.rope.interleaved_to_half`).

    >>> x = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    >>> reference_rotate_interleaved(x, torch.tensor([2])).mul(1000).round().tolist()
    [[-416.0, 909.0, 0.0, 0.0]]
    """
    perm = interleaved_to_half(x.shape[-1])
    return reference_rotate(x[..., perm], positions, base)[..., torch.argsort(perm)]


_NEIGHBOURS = Idea(
    "neighbours form a pair",
    "in the interleaved layout channels 2i and 2i + 1 are pair i, side by side, not i and i + d/2",
    more="d = 4: the pairs are channels (0, 1) and (2, 3). The unit vector (1, 0, 0, 0) at position m "
    "turns within channels 0 and 1: (cos m, sin m, 0, 0); at m = 1, (0.540, 0.841, 0, 0). Channel 2 "
    "belongs to the second pair, which turns at base**(-2/4) radian per position.",
)
_IN_PLACE = Idea(
    "each pair stays in its place",
    "the rotated pair i goes back into channels 2i and 2i + 1, interleaved again; the answer has the "
    "layout of x, not all first channels followed by all second channels",
    more="For d = 4 the answer is (pair 0's first, pair 0's second, pair 1's first, pair 1's second). "
    "Concatenating the firsts and then the seconds gives (pair 0 first, pair 1 first, pair 0 second, "
    "pair 1 second): the half layout's order.",
)
_INTERLEAVED_MISTAKES = (
    Mistake(lambda x, p, base=1e4: reference_rotate(x, p, base), _NEIGHBOURS),
    Mistake(
        lambda x, p, base=1e4: _turn(x, p, _inv_freq(x.shape[-1], base), layout="interleaved", sign=-1), _SIGN
    ),
    Mistake(lambda x, p, base=1e4: _turn(x, p, _inv_freq(x.shape[-1], base), layout="unmerged"), _IN_PLACE),
    Mistake(
        lambda x, p, base=1e4: reference_rotate_interleaved(x, torch.arange(x.shape[0]), base), _POSITIONS
    ),
    Mistake(lambda x, p, base=1e4: reference_rotate_interleaved(x, p, 10000.0), _BASE),
    Mistake(
        lambda x, p, base=1e4: _turn(
            x, p, _inv_freq(x.shape[-1], base, lambda i: -i / x.shape[-1]), layout="interleaved"
        ),
        _FREQ,
    ),
    *_slips(reference_rotate_interleaved, "interleaved"),
)


def rotate_interleaved(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(x [T, d], positions [T], base) -> [T, d]``: RoPE in RoFormer's interleaved layout, where
    neighbours ``(2i, 2i + 1)`` form pair ``i`` (the variant exercise: the lesson wrote the half layout).
    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.

    >>> rotate_interleaved(reference_rotate_interleaved)
    ✓ rotate_interleaved: all 6 cases pass
    """
    return check(
        "rotate_interleaved",
        fn,
        _rotation_cases(reference_rotate_interleaved, halves=False),
        compare=_close,
        match=_alike,
        hint=_NEIGHBOURS,
        mistakes=_INTERLEAVED_MISTAKES,
        form=_tensor_form,
        errors=[(_table_mismatch, _TABLE)],
        more=more,
        lesson="rope",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 3. position interpolation


def reference_pi_inv_freq(head_dim: int, base: float, factor: float) -> torch.Tensor:
    """Position interpolation's frequencies: the default ones divided by ``factor``.

    >>> reference_pi_inv_freq(4, 100.0, 2.0).tolist()
    [0.5, 0.05000000074505806]
    """
    return rope_parameters(head_dim, base, {"rope_type": "linear", "factor": factor})[0]


_PI = Idea(
    "divide every frequency by factor",
    "PI reads position m as m / factor, so every angle m * theta_i becomes m * theta_i / factor: the "
    "frequencies get SMALLER, all by the same factor",
    more="head_dim 4, base 100, factor 2: plain RoPE has theta = (1, 0.1); PI gives (0.5, 0.05). A model "
    "trained on 256 positions then sees position 512 at the angles it knew for 256.",
)
_PI_BASE = Idea(
    "PI scales positions, not the base",
    "changing the base changes each pair by a different amount (that is NTK's idea); PI divides every "
    "frequency by factor",
    more="head_dim 4, base 100, factor 2: base / factor = 50 gives theta = (1, 0.141): pair 0 is not "
    "slowed at all. PI gives (0.5, 0.05).",
)
_PI_ALL = Idea(
    "every pair alike",
    "PI treats all pairs the same: fast and slow pairs are all divided by factor (YaRN is the method "
    "that treats them differently)",
    more=_PI.more,
)
_PLAIN = Idea(
    "plain frequencies first",
    "theta_i = base ** (-2i / head_dim) for i = 0 .. head_dim/2 - 1; with factor 1 PI changes nothing",
    more=_FREQ.more,
)
_PI_MISTAKES = (
    Mistake(lambda d, base, factor: default_inv_freq(d, base) * factor, _PI),
    Mistake(lambda d, base, factor: default_inv_freq(d, base / factor), _PI_BASE),
    Mistake(lambda d, base, factor: default_inv_freq(d, base * factor), _PI_BASE),
    Mistake(
        lambda d, base, factor: torch.cat(
            [default_inv_freq(d, base)[: d // 4], default_inv_freq(d, base)[d // 4 :] / factor]
        ),
        _PI_ALL,
    ),
    Mistake(lambda d, base, factor: _inv_freq(d, base, lambda i: -i / d) / factor, _FREQ),
    Mistake(lambda d, base, factor: _inv_freq(d, base, lambda i: -4 * i / d) / factor, _FREQ),
)


def pi_inv_freq(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(head_dim, base, factor) -> inv_freq [head_dim // 2]`` for position interpolation.

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    names = ("head_dim", "base", "factor")

    def case(d: int, base: float, factor: float, label: str, hint: Idea) -> Case:
        expected = reference_pi_inv_freq(d, base, factor)
        return Case((d, base, factor), expected, label=label, hint=hint, names=names)

    cases = [
        case(4, 100.0, 1.0, "factor 1 is plain RoPE", _PLAIN),
        case(4, 100.0, 2.0, "factor 2, head_dim 4", _PI),
        case(16, 10000.0, 8.0, "factor 8, head_dim 16: every pair, fast and slow, is divided alike", _PI_ALL),
        case(32, 500000.0, 4.0, "Llama-3's base, factor 4", _PI),
    ]
    return check(
        "pi_inv_freq",
        fn,
        cases,
        compare=_close,
        match=_alike,
        hint=_PI,
        mistakes=_PI_MISTAKES,
        form=_tensor_form,
        more=more,
        lesson="rope",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 4. YaRN's ramp


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


def _ramp(
    head_dim: int,
    base: float,
    original: int,
    beta_fast: float = 32,
    beta_slow: float = 1,
    *,
    rounding: str = "outwards",
    clamp_ends: bool = True,
    top: int | None = None,
    clamp_ramp: bool = True,
    nudge: str = "equal",
    two_pi: bool = True,
    scale: float = 1.0,
    swap: bool = False,
    reverse: bool = False,
    channels: bool = False,
) -> torch.Tensor:
    """The ramp from the formula, with switches for the usual mistakes (the defaults give the right one):
    ``scale`` multiplies dim (a factor 2 dropped or added), ``top`` caps high elsewhere than at
    head_dim - 1, ``nudge`` is "equal", "never" or "always", ``channels`` draws the ramp over the
    channels 0, 2, 4... instead of the pair indices."""
    if swap:
        beta_fast, beta_slow = beta_slow, beta_fast

    def dim(turns: float) -> float:
        circle = 2 * math.pi if two_pi else 1.0
        return scale * head_dim * math.log(original / (turns * circle)) / (2 * math.log(base))

    low, high = dim(beta_fast), dim(beta_slow)
    rounders = {
        "outwards": (math.floor, math.ceil),
        "inwards": (math.ceil, math.floor),
        "down": (math.floor, math.floor),
        "up": (math.ceil, math.ceil),
        "nearest": (round, round),
        "none": (float, float),
    }
    round_low, round_high = rounders[rounding]
    low, high = round_low(low), round_high(high)
    if clamp_ends:
        low, high = max(low, 0), min(high, head_dim - 1 if top is None else top)
    if nudge == "always" or nudge == "equal" and low == high:
        high += 0.001
    index = torch.arange(0, head_dim, 2) if channels else torch.arange(head_dim // 2)
    ramp = (index.float() - low) / (high - low)
    ramp = ramp.clamp(0, 1) if clamp_ramp else ramp
    return 1 - ramp if reverse else ramp


_RAMP_EXAMPLE = (
    "head_dim 16, base 10000, L = 256: dim(32) = 16 * ln(256 / (32 * 2 pi)) / (2 ln 10000) = 0.21 and "
    "dim(1) = 3.22. Rounded outwards, low = 0 and high = 4, so the ramp over the 8 pairs is i / 4, kept "
    "in [0, 1]: (0, 0.25, 0.5, 0.75, 1, 1, 1, 1). Pairs 0 to 3 turn fast enough to keep part of their "
    "frequency; pairs 4 to 7 are interpolated like PI."
)
_DIRECTION = Idea(
    "the ramp rises with the pair index",
    "it is 0 for the first, fast pairs (which keep their frequency) and rises to 1 for the slow ones "
    "(fully interpolated)",
    more=_RAMP_EXAMPLE,
)
_SWAPPED = Idea(
    "beta_fast marks the fast pairs",
    "the pair that turns beta_fast times over the context sits at a LOW index (fast pairs come first): "
    "low comes from beta_fast, high from beta_slow",
    more=_RAMP_EXAMPLE,
)
_ROUNDING = Idea(
    "round low down and high up",
    "the ramp's ends are whole pair indices: low is rounded down and high is rounded up (outwards, so the "
    "ramp covers every pair in between), not to the nearest integer and not left fractional",
    more=_RAMP_EXAMPLE,
)
_CLAMP_RAMP = Idea(
    "the ramp stays in [0, 1]",
    "below low the ramp is 0 and above high it is 1: clamp the straight line between them",
    more=_RAMP_EXAMPLE,
)
_CLAMP_LOW = Idea(
    "low is at least 0",
    "with a short context dim(beta_fast) is negative: no pair turns beta_fast times, so low is clamped "
    "to 0 (and high to head_dim - 1) before the ramp is drawn",
    more="head_dim 16, L = 64: dim(32) = -0.99, rounded down to -1 and clamped to 0; dim(1) = 2.02, "
    "rounded up to 3. The ramp is i / 3: (0, 0.33, 0.67, 1, 1, ...). Without the clamp it would be "
    "(i + 1) / 4, which no longer starts at 0.",
)
_NUDGE = Idea(
    "low == high",
    "when both ends land on the same index the ramp would divide by zero: move high up by 0.001, which "
    "makes the ramp a step from 0 to 1",
    more="head_dim 16, L = 4: dim(32) and dim(1) are both negative, so low = 0 and high = ceil(-0.39) = "
    "0. With high = 0.001 the ramp is (0, 1, 1, ...): pair 0 keeps its frequency, the rest are "
    "interpolated.",
)
_DIM = Idea(
    "the pair for a number of turns",
    "dim(turns) = head_dim * ln(L / (turns * 2 pi)) / (2 ln base): a full turn is 2 pi radians, the logs "
    "are natural, and the betas are the ones you are given",
    more=_RAMP_EXAMPLE,
)
_ONLY_IF_EQUAL = Idea(
    "only when low == high",
    "the 0.001 is added to high ONLY when low and high are equal (to avoid dividing by zero); otherwise "
    "the ramp runs exactly from low to high",
    more=_RAMP_EXAMPLE,
)
_PAIR_INDEX = Idea(
    "one value per pair",
    "the ramp is a function of the pair index i = 0 .. head_dim/2 - 1, the same index that dim(turns) "
    "returns, not of the channel numbers 0, 2, 4 ...",
    more=_RAMP_EXAMPLE,
)
_CAP_HIGH = Idea(
    "high is at most head_dim - 1",
    "HF transformers caps high at head_dim - 1, not at the last pair index head_dim/2 - 1: with a long "
    "context, dim(beta_slow) can lie past the last pair, and then the ramp does not reach 1 within the "
    "pairs",
    more="head_dim 64, base 10000, L = 65536: dim(32) = 20.1 and dim(1) = 32.1, so low = 20 and high = 33, "
    "under the cap of 63. The ramp over the 32 pairs is (i - 20) / 13 kept in [0, 1]: pair 31, the last, "
    "gets 11 / 13 = 0.85. Capping high at 31 would give (i - 20) / 11 instead, and 1 at pair 31.",
)
_RAMP_STEPS = Idea(
    "the ramp, step by step",
    "low is dim(beta_fast) rounded down and high is dim(beta_slow) rounded up; the ramp is 0 up to pair "
    "low, 1 from pair high on, and a straight line in between: compare your low and high with the "
    "worked example (more=True)",
    more=_RAMP_EXAMPLE,
)
_YARN_MISTAKES = (
    Mistake(lambda *a: _ramp(*a, reverse=True), _DIRECTION),
    Mistake(lambda *a: _ramp(*a, swap=True), _SWAPPED),
    Mistake(lambda *a: _ramp(*a, rounding="none"), _ROUNDING),
    Mistake(lambda *a: _ramp(*a, rounding="nearest"), _ROUNDING),
    Mistake(lambda *a: _ramp(*a, rounding="inwards"), _ROUNDING),
    Mistake(lambda *a: _ramp(*a, rounding="down"), _ROUNDING),
    Mistake(lambda *a: _ramp(*a, rounding="up"), _ROUNDING),
    Mistake(lambda *a: _ramp(*a, clamp_ramp=False), _CLAMP_RAMP),
    Mistake(lambda *a: _ramp(*a, clamp_ends=False), _CLAMP_LOW),
    Mistake(lambda *a: _ramp(*a, nudge="never"), _NUDGE),
    Mistake(lambda *a: _ramp(*a, nudge="always"), _ONLY_IF_EQUAL),
    Mistake(lambda *a: _ramp(*a, two_pi=False), _DIM),
    Mistake(lambda *a: _ramp(*a, scale=2.0), _DIM),
    Mistake(lambda *a: _ramp(*a, scale=0.5), _DIM),
    Mistake(lambda *a: _ramp(*a, channels=True), _PAIR_INDEX),
    Mistake(lambda d, *a: _ramp(d, *a, top=d // 2 - 1), _CAP_HIGH),
    Mistake(lambda d, b, L, fast=32, slow=1: _ramp(d, b, L), _DIM),
)


def yarn_ramp(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(head_dim, base, original_max_position_embeddings, beta_fast, beta_slow) -> ramp``.

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    names = ("head_dim", "base", "original_max_position_embeddings", "beta_fast", "beta_slow")

    def case(d: int, base: float, L: int, fast: float, slow: float, label: str, hint: Idea) -> Case:
        expected = reference_yarn_ramp(d, base, L, fast, slow)
        return Case((d, base, L, fast, slow), expected, label=label, hint=hint, names=names)

    cases = [
        case(16, 10000.0, 256, 32, 1, "head_dim 16, context 256, betas 32 and 1", _RAMP_STEPS),
        case(32, 10000.0, 256, 32, 1, "head_dim 32, context 256: the lesson's model", _SWAPPED),
        case(64, 10000.0, 4096, 32, 1, "head_dim 64, context 4096 (Llama-2-like)", _ROUNDING),
        case(64, 10000.0, 4096, 16, 2, "other betas: 16 and 2", _DIM),
        case(16, 10000.0, 64, 32, 1, "a short context: dim(beta_fast) < 0", _CLAMP_LOW),
        case(16, 10000.0, 4, 32, 1, "a tiny context: low == high", _NUDGE),
        case(64, 10000.0, 65536, 32, 1, "a long context (65536): high lies past the last pair", _CAP_HIGH),
    ]
    return check(
        "yarn_ramp",
        fn,
        cases,
        compare=_close,
        match=_alike,
        hint=_DIRECTION,
        mistakes=_YARN_MISTAKES,
        form=_tensor_form,
        errors=[(ZeroDivisionError, _NUDGE)],
        more=more,
        lesson="rope",
        raise_on_fail=raise_on_fail,
    )


__all__ = [
    "pi_inv_freq",
    "reference_pi_inv_freq",
    "reference_rotate",
    "reference_rotate_interleaved",
    "reference_yarn_ramp",
    "rotate",
    "rotate_interleaved",
    "yarn_ramp",
]
