"""Checks for lesson 3 (entropy patching): one per exercise, each comparing the learner's function with
:mod:`bltlib.entropy` / :mod:`bltlib.patching` on a handful of cases, the edge cases first.

In a notebook: ``checks.entropy.global_starts(global_starts)`` prints a pass line, or stops at the first
wrong case with a short summary of the input, the expected and the actual value, and a hint that names
the idea that is wrong (the answer is compared with known mistakes: bits instead of nats, an overflowing
softmax, no forced starts, the entropy of the wrong token, the wrong side of a quantile...).
``more=True`` adds a worked example of that idea and the verdict on every case; no message shows the
solution's code. ``raise_on_fail=False`` returns the :class:`CheckResult` instead of raising.

>>> from bltlib.patching import entropy_patch_starts
>>> global_starts(lambda e, threshold: entropy_patch_starts(e, threshold))
✓ global_starts: all 7 cases pass
>>> global_starts(lambda e, threshold: [0, 1][: len(e)], raise_on_fail=False).idea.name  # forced only
'a patch starts where the model is unsure'
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bltlib import entropy, patching
from bltlib.checks.core import Case, CheckResult, Idea, Mistake, a_type, check
from bltlib.data import blt_golden_example


def _random_entropies(n: int, seed: int) -> np.ndarray:
    # Mostly low, sometimes high, like a byte model's entropies; rounded so the values stay readable.
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


def _alike(actual: Any, wrong: Any) -> bool:
    """The learner's answer is a known mistake's: the same values, NaN where it has NaN."""
    return (
        isinstance(actual, torch.Tensor)
        and isinstance(wrong, torch.Tensor)
        and actual.shape == wrong.shape
        and torch.allclose(actual.double(), wrong.double(), atol=1e-4, rtol=1e-4, equal_nan=True)
    )


def _entropy_of(
    logits: torch.Tensor, *, dim: int = -1, unit: float = 1.0, classes: int | None = None
) -> torch.Tensor:
    logits = logits.float() if classes is None else logits.float()[..., :classes]
    log_p = torch.log_softmax(logits, dim=dim)
    return -(log_p.exp() * log_p).sum(dim) / unit


def _naive(logits: torch.Tensor) -> torch.Tensor:
    p = logits.float().exp() / logits.float().exp().sum(-1, keepdim=True)
    return -(p * p.log()).sum(-1)


def _softmax_then_log(logits: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(logits.float(), dim=-1)
    return -(p * p.log()).sum(-1)


_ENTROPY_EXAMPLE = (
    "Two classes with logits (0, 0): p = (0.5, 0.5) and H = -(0.5 ln 0.5 + 0.5 ln 0.5) = ln 2 = 0.693 "
    "nats. Uniform over 260 classes: H = ln 260 = 5.561 nats. A certain prediction, p = (1, 0): H = 0, "
    "as a class with p = 0 adds nothing (p ln p tends to 0)."
)
_NATS = Idea(
    "entropy in nats",
    "the lesson measures entropy with the natural log (nats), like the cross-entropy loss; log2 gives "
    "bits, which are ln 2 = 0.693 times as many nats",
    more=_ENTROPY_EXAMPLE,
)
_ALL_CLASSES = Idea(
    "all 260 classes",
    "the softmax and the sum run over every class of the last axis: the byte models predict 4 special "
    "ids (0-3) as well as the 256 bytes (byte b is id b + 4), and every one of them is a class",
    more="Uniform logits over 260 classes give ln 260 = 5.561 nats. A softmax over only 256 of them (the "
    "first 256, or ids 4-259) gives ln 256 = 5.545: it drops four of the 260 classes, whatever they are, "
    "and renormalises away their probability. The first 256 ids are the 4 special ids and bytes 0-251, so "
    "keeping them drops bytes 252-255.",
)
_OVERFLOW = Idea(
    "exp overflows",
    "exp(1000) is inf in float32 (past about exp(88)), and inf / inf is NaN: compute the log-"
    "probabilities without exponentiating large logits, using that a softmax does not change when "
    "every logit moves by the same amount",
    more="Logits (1000, 1000): subtract the largest, 1000, to get (0, 0); the probabilities are "
    "(0.5, 0.5) and H = ln 2 = 0.693, exactly as for logits (0, 0). PyTorch has a function that returns "
    "log-probabilities computed this way, without ever forming exp(1000).",
)
_ZERO_LOG_ZERO = Idea(
    "0 * log 0",
    "a class with probability 0 adds nothing to the entropy, but 0 * log(0) = 0 * -inf is NaN: take the "
    "log of the probabilities from log-probabilities computed directly (finite for any logit), not from "
    "log(softmax), which is -inf where softmax rounds to 0",
    more="Logits (0, -10000): p = (1, e**-10000), and e**-10000 rounds to 0 in float32, so log p = -inf "
    "and p * log p = NaN. The log-probability itself is finite, -10000, and p * log p = 0 * -10000 = 0. "
    "H = 0: a certain prediction.",
)
_LAST_AXIS = Idea(
    "one entropy per position",
    "logits [..., V]: the softmax and the sum run over the LAST axis only, so a [2, 3, 260] batch gives "
    "[2, 3] entropies",
    more="A batch of 2 rows of 3 positions holds 6 predictions, each a distribution over 260 classes: "
    "6 entropies, in the shape [2, 3].",
)
_SUM = Idea(
    "sum over the classes",
    "H = -sum over v of p_v log p_v: add up the terms of all classes; a mean divides the entropy by the "
    "number of classes",
    more=_ENTROPY_EXAMPLE,
)
_MINUS = Idea(
    "the minus sign",
    "log p is at most 0 for a probability p, so the sum of p log p is negative (or 0); the entropy is "
    "MINUS that sum, never negative",
    more=_ENTROPY_EXAMPLE,
)
_LOG_P = Idea(
    "log-probabilities, not logits",
    "each class's term is p_v times log p_v, the log of its softmax probability, not its raw logit: a "
    "logit is a log-probability only up to a shift shared by every class (the log of the softmax's "
    "denominator)",
    more="Logits (0, 0): p = (0.5, 0.5) and log p = (-0.693, -0.693), so H = 0.693. With the logits in "
    "place of log p every term is 0.5 * 0 and the sum is 0. Logits (3, 3) give the same p and the same "
    "H, though the logits differ: only log p counts.",
)
_WEIGHT = Idea(
    "weight by the probability",
    "H = -sum over v of p_v log p_v: each class's log-probability counts in proportion to its "
    "probability; a plain sum of the log-probabilities is not an entropy (it grows with every unlikely "
    "class)",
    more="Logits (0, 0): -(0.5 ln 0.5 + 0.5 ln 0.5) = 0.693, while -(ln 0.5 + ln 0.5) = 1.386. Uniform "
    "over 260 classes: ln 260 = 5.561, while the unweighted sum is 260 * ln 260 = 1445.8.",
)
_FORMULA = Idea(
    "the entropy formula",
    "H = -sum over v of p_v ln p_v, with p = softmax(logits) over the last axis: uniform logits over 260 "
    "classes give every class p = 1/260 and H = ln 260 = 5.5607 nats",
    more=_ENTROPY_EXAMPLE,
)
_ENTROPY_MISTAKES = (
    Mistake(lambda lg: _entropy_of(lg, unit=math.log(2)), _NATS),
    Mistake(lambda lg: _entropy_of(lg, unit=lg.shape[-1]), _SUM),
    Mistake(lambda lg: _entropy_of(lg, unit=math.log(10)), _NATS),
    Mistake(lambda lg: _entropy_of(lg, classes=256), _ALL_CLASSES),
    Mistake(lambda lg: _entropy_of(lg[..., 4:]), _ALL_CLASSES),
    Mistake(_naive, _OVERFLOW),
    Mistake(_softmax_then_log, _ZERO_LOG_ZERO),
    Mistake(lambda lg: _entropy_of(lg, dim=0), _LAST_AXIS),
    Mistake(lambda lg: -_entropy_of(lg), _MINUS),
    Mistake(lambda lg: -(torch.softmax(lg.float(), dim=-1) * lg.float()).sum(-1), _LOG_P),
    Mistake(lambda lg: -torch.log_softmax(lg.float(), dim=-1).sum(-1), _WEIGHT),
)


def _entropy_form(actual: Any, expected: torch.Tensor) -> Idea | None:
    if not isinstance(actual, torch.Tensor):
        return Idea("return a tensor", f"a tensor of entropies, not {a_type(actual)}", _LAST_AXIS.more)
    if actual.shape != expected.shape:
        return Idea(
            "one entropy per position",
            f"the answer has shape {list(actual.shape)}, expected {list(expected.shape)}: the logits' shape "
            "without its last axis",
            more=_LAST_AXIS.more,
        )
    if not bool(torch.isfinite(actual).all()):
        return Idea(
            "finite values", "the answer holds NaN or inf", more=_OVERFLOW.more + " " + _ZERO_LOG_ZERO.more
        )
    return None


def entropy_from_logits(
    fn: Callable, *, raise_on_fail: bool = True, more: bool = False
) -> CheckResult | None:
    """Check ``fn(logits) -> entropies``: Shannon entropy in nats over the last axis, stable for any logit.

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    g = torch.Generator().manual_seed(0)
    batch = torch.randn(2, 3, 260, generator=g) * 3
    last_four = torch.zeros(260)
    last_four[256:] = 8.0  # most of the mass on ids 256-259 (bytes 252-255): the classes a [:256] drops
    big = torch.zeros(260)
    big[0] = 1000.0

    def case(logits: torch.Tensor, label: str, hint: Idea) -> Case:
        return Case((logits,), entropy.entropy_from_logits(logits), label=label, hint=hint, names=("logits",))

    cases = [
        case(torch.zeros(260), "uniform over 260 ids: ln 260 = 5.5607 nats", _FORMULA),
        case(torch.tensor([0.0, 0.0]), "two equally likely classes: ln 2 = 0.6931", _NATS),
        case(torch.tensor([1000.0, 1000.0]), "two huge equal logits: still ln 2", _OVERFLOW),
        case(torch.tensor([0.0, -1e4]), "a certain prediction: entropy 0", _ZERO_LOG_ZERO),
        case(big, "one huge logit (1000) among 260", _OVERFLOW),
        case(batch, "a batch [2, 3, 260] -> [2, 3]", _LAST_AXIS),
        case(last_four, "mass on the last four ids: 256-259, bytes 252-255", _ALL_CLASSES),
    ]
    return check(
        "entropy_from_logits",
        fn,
        cases,
        compare=_same_tensor,
        match=_alike,
        hint=Idea("entropy", "return a tensor of entropies (nats), one per row of logits", _ENTROPY_EXAMPLE),
        mistakes=_ENTROPY_MISTAKES,
        form=_entropy_form,
        more=more,
        lesson="entropy",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- the patching rules


def _as_ints(actual: Any) -> list[int] | None:
    """A list (or tuple / 1-D int array) of ints as a list, else None."""
    if isinstance(actual, np.ndarray):
        if actual.ndim != 1 or not np.issubdtype(actual.dtype, np.integer):
            return None
        actual = actual.tolist()
    if not isinstance(actual, list | tuple):
        return None
    if not all(isinstance(x, int | np.integer) and not isinstance(x, bool) for x in actual):
        return None
    return [int(x) for x in actual]


def _same_ints(actual: Any, expected: list[int]) -> bool:
    return _as_ints(actual) == expected


def _kind(actual: Any) -> str:
    """What an answer that is not a list of ints is, with its article: 'a float64 array', 'a list
    holding a float (0.0)', 'a set'."""
    if isinstance(actual, np.ndarray):
        return f"a {actual.dtype} array"
    if isinstance(actual, list | tuple):
        bad = next((x for x in actual if isinstance(x, bool) or not isinstance(x, int | np.integer)), None)
        if bad is not None:
            return f"a {type(actual).__name__} holding {a_type(bad)} ({bad!r})"
    return a_type(actual)


def _ints_form(what: str, starts: bool = False) -> Callable[[Any, list], Idea | None]:
    def form(actual: Any, expected: list) -> Idea | None:
        ints = _as_ints(actual)
        if ints is None:
            return Idea(
                f"return a list of {what}",
                f"a list of ints (a 1-D integer array is fine too), not {_kind(actual)}",
                more=f"For example [0, 1, 3]: the {what} as plain ints (a 1-D integer array is fine too); a "
                "mask of True/False per position, or floats, are not.",
            )
        if starts and len(set(ints)) < len(ints):
            return _ONCE
        if starts and ints != sorted(ints):
            return _SORTED
        return None

    return form


_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt}


def _global(
    e: np.ndarray, threshold: float, *, forced: int | None = 2, shift: int = 1, op: str = ">"
) -> list[int]:
    """The global rule with switches for the usual mistakes (the defaults give the right starts)."""
    n = len(e)
    start = forced if forced is not None else 1
    keep = _OPS[op]
    found = [t for t in range(start, n) if 0 <= t - shift < n and keep(e[t - shift], threshold)]
    head = list(range(min(n, forced))) if forced is not None else []
    return head + found


_RULE_EXAMPLE = (
    "Entropies (0.1, 0.2, 3.0, 0.1, 0.2) for the tokens [BOS] A B C D, threshold 1: tokens 0 and 1 "
    "always start. entropies[i] is the uncertainty about token i + 1, so token t looks at entropies[t - 1]: "
    "token 2 at 0.2 (no), token 3 at 3.0 (yes: the model was unsure about token 3), token 4 at 0.1 (no). "
    "Starts [0, 1, 3]."
)
_ONCE = Idea(
    "each start once",
    "a position starts at most one patch: listed twice, it would make an empty patch. The forced starts "
    "are not tested again: the test of the entropies begins at the first token after them",
    more=_RULE_EXAMPLE,
)
_SORTED = Idea(
    "in increasing order",
    "return the starts sorted, from 0 to the last one: the patches follow each other along the sequence",
    more=_RULE_EXAMPLE,
)


_FORCED = Idea(
    "tokens 0 and 1 always start",
    "[BOS] (token 0) is a patch of its own and token 1 starts the first patch of bytes, whatever the "
    "entropies say",
    more=_RULE_EXAMPLE,
)
_ONE_TOKEN = Idea(
    "starts lie inside the sequence",
    "a sequence of n tokens has start positions 0 .. n - 1 only: one token has the single start [0]",
    more="Entropies (4.0,) describe a sequence of one token, [BOS]: its only patch starts at 0. Token 1 "
    "does not exist, so it cannot start a patch.",
)
_INDEX = Idea(
    "the entropy of the token before",
    "entropies[i] is the uncertainty about token i + 1, so token t starts a patch when entropies[t - 1] "
    "is above the threshold, not entropies[t]",
    more=_RULE_EXAMPLE,
)
_STRICT = Idea(
    "strictly above",
    "a patch starts when the entropy is ABOVE the threshold (>); an entropy equal to it does not start one",
    more="Entropies (0.5, 1.0, 2.0, 0.1), threshold 1.0: token 2 looks at 1.0, equal to the threshold: no "
    "start. Token 3 looks at 2.0: start. Answer [0, 1, 3].",
)
_UNSURE = Idea(
    "a patch starts where the model is unsure",
    "a HIGH entropy (above the threshold) means the next token is hard to predict, so a new patch starts "
    "there; predictable stretches stay together in one patch",
    more=_RULE_EXAMPLE,
)
_LAST_TOKEN = Idea(
    "up to the last token",
    "every token from 2 to n - 1 can start a patch, the last one too (it looks at entropies[n - 2]); only "
    "entropies[n - 1], the uncertainty about a token after the sequence, is never used",
    more=_RULE_EXAMPLE,
)
_GLOBAL_MISTAKES = (
    Mistake(lambda e, th: _global(e, th, shift=0), _INDEX),
    Mistake(lambda e, th: _global(e, th, shift=-1), _INDEX),
    Mistake(lambda e, th: [t for t in _global(e, th) if t < max(2, len(e) - 1)], _LAST_TOKEN),
    Mistake(lambda e, th: _global(e, th, forced=None), _FORCED),
    Mistake(lambda e, th: [t for t in range(2, len(e)) if e[t - 1] > th], _FORCED),
    Mistake(lambda e, th: [0, 1] + _global(e, th)[2:], _ONE_TOKEN),
    Mistake(lambda e, th: _global(e, th, op=">="), _STRICT),
    Mistake(lambda e, th: _global(e, th, op="<"), _UNSURE),
    Mistake(lambda e, th: list(range(min(len(e), 2))), _UNSURE),
)


def global_starts(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(entropies, threshold) -> starts``: the global rule, with the forced starts 0 and 1.

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    gold = blt_golden_example()
    gold_e = np.array(gold["entropies"])
    names = ("entropies", "threshold")

    def case(e: np.ndarray, threshold: float, label: str, hint: Idea) -> Case:
        expected = patching.entropy_patch_starts(e, threshold)
        return Case((e, threshold), expected, label=label, hint=hint, names=names)

    cases = [
        case(np.array([4.0]), 1.0, "one token: only position 0", _ONE_TOKEN),
        case(np.array([0.1, 0.1]), 1.0, "two tokens, both forced", _FORCED),
        case(np.array([0.1, 0.1, 0.1, 0.1]), 1.0, "low entropies: only the forced starts", _FORCED),
        case(np.array([0.1, 0.2, 3.0, 0.1, 0.2]), 1.0, "one spike", _INDEX),
        case(np.array([0.5, 1.0, 2.0, 0.1]), 1.0, "an entropy equal to the threshold", _STRICT),
        case(_random_entropies(40, 1), 1.5, "40 random entropies", _INDEX),
        case(gold_e, gold["threshold"], "the official BLT example: 23 patches", _INDEX),
    ]
    return check(
        "global_starts",
        fn,
        cases,
        compare=_same_ints,
        hint=_INDEX,
        mistakes=_GLOBAL_MISTAKES,
        form=_ints_form("start positions", starts=True),
        more=more,
        lesson="entropy",
        raise_on_fail=raise_on_fail,
    )


def _monotonic(
    e: np.ndarray, threshold: float, *, forced: int = 3, shift: int = 1, rise: str = "up", op: str = ">"
) -> list[int]:
    n = len(e)
    change = {
        "up": lambda t: e[t - shift] - e[t - shift - 1],
        "abs": lambda t: abs(e[t - shift] - e[t - shift - 1]),
        "level": lambda t: e[t - shift],
    }[rise]
    above = _OPS[op]
    head = list(range(min(n, forced)))
    return head + [t for t in range(3, n) if t - shift < n and above(change(t), threshold)]


_RISE_EXAMPLE = (
    "Entropies (0.1, 0.2, 0.3, 2.0, 2.1, 0.1), threshold 0.5: tokens 0, 1, 2 always start. Token t "
    "looks at the rise from position t - 2 to position t - 1: token 3 at 0.3 - 0.2 = 0.1 (no), token 4 at "
    "2.0 - 0.3 = 1.7 (yes), token 5 at 2.1 - 2.0 = 0.1 (no: still high, but flat). Starts [0, 1, 2, 4]."
)
_FORCED3 = Idea(
    "tokens 0, 1 and 2 always start",
    "token 2 has no earlier rise to compare with (it would need entropies[0] - entropies[-1]), so the "
    "monotonic rule always starts a patch there too",
    more=_RISE_EXAMPLE,
)
_RISE = Idea(
    "a RISE, not a level",
    "the monotonic rule thresholds the JUMP in entropy from position t - 2 to position t - 1, however high "
    "or low the entropy itself is: a flat stretch of high entropy opens no new patch",
    more=_RISE_EXAMPLE,
)
_UP = Idea(
    "a rise, not any change",
    "only an INCREASE in uncertainty opens a patch; a drop (a negative difference) never does",
    more=_RISE_EXAMPLE,
)
_RISE_INDEX = Idea(
    "the rise before the token",
    "token t compares the two entropies just before it, at positions t - 1 and t - 2: the uncertainty "
    "about token t minus the uncertainty about token t - 1",
    more=_RISE_EXAMPLE,
)
_STRICT_RISE = Idea(
    "strictly above",
    "a patch starts when the rise is ABOVE the threshold (>); a rise equal to it does not start one",
    more="Entropies (0.25, 0.25, 0.25, 0.75, 0.75), threshold 0.5: token 3 looks at 0.25 - 0.25 = 0 (no), "
    "token 4 at 0.75 - 0.25 = 0.5, equal to the threshold (no). Only the forced starts: [0, 1, 2].",
)
_MONOTONIC_MISTAKES = (
    Mistake(lambda e, th: _monotonic(e, th, forced=2), _FORCED3),
    Mistake(lambda e, th: _global(e, th), _RISE),
    Mistake(lambda e, th: _monotonic(e, th, rise="level"), _RISE),
    Mistake(lambda e, th: _monotonic(e, th, rise="abs"), _UP),
    Mistake(lambda e, th: _monotonic(e, th, shift=0), _RISE_INDEX),
    Mistake(lambda e, th: _monotonic(e, th, op=">="), _STRICT_RISE),
    Mistake(
        lambda e, th: list(range(min(len(e), 3))) + [t for t in range(3, len(e) - 1) if e[t] - e[t - 1] > th],
        _RISE_INDEX,
    ),
)


def monotonic_starts(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(entropies, threshold) -> starts``: the monotonic rule (a rise in entropy opens a patch).

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    names = ("entropies", "threshold")

    def case(e: np.ndarray, threshold: float, label: str, hint: Idea = _RISE) -> Case:
        expected = patching.entropy_patch_starts(e, threshold, monotonic=True)
        return Case((e, threshold), expected, label=label, hint=hint, names=names)

    cases = [
        case(np.array([4.0]), 0.5, "one token", _ONE_TOKEN),
        case(np.array([0.1, 0.1, 0.1]), 0.5, "three tokens: all forced", _FORCED3),
        case(np.array([0.1, 0.1, 0.1, 0.1, 0.1]), 0.5, "flat entropies: only the forced starts", _FORCED3),
        case(np.array([3.0, 3.0, 3.0, 3.0, 0.5]), 0.5, "high but flat: no new patch", _RISE),
        case(np.array([0.1, 2.0, 0.1, 0.1, 0.1]), 0.5, "a drop opens no patch", _UP),
        case(np.array([0.25, 0.25, 0.25, 0.75, 0.75]), 0.5, "a rise equal to the threshold", _STRICT_RISE),
        case(np.array([0.1, 0.2, 0.3, 2.0, 2.1, 0.1]), 0.5, "one jump", _RISE_INDEX),
        case(_random_entropies(40, 2), 0.8, "40 random entropies", _RISE_INDEX),
    ]
    return check(
        "monotonic_starts",
        fn,
        cases,
        compare=_same_ints,
        hint=_RISE,
        mistakes=_MONOTONIC_MISTAKES,
        form=_ints_form("start positions", starts=True),
        more=more,
        lesson="entropy",
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


def _as_calibration(fn: Callable) -> Callable[[np.ndarray, float], Calibration]:
    """``fn``'s threshold, as the patches it gives (so that a message shows what the threshold does)."""

    def calibrated(e: np.ndarray, target: float) -> Calibration:
        threshold = fn(e, target)
        if isinstance(threshold, torch.Tensor) and threshold.numel() == 1:  # Tensor.size is a method
            threshold = threshold.item()
        if isinstance(threshold, np.ndarray) and threshold.size == 1:
            threshold = threshold.item()
        if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating):
            raise TypeError(f"return one number (the threshold), got {type(threshold).__name__}")
        if math.isnan(threshold):
            raise ValueError("the threshold is NaN")
        return _calibration(e, threshold)

    calibrated.__name__ = getattr(fn, "__name__", "calibrate")
    return calibrated


_ABOVE = Idea(
    "the fraction ABOVE the threshold",
    "a higher threshold gives FEWER, longer patches. Patches of about s tokens mean about one position in "
    "s starts a patch, so about a fraction 1/s of the entropies must lie ABOVE the threshold; a quantile "
    "q is the value with a fraction q BELOW it",
    more="5000 entropies, target 4: about 5000 / 4 = 1250 patches, so about 1250 entropies (25%) above "
    "the threshold and 3750 (75%) below it: the threshold is the value that 75% of the entropies lie "
    "under. A threshold with 25% of the entropies below it would start a patch at 75% of the positions: "
    "patches of about 1.3 tokens.",
)
_PERCENT = Idea(
    "a fraction, not a percent",
    "np.quantile takes q as a fraction in [0, 1]; np.percentile takes percent in [0, 100]: passing a "
    "fraction to percentile picks a threshold near the minimum",
    more="The value with 75% of the entropies below it is the 0.75 quantile, which is the 75th "
    "percentile: a quantile function wants 0.75, a percentile function wants 75. Given 0.75, a percentile "
    "function returns the value with 0.75% below it, and nearly every position would start a patch.",
)
_TARGET = Idea(
    "the threshold depends on the target",
    "a mean or a median is the same whatever the target patch size: the threshold must move with the "
    "target (higher for longer patches)",
    more=_ABOVE.more,
)
_CALIBRATE_MISTAKES = (
    Mistake(_as_calibration(lambda e, s: float(np.quantile(e, 1 / s))), _ABOVE),
    Mistake(_as_calibration(lambda e, s: float(np.percentile(e, 100 / s))), _ABOVE),
    Mistake(_as_calibration(lambda e, s: float(np.percentile(e, 1 - 1 / s))), _PERCENT),
    Mistake(_as_calibration(lambda e, s: float(np.mean(e))), _TARGET),
    Mistake(_as_calibration(lambda e, s: float(np.median(e))), _TARGET),
)


def _one_number(exc: Exception) -> bool:
    return isinstance(exc, TypeError) and "return one number" in str(exc)


def _quantile_range(exc: Exception) -> bool:
    return isinstance(exc, ValueError) and (
        "Quantiles must be" in str(exc) or "Percentiles must be" in str(exc)
    )


def calibrate(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(entropies, target_patch_size) -> threshold`` for the global rule: the threshold whose
    patches average about ``target_patch_size`` tokens on this sequence.

    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.
    """
    names = ("entropies", "target_patch_size")

    def case(e: np.ndarray, target: float, label: str) -> Case:
        best = patching.calibrate_threshold(e, target)
        return Case((e, target), _calibration(e, best), label=label, hint=_ABOVE, names=names)

    gold = np.array(blt_golden_example()["entropies"])
    cases = [
        case(_random_entropies(5000, 3), 4.5, "5000 entropies, target 4.5 (BLT's default)"),
        case(_random_entropies(5000, 4), 2.0, "target 2"),
        case(_random_entropies(5000, 5), 8.0, "target 8"),
        case(gold, 81 / 23, "the official example: 81 tokens in about 23 patches"),
    ]
    return check(
        "calibrate",
        _as_calibration(fn) if callable(fn) else fn,
        cases,
        compare=_close_count,
        hint=_ABOVE,
        mistakes=_CALIBRATE_MISTAKES,
        errors=[
            (_one_number, Idea("return one number", "the threshold, a float", more=_ABOVE.more)),
            (_quantile_range, _PERCENT),
        ],
        more=more,
        lesson="entropy",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- variant: capped lengths


def reference_capped_lengths(entropies: np.ndarray, threshold: float, max_patch_length: int) -> list[int]:
    """The global rule's patch lengths, each patch longer than ``max_patch_length`` split greedily.

    >>> reference_capped_lengths(np.array([3.0, 0.5, 2.0, 0.1, 0.2, 0.3, 0.1]), 1.0, 3)
    [1, 2, 3, 1]
    """
    return patching.entropy_patch_lengths(entropies, threshold, max_patch_length=max_patch_length)


def _lengths(starts: list[int], n: int) -> list[int]:
    return [b - a for a, b in zip(starts, [*starts[1:], n], strict=True)]


def _split(lengths: list[int], cap: int, how: str) -> list[int]:
    out = []
    for length in lengths:
        full, rest = divmod(length, cap)
        if how == "rest_first":
            out += ([rest] if rest else []) + [cap] * full
        elif how == "zero":
            out += [cap] * full + [rest]
        elif how == "even" and length > cap:
            pieces = -(-length // cap)
            out += [length // pieces + (1 if i < length % pieces else 0) for i in range(pieces)]
        else:
            out += [cap] * full + ([rest] if rest else [])
    return out


def _grid(e: np.ndarray, th: float, cap: int) -> list[int]:
    starts = sorted(set(patching.entropy_patch_starts(e, th)) | set(range(0, len(e), cap)))
    return _lengths(starts, len(e))


_SPLIT_EXAMPLE = (
    "Entropies (3.0, 0.5, 2.0, 0.1, 0.2, 0.3, 0.1), threshold 1: the global rule starts patches at "
    "0, 1 and 3, so the 7 tokens make patches of 1, 2 and 4 tokens (the last runs from 3 to the end, 7). "
    "With max_patch_length 3 the patch of 4 becomes 3 + 1: [1, 2, 3, 1]. A patch of 7 would become "
    "3 + 3 + 1, a patch of 6 exactly 3 + 3."
)
_LENGTHS = Idea(
    "lengths from starts",
    "a patch's length is the distance from its start to the next start; the last patch runs to the end "
    "of the sequence (n tokens), so the lengths add up to n",
    more=_SPLIT_EXAMPLE,
)
_CAP = Idea(
    "no patch longer than max_patch_length",
    "after the entropy rule, every patch longer than max_patch_length is split into pieces of at most "
    "that length",
    more=_SPLIT_EXAMPLE,
)
_GREEDY = Idea(
    "split greedily",
    "a long patch is cut into as many FULL pieces of max_patch_length as fit, from its start, and the "
    "remainder goes LAST: 7 with a cap of 3 is 3, 3, 1 (not 1, 3, 3 or 3, 2, 2)",
    more=_SPLIT_EXAMPLE,
)
_NO_EMPTY = Idea(
    "no empty patch",
    "a patch whose length is a multiple of the cap splits into full pieces only: 6 with a cap of 3 is "
    "3, 3; a remainder of 0 is not a patch",
    more=_SPLIT_EXAMPLE,
)
_OWN_START = Idea(
    "count from each patch's own start",
    "the pieces of a long patch are counted from where THAT patch starts, not on a grid of multiples of "
    "max_patch_length from the start of the sequence",
    more="Starts 0, 1, 4 in 9 tokens give patches of 1, 3 and 5 tokens; with a cap of 3 the 5 becomes "
    "3 + 2: [1, 3, 3, 2]. Adding a start at every multiple of 3 (0, 3, 6) would also cut the patch "
    "that starts at 1, which is not too long.",
)
_STARTS_NOT_LENGTHS = Idea(
    "lengths, not starts",
    "return how many tokens each patch holds (they add up to n), not the positions where patches start",
    more=_SPLIT_EXAMPLE,
)
_KEEP = Idea(
    "split, do not cut off",
    "the tokens past max_patch_length are not dropped: they become the next pieces of the same patch, "
    "so the lengths still add up to n",
    more=_SPLIT_EXAMPLE,
)
_CAPPED_MISTAKES = (
    Mistake(lambda e, th, cap: patching.entropy_patch_lengths(e, th), _CAP),
    Mistake(lambda e, th, cap: [min(n, cap) for n in patching.entropy_patch_lengths(e, th)], _KEEP),
    Mistake(lambda e, th, cap: patching.entropy_patch_lengths(e, th)[:-1], _LENGTHS),
    Mistake(lambda e, th, cap: _split(patching.entropy_patch_lengths(e, th)[:-1], cap, ""), _LENGTHS),
    Mistake(lambda e, th, cap: _split(patching.entropy_patch_lengths(e, th), cap, "rest_first"), _GREEDY),
    Mistake(lambda e, th, cap: _split(patching.entropy_patch_lengths(e, th), cap, "even"), _GREEDY),
    Mistake(lambda e, th, cap: _split(patching.entropy_patch_lengths(e, th), cap, "zero"), _NO_EMPTY),
    Mistake(_grid, _OWN_START),
    Mistake(lambda e, th, cap: patching.entropy_patch_starts(e, th), _STARTS_NOT_LENGTHS),
)


def capped_lengths(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(entropies, threshold, max_patch_length) -> lengths`` (the variant exercise): the global
    rule's patches as lengths, every patch longer than ``max_patch_length`` split greedily into full
    pieces and a remainder (``bltlib.patching.entropy_patch_lengths(..., max_patch_length=...)``).
    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.

    >>> capped_lengths(reference_capped_lengths)
    ✓ capped_lengths: all 8 cases pass
    """
    gold = blt_golden_example()
    names = ("entropies", "threshold", "max_patch_length")

    def case(e: list | np.ndarray, threshold: float, cap: int, label: str, hint: Idea) -> Case:
        e = np.asarray(e, dtype=float)
        expected = reference_capped_lengths(e, threshold, cap)
        return Case((e, threshold, cap), expected, label=label, hint=hint, names=names)

    low = [0.1] * 6
    cases = [
        case([4.0], 1.0, 3, "one token: one patch of 1", _LENGTHS),
        case([3.0, 0.5, 2.0, 0.1], 1.0, 4, "no patch too long: the plain lengths", _LENGTHS),
        case([3.0, 0.5, 2.0, 0.1, 0.2, 0.3, 0.1], 1.0, 3, "a patch of 4 with a cap of 3", _CAP),
        case([3.0, *low], 1.0, 3, "a patch of 6 with a cap of 3", _NO_EMPTY),
        case([3.0, *low, 0.1], 1.0, 3, "a patch of 7 with a cap of 3", _GREEDY),
        case([0.1, 0.1, 0.1, 2.0, *low[:5]], 1.0, 3, "a long patch that starts at 4", _OWN_START),
        case(_random_entropies(40, 6), 2.0, 4, "40 random entropies, cap 4", _GREEDY),
        case(np.array(gold["entropies"]), gold["threshold"], 6, "the official example, cap 6", _GREEDY),
    ]
    return check(
        "capped_lengths",
        fn,
        cases,
        compare=_same_ints,
        hint=_CAP,
        mistakes=_CAPPED_MISTAKES,
        form=_ints_form("patch lengths"),
        more=more,
        lesson="entropy",
        raise_on_fail=raise_on_fail,
    )


__all__ = [
    "Calibration",
    "calibrate",
    "capped_lengths",
    "entropy_from_logits",
    "global_starts",
    "monotonic_starts",
    "reference_capped_lengths",
]
