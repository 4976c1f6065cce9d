"""Checks for lesson 4 (the Byte Latent Transformer): the pieces between bytes and patches, each compared
with :mod:`bltlib.blt` on a handful of cases, the simplest first.

In a notebook: ``checks.blt.pool(pool)`` prints a pass line, or stops at the first wrong case with a
short summary of the input, the expected and the actual value, and a hint. The hint names the idea that
is wrong: on a failure the learner's answer is compared with the answers of known mistakes (no padding,
mean instead of max, no one-patch shift, nats instead of bits...) and the matching one is explained.
``more=True`` (``pool(pool, more=True)``) adds a worked example of that idea and the verdict on every
case. The machinery (summaries, the judge, the case runner) is :mod:`bltlib.checks.core`'s.

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
  more help: checks.blt.pool(mean_pool, more=True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from bltlib.blt import (
    HASH_PRIMES,
    decoder_patch_ids,
    encoder_cross_mask,
    hash_ngram_ids,
    patch_ids,
    pool_patches,
)
from bltlib.checks.core import Case, CheckResult, Idea, Mistake, a_type, bool_form, check, summary
from bltlib.data.batching import BYTE_VOCAB, encode_bytes
from bltlib.patching import Patcher
from bltlib.transformer import IGNORE_INDEX

# ----------------------------------------------------------------------------- forms and comparisons


def _tensor_form(actual: Any, expected: torch.Tensor, kind: str) -> str | None:
    """What is wrong with the answer's type, dtype or shape, if anything (``kind``: what it should be)."""
    if not isinstance(actual, torch.Tensor):
        return f"return a torch tensor ({kind}), not {a_type(actual)}"
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


_HASH_FORMULA = Idea(
    "the rolling hash",
    "the bucket of the n-gram ENDING at position i: its window of n ids (oldest first, w_0 .. w_n-1) hashes "
    "to (w_0 * prime**0 + w_1 * prime**1 + ... + w_n-1 * prime**(n-1)) mod vocab",
    more="With prime = 10 the hash reads like decimal digits, the oldest id in the units: the 3-gram "
    "ending at the id 3 of [1, 2, 3, 4] is the window (1, 2, 3), which hashes to 1 + 2 * 10 + 3 * 100 = "
    "321; the 3-gram ending at id 1 is (0, 0, 1) after padding, 100. The bucket is that number mod vocab: "
    "321 mod 7 = 6.",
)
_HASH_WRAP = Idea(
    "int64 wraparound",
    "the official hash computes in torch int64, where prime**2 * 259 is already past 2**63 and wraps "
    "around silently; Python ints never overflow, so they give other buckets. Keep the arithmetic in int64 "
    "tensors (or wrap the sum into [-2**63, 2**63) before the modulo)",
    more="An int64 holds numbers in [-2**63, 2**63). The official primes are about 10**9, so prime**2 "
    "is about 10**18 and prime**2 times a byte id is past 2**63 = 9.2 * 10**18: int64 arithmetic keeps only "
    "the lowest 64 bits (the sum wraps around to a negative or smaller number), and that wrapped sum is "
    "what the reference takes mod vocab. A Python int keeps every digit, so its remainder differs. To get "
    "the reference's buckets, multiply and add int64 tensors step by step.",
)
_HASH_SIGN = Idea(
    "a non-negative bucket",
    "a wrapped sum can be negative, and fmod / abs keep or flip its sign; the floor remainder (Python's "
    "and torch's %) is always in [0, vocab) and is what the reference uses",
    more="For vocab 7: the floor remainder of -10 is 4 (-10 = -2 * 7 + 4), C's remainder (fmod) is -3 and "
    "abs gives 3. Only the first is a valid row of an embedding table of 7 rows, and it is the reference's.",
)
_HASH_MISTAKES = (
    Mistake(
        lambda ids, n, v, p: _hash_rows(ids, n, v, p, pad="none"),
        Idea(
            "left padding",
            "EVERY position gets a bucket, the first n-1 too; pad each row on the left with n-1 zeros so "
            "that an n-gram ends at position 0 (output [B, T], the shape of ids)",
            more="ids [1, 2, 3, 4] with n = 3 give 4 buckets, one per position: the windows are (0, 0, 1), "
            "(0, 1, 2), (1, 2, 3) and (2, 3, 4). Without padding only the last two windows exist, so the "
            "answer is 2 wide instead of 4.",
        ),
    ),
    Mistake(
        lambda ids, n, v, p: _hash_rows(ids, n, v, p, pad="right"),
        Idea(
            "pad on the LEFT",
            "the n-gram at position i ENDS there (the bytes the model has read, up to i); zeros on the "
            "right hash the bytes that follow it, which a causal model must not see",
            more="For [1, 2, 3, 4] and n = 3, position 0's window is (0, 0, 1): the byte itself and two "
            "zeros before it. Padding on the right makes it (1, 2, 3): bytes 2 and 3 are the future.",
        ),
    ),
    Mistake(
        lambda ids, n, v, p: _hash_rows(ids, n, v, p, newest_first=True),
        Idea(
            "exponent order",
            "the OLDEST id of the window gets prime**0 and the newest prime**(n-1); yours weighs them the "
            "other way round (with prime = 10 the digits read the window backwards)",
            more="The window (1, 2, 3), oldest first, hashes to 1 * 1 + 2 * 10 + 3 * 100 = 321 with prime "
            "= 10. Weighing the newest id with prime**0 gives 123.",
        ),
    ),
    Mistake(
        lambda ids, n, v, p: _hash_rows(ids, n, v, p, per_row=False),
        Idea(
            "each row is its own sequence",
            "pad every row separately, so a row's first n-grams never reach back into the row above",
            more="With rows [1, 2, 3, 4] and [5, 6, 7, 8] and n = 2, the second row's first window is "
            "(0, 5), not (4, 5): the rows are different texts.",
        ),
    ),
    Mistake(lambda ids, n, v, p: _hash_rows(ids, n, v, p, wrap=False), _HASH_WRAP),
    Mistake(lambda ids, n, v, p: _hash_rows(ids, n, v, p, mod="fmod"), _HASH_SIGN),
    Mistake(lambda ids, n, v, p: _hash_rows(ids, n, v, p, mod="abs"), _HASH_SIGN),
)
_HASH_OVERFLOW = Idea(
    "int64 wraparound",
    "an int64 tensor cannot hold a number past 2**63 (about 9.2 * 10**18), such as prime**3 for every "
    "official prime, or prime**2 for the primes above 3.04 * 10**9 (1000000007**2 still fits). Let int64 "
    "arithmetic wrap around instead: multiply int64 tensors step by step",
    more="A Python int such as prime**k is exact however large; a tensor of int64 holds only numbers in "
    "[-2**63, 2**63). 1000000007**2 is about 1.0 * 10**18 and fits, 5915587277**2 is about 3.5 * 10**19 "
    "and does not, so a list of powers becomes a tensor for some primes and n, and fails for others. "
    + _HASH_WRAP.more,
)


def _hash_form(actual: Any, expected: torch.Tensor) -> str | None:
    return _tensor_form(actual, expected, "one bucket per position, [B, T]")


def hash_ids(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(ids, n, vocab, prime) -> buckets``: the rolling polynomial hash of every byte n-gram.

    ``ids`` is a LongTensor ``[B, T]`` of byte ids (BOS = 1, byte b = b + 4), ``n`` the n-gram size,
    ``vocab`` the number of buckets and ``prime`` the multiplier (the first cases use ``prime = 10``, so
    that a hash reads like decimal digits). The answer is a LongTensor ``[B, T]``: the bucket of the
    n-gram ending at each position, after left-padding each row with ``n - 1`` zeros. ``more=True``
    explains a failure at length, with a worked example and the verdict on every case.

    >>> hash_ids(reference_hash_ids)
    ✓ hash_ids: all 6 cases pass
    """
    hello = encode_bytes("Hello")[None]
    texts = torch.stack([encode_bytes("byte patches"), encode_bytes("token or not")])
    names = ("ids", "n", "vocab", "prime")

    def case(ids: torch.Tensor, n: int, vocab: int, prime: int, label: str, hint: Idea) -> Case:
        expected = reference_hash_ids(ids, n, vocab, prime)
        return Case((ids, n, vocab, prime), expected, label=label, hint=hint, names=names)

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
            _HASH_MISTAKES[3].idea,
        ),
        case(hello, 2, 500002, HASH_PRIMES[0], "BOS 'Hello', the official prime, n = 2", _HASH_FORMULA),
        case(hello, 3, 500002, HASH_PRIMES[0], "n = 3: int64 overflows and wraps", _HASH_WRAP),
        case(
            texts,
            8,
            4096,
            HASH_PRIMES[1],
            "two rows, n = 8, another official prime",
            Idea(
                "the same rules on longer rows",
                "each row left-padded with n-1 zeros, oldest id times prime**0, int64 wraparound, a bucket "
                "in [0, vocab)",
            ),
        ),
    ]
    return check(
        "hash_ids",
        fn,
        cases,
        compare=_same_ints,
        hint=_HASH_FORMULA,
        mistakes=_HASH_MISTAKES,
        form=_hash_form,
        errors=[(lambda exc: "overflow" in str(exc).lower(), _HASH_OVERFLOW)],
        more=more,
        lesson="blt",
        raise_on_fail=raise_on_fail,
    )


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


_POOL_COUNT = Idea(
    "the number of patches is n_patches",
    "as given, even when the last ones are empty: don't infer it from patch_ids (its max + 1 misses empty "
    "patches at the end)",
    more="patch_ids [0, 1, 1] with n_patches = 3 has an empty patch 2: the answer is [B, 3, D], its last "
    "row zeros. The batch's rows must line up with the patch lengths the rest of the model uses.",
)
_POOL_MAX = (
    "For one channel, bytes 1.0 | 5.0, 2.0 in patches 0 | 1 pool to [1.0, 5.0]: each patch keeps the "
    "largest value of each channel over its bytes. With D = 2, rows (5, 3) and (2, 4) give (5, 4), the max "
    "taken channel by channel."
)
_POOL_MISTAKES = (
    Mistake(
        lambda h, i, n: _pool_rows(h, i, n, reduce="mean"),
        Idea(
            "max pooling",
            "a patch's vector is the MAX over its bytes, channel by channel, not their mean (the strongest "
            "feature wins; a mean blurs it).",
            more=_POOL_MAX,
        ),
    ),
    Mistake(
        lambda h, i, n: _pool_rows(h, i, n, reduce="sum"),
        Idea(
            "max pooling",
            "a patch's vector is the MAX over its bytes, channel by channel, not their sum (a sum also grows "
            "with the patch's length).",
            more=_POOL_MAX,
        ),
    ),
    Mistake(
        lambda h, i, n: _pool_rows(h, i, n, empty=-math.inf),
        Idea(
            "an EMPTY patch",
            "no byte has its id, so there is nothing to take a max of: it gets zeros, not -inf (-inf would "
            "turn into NaN in the layers that read it).",
            more="A max over nothing starts from -inf and stays there. The reference writes zeros for such "
            "a patch: a neutral vector that the next layers can read safely.",
        ),
    ),
    Mistake(
        lambda h, i, n: _pool_rows(h, i, n, floor=0.0),
        Idea(
            "negative maxima",
            "the max of negative states is negative: if the maxima start from zeros and the zeros take part "
            "in the max (scatter_reduce's include_self=True), every negative maximum is clipped to 0. Only "
            "patches with no bytes should be zero.",
            more="Bytes -1.0 | -5.0, -2.0 pool to [-1.0, -2.0]. Starting each patch's maximum at 0 and "
            "letting that 0 compete gives [0, 0]: the start value must not take part for patches that have "
            "bytes.",
        ),
    ),
    Mistake(
        lambda h, i, n: _pool_rows(h, i, n, per_row=False),
        Idea(
            "each row separately",
            "pool each row separately: patch j of row 0 and patch j of row 1 are different patches.",
            more="Each row of the batch is its own text with its own patches; the max for row 0's patch 1 "
            "reads only row 0's bytes whose id is 1.",
        ),
    ),
    Mistake(lambda h, i, n: _pool_rows(h, i, int(i.max()) + 1), _POOL_COUNT),
)


def _same_floats(actual: Any, expected: torch.Tensor) -> bool:
    return (
        isinstance(actual, torch.Tensor)
        and actual.is_floating_point()
        and actual.shape == expected.shape
        and torch.allclose(actual.double(), expected.double(), atol=1e-5, rtol=1e-5)
    )


def pool(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(h, patch_ids, n_patches) -> pooled``: the max over each patch's byte states.

    ``h`` is a float tensor ``[B, T, D]`` of byte states, ``patch_ids`` a LongTensor ``[B, T]`` (the
    patch of each byte, non-decreasing), ``n_patches`` the number of patches ``P``. The answer is
    ``[B, P, D]``: for each patch the channel-wise max over its bytes, zeros for a patch with no bytes.
    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.

    >>> pool(pool_patches)
    ✓ pool: all 6 cases pass
    """
    g = torch.Generator().manual_seed(4)
    names = ("h", "patch_ids", "n_patches")

    def case(h: torch.Tensor, ids: list, n: int, label: str, hint: Idea) -> Case:
        ids_t = torch.tensor(ids)
        return Case((h, ids_t, n), pool_patches(h, ids_t, n), label=label, hint=hint, names=names)

    max_idea = _POOL_MISTAKES[0].idea
    cases = [
        case(torch.tensor([[[1.0], [5.0], [2.0]]]), [[0, 1, 1]], 2, "2 patches, D = 1", max_idea),
        case(
            torch.tensor([[[1.0, 0.5], [5.0, 3.0], [2.0, 4.0]]]),
            [[0, 1, 1]],
            2,
            "D = 2: the max of each channel",
            Idea(
                "each channel",
                "take the max over the patch's bytes for each channel separately (over the byte axis, not D)",
                more=_POOL_MAX,
            ),
        ),
        case(torch.tensor([[[1.0], [5.0], [2.0]]]), [[0, 1, 1]], 3, "patch 2 is empty", _POOL_COUNT),
        case(
            torch.tensor([[[-1.0], [-5.0], [-2.0]]]),
            [[0, 1, 1]],
            2,
            "negative states",
            _POOL_MISTAKES[3].idea,
        ),
        case(
            -torch.rand(1, 4, 2, generator=g).round(decimals=2) - 0.1,
            [[0, 0, 2, 2]],
            4,
            "negative states, empty patches 1 and 3",
            Idea(
                "empty and negative",
                "only patches with no bytes are zero; a non-empty patch keeps its (possibly negative) max",
            ),
        ),
        case(
            torch.randn(2, 6, 4, generator=g).round(decimals=2),
            [[0, 1, 1, 2, 2, 2], [0, 0, 0, 1, 2, 3]],
            5,
            "a batch of two rows, D = 4",
            Idea(
                "the same rules on a batch",
                "each row pooled on its own, the max per channel, zeros for an empty patch",
            ),
        ),
    ]
    return check(
        "pool",
        fn,
        cases,
        compare=_same_floats,
        hint="return the max over each patch's bytes, [B, n_patches, D]",
        mistakes=_POOL_MISTAKES,
        form=lambda a, e: _tensor_form(a, e, "one D-vector per patch, [B, n_patches, D]"),
        more=more,
        lesson="blt",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 3. encoder cross mask


def _slots(n_patches: int, k: int, tiled: bool = False) -> torch.Tensor:
    patches = list(range(n_patches))
    return torch.tensor(patches * k if tiled else [j for j in patches for _ in range(k)])


_MASK_EXAMPLE = (
    "patch_ids [0, 1, 1] (byte 0 in patch 0, bytes 1-2 in patch 1) with k = 2 gives 4 query slots: slots "
    "0 and 1 belong to patch 0 and read byte 0 only (row 100); slots 2 and 3 belong to patch 1 and read "
    "bytes 1 and 2 (row 011). The mask is [B, 4, 3]: one row per slot, one column per byte."
)
_MASK_LOCAL = Idea(
    "ITS OWN patch",
    "a query slot reads only ITS OWN patch's bytes (the byte's patch id equals the slot's patch), not every "
    "byte up to its patch: the encoder's cross-attention builds each patch from its bytes alone",
    more=_MASK_EXAMPLE,
)
_MASK_RULE = Idea(
    "the same rule on a batch",
    "in each row, slot s belongs to patch s // k and reads exactly the bytes whose patch id is that patch",
    more=_MASK_EXAMPLE,
)
_MASK_MISTAKES = (
    Mistake(lambda ids, n, k: ids[:, None, :] <= _slots(n, k)[None, :, None], _MASK_LOCAL),
    Mistake(
        lambda ids, n, k: ids[:, None, :] == _slots(n, k, tiled=True)[None, :, None],
        Idea(
            "slot order",
            "the k slots of a patch sit next to each other (slots 0..k-1 are patch 0, k..2k-1 patch 1: slot "
            "s belongs to patch s // k); repeating the whole patch list k times (tiling) gives patch s % k "
            "instead",
            more=_MASK_EXAMPLE,
        ),
    ),
    Mistake(
        lambda ids, n, k: ids[:, :, None] == _slots(n, k)[None, None, :],
        Idea(
            "orientation",
            "the queries are the patch slots and the keys are the bytes, so rows are slots: [B, P*k, T]; "
            "yours is [B, T, P*k], the decoder's layout",
            more=_MASK_EXAMPLE,
        ),
    ),
    Mistake(
        lambda ids, n, k: ids[:, None, :] == torch.arange(n)[None, :, None],
        Idea(
            "k query slots per patch",
            "the mask has P*k rows, and each patch's k slots read the same bytes",
            more=_MASK_EXAMPLE,
        ),
    ),
    Mistake(
        lambda ids, n, k: ids[:, None, :] == (torch.arange(n * k) // n)[None, :, None],
        Idea(
            "the patch of a slot",
            "slot s belongs to patch s // k: divide the slot's index by k, the number of query slots PER "
            "PATCH, not by the number of patches (with k = 1 that puts every slot in patch 0)",
            more="With 3 patches and k = 2 there are 6 slots: slots 0 and 1 belong to patch 0, slots 2 and 3 "
            "to patch 1, slots 4 and 5 to patch 2 (the slot's index divided by 2, rounded down). Dividing by "
            "the number of patches, 3, gives patches 0, 0, 0, 1, 1, 1: patch 2 gets no slot at all. With "
            "k = 1 each slot s is patch s itself.",
        ),
    ),
)


def encoder_mask(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(patch_ids, n_patches, k) -> mask``: which bytes each encoder query slot may read.

    ``patch_ids`` is a LongTensor ``[B, T]``, ``n_patches`` the number of patches ``P`` and ``k`` the
    query slots per patch. The answer is a bool tensor ``[B, P * k, T]``: slot ``s`` (of patch ``s // k``)
    may read byte ``t`` iff byte ``t`` lies in that patch. ``more=True`` explains a failure at length,
    with a worked example and the verdict on every case.

    >>> encoder_mask(encoder_cross_mask)
    ✓ encoder_mask: all 5 cases pass
    """
    names = ("patch_ids", "n_patches", "k")

    def case(ids: list, n: int, k: int, label: str, hint: Idea) -> Case:
        ids_t = torch.tensor(ids)
        return Case((ids_t, n, k), encoder_cross_mask(ids_t, n, k), label=label, hint=hint, names=names)

    slot_order = _MASK_MISTAKES[1].idea
    cases = [
        case([[0, 1, 1]], 2, 1, "k = 1: patch 0 is byte 0, patch 1 bytes 1-2", _MASK_LOCAL),
        case([[0, 0, 1, 2]], 3, 1, "3 patches, k = 1", _MASK_LOCAL),
        case([[0, 1, 1]], 2, 2, "k = 2 slots per patch", slot_order),
        case([[0, 0, 2]], 3, 2, "an empty patch: its slots read nothing", slot_order),
        case([[0, 1, 1, 1, 2, 2], [0, 0, 1, 2, 3, 3]], 4, 3, "two rows, k = 3", _MASK_RULE),
    ]
    return check(
        "encoder_mask",
        fn,
        cases,
        compare=lambda a, e: isinstance(a, torch.Tensor) and a.dtype == torch.bool and torch.equal(a, e),
        hint="return a bool mask [B, P*k, T]",
        mistakes=_MASK_MISTAKES,
        form=lambda a, e: _tensor_form(a, e, "one row per query slot, one column per byte: [B, P*k, T]"),
        more=more,
        lesson="blt",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 4. decoder patch ids


def _encoder_ids(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """Patch of each byte, by walking the lengths (an independent way to get bltlib.blt.patch_ids)."""
    out = torch.zeros(lengths.shape[0], n, dtype=torch.long)
    for b, row in enumerate(lengths.tolist()):
        owner = [j for j, length in enumerate(row) for _ in range(length)]
        owner += [len(row) - 1] * max(0, n - len(owner))
        out[b] = torch.tensor(owner[:n])
    return out


def _drop_empty(lengths: torch.Tensor) -> torch.Tensor:
    """Each row's non-zero lengths, in order, padded with zeros to the widest row."""
    kept = [[length for length in row if length > 0] for row in lengths.tolist()]
    width = max(len(row) for row in kept)
    return torch.tensor([row + [0] * (width - len(row)) for row in kept])


def _skip_empty(lengths: torch.Tensor, n: int) -> torch.Tensor:
    kept = _drop_empty(lengths[:, 1:])
    return decoder_patch_ids(torch.cat([torch.ones_like(kept[:, :1]), kept], dim=1), n)


def _flattened(lengths: torch.Tensor, n: int) -> torch.Tensor:
    ids = _encoder_ids(lengths[:, 1:].reshape(1, -1), n * lengths.shape[0])
    return ids.reshape(lengths.shape[0], n)


_DECODER_EXAMPLE = (
    "patch_lengths [1, 3, 2] is the BOS patch, then patches A (bytes 1-3) and B (bytes 4-5); latent "
    "outputs 0, 1, 2 summarise BOS, A and B. Position t predicts byte t + 1: positions 0, 1, 2 predict "
    "A's bytes and may read only output 0 (BOS); positions 3, 4 predict B's bytes and read output 1 (A). "
    "Answer [0, 0, 0, 1, 1]."
)
_SHIFT = Idea(
    "the one-patch shift",
    "position t predicts byte t + 1, and a byte of patch j + 1 may use only the latent output of patch j; "
    "the output of the patch that holds byte t + 1 was computed from that very byte, so no position may "
    "read it",
    more=_DECODER_EXAMPLE,
)


def _one_byte_late(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """The encoder's ids moved one position later: position t gets the patch of byte t - 1."""
    ids = _encoder_ids(lengths, n)
    return torch.cat([torch.zeros_like(ids[:, :1]), ids[:, :-1]], dim=1)


_DECODER_MISTAKES = (
    Mistake(
        lambda lengths, n: _encoder_ids(lengths, n),
        Idea(
            "the one-patch shift",
            "yours are the encoder's ids (the patch holding byte t). Position t predicts byte t + 1, and a "
            "byte of patch j + 1 may use only the latent output of patch j: reading its own patch's output "
            "would show the model the very bytes it has to predict",
            more=_DECODER_EXAMPLE,
        ),
    ),
    Mistake(
        lambda lengths, n: decoder_patch_ids(lengths, n) + 1,
        Idea(
            "shift towards the PAST",
            "the prediction of a byte in patch j + 1 reads patch j's output, the patch before; reading a "
            "later patch would leak the future",
            more=_DECODER_EXAMPLE,
        ),
    ),
    Mistake(
        lambda lengths, n: (_encoder_ids(lengths, n) - 1).clamp_min(0),
        Idea(
            "which byte decides",
            "position t predicts byte t + 1, so it is byte t + 1's patch that matters (t reads the patch "
            "before that one). The LAST byte of a patch predicts the first byte of the next patch, so it "
            "reads its own patch's output",
            more=_DECODER_EXAMPLE,
        ),
    ),
    Mistake(
        _skip_empty,
        Idea(
            "a zero-length patch still takes an index",
            "the latent model still outputs a vector for it: count every patch, empty ones included, so the "
            "ids after it jump by two",
            more="patch_lengths [1, 2, 0, 3]: outputs 0 (BOS), 1 (2 bytes), 2 (empty), 3 (3 bytes). The "
            "first two positions read output 0; the next three predict bytes of patch 3 and read output 2, "
            "the empty patch's: [0, 0, 2, 2, 2].",
        ),
    ),
    Mistake(
        _flattened,
        Idea(
            "each row is its own sequence",
            "its patch ids start again from 0; zero-length patches at the end of a row are padding that "
            "makes the rows equally wide",
            more=_DECODER_EXAMPLE,
        ),
    ),
    Mistake(
        _one_byte_late,
        Idea(
            "one PATCH back, not one byte",
            "yours gives position t the patch of byte t - 1 (the encoder's ids moved one position later), so "
            "inside a patch a position reads that patch's own output, computed from the byte it has to "
            "predict. The shift is a whole patch: position t reads the output of the patch just BEFORE the "
            "one that holds byte t + 1",
            more=_DECODER_EXAMPLE
            + " This mistake gives [0, 0, 1, 1, 1] here: position 2 predicts byte 3, which is in A, "
            "and reads A's own output. Counting the patch ends strictly before t, where the ends at or "
            "before t are meant, moves the boundaries by one byte instead of one patch.",
        ),
    ),
)


_LENGTHS = ("patch_lengths", "T")  # the arguments of decoder_ids and encoder_ids
_TWO_ROWS_13 = ([[1, 4, 4, 2, 3, 0, 0], [1, 2, 2, 2, 2, 2, 3]], 13, "two rows of 13 bytes, 5 and 7 patches")


def _lengths_check(
    name: str,
    fn: Callable,
    reference: Callable,
    cases: list[tuple],
    *,
    hint: Idea,
    mistakes: tuple[Mistake, ...],
    kind: str,
    more: bool,
    raise_on_fail: bool,
) -> CheckResult | None:
    """A check of ``fn(patch_lengths, T) -> ids [B, T]`` (:func:`decoder_ids`, :func:`encoder_ids`): each
    case is ``(lengths, T, label)`` or ``(lengths, T, label, hint)``, answered by ``reference``."""
    built = []
    for lengths, n, label, *own in cases:
        lengths_t = torch.tensor(lengths)
        expected = reference(lengths_t, n)
        built.append(
            Case((lengths_t, n), expected, label=label, hint=own[0] if own else hint, names=_LENGTHS)
        )
    return check(
        name,
        fn,
        built,
        compare=_same_ints,
        hint=hint,
        mistakes=mistakes,
        form=lambda a, e: _tensor_form(a, e, kind),
        more=more,
        lesson="blt",
        raise_on_fail=raise_on_fail,
    )


def decoder_ids(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(patch_lengths, T) -> ids``: the latent output each decoder position reads.

    ``patch_lengths`` is a LongTensor ``[B, P]`` (the first patch is the ``[BOS]`` patch, length 1; each
    row sums to ``T + 1``, as the last patch holds the next byte; rows with fewer patches end in
    zero-length padding) and ``T`` the number of byte positions. The answer is a LongTensor ``[B, T]``:
    the index ``j`` of the latent output that position ``t`` (predicting byte ``t + 1``) cross-attends to.
    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.

    >>> decoder_ids(decoder_patch_ids)
    ✓ decoder_ids: all 6 cases pass
    """
    cases = [
        ([[1, 3, 2]], 5, "BOS, then patches of 3 and 2 bytes"),
        ([[1, 2, 2, 1]], 5, "four patches", _DECODER_MISTAKES[2].idea),
        ([[1, 1, 1, 1]], 3, "one byte per patch"),
        ([[1, 3, 2, 0], [1, 1, 2, 2]], 5, "two rows; row 0 padded with a zero-length patch"),
        ([[1, 2, 0, 3]], 5, "a zero-length patch in the middle", _DECODER_MISTAKES[3].idea),
        _TWO_ROWS_13,
    ]
    return _lengths_check(
        "decoder_ids",
        fn,
        decoder_patch_ids,
        cases,
        hint=_SHIFT,
        mistakes=_DECODER_MISTAKES,
        kind="one latent index per byte position, [B, T]",
        more=more,
        raise_on_fail=raise_on_fail,
    )


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


_BPB_EXAMPLE = (
    "Uniform logits over the 260 classes give each target probability 1/260: a loss of ln 260 = 5.56 "
    "nats per target, which is log2 260 = 8.02 bits. With targets [76, -100, 105] only two targets count: "
    "sum their two losses (nats), divide by ln 2 for bits, and by 2, the number of counted targets."
)
_BPB_IGNORE = Idea(
    "IGNORE_INDEX",
    "IGNORE_INDEX (-100) marks targets that are not bytes (padding): leave them out of the loss AND out of "
    "the count of bytes you divide by",
    more=_BPB_EXAMPLE,
)
_BPB_SPECIALS = Idea(
    "BOS and EOS count as bytes",
    "BOS and EOS targets count as bytes (the BLT spec: n_bytes counts every target that is not "
    "IGNORE_INDEX): predicting the end of a document is part of the job",
    more=_BPB_EXAMPLE,
)
_BPB_MISTAKES = (
    Mistake(
        lambda lg, t: _bpb(lg, t, unit=1.0),
        Idea(
            "bits, not nats",
            "cross-entropy with the natural log is in nats; 1 bit = ln 2 nats, so divide the average by "
            "ln 2 (uniform over 260 ids is log2(260) = 8.02 bits, ln(260) = 5.56 nats)",
            more=_BPB_EXAMPLE,
        ),
    ),
    Mistake(
        lambda lg, t: _bpb(lg, t, unit=math.log(10)),
        Idea(
            "bits use log base 2",
            "divide nats by ln 2 (not ln 10); log10 gives 'digits per byte'",
            more=_BPB_EXAMPLE,
        ),
    ),
    Mistake(
        lambda lg, t: _bpb(lg, t, unit=math.log(2) ** 2),
        Idea(
            "convert to bits ONCE",
            "log2 of a probability is already in bits; dividing by ln 2 again counts the conversion twice",
            more=_BPB_EXAMPLE,
        ),
    ),
    Mistake(
        lambda lg, t: _bpb(lg, t, classes=256),
        Idea(
            "all 260 classes",
            "the softmax runs over all 260 classes: the model's head predicts the 4 special ids (BOS, "
            "EOS...) as well as the 256 bytes, so keep every logit (uniform is log2(260) bits, not log2(256) "
            "= 8)",
            more=_BPB_EXAMPLE,
        ),
    ),
    Mistake(lambda lg, t: _bpb(lg, t, count_ignored=True), _BPB_IGNORE),
    Mistake(
        lambda lg, t: _bpb(lg, t, row_mean=True),
        Idea(
            "average over BYTES, not rows",
            "sum the loss of every counted target and divide by their total count; a mean of per-row means "
            "weighs a short row as much as a long one",
            more="A row with 1 counted target of loss 8 bits and a row with 4 targets of 2 bits each: per "
            "byte (8 + 4 * 2) / 5 = 3.2 bits; the mean of row means (8 + 2) / 2 = 5 bits.",
        ),
    ),
    Mistake(lambda lg, t: _bpb(lg, t, specials="uncounted"), _BPB_SPECIALS),
    Mistake(
        lambda lg, t: _bpb(lg, t, specials="drop"),
        Idea(
            "BOS and EOS count as bytes",
            "in the loss and in n_bytes: only IGNORE_INDEX is left out",
            more=_BPB_EXAMPLE,
        ),
    ),
    Mistake(
        lambda lg, t: _bpb(lg, t, shift=True),
        Idea(
            "targets are already aligned",
            "logits[:, t] is the prediction for targets[:, t]; shifting them again compares each prediction "
            "with the wrong byte",
            more="The batch was built with the shift done: targets is the input moved one byte left, so "
            "position t's logits and position t's target belong together.",
        ),
    ),
)


_BPB_FLAT_EXAMPLE = (
    "For logits [2, 4, 260] and targets [2, 4]: the 8 predictions become the 8 rows of a [8, 260] input, "
    "each with its 260 class scores, and the targets the 8 class ids [8] in the same order (row 0's 4 "
    "positions, then row 1's), so that row i of the logits predicts target i. (Moving the classes to dim "
    "1, [B, 260, T] with targets [B, T], is the other layout cross_entropy accepts.)"
)
_BPB_CLASSES = Idea(
    "classes on dim 1",
    "F.cross_entropy reads dim 1 of its input as the classes: given logits [B, T, 260] it takes the T "
    "positions for classes and wants targets [B, 260]. Merge the batch and position axes of both, the "
    "logits into [N, 260] and the targets into [N] (N = B * T)",
    more=_BPB_FLAT_EXAMPLE,
)
_BPB_FLAT_BOTH = Idea(
    "one target per row of logits",
    "F.cross_entropy pairs row i of logits [N, 260] with entry i of targets [N]: merge the batch and "
    "position axes of BOTH tensors (N = B * T); flattening only one leaves B * T predictions for B "
    "targets, or B for B * T",
    more=_BPB_FLAT_EXAMPLE,
)


def _same_float(actual: Any, expected: float) -> bool:
    return (
        isinstance(actual, int | float)
        and not isinstance(actual, bool)
        and math.isfinite(actual)
        and math.isclose(actual, expected, rel_tol=1e-4, abs_tol=1e-6)
    )


def _bpb_form(actual: Any, expected: float) -> Idea | None:
    if isinstance(actual, torch.Tensor) and actual.numel() == 1:
        right = _same_float(actual.item(), expected)
        return Idea(
            "return a Python float",
            "the value is right, call .item() on the tensor" if right else "call .item() on the tensor",
        )
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        return None
    return Idea("return a Python float", f"one number, not {a_type(actual)}")


def bits_per_byte(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(logits, targets) -> float``: bits per byte of a batch of predictions.

    ``logits`` is a float tensor ``[B, T, 260]`` (one prediction per position, over all 260 byte ids),
    ``targets`` a LongTensor ``[B, T]`` aligned with it (``logits[:, t]`` predicts ``targets[:, t]``), where
    ``IGNORE_INDEX`` (-100) marks positions that do not count. The answer is a Python float:
    the summed cross-entropy / ln 2 / the number of counted targets (BOS and EOS targets count as bytes).
    ``more=True`` explains a failure at length, with a worked example and the verdict on every case.

    >>> bits_per_byte(reference_bits_per_byte)
    ✓ bits_per_byte: all 6 cases pass
    """
    g = torch.Generator().manual_seed(6)
    names = ("logits", "targets")

    def case(logits: torch.Tensor, targets: list, label: str, hint: Idea) -> Case:
        targets_t = torch.tensor(targets)
        expected = reference_bits_per_byte(logits, targets_t)
        return Case((logits, targets_t), expected, label=label, hint=hint, names=names)

    def logits(*shape: int) -> torch.Tensor:
        return (torch.randn(*shape, BYTE_VOCAB, generator=g) * 2).round(decimals=2)

    ig = IGNORE_INDEX
    nats = _BPB_MISTAKES[0].idea
    cases = [
        case(torch.zeros(1, 4, BYTE_VOCAB), [[101, 102, 103, 104]], "uniform logits: log2(260) bits", nats),
        case(logits(1, 5), [[76, 105, 112, 112, 115]], "random logits, 5 targets", nats),
        case(logits(1, 5), [[76, 105, ig, ig, ig]], "3 of 5 targets ignored", _BPB_IGNORE),
        case(
            logits(2, 4),
            [[76, ig, ig, ig], [105, 112, 112, 115]],
            "rows with 1 and 4 counted targets",
            _BPB_MISTAKES[5].idea,
        ),
        case(logits(1, 4), [[76, 105, 2, 1]], "EOS and BOS targets", _BPB_SPECIALS),
        case(
            logits(3, 8),
            [[1, 76, 105, 112, 112, 115, 2, ig], [ig] * 4 + [36, 37, 38, 2], [200, 3, 0, 259, 4, 5, 6, 7]],
            "a batch of 3 rows",
            Idea(
                "the same rules on a batch",
                "the loss summed over every counted target (BOS and EOS count, IGNORE_INDEX does not), "
                "/ ln 2, / the number of counted targets",
                more=_BPB_EXAMPLE,
            ),
        ),
    ]
    ignored = Idea(_BPB_IGNORE.name, _BPB_IGNORE.hint + " (-100 is no class to look up)", _BPB_IGNORE.more)
    return check(
        "bits_per_byte",
        fn,
        cases,
        compare=_same_float,
        hint="return a Python float: the loss summed in nats / ln 2 / the number of counted targets",
        mistakes=_BPB_MISTAKES,
        form=_bpb_form,
        errors=[
            (lambda exc: "Expected target size" in str(exc), _BPB_CLASSES),  # 3-D logits
            (lambda exc: "to match target batch_size" in str(exc), _BPB_FLAT_BOTH),  # one side flattened
            (lambda exc: str(IGNORE_INDEX) in str(exc), ignored),
        ],
        more=more,
        lesson="blt",
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 6. the encoder's patch ids


def _encoder_skip_empty(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """Patch ids counted over the non-empty patches only: an empty patch loses its index."""
    return _encoder_ids(_drop_empty(lengths), n)


def _encoder_one_long_row(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """Every row's lengths laid end to end: row b's ids go on from where row b - 1's stopped."""
    width = int(lengths[0].sum())
    flat = _encoder_ids(lengths.reshape(1, -1), width * lengths.shape[0])
    return flat.reshape(lengths.shape[0], width)[:, :n]


_ENCODER_EXAMPLE = (
    "patch_lengths [1, 3, 2] is the [BOS] patch (token 0), patch 1 (tokens 1-3) and patch 2 (tokens 4-5, "
    "token 5 being the next byte). The T = 5 positions hold tokens 0 to 4, so the answer is "
    "[0, 1, 1, 1, 2]: each token's own patch. With [1, 2, 0, 3] the empty patch 2 holds no token but "
    "keeps its index: [0, 1, 1, 3, 3]."
)
_ENCODER_RULE = Idea(
    "no shift in the encoder",
    "token t is in patch j when patches 0 .. j-1 hold at most t tokens and patches 0 .. j more than t; "
    "[BOS] is patch 0",
    more=_ENCODER_EXAMPLE,
)
_ENCODER_EMPTY_KEEPS = Idea(
    "an empty patch keeps its index",
    "a zero-length patch holds no token, but it is still a patch (the latent model outputs a vector "
    "for it): count it, so the ids after it jump by two",
    more="patch_lengths [1, 2, 0, 3], T = 5: patch 0 is [BOS], patch 1 tokens 1-2, patch 2 is empty, "
    "patch 3 tokens 3-5. The answer is [0, 1, 1, 3, 3]; skipping the empty patch gives [0, 1, 1, 2, "
    "2], and pool would then put patch 3's bytes in patch 2's row.",
)
_ENCODER_MISTAKES = (
    Mistake(
        lambda lengths, n: _encoder_ids(lengths, n + 1),
        Idea(
            "T positions, not T + 1 tokens",
            "the answer has one patch id per position, [B, T]; the lengths add up to T + 1 because the last "
            "patch also holds the next byte, which is no position of the input: keep only the first T ids",
            more="patch_lengths [1, 3, 2] counts 6 tokens, 0 to 5, but T = 5: tokens 0 to 4 are the input "
            "and token 5 is the byte still to be predicted. Their patches are [0, 1, 1, 1, 2, 2]; the answer "
            "is the first 5, [0, 1, 1, 1, 2], shape [1, 5].",
        ),
    ),
    Mistake(
        decoder_patch_ids,
        Idea(
            "no shift in the encoder",
            "yours are the decoder's ids (step 4). The encoder builds patch j from patch j's own bytes, so "
            "token t gets the patch that HOLDS it, [BOS] being patch 0; the one-patch shift belongs to the "
            "decoder, whose position t predicts the next byte",
            more=_ENCODER_EXAMPLE + " The decoder's ids for the same lengths are [0, 0, 0, 1, 1]: the patch "
            "before the one of token t + 1.",
        ),
    ),
    Mistake(_encoder_skip_empty, _ENCODER_EMPTY_KEEPS),
    Mistake(
        _one_byte_late,
        Idea(
            "a patch ends where the next begins",
            "yours gives token t the patch of token t - 1, one byte late: the first token of each patch "
            "still gets the patch before. When patches 0 .. j hold e tokens (tokens 0 to e - 1), token e is "
            "already in a later patch",
            more=_ENCODER_EXAMPLE
            + " This mistake gives [0, 0, 1, 1, 1] here: token 1, the first of patch 1, is given "
            "patch 0, which ends right before it.",
        ),
    ),
    Mistake(
        _encoder_one_long_row,
        Idea(
            "each row is its own sequence",
            "every row starts again from its own [BOS] patch 0; zero-length patches at the end of a row are "
            "padding that makes the rows equally wide",
            more="patch_lengths [[1, 3, 2, 0], [1, 1, 2, 2]], T = 5: row 0 is [0, 1, 1, 1, 2] and row 1 "
            "[0, 1, 2, 2, 3]. Laying the rows end to end would make row 1 go on from row 0's patches.",
        ),
    ),
    Mistake(
        lambda lengths, n: _encoder_ids(lengths[:1], n).expand(lengths.shape[0], -1),
        Idea(
            "each row its own lengths",
            "work out every row's ids from that row's patch lengths, not the first row's",
            more="patch_lengths [[1, 3, 2, 0], [1, 1, 2, 2]], T = 5: row 0 is [0, 1, 1, 1, 2] and row 1 "
            "[0, 1, 2, 2, 3].",
        ),
    ),
)


def encoder_ids(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(patch_lengths, T) -> ids``: the patch that holds each of the first ``T`` tokens.

    ``patch_lengths`` is a LongTensor ``[B, P]`` as in :func:`decoder_ids` (the ``[BOS]`` patch first;
    each row sums to ``T + 1``; zero-length patches are padding or empty patches that keep their index).
    The answer is a LongTensor ``[B, T]``, with no shift: :func:`bltlib.blt.patch_ids`, the ids that
    :func:`pool` and :func:`encoder_mask` take. ``more=True`` explains a failure at length, with a worked
    example and the verdict on every case.

    >>> encoder_ids(patch_ids)
    ✓ encoder_ids: all 5 cases pass
    """
    cases = [
        ([[1, 3, 2]], 5, "[BOS], then patches of 3 and 2 bytes"),
        ([[1, 1, 1, 1]], 3, "one token per patch"),
        ([[1, 2, 0, 3]], 5, "an empty patch in the middle", _ENCODER_EMPTY_KEEPS),
        ([[1, 3, 2, 0], [1, 1, 2, 2]], 5, "two rows; row 0 padded with a zero-length patch"),
        _TWO_ROWS_13,
    ]
    return _lengths_check(
        "encoder_ids",
        fn,
        patch_ids,
        cases,
        hint=_ENCODER_RULE,
        mistakes=_ENCODER_MISTAKES,
        kind="one patch id per position, [B, T]",
        more=more,
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 7. the boundary decision


def reference_closes_patch(entropies: list[float], threshold: float) -> bool:
    """Does the patch holding the newest byte close, so that the next byte starts a new patch (and the
    latent model takes a step now)? ``entropies[i]`` is the entropy model's uncertainty about byte
    ``i + 1``, for positions ``0 .. t``; the rule is :class:`bltlib.patching.Patcher`'s global one."""
    ids = torch.zeros(1, len(entropies), dtype=torch.long)
    e = torch.tensor([entropies], dtype=torch.float32)
    return bool(Patcher("entropy", threshold=threshold).start_mask(ids, e)[0, -1])


_BOUNDARY_EXAMPLE = (
    "threshold 1.0, entropies [3.0, 0.4, 2.5] for positions 0 ([BOS]), 1, 2. The newest byte is at "
    "position 2; its entropy 2.5 is the model's uncertainty about byte 3, above 1.0: byte 3 starts a new "
    "patch, so the patch holding byte 2 closes now -> True. With [3.0, 2.5, 0.4] the answer is False: the "
    "2.5 already decided that byte 2 starts a patch, and 0.4 says byte 3 continues it."
)
_BOUNDARY_NEWEST = Idea(
    "the NEWEST entropy decides",
    "entropies[t] (the last one) is the uncertainty about the byte that comes next; a high value there "
    "means the next byte starts a new patch. An earlier entropy decided an earlier boundary",
    more=_BOUNDARY_EXAMPLE,
)
_BOUNDARY_FORCED = Idea(
    "[BOS] is a patch of its own",
    "positions 0 and 1 always start a patch: after reading only [BOS] (one entropy), the answer is True "
    "whatever the entropy says",
    more=_BOUNDARY_EXAMPLE,
)
_BOUNDARY_SECOND = Idea(
    "only tokens 0 and 1 are forced",
    "[BOS] (token 0) and the first byte (token 1) always start a patch, but token 2 already follows the "
    "rule: with two entropies (t = 1), entropies[1], the uncertainty about byte 2, decides like any later "
    "one",
    more="threshold 1.0. After [BOS] alone, entropies [0.2]: byte 1 always starts a patch -> True, whatever "
    "0.2 says. After [BOS] and byte 1, entropies [3.0, 0.4]: 0.4 is not above 1.0, so byte 2 continues "
    "byte 1's patch -> False; with [3.0, 2.5] byte 2 starts a new one -> True.",
)
_BOUNDARY_STRICT = Idea(
    "strictly above the threshold",
    "a patch closes when the entropy is GREATER than the threshold; an entropy equal to it does not",
    more=_BOUNDARY_EXAMPLE,
)
_BOUNDARY_AVERAGE = Idea(
    "one position, not an average",
    "the global rule looks at a single entropy, the one about the next byte; averaging over the "
    "patch smooths away exactly the spikes that mark boundaries",
    more=_BOUNDARY_EXAMPLE,
)
_BOUNDARY_MISTAKES = (
    Mistake(lambda e, th: len(e) == 1 or (len(e) > 1 and e[-2] > th), _BOUNDARY_NEWEST),
    Mistake(lambda e, th: e[-1] > th, _BOUNDARY_FORCED),
    Mistake(lambda e, th: len(e) <= 2 or e[-1] > th, _BOUNDARY_SECOND),
    Mistake(lambda e, th: len(e) == 1 or e[-1] >= th, _BOUNDARY_STRICT),
    Mistake(lambda e, th: len(e) == 1 or sum(e[1:]) / len(e[1:]) > th, _BOUNDARY_AVERAGE),
)


def closes_patch(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(entropies, threshold) -> bool``: the boundary decision of patch-aware generation.

    ``entropies`` is a list of floats for positions ``0 .. t`` (position 0 is ``[BOS]``, ``t`` the newest
    byte; ``entropies[i]`` is the entropy about byte ``i + 1``) and ``threshold`` a float. The answer: does
    the next byte ``t + 1`` start a new patch, i.e. does the patch holding byte ``t`` close now and the
    latent model take a step? ``more=True`` explains a failure at length.

    >>> closes_patch(reference_closes_patch)
    ✓ closes_patch: all 7 cases pass
    """
    names = ("entropies", "threshold")

    def case(entropies: list[float], threshold: float, label: str, hint: Idea = _BOUNDARY_NEWEST) -> Case:
        expected = reference_closes_patch(entropies, threshold)
        return Case((entropies, threshold), expected, label=label, hint=hint, names=names)

    cases = [
        case([3.0, 0.4, 2.5], 1.0, "a spike at the newest byte"),
        case([3.0, 2.5, 0.4], 1.0, "a spike one byte earlier"),
        case([0.2], 1.0, "only [BOS] read so far", _BOUNDARY_FORCED),
        case([3.0, 0.4], 1.0, "[BOS] and one byte read: the rule decides byte 2", _BOUNDARY_SECOND),
        case([3.0, 0.5, 1.0], 1.0, "the newest entropy equals the threshold", _BOUNDARY_STRICT),
        case([2.0, 0.1, 0.2, 0.3, 1.6], 1.5, "a quiet patch, then a spike", _BOUNDARY_AVERAGE),
        case([4.1, 0.3, 2.2, 1.9, 0.6, 2.8, 0.9], 2.0, "a longer run"),
    ]
    return check(
        "closes_patch",
        fn,
        cases,
        compare=lambda actual, expected: isinstance(actual, bool) and actual == expected,
        hint=_BOUNDARY_NEWEST,
        mistakes=_BOUNDARY_MISTAKES,
        form=bool_form,
        more=more,
        lesson="blt",
        raise_on_fail=raise_on_fail,
    )


__all__ = [
    "bits_per_byte",
    "closes_patch",
    "decoder_ids",
    "encoder_ids",
    "encoder_mask",
    "hash_ids",
    "pool",
    "reference_bits_per_byte",
    "reference_closes_patch",
    "reference_hash_ids",
    "summary",
]
