"""Checks for lesson 3 (entropy patching): one per exercise, each comparing the learner's function with
:mod:`bltlib.entropy` / :mod:`bltlib.patching` on a handful of cases, the edge cases first.

In a notebook: ``checks.entropy.global_starts(global_starts)`` prints a pass line, or stops at the first
wrong case with the input, the expected and the actual value, and a hint (:class:`CheckFailed`).
``raise_on_fail=False`` returns the :class:`CheckResult` instead.

>>> from bltlib.patching import entropy_patch_starts
>>> global_starts(lambda e, threshold: entropy_patch_starts(e, threshold))
✓ global_starts: all 7 cases pass
>>> global_starts(lambda e, threshold: [0, 1][: len(e)], raise_on_fail=False).case_index  # forced only
3
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bltlib import entropy, patching
from bltlib.checks.core import Case, CheckResult, check
from bltlib.data import blt_golden_example

_HINT_NATS = "entropy in nats: -sum(p * log p) with the natural log (torch.log / log_softmax), not log2"
_HINT_STABLE = (
    "exp() of a large logit overflows to inf (inf / inf = NaN), and 0 * log(0) is NaN too: take "
    "log_p = torch.log_softmax(logits, dim=-1), which subtracts the max first, then -(log_p.exp() * log_p)"
)
_HINT_FORCED = "tokens 0 and 1 always start a patch ([BOS] is a patch of its own): begin with [0, 1]"
_HINT_INDEX = (
    "entropies[i] is the uncertainty about token i + 1, so token t starts a patch iff "
    "entropies[t - 1] > threshold (not entropies[t])"
)


def _random_entropies(n: int, seed: int) -> np.ndarray:
    # Mostly low, sometimes high, like a byte model's entropies; rounded so the repr stays readable.
    return np.random.default_rng(seed).gamma(1.2, 1.0, size=n).round(3)


# ----------------------------------------------------------------------------- entropy from logits


def _same_tensor(actual: Any, expected: torch.Tensor) -> bool:
    """A tensor of the expected shape, finite, equal to 1e-4 (float32 is enough for entropies)."""
    return (
        isinstance(actual, torch.Tensor)
        and actual.shape == expected.shape
        and bool(torch.isfinite(actual).all())
        and torch.allclose(actual.double(), expected.double(), atol=1e-4, rtol=1e-4)
    )


def entropy_from_logits(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(logits) -> entropies``: Shannon entropy in nats over the last axis, stable for any logit."""
    g = torch.Generator().manual_seed(0)
    batch = torch.randn(2, 3, 260, generator=g) * 3
    special = torch.zeros(260)
    special[257:] = 8.0  # most of the mass on the special ids (>= 256): they are classes too

    def case(logits: torch.Tensor, label: str, hint: str = "") -> Case:
        return Case((logits,), entropy.entropy_from_logits(logits), label=label, hint=hint)

    big = torch.zeros(260)
    big[0] = 1000.0
    cases = [
        case(
            torch.zeros(260),
            "uniform over 260 ids: ln 260 = 5.5607 nats",
            _HINT_NATS + "; and over all 260 classes (only 256 would give ln 256 = 5.5452)",
        ),
        case(torch.tensor([0.0, 0.0]), "two equally likely classes: ln 2 = 0.6931", _HINT_NATS),
        case(big, "one huge logit (1000): exp overflows", _HINT_STABLE),
        case(torch.tensor([0.0, -1e4]), "a certain prediction: entropy 0", _HINT_STABLE),
        case(
            batch,
            "a batch [2, 3, 260] -> [2, 3]",
            "reduce over the LAST axis only (dim=-1): one entropy per position",
        ),
        case(
            special,
            "mass on the special ids 256-259",
            "sum over all 260 classes, not just the 256 bytes: the model can predict BOS/EOS too",
        ),
    ]
    return check(
        "entropy_from_logits",
        fn,
        cases,
        compare=_same_tensor,
        hint="return a tensor of entropies (nats), one per row of logits",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- the patching rules


def _same_starts(actual: Any, expected: list[int]) -> bool:
    """A list (or tuple / 1-D int array) of int positions equal to ``expected``."""
    if isinstance(actual, np.ndarray):
        if actual.ndim != 1 or not np.issubdtype(actual.dtype, np.integer):
            return False
        actual = actual.tolist()
    if not isinstance(actual, list | tuple):
        return False
    return (
        all(isinstance(x, int | np.integer) and not isinstance(x, bool) for x in actual)
        and [int(x) for x in actual] == expected
    )


def global_starts(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(entropies, threshold) -> starts``: the global rule, with the forced starts 0 and 1."""
    gold = blt_golden_example()
    gold_e = np.array(gold["entropies"])
    tie = np.array([0.5, 1.0, 2.0, 0.1])

    def case(e: np.ndarray, threshold: float, label: str, hint: str = "") -> Case:
        expected = patching.entropy_patch_starts(e, threshold)
        return Case((e, threshold), expected, label=label, hint=hint)

    cases = [
        case(np.array([4.0]), 1.0, "one token: only position 0", "starts must be positions of the sequence"),
        case(np.array([0.1, 0.1]), 1.0, "two tokens, both forced", _HINT_FORCED),
        case(np.array([0.1, 0.1, 0.1, 0.1]), 1.0, "low entropies: only the forced starts", _HINT_FORCED),
        case(np.array([0.1, 0.2, 3.0, 0.1, 0.2]), 1.0, "one spike", _HINT_INDEX),
        case(
            tie,
            1.0,
            "an entropy equal to the threshold",
            "the rule is strict: a patch starts when the entropy is ABOVE the threshold (>), not >=",
        ),
        case(_random_entropies(40, 1), 1.5, "40 random entropies", _HINT_INDEX),
        case(gold_e, gold["threshold"], "the official BLT example: 23 patches", _HINT_INDEX),
    ]
    return check(
        "global_starts",
        fn,
        cases,
        compare=_same_starts,
        hint="return the sorted list of start positions",
        raise_on_fail=raise_on_fail,
    )


def monotonic_starts(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(entropies, threshold) -> starts``: the monotonic rule (a rise in entropy opens a patch)."""
    rise = (
        "token t >= 3 starts a patch iff entropies[t - 1] - entropies[t - 2] > threshold: a jump up "
        "in uncertainty, whatever its level"
    )
    forced = "tokens 0, 1 and 2 always start (token 2 has no earlier rise to compare): begin with [0, 1, 2]"

    def case(e: np.ndarray, threshold: float, label: str, hint: str = rise) -> Case:
        expected = patching.entropy_patch_starts(e, threshold, monotonic=True)
        return Case((e, threshold), expected, label=label, hint=hint)

    cases = [
        case(np.array([4.0]), 0.5, "one token", "starts must be positions of the sequence"),
        case(np.array([0.1, 0.1, 0.1]), 0.5, "three tokens: all forced", forced),
        case(np.array([0.1, 0.1, 0.1, 0.1, 0.1]), 0.5, "flat entropies: only the forced starts", forced),
        case(
            np.array([3.0, 3.0, 3.0, 3.0, 0.5]),
            0.5,
            "high but flat: no new patch",
            "the monotonic rule thresholds the RISE e[t-1] - e[t-2], not the level e[t-1]",
        ),
        case(np.array([0.1, 0.2, 0.3, 2.0, 2.1, 0.1]), 0.5, "one jump"),
        case(_random_entropies(40, 2), 0.8, "40 random entropies"),
    ]
    return check(
        "monotonic_starts",
        fn,
        cases,
        compare=_same_starts,
        hint="return the sorted list of start positions",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Calibration:
    """A threshold and what the global rule makes of it on one sequence (shown in failure messages)."""

    threshold: float
    patches: int
    n_tokens: int

    def __repr__(self) -> str:
        size = self.n_tokens / self.patches
        return f"threshold {self.threshold:.4f} -> {self.patches} patches ({size:.2f} tokens per patch)"


def _calibration(e: np.ndarray, threshold: float) -> Calibration:
    return Calibration(float(threshold), len(patching.entropy_patch_starts(e, threshold)), len(e))


def _close_count(actual: Any, expected: Calibration) -> bool:
    # Any threshold whose patch count is within 2% (at least 2 patches) of the best one is right: a
    # quantile is as good as the reference's exact search.
    return isinstance(actual, Calibration) and abs(actual.patches - expected.patches) <= max(
        2, 0.02 * expected.patches
    )


def calibrate(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(entropies, target_patch_size) -> threshold`` for the global rule: the threshold whose
    patches average about ``target_patch_size`` tokens on this sequence."""
    quantile = (
        "a higher threshold gives FEWER, longer patches: about n / target positions should start a "
        "patch, so about 1 / target of the entropies lie above the threshold, i.e. it is the "
        "(1 - 1 / target) quantile, np.quantile(entropies, 1 - 1 / target)"
    )

    def learner(e: np.ndarray, target: float) -> Calibration:
        threshold = fn(e, target)
        if isinstance(threshold, torch.Tensor | np.ndarray) and threshold.size == 1:
            threshold = threshold.item()
        if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating):
            raise TypeError(f"return one number (the threshold), got {type(threshold).__name__}")
        if math.isnan(threshold):
            raise ValueError("the threshold is NaN")
        return _calibration(e, threshold)

    def case(e: np.ndarray, target: float, label: str) -> Case:
        best = patching.calibrate_threshold(e, target)
        return Case((e, target), _calibration(e, best), label=label, hint=quantile)

    gold = np.array(blt_golden_example()["entropies"])
    cases = [
        case(_random_entropies(5000, 3), 4.5, "5000 entropies, target 4.5 (BLT's default)"),
        case(_random_entropies(5000, 4), 2.0, "target 2"),
        case(_random_entropies(5000, 5), 8.0, "target 8"),
        case(gold, 81 / 23, "the official example: 81 tokens in about 23 patches"),
    ]
    return check(
        "calibrate", learner, cases, compare=_close_count, hint=quantile, raise_on_fail=raise_on_fail
    )


__all__ = ["Calibration", "calibrate", "entropy_from_logits", "global_starts", "monotonic_starts"]
