"""Checks for lesson 4 (the Byte Latent Transformer): the pieces between bytes and patches, each compared
with :mod:`bltlib.blt` on a handful of cases, the simplest first.

In a notebook: ``checks.blt.pool(pool)`` prints a pass line, or stops at the first wrong case with a
short summary of the input, the expected and the actual value, and a hint. The hint names the idea that
is wrong: on a failure the learner's answer is compared with the answers of known mistakes (no padding,
mean instead of max, no one-patch shift, nats instead of bits...) and the matching one is explained.

>>> from bltlib import blt
>>> pool(blt.pool_patches)
✓ pool: all 6 cases pass
>>> def mean_pool(h, patch_ids, n_patches):  # a learner's loop, with the mean where the max belongs
...     out = torch.zeros(h.shape[0], n_patches, h.shape[-1])
...     for b in range(h.shape[0]):
...         for j in range(n_patches):
...             if (patch_ids[b] == j).any():
...                 out[b, j] = h[b][patch_ids[b] == j].mean(0)
...     return out
>>> print(pool(mean_pool, raise_on_fail=False).message)
✗ pool: case 1 of 6 (2 patches, D = 1)
  call:     pool(h=float32 [1, 3, 1] [[[1], [5], [2]]], patch_ids=int64 [1, 3] [[0, 1, 1]], n_patches=2)
  expected: float32 [1, 2, 1] [[[1], [5]]]
  got:      float32 [1, 2, 1] [[[1], [3.5]]]
  hint:     max pooling: a patch's vector is the MAX over its bytes, channel by channel, not their
            mean (the strongest feature wins; a mean blurs it).
"""

from __future__ import annotations

import copy
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from bltlib.blt import HASH_PRIMES, decoder_patch_ids, encoder_cross_mask, hash_ngram_ids, pool_patches
from bltlib.checks.core import Case, CheckResult, check, short_repr
from bltlib.data.batching import BYTE_VOCAB, encode_bytes
from bltlib.transformer import IGNORE_INDEX

# ----------------------------------------------------------------------------- showing and diagnosing


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:.4g}"


def _nested(value: Any, bits: bool = False) -> str:
    """A nested list, at most 6 items per level; bool rows as strings of 0/1 (``[101, 010]``)."""
    if isinstance(value, list):
        if bits and value and not isinstance(value[0], list):
            return "".join("1" if v else "0" for v in value)
        items = [_nested(v, bits) for v in value[:6]] + (["..."] if len(value) > 6 else [])
        return "[" + ", ".join(items) + "]"
    return _number(value) if isinstance(value, float) else str(value)


def summary(x: Any) -> str:
    """A short readable view of a check's input or answer: dtype, shape and a few values.

    >>> summary(torch.tensor([[1, 2, 3]]))
    'int64 [1, 3] [[1, 2, 3]]'
    >>> summary(torch.tensor([[True, False], [False, True]]))
    'bool [2, 2] [10, 01]'
    >>> summary(torch.zeros(2, 4, 260))
    'float32 [2, 4, 260] all 0'
    >>> summary(8.02237)
    '8.0224'
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dim() == 0:
            value = x.item()
            return f"tensor({value:.4f})" if isinstance(value, float) else f"tensor({value})"
        head = f"{str(x.dtype).removeprefix('torch.')} {list(x.shape)}"
        if x.numel() == 0:
            return f"{head} (empty)"
        if x.is_floating_point() and x.numel() > 24:
            lo, hi = x.min().item(), x.max().item()
            return f"{head} all {_number(lo)}" if lo == hi else f"{head} from {_number(lo)} to {_number(hi)}"
        return _cut(f"{head} {_nested(x.tolist(), bits=x.dtype == torch.bool)}")
    if isinstance(x, float):
        return f"{x:.4f}"
    if isinstance(x, int):
        return str(x)
    return f"a {type(x).__name__}: {short_repr(x, 100)}"


def _cut(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _wrap(hint: str) -> str:
    """A hint in lines of at most 100 characters, aligned under core's ``  hint:     `` prefix."""
    return textwrap.fill(hint, 100, initial_indent=" " * 12, subsequent_indent=" " * 12).lstrip()


class _Shown:
    """A value whose repr is its :func:`summary`. On the expected side it also holds the :class:`_Judge`."""

    def __init__(self, value: Any, judge: _Judge | None = None) -> None:
        self.value, self.judge = value, judge

    def __repr__(self) -> str:
        return summary(self.value)


@dataclass
class _Judge:
    """Decides a case: equal to the reference, or which known mistake it is (its hint replaces the case's)."""

    args: tuple
    same: Callable[[Any, Any], bool]
    mistakes: Sequence[tuple[Callable, str]]
    form: Callable[[Any, Any], str | None]
    case: Case | None = None

    def __call__(self, actual: Any, expected: Any) -> bool:
        if self.same(actual, expected):
            return True
        why = None
        for wrong, hint in self.mistakes:
            try:
                answer = wrong(*copy.deepcopy(self.args))
            except Exception:  # a mistake that cannot run on this case is not this case's mistake
                continue
            if self.same(actual, answer):
                why = hint
                break
        why = why or self.form(actual, expected)  # else a wrong type, dtype or shape, if that is it
        if why and self.case is not None:
            self.case.hint = _wrap(why)
        return False


@dataclass
class _Case(Case):
    """A case whose call line names each argument and shows it as a :func:`summary`."""

    names: tuple[str, ...] = ()

    def call_repr(self, name: str) -> str:
        return f"{name}({', '.join(f'{k}={summary(v)}' for k, v in zip(self.names, self.args, strict=True))})"


def _case(
    args: tuple,
    expected: Any,
    *,
    names: tuple[str, ...],
    label: str,
    hint: str,
    same: Callable[[Any, Any], bool],
    mistakes: Sequence[tuple[Callable, str]],
    form: Callable[[Any, Any], str | None],
) -> _Case:
    judge = _Judge(args, same, mistakes, form)
    case = _Case(args, _Shown(expected, judge), label=label, hint=_wrap(hint), names=names)
    judge.case = case
    return case


def _run(
    name: str,
    fn: Callable,
    cases: list[_Case],
    hint: str,
    raise_on_fail: bool,
    errors: Sequence[tuple[Callable[[Exception], bool], str]] = (),
) -> CheckResult | None:
    """:func:`~bltlib.checks.core.check` on ``cases``; ``errors`` explain known exceptions: (test, hint)."""
    if not callable(fn):
        return check(name, fn, cases, raise_on_fail=raise_on_fail)
    pending = iter(cases)  # core calls the learner once per case, in order, and stops at a failure

    def learner(*args: Any) -> _Shown:
        # The answer travels wrapped, so that core prints its summary, not a 260-wide tensor dump.
        case = next(pending)
        try:
            return _Shown(fn(*args))
        except Exception as exc:
            why = next((why for matches, why in errors if matches(exc)), None)
            if why and not isinstance(exc, NotImplementedError):
                case.hint = _wrap(why)
            raise

    return check(
        name,
        learner,
        cases,
        compare=lambda actual, expected: expected.judge(actual.value, expected.value),
        hint=_wrap(hint),
        raise_on_fail=raise_on_fail,
    )


def _tensor_form(actual: Any, expected: torch.Tensor, kind: str) -> str | None:
    """What is wrong with the answer's type, dtype or shape, if anything (``kind``: what it should be)."""
    if not isinstance(actual, torch.Tensor):
        return f"return a torch tensor ({kind}), not a {type(actual).__name__}"
    if expected.dtype == torch.bool and actual.dtype != torch.bool:
        return f"return a bool tensor (True = may attend), not {str(actual.dtype).removeprefix('torch.')}"
    if not expected.is_floating_point() and actual.is_floating_point():
        return "return integer ids (int64): a float cannot hold every integer of this size exactly"
    if actual.shape != expected.shape:
        return f"the answer has shape {list(actual.shape)}, expected {list(expected.shape)}: {kind}"
    return None


def _same_ints(actual: Any, expected: torch.Tensor) -> bool:
    return (
        isinstance(actual, torch.Tensor)
        and not actual.is_floating_point()
        and actual.shape == expected.shape
        and torch.equal(actual.long(), expected.long())
    )


# ----------------------------------------------------------------------------- 1. hash n-gram ids


def _wrap64(x: int) -> int:
    """``x`` as int64 arithmetic holds it (two's complement wraparound)."""
    x &= (1 << 64) - 1
    return x - (1 << 64) if x >= 1 << 63 else x


def _hash_rows(
    ids: torch.Tensor,
    n: int,
    vocab: int,
    prime: int,
    *,
    pad: str = "left",
    newest_first: bool = False,
    wrap: bool = True,
    mod: str = "floor",
    per_row: bool = True,
) -> torch.Tensor:
    """The hash written as plain Python loops, with switches that reproduce the usual mistakes."""
    rows = ids.tolist() if per_row else [sum(ids.tolist(), [])]
    out = []
    for row in rows:
        if pad == "left":
            padded, starts = [0] * (n - 1) + row, range(len(row))
        elif pad == "right":
            padded, starts = row + [0] * (n - 1), range(len(row))
        else:  # "none": only the full windows
            padded, starts = row, range(len(row) - n + 1)
        hashed = []
        for i in starts:
            window = padded[i : i + n]
            if newest_first:
                window = window[::-1]
            total = sum(w * prime**k for k, w in enumerate(window))
            total = _wrap64(total) if wrap else total
            if mod == "fmod":
                hashed.append((abs(total) % vocab) * (-1 if total < 0 else 1))  # C's remainder: sign of total
            elif mod == "abs":
                hashed.append(abs(total) % vocab)
            else:
                hashed.append(total % vocab)
        out.append(hashed)
    if not per_row:
        out = [out[0][i : i + ids.shape[1]] for i in range(0, len(out[0]), ids.shape[1])]
    return torch.tensor(out, dtype=torch.long).reshape(ids.shape[0], -1)


def reference_hash_ids(ids: torch.Tensor, n: int, vocab: int, prime: int) -> torch.Tensor:
    """The official hash with any multiplier ``prime``: :func:`bltlib.blt.hash_ngram_ids` for the official
    primes, the same hash written out for others (a toy ``prime = 10`` makes it readable).

    >>> reference_hash_ids(torch.tensor([[1, 2, 3, 4]]), n=3, vocab=10**6, prime=10).tolist()
    [[100, 210, 321, 432]]
    """
    if prime in HASH_PRIMES:
        return hash_ngram_ids(ids, n, vocab, HASH_PRIMES.index(prime))
    return _hash_rows(ids, n, vocab, prime)


_HASH_FORMULA = (
    "the bucket of the n-gram ENDING at position i: its window of n ids (oldest first, w_0 .. w_n-1) hashes "
    "to (w_0 * prime**0 + w_1 * prime**1 + ... + w_n-1 * prime**(n-1)) mod vocab"
)
_HASH_WRAP = (
    "int64 wraparound: the official hash computes in torch int64, where prime**2 * 259 is already past "
    "2**63 and wraps around silently; Python ints never overflow, so they give other buckets. Keep the "
    "arithmetic in int64 tensors (or wrap the sum into [-2**63, 2**63) before the modulo)"
)
_HASH_SIGN = (
    "a non-negative bucket: a wrapped sum can be negative, and fmod / abs keep or flip its sign; the floor "
    "remainder (Python's and torch's %) is always in [0, vocab) and is what the reference uses"
)
_HASH_MISTAKES = (
    (
        lambda ids, n, v, p: _hash_rows(ids, n, v, p, pad="none"),
        "left padding: EVERY position gets a bucket, the first n-1 too; pad each row on the left with n-1 "
        "zeros so that an n-gram ends at position 0 (output [B, T], the shape of ids)",
    ),
    (
        lambda ids, n, v, p: _hash_rows(ids, n, v, p, pad="right"),
        "pad on the LEFT: the n-gram at position i ENDS there (the bytes the model has read, up to i); "
        "zeros on the right hash the bytes that follow it, which a causal model must not see",
    ),
    (
        lambda ids, n, v, p: _hash_rows(ids, n, v, p, newest_first=True),
        "exponent order: the OLDEST id of the window gets prime**0 and the newest prime**(n-1); yours "
        "weighs them the other way round (with prime = 10 the digits read the window backwards)",
    ),
    (
        lambda ids, n, v, p: _hash_rows(ids, n, v, p, per_row=False),
        "each row is its own sequence: pad every row separately, so a row's first n-grams never reach "
        "back into the row above",
    ),
    (lambda ids, n, v, p: _hash_rows(ids, n, v, p, wrap=False), _HASH_WRAP),
    (lambda ids, n, v, p: _hash_rows(ids, n, v, p, mod="fmod"), _HASH_SIGN),
    (lambda ids, n, v, p: _hash_rows(ids, n, v, p, mod="abs"), _HASH_SIGN),
)


def hash_ids(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(ids, n, vocab, prime) -> buckets``: the rolling polynomial hash of every byte n-gram.

    ``ids`` is a LongTensor ``[B, T]`` of byte ids (BOS = 1, byte b = b + 4), ``n`` the n-gram size,
    ``vocab`` the number of buckets and ``prime`` the multiplier (the first cases use ``prime = 10``, so
    that a hash reads like decimal digits). The answer is a LongTensor ``[B, T]``: the bucket of the
    n-gram ending at each position, after left-padding each row with ``n - 1`` zeros.

    >>> hash_ids(reference_hash_ids)
    ✓ hash_ids: all 6 cases pass
    """
    hello = encode_bytes("Hello")[None]
    texts = torch.stack([encode_bytes("byte patches"), encode_bytes("token or not")])
    names = ("ids", "n", "vocab", "prime")

    def case(ids: torch.Tensor, n: int, vocab: int, prime: int, label: str, hint: str) -> _Case:
        return _case(
            (ids, n, vocab, prime),
            reference_hash_ids(ids, n, vocab, prime),
            names=names,
            label=label,
            hint=hint,
            same=_same_ints,
            mistakes=_HASH_MISTAKES,
            form=lambda a, e: _tensor_form(a, e, "one bucket per position, [B, T]"),
        )

    digits = torch.tensor([[1, 2, 3, 4]])
    cases = [
        case(digits, 3, 10**6, 10, "prime = 10: the 3-gram (1, 2, 3) hashes to 321", _HASH_FORMULA),
        case(digits, 3, 7, 10, "vocab 7: the bucket is the hash mod vocab", _HASH_FORMULA),
        case(
            torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]]),
            2,
            10**6,
            10,
            "two rows",
            "each row is its own sequence: pad each row with its own zeros",
        ),
        case(hello, 2, 500002, HASH_PRIMES[0], "BOS 'Hello', the official prime, n = 2", _HASH_FORMULA),
        case(hello, 3, 500002, HASH_PRIMES[0], "n = 3: int64 overflows and wraps", _HASH_WRAP),
        case(
            texts,
            8,
            4096,
            HASH_PRIMES[1],
            "two rows, n = 8, another official prime",
            "the same rules on longer rows: each row left-padded with n-1 zeros, oldest id times prime**0, "
            "int64 wraparound, a bucket in [0, vocab)",
        ),
    ]
    overflow = (
        "int64 cannot hold prime**k as a number once k >= 2 (it is past 2**63), so it cannot be turned into "
        "a tensor; the official hash lets int64 arithmetic wrap around instead: build the powers (or the "
        "sum) by multiplying int64 tensors step by step, where overflow wraps silently"
    )
    errors = [(lambda exc: "overflow" in str(exc).lower(), overflow)]
    return _run("hash_ids", fn, cases, _HASH_FORMULA, raise_on_fail, errors)


# ----------------------------------------------------------------------------- 2. pooling


def _pool_rows(
    h: torch.Tensor,
    ids: torch.Tensor,
    n_patches: int,
    *,
    reduce: str = "max",
    empty: float = 0.0,
    floor: float | None = None,
    per_row: bool = True,
) -> torch.Tensor:
    """Pooling written as loops, with switches for the usual mistakes."""
    out = torch.full((h.shape[0], n_patches, h.shape[-1]), empty, dtype=h.dtype)
    for b in range(h.shape[0]):
        for j in range(n_patches):
            if per_row:
                rows = h[b][ids[b] == j]
            else:
                rows = h.reshape(-1, h.shape[-1])[ids.reshape(-1) == j]
            if len(rows):
                value = {"max": rows.max(0).values, "mean": rows.mean(0), "sum": rows.sum(0)}[reduce]
                out[b, j] = value if floor is None else value.clamp_min(floor)
    return out


_POOL_COUNT = (
    "the number of patches is n_patches, as given, even when the last ones are empty: don't infer it from "
    "patch_ids (its max + 1 misses empty patches at the end)"
)
_POOL_MISTAKES = (
    (
        lambda h, i, n: _pool_rows(h, i, n, reduce="mean"),
        "max pooling: a patch's vector is the MAX over its bytes, channel by channel, not their mean "
        "(the strongest feature wins; a mean blurs it).",
    ),
    (
        lambda h, i, n: _pool_rows(h, i, n, reduce="sum"),
        "max pooling: a patch's vector is the MAX over its bytes, channel by channel, not their sum "
        "(a sum also grows with the patch's length).",
    ),
    (
        lambda h, i, n: _pool_rows(h, i, n, empty=-math.inf),
        "an EMPTY patch (no byte has its id) has nothing to take a max of: it gets zeros, not -inf "
        "(-inf would turn into NaN in the layers that read it).",
    ),
    (
        lambda h, i, n: _pool_rows(h, i, n, floor=0.0),
        "the max of negative states is negative: if the maxima start from zeros and the zeros take part "
        "in the max (scatter_reduce's include_self=True), every negative maximum is clipped to 0. Only "
        "patches with no bytes should be zero.",
    ),
    (
        lambda h, i, n: _pool_rows(h, i, n, per_row=False),
        "pool each row separately: patch j of row 0 and patch j of row 1 are different patches.",
    ),
    (lambda h, i, n: _pool_rows(h, i, int(i.max()) + 1), _POOL_COUNT),
)


def _same_floats(actual: Any, expected: torch.Tensor) -> bool:
    return (
        isinstance(actual, torch.Tensor)
        and actual.is_floating_point()
        and actual.shape == expected.shape
        and torch.allclose(actual.double(), expected.double(), atol=1e-5, rtol=1e-5)
    )


def pool(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(h, patch_ids, n_patches) -> pooled``: the max over each patch's byte states.

    ``h`` is a float tensor ``[B, T, D]`` of byte states, ``patch_ids`` a LongTensor ``[B, T]`` (the
    patch of each byte, non-decreasing), ``n_patches`` the number of patches ``P``. The answer is
    ``[B, P, D]``: for each patch the channel-wise max over its bytes, zeros for a patch with no bytes.

    >>> pool(pool_patches)
    ✓ pool: all 6 cases pass
    """
    g = torch.Generator().manual_seed(4)
    names = ("h", "patch_ids", "n_patches")

    def case(h: torch.Tensor, ids: list, n: int, label: str, hint: str) -> _Case:
        ids_t = torch.tensor(ids)
        return _case(
            (h, ids_t, n),
            pool_patches(h, ids_t, n),
            names=names,
            label=label,
            hint=hint,
            same=_same_floats,
            mistakes=_POOL_MISTAKES,
            form=lambda a, e: _tensor_form(a, e, "one D-vector per patch, [B, n_patches, D]"),
        )

    cases = [
        case(torch.tensor([[[1.0], [5.0], [2.0]]]), [[0, 1, 1]], 2, "2 patches, D = 1", _POOL_MISTAKES[0][1]),
        case(
            torch.tensor([[[1.0, 0.5], [5.0, 3.0], [2.0, 4.0]]]),
            [[0, 1, 1]],
            2,
            "D = 2: the max of each channel",
            "take the max over the patch's bytes for each channel separately (over the byte axis, not D)",
        ),
        case(torch.tensor([[[1.0], [5.0], [2.0]]]), [[0, 1, 1]], 3, "patch 2 is empty", _POOL_COUNT),
        case(
            torch.tensor([[[-1.0], [-5.0], [-2.0]]]),
            [[0, 1, 1]],
            2,
            "negative states",
            _POOL_MISTAKES[3][1],
        ),
        case(
            -torch.rand(1, 4, 2, generator=g).round(decimals=2) - 0.1,
            [[0, 0, 2, 2]],
            4,
            "negative states, empty patches 1 and 3",
            "only patches with no bytes are zero; a non-empty patch keeps its (possibly negative) max",
        ),
        case(
            torch.randn(2, 6, 4, generator=g).round(decimals=2),
            [[0, 1, 1, 2, 2, 2], [0, 0, 0, 1, 2, 3]],
            5,
            "a batch of two rows, D = 4",
            "the same rules on a batch: each row pooled on its own, the max per channel, zeros for an "
            "empty patch",
        ),
    ]
    return _run("pool", fn, cases, "return the max over each patch's bytes, [B, n_patches, D]", raise_on_fail)


# ----------------------------------------------------------------------------- 3. encoder cross mask


def _slots(n_patches: int, k: int, tiled: bool = False) -> torch.Tensor:
    patches = list(range(n_patches))
    return torch.tensor(patches * k if tiled else [j for j in patches for _ in range(k)])


_MASK_LOCAL = (
    "a query slot reads only ITS OWN patch's bytes (the byte's patch id equals the slot's patch), not "
    "every byte up to its patch: the encoder's cross-attention builds each patch from its bytes alone"
)
_MASK_RULE = (
    "the same rule on a batch: in each row, slot s belongs to patch s // k and reads exactly the bytes "
    "whose patch id is that patch"
)
_MASK_MISTAKES = (
    (
        lambda ids, n, k: ids[:, None, :] <= _slots(n, k)[None, :, None],
        _MASK_LOCAL,
    ),
    (
        lambda ids, n, k: ids[:, None, :] == _slots(n, k, tiled=True)[None, :, None],
        "slot order: the k slots of a patch sit next to each other (slots 0..k-1 are patch 0, k..2k-1 "
        "patch 1: slot s belongs to patch s // k); repeating the whole patch list k times (tiling) gives "
        "patch s % k instead",
    ),
    (
        lambda ids, n, k: ids[:, :, None] == _slots(n, k)[None, None, :],
        "orientation: the queries are the patch slots and the keys are the bytes, so rows are slots: "
        "[B, P*k, T]; yours is [B, T, P*k], the decoder's layout",
    ),
    (
        lambda ids, n, k: ids[:, None, :] == torch.arange(n)[None, :, None],
        "k query slots per patch: the mask has P*k rows, and each patch's k slots read the same bytes",
    ),
)


def encoder_mask(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(patch_ids, n_patches, k) -> mask``: which bytes each encoder query slot may read.

    ``patch_ids`` is a LongTensor ``[B, T]``, ``n_patches`` the number of patches ``P`` and ``k`` the
    query slots per patch. The answer is a bool tensor ``[B, P * k, T]``: slot ``s`` (of patch ``s // k``)
    may read byte ``t`` iff byte ``t`` lies in that patch.

    >>> encoder_mask(encoder_cross_mask)
    ✓ encoder_mask: all 5 cases pass
    """
    names = ("patch_ids", "n_patches", "k")

    def case(ids: list, n: int, k: int, label: str, hint: str) -> _Case:
        ids_t = torch.tensor(ids)
        return _case(
            (ids_t, n, k),
            encoder_cross_mask(ids_t, n, k),
            names=names,
            label=label,
            hint=hint,
            same=lambda a, e: isinstance(a, torch.Tensor) and a.dtype == torch.bool and torch.equal(a, e),
            mistakes=_MASK_MISTAKES,
            form=lambda a, e: _tensor_form(a, e, "one row per query slot, one column per byte: [B, P*k, T]"),
        )

    slot_order = _MASK_MISTAKES[1][1]
    cases = [
        case([[0, 1, 1]], 2, 1, "k = 1: patch 0 is byte 0, patch 1 bytes 1-2", _MASK_LOCAL),
        case([[0, 0, 1, 2]], 3, 1, "3 patches, k = 1", _MASK_LOCAL),
        case([[0, 1, 1]], 2, 2, "k = 2 slots per patch", slot_order),
        case([[0, 0, 2]], 3, 2, "an empty patch: its slots read nothing", slot_order),
        case([[0, 1, 1, 1, 2, 2], [0, 0, 1, 2, 3, 3]], 4, 3, "two rows, k = 3", _MASK_RULE),
    ]
    return _run("encoder_mask", fn, cases, "return a bool mask [B, P*k, T]", raise_on_fail)


# ----------------------------------------------------------------------------- 4. decoder patch ids


def _encoder_ids(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """Patch of each byte, by walking the lengths (an independent way to get bltlib.blt.patch_ids)."""
    out = torch.zeros(lengths.shape[0], n, dtype=torch.long)
    for b, row in enumerate(lengths.tolist()):
        owner = [j for j, length in enumerate(row) for _ in range(length)]
        owner += [len(row) - 1] * max(0, n - len(owner))
        out[b] = torch.tensor(owner[:n])
    return out


def _skip_empty(lengths: torch.Tensor, n: int) -> torch.Tensor:
    kept = [[length for length in row[1:] if length > 0] for row in lengths.tolist()]
    width = max(len(row) for row in kept)
    return decoder_patch_ids(torch.tensor([[1] + row + [0] * (width - len(row)) for row in kept]), n)


def _flattened(lengths: torch.Tensor, n: int) -> torch.Tensor:
    ids = _encoder_ids(lengths[:, 1:].reshape(1, -1), n * lengths.shape[0])
    return ids.reshape(lengths.shape[0], n)


_SHIFT = (
    "the one-patch shift: position t predicts byte t + 1, and a byte of patch j + 1 may use only the "
    "latent output of patch j; reading its own patch's output (the encoder's ids) would show the model "
    "the very bytes it has to predict"
)
_DECODER_MISTAKES = (
    (lambda lengths, n: _encoder_ids(lengths, n), _SHIFT),
    (
        lambda lengths, n: decoder_patch_ids(lengths, n) + 1,
        "shift towards the PAST: the prediction of a byte in patch j + 1 reads patch j's output, the "
        "patch before; reading a later patch would leak the future",
    ),
    (
        lambda lengths, n: (_encoder_ids(lengths, n) - 1).clamp_min(0),
        "which byte decides: position t predicts byte t + 1, so it is byte t + 1's patch that matters "
        "(t reads the patch before that one). The LAST byte of a patch predicts the first byte of the "
        "next patch, so it reads its own patch's output",
    ),
    (
        _skip_empty,
        "a zero-length patch still takes an index (the latent model still outputs a vector for it): count "
        "every patch, empty ones included, so the ids after it jump by two",
    ),
    (
        _flattened,
        "each row is its own sequence: its patch ids start again from 0; zero-length patches at the end "
        "of a row are padding that makes the rows equally wide",
    ),
)


def decoder_ids(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(patch_lengths, T) -> ids``: the latent output each decoder position reads.

    ``patch_lengths`` is a LongTensor ``[B, P]`` (the first patch is the ``[BOS]`` patch, length 1; each
    row sums to ``T + 1``, as the last patch holds the next byte; rows with fewer patches end in
    zero-length padding) and ``T`` the number of byte positions. The answer is a LongTensor ``[B, T]``:
    the index ``j`` of the latent output that position ``t`` (predicting byte ``t + 1``) cross-attends to.

    >>> decoder_ids(decoder_patch_ids)
    ✓ decoder_ids: all 6 cases pass
    """
    names = ("patch_lengths", "T")

    def case(lengths: list, n: int, label: str, hint: str = _SHIFT) -> _Case:
        lengths_t = torch.tensor(lengths)
        return _case(
            (lengths_t, n),
            decoder_patch_ids(lengths_t, n),
            names=names,
            label=label,
            hint=hint,
            same=_same_ints,
            mistakes=_DECODER_MISTAKES,
            form=lambda a, e: _tensor_form(a, e, "one latent index per byte position, [B, T]"),
        )

    cases = [
        case([[1, 3, 2]], 5, "BOS, then patches of 3 and 2 bytes"),
        case([[1, 2, 2, 1]], 5, "four patches", _DECODER_MISTAKES[2][1]),
        case([[1, 1, 1, 1]], 3, "one byte per patch"),
        case([[1, 3, 2, 0], [1, 1, 2, 2]], 5, "two rows; row 0 padded with a zero-length patch"),
        case([[1, 2, 0, 3]], 5, "a zero-length patch in the middle", _DECODER_MISTAKES[3][1]),
        case(
            [[1, 4, 4, 2, 3, 0, 0], [1, 2, 2, 2, 2, 2, 3]],
            13,
            "two rows of 13 bytes, 5 and 7 patches",
        ),
    ]
    return _run("decoder_ids", fn, cases, _SHIFT, raise_on_fail)


# ----------------------------------------------------------------------------- 5. bits per byte


def reference_bits_per_byte(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Bits per byte: summed cross-entropy (nats) / ln 2 / counted targets; IGNORE_INDEX does not count.

    >>> round(reference_bits_per_byte(torch.zeros(1, 2, 260), torch.tensor([[5, IGNORE_INDEX]])), 4)
    8.0224
    """
    loss = F.cross_entropy(
        logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return loss.item() / math.log(2) / int((targets != IGNORE_INDEX).sum())


def _nll(logits: torch.Tensor, targets: torch.Tensor, classes: int = BYTE_VOCAB) -> torch.Tensor:
    """Per-target loss in nats (0 at ignored targets), by gathering log-probabilities."""
    log_p = torch.log_softmax(logits[..., :classes].double(), dim=-1)
    keep = targets != IGNORE_INDEX
    picked = log_p.gather(-1, targets.clamp_min(0)[..., None])[..., 0]
    return torch.where(keep, -picked, torch.zeros_like(picked))


def _bpb(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    unit: float = math.log(2),
    classes: int = BYTE_VOCAB,
    count_ignored: bool = False,
    row_mean: bool = False,
    specials: str = "count",
    shift: bool = False,
) -> float:
    """Bits per byte with switches for the usual mistakes (the defaults give the right answer)."""
    if shift:
        logits, targets = logits[:, :-1], targets[:, 1:]
    loss, keep = _nll(logits, targets, classes), targets != IGNORE_INDEX
    counted = keep & (targets >= 4) if specials != "count" else keep
    if specials == "drop":
        loss = torch.where(counted, loss, torch.zeros_like(loss))
    if row_mean:
        return float((loss.sum(1) / counted.sum(1)).mean()) / unit
    return float(loss.sum()) / unit / (targets.numel() if count_ignored else int(counted.sum()))


_BPB_IGNORE = (
    "IGNORE_INDEX (-100) marks targets that are not bytes (padding): leave them out of the loss AND out "
    "of the count of bytes you divide by"
)
_BPB_MISTAKES = (
    (
        lambda lg, t: _bpb(lg, t, unit=1.0),
        "bits, not nats: cross-entropy with the natural log is in nats; 1 bit = ln 2 nats, so divide the "
        "average by ln 2 (uniform over 260 ids is log2(260) = 8.02 bits, ln(260) = 5.56 nats)",
    ),
    (
        lambda lg, t: _bpb(lg, t, unit=math.log(10)),
        "bits use log base 2: divide nats by ln 2 (not ln 10); log10 gives 'digits per byte'",
    ),
    (
        lambda lg, t: _bpb(lg, t, unit=math.log(2) ** 2),
        "convert to bits ONCE: log2 of a probability is already in bits; dividing by ln 2 again counts "
        "the conversion twice",
    ),
    (
        lambda lg, t: _bpb(lg, t, classes=256),
        "the softmax runs over all 260 classes: the model's head predicts the 4 special ids (BOS, EOS...) "
        "as well as the 256 bytes, so keep every logit (uniform is log2(260) bits, not log2(256) = 8)",
    ),
    (lambda lg, t: _bpb(lg, t, count_ignored=True), _BPB_IGNORE),
    (
        lambda lg, t: _bpb(lg, t, row_mean=True),
        "average over BYTES, not rows: sum the loss of every counted target and divide by their total "
        "count; a mean of per-row means weighs a short row as much as a long one",
    ),
    (
        lambda lg, t: _bpb(lg, t, specials="uncounted"),
        "BOS and EOS targets count as bytes (the BLT spec: n_bytes counts every target that is not "
        "IGNORE_INDEX): predicting the end of a document is part of the job",
    ),
    (
        lambda lg, t: _bpb(lg, t, specials="drop"),
        "BOS and EOS targets count as bytes, in the loss and in n_bytes: only IGNORE_INDEX is left out",
    ),
    (
        lambda lg, t: _bpb(lg, t, shift=True),
        "targets are already aligned: logits[:, t] is the prediction for targets[:, t]; shifting them "
        "again compares each prediction with the wrong byte",
    ),
)


def _same_float(actual: Any, expected: float) -> bool:
    return (
        isinstance(actual, int | float)
        and not isinstance(actual, bool)
        and math.isfinite(actual)
        and math.isclose(actual, expected, rel_tol=1e-4, abs_tol=1e-6)
    )


def _bpb_form(actual: Any, expected: float) -> str | None:
    if isinstance(actual, torch.Tensor) and actual.numel() == 1:
        right = _same_float(actual.item(), expected)
        return "return a Python float: " + (
            "the value is right, call .item() on the tensor" if right else "call .item() on the tensor"
        )
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        return None
    return f"return one number (a Python float), not a {type(actual).__name__}"


def bits_per_byte(fn: Callable, *, raise_on_fail: bool = True) -> CheckResult | None:
    """Check ``fn(logits, targets) -> float``: bits per byte of a batch of predictions.

    ``logits`` is a float tensor ``[B, T, 260]`` (one prediction per position, over all 260 byte ids),
    ``targets`` a LongTensor ``[B, T]`` aligned with it (``logits[:, t]`` predicts ``targets[:, t]``), where
    ``IGNORE_INDEX`` (-100) marks positions that do not count. The answer is a Python float:
    the summed cross-entropy / ln 2 / the number of counted targets (BOS and EOS targets count as bytes).

    >>> bits_per_byte(reference_bits_per_byte)
    ✓ bits_per_byte: all 6 cases pass
    """
    g = torch.Generator().manual_seed(6)
    names = ("logits", "targets")

    def case(logits: torch.Tensor, targets: list, label: str, hint: str) -> _Case:
        targets_t = torch.tensor(targets)
        return _case(
            (logits, targets_t),
            reference_bits_per_byte(logits, targets_t),
            names=names,
            label=label,
            hint=hint,
            same=_same_float,
            mistakes=_BPB_MISTAKES,
            form=_bpb_form,
        )

    def logits(*shape: int) -> torch.Tensor:
        return (torch.randn(*shape, BYTE_VOCAB, generator=g) * 2).round(decimals=2)

    ig = IGNORE_INDEX
    cases = [
        case(
            torch.zeros(1, 4, BYTE_VOCAB),
            [[101, 102, 103, 104]],
            "uniform logits: log2(260) bits",
            _BPB_MISTAKES[0][1],
        ),
        case(logits(1, 5), [[76, 105, 112, 112, 115]], "random logits, 5 targets", _BPB_MISTAKES[0][1]),
        case(logits(1, 5), [[76, 105, ig, ig, ig]], "3 of 5 targets ignored", _BPB_IGNORE),
        case(
            logits(2, 4),
            [[76, ig, ig, ig], [105, 112, 112, 115]],
            "rows with 1 and 4 counted targets",
            _BPB_MISTAKES[5][1],
        ),
        case(logits(1, 4), [[76, 105, 2, 1]], "EOS and BOS targets", _BPB_MISTAKES[6][1]),
        case(
            logits(3, 8),
            [[1, 76, 105, 112, 112, 115, 2, ig], [ig] * 4 + [36, 37, 38, 2], [200, 3, 0, 259, 4, 5, 6, 7]],
            "a batch of 3 rows",
            "the same rules on a batch: the loss summed over every counted target (BOS and EOS count, "
            "IGNORE_INDEX does not), / ln 2, / the number of counted targets",
        ),
    ]
    errors = [(lambda exc: str(IGNORE_INDEX) in str(exc), _BPB_IGNORE + " (-100 is no class to look up)")]
    general = "return a Python float: the loss summed in nats / ln 2 / the number of counted targets"
    return _run("bits_per_byte", fn, cases, general, raise_on_fail, errors)


__all__ = [
    "bits_per_byte",
    "decoder_ids",
    "encoder_mask",
    "hash_ids",
    "pool",
    "reference_bits_per_byte",
    "reference_hash_ids",
    "summary",
]
