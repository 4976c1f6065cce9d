"""Patchers: cut a byte sequence into patches, returned as patch *lengths*.

Every patcher follows the reference BLT conventions (``reference/blt_spec.md`` section 1):

- positions are token positions of the byte-id sequence (byte ``b`` has id ``b + 4``, BOS is ``1``);
- tokens 0 and 1 always start a patch, so a sequence that opens with BOS has ``[BOS]`` as its own
  first patch of length 1;
- the lengths sum to the sequence length ``n`` (or ``n + 1`` with ``include_next_token=True``, where the
  last entropy may open a patch for the byte that is about to be generated).

The entropy rules read ``entropies[i]`` as the entropy of the prediction *of token i + 1* made at
position ``i``. So token ``t >= 2`` starts a patch iff ``entropies[t - 1] > threshold`` (global rule):
a patch starts right after the model was unsure about what came next.

>>> e = [3.0, 0.5, 2.0, 0.1, 0.2, 1.9]
>>> starts = entropy_patch_starts(e, threshold=1.0)
>>> starts
[0, 1, 3]
>>> lengths_from_starts(starts, len(e))
[1, 2, 3]
>>> patch_ids_from_lengths([1, 2, 3], 6)
[0, 1, 1, 2, 2, 2]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Protocol

import numpy as np
import torch

from bltlib.data.batching import OFFSET  # byte b has id b + OFFSET; ids below it are special (BOS, ...)
from bltlib.entropy import entropies as entropies_of_rows
from bltlib.transformer import TransformerLM

FIRST_STARTS = (0, 1)  # the reference forces these two starts: [BOS] is a patch of its own
ByteSeq = str | bytes | Sequence[int] | np.ndarray | torch.Tensor

__all__ = [
    "entropy_patch_starts",
    "entropy_patch_lengths",
    "lengths_from_starts",
    "patch_ids_from_lengths",
    "static_patch_lengths",
    "space_patch_starts",
    "space_patch_lengths",
    "split_long_patches",
    "bpe_patch_lengths",
    "calibrate_threshold",
    "SCHEMES",
    "Patcher",
    "lengths_from_start_mask",
    "mean_patch_size",
    "patched_windows",
]


class BytesTokenizer(Protocol):
    """What :func:`bpe_patch_lengths` needs from a tokenizer (lesson 1's ``RegexTokenizer`` has it)."""

    def encode_ordinary(self, text: str) -> list[int]: ...

    def decode_bytes(self, ids: list[int]) -> bytes: ...


# ----------------------------------------------------------------------------- input checks


def _as_entropies(entropies: object) -> np.ndarray:
    """A 1-D float64 copy of a list, numpy array or torch tensor of entropies, or a clear error."""
    if isinstance(entropies, torch.Tensor):
        array = entropies.detach().to("cpu", torch.float64).numpy()
    elif isinstance(entropies, np.ndarray | list | tuple):
        try:
            array = np.asarray(entropies, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"entropies must be numbers, got {entropies!r:.80}") from err
    else:
        raise TypeError(
            f"entropies must be a list, numpy array or torch tensor, got {type(entropies).__name__}"
        )
    if array.ndim != 1:
        raise ValueError(f"entropies must be 1-D (one sequence), got shape {tuple(array.shape)}")
    if array.size == 0:
        raise ValueError("entropies is empty: there is nothing to patch")
    if np.isnan(array).any():
        raise ValueError(f"entropies contain NaN at positions {np.flatnonzero(np.isnan(array))[:5].tolist()}")
    return array


def _as_threshold(value: object, name: str = "threshold") -> float:
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} is NaN; pick a number (see calibrate_threshold)")
    return value


def _as_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _as_lengths(lengths: object) -> list[int]:
    if isinstance(lengths, torch.Tensor | np.ndarray):
        lengths = lengths.tolist()
    if not isinstance(lengths, list | tuple):
        raise TypeError(f"lengths must be a list of ints, got {type(lengths).__name__}")
    if len(lengths) == 0:
        raise ValueError("lengths is empty")
    for length in lengths:
        if isinstance(length, bool) or not isinstance(length, int | np.integer):
            raise TypeError(f"patch lengths must be ints, got {length!r}")
        if length < 0:
            raise ValueError(f"patch lengths must be >= 0, got {length}")
    return [int(length) for length in lengths]


# ----------------------------------------------------------------------------- starts <-> lengths <-> ids


def lengths_from_starts(starts: Sequence[int], n: int) -> list[int]:
    """Patch lengths from sorted patch start positions of a sequence of ``n`` tokens.

    >>> lengths_from_starts([0, 1, 4], 6)
    [1, 3, 2]
    """
    n = _as_positive_int(n, "n")
    starts = [int(s) for s in starts]
    if not starts or starts[0] != 0:
        raise ValueError(f"the first patch must start at position 0, got starts {starts[:5]}")
    if any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
        raise ValueError("starts must be strictly increasing (sorted, no duplicates)")
    if starts[-1] >= n:
        raise ValueError(f"start {starts[-1]} is outside a sequence of {n} tokens")
    return [b - a for a, b in zip(starts, [*starts[1:], n], strict=True)]


def patch_ids_from_lengths(lengths: Sequence[int], n: int) -> list[int]:
    """The patch index of each of the first ``n`` tokens: ``id_i = #{patch starts <= i} - 1``.

    ``sum(lengths)`` may exceed ``n`` (the ``include_next_token`` case: the last patch holds a byte not
    yet seen); zero-length patches (padding) take an id but no token.

    >>> patch_ids_from_lengths([1, 3, 2], 6)
    [0, 1, 1, 1, 2, 2]
    >>> patch_ids_from_lengths([1, 2, 2], 4)  # lengths sum to n + 1
    [0, 1, 1, 2]
    """
    lengths = _as_lengths(lengths)
    n = _as_positive_int(n, "n")
    if sum(lengths) < n:
        raise ValueError(f"patch lengths sum to {sum(lengths)}, fewer than the {n} tokens to cover")
    ids = np.repeat(np.arange(len(lengths)), lengths)
    return ids[:n].tolist()


# ----------------------------------------------------------------------------- entropy rules


def entropy_patch_starts(
    entropies: Sequence[float] | np.ndarray | torch.Tensor,
    threshold: float,
    monotonic: bool = False,
    *,
    threshold_add: float | None = None,
    include_next_token: bool = False,
) -> list[int]:
    """Patch start positions from per-position next-byte entropies (nats).

    Tokens 0 and 1 always start. For token ``t >= 2`` (``e = entropies``):

    - global rule (default): starts iff ``e[t-1] > threshold``;
    - ``monotonic=True``: starts iff ``e[t-1] - e[t-2] > threshold`` (a jump in entropy); token 2 always
      starts;
    - ``threshold_add`` set (combined rule): token 2 always starts, token 3 never does (a quirk of the
      reference we keep), and ``t >= 4`` starts iff ``e[t-1] - e[t-2] > threshold_add`` and
      ``e[t-1] > threshold``.

    With ``include_next_token=True`` the last entropy may open a patch at position ``n`` for the token
    about to be generated, so :func:`lengths_from_starts` should then be given ``n + 1``.

    >>> entropy_patch_starts([0.0, 2.0, 0.5, 0.1], threshold=1.0)  # e[1] = 2.0 > 1 opens token 2
    [0, 1, 2]
    >>> entropy_patch_starts([0.0, 0.2, 0.5, 1.9, 0.1], threshold=1.0, monotonic=True)
    [0, 1, 2, 4]
    >>> entropy_patch_starts([0.0, 2.0], threshold=1.0, include_next_token=True)
    [0, 1, 2]
    """
    e = _as_entropies(entropies)
    threshold = _as_threshold(threshold)
    if threshold_add is not None:
        threshold_add = _as_threshold(threshold_add, "threshold_add")
        if monotonic:
            raise ValueError("choose either monotonic=True or threshold_add, not both")
    n = len(e)
    last = n if include_next_token else n - 1  # the last position that may start a patch
    t = np.arange(2, last + 1)  # candidate tokens
    rise = e[t - 1] - e[t - 2]
    if monotonic:
        is_start = (rise > threshold) | (t == 2)
    elif threshold_add is not None:
        is_start = ((rise > threshold_add) & (e[t - 1] > threshold) & (t != 3)) | (t == 2)
    else:
        is_start = e[t - 1] > threshold
    forced = [s for s in FIRST_STARTS if s <= last]
    return forced + t[is_start].tolist()


def entropy_patch_lengths(
    entropies: Sequence[float] | np.ndarray | torch.Tensor,
    threshold: float,
    monotonic: bool = False,
    *,
    threshold_add: float | None = None,
    include_next_token: bool = False,
    max_patch_length: int | None = None,
) -> list[int]:
    """Patch lengths from entropies: :func:`entropy_patch_starts`, then optionally split long patches.

    >>> entropy_patch_lengths([3.0, 0.5, 2.0, 0.1, 0.2, 0.3, 0.1], threshold=1.0)
    [1, 2, 4]
    >>> entropy_patch_lengths([3.0, 0.5, 2.0, 0.1, 0.2, 0.3, 0.1], threshold=1.0, max_patch_length=3)
    [1, 2, 3, 1]
    """
    starts = entropy_patch_starts(
        entropies, threshold, monotonic, threshold_add=threshold_add, include_next_token=include_next_token
    )
    n = len(entropies) + int(include_next_token)
    lengths = lengths_from_starts(starts, n)
    return lengths if max_patch_length is None else split_long_patches(lengths, max_patch_length)


def split_long_patches(lengths: Sequence[int], max_len: int) -> list[int]:
    """Greedily split every patch longer than ``max_len`` into ``[max_len, ..., remainder]``.

    >>> split_long_patches([1, 7, 2], 3)
    [1, 3, 3, 1, 2]
    """
    max_len = _as_positive_int(max_len, "max_len")
    out = []
    for length in _as_lengths(lengths):
        full, rest = divmod(length, max_len)
        out += [max_len] * full + ([rest] if rest else [])
    return out


# ----------------------------------------------------------------------------- model-free rules


def static_patch_lengths(n: int, patch_size: int, bos: bool = False) -> list[int]:
    """Fixed-size patches, remainder last; ``bos=True`` gives the BOS token its own first patch.

    >>> static_patch_lengths(10, 4)
    [4, 4, 2]
    >>> static_patch_lengths(10, 4, bos=True)  # [BOS] alone, then 9 bytes in fours
    [1, 4, 4, 1]
    """
    n = _as_positive_int(n, "n")
    patch_size = _as_positive_int(patch_size, "patch_size")
    if bos:
        return [1] + (static_patch_lengths(n - 1, patch_size) if n > 1 else [])
    full, rest = divmod(n, patch_size)
    return [patch_size] * full + ([rest] if rest else [])


def _as_ids(tokens: object) -> np.ndarray:
    """Byte ids from ``str`` (UTF-8), ``bytes`` (raw bytes, offset added) or a sequence of ids."""
    if isinstance(tokens, str):
        tokens = tokens.encode("utf-8")
    if isinstance(tokens, bytes | bytearray):
        ids = np.frombuffer(bytes(tokens), dtype=np.uint8).astype(np.int64) + OFFSET
    elif isinstance(tokens, torch.Tensor | np.ndarray | list | tuple):
        ids = np.asarray(tokens.tolist() if isinstance(tokens, torch.Tensor) else tokens)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise TypeError(
                f"byte ids must be a 1-D sequence of ints, got dtype {ids.dtype}, shape {ids.shape}"
            )
        ids = ids.astype(np.int64)
    else:
        raise TypeError(f"expected str, bytes or a sequence of byte ids, got {type(tokens).__name__}")
    if ids.size == 0:
        raise ValueError("the sequence is empty: there is nothing to patch")
    if ids.min() < 0 or ids.max() >= 256 + OFFSET:
        raise ValueError(f"byte ids must lie in [0, {256 + OFFSET}), got {ids.min()}..{ids.max()}")
    return ids


def _space_rule_ends(ids: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Which tokens end a patch under the space rule, along the last axis (a NumPy array or a tensor):
    the first of a run of space-like bytes, and every special id."""
    b = ids - OFFSET
    digit = (b >= ord("0")) & (b <= ord("9"))
    letter = ((b >= ord("A")) & (b <= ord("Z"))) | ((b >= ord("a")) & (b <= ord("z")))
    continuation = (b >= 0x80) & (b < 0xC0)
    space_like = ~(digit | letter | continuation)
    first_of_run = space_like.copy() if isinstance(space_like, np.ndarray) else space_like.clone()
    first_of_run[..., 1:] &= ~space_like[..., :-1]
    return first_of_run | (ids < OFFSET)


def space_patch_starts(byte_ids_or_bytes: ByteSeq) -> list[int]:
    """Patch starts of the space rule: a patch ends with the first of a run of "space-like" bytes.

    Space-like: anything that is not an ASCII letter or digit and not a UTF-8 continuation byte
    (0x80-0xBF), i.e. punctuation, whitespace, control bytes and UTF-8 lead bytes (>= 0xC0). Special ids
    (< 4, e.g. BOS) always end a patch. Tokens 0 and 1 always start one.

    ``str`` and ``bytes`` are raw text (ids = byte + 4, no BOS); a list, array or tensor is taken as ids.

    >>> space_patch_starts("hi, there")  # "h" | "i," | " there"
    [0, 1, 3]
    >>> space_patch_starts([1] + [b + 4 for b in b"a b"])  # [BOS] | "a " | "b"
    [0, 1, 3]
    """
    ids = _as_ids(byte_ids_or_bytes)
    ends = _space_rule_ends(ids)
    k = np.flatnonzero(ends[:-1])  # token k ends a patch, so token k + 1 starts one
    return sorted(set(FIRST_STARTS[: len(ids)]) | set((k + 1).tolist()))


def space_patch_lengths(byte_ids_or_bytes: ByteSeq) -> list[int]:
    """Patch lengths of the space rule (see :func:`space_patch_starts`).

    >>> space_patch_lengths("hi, there")
    [1, 2, 6]
    """
    starts = space_patch_starts(byte_ids_or_bytes)
    return lengths_from_starts(starts, len(_as_ids(byte_ids_or_bytes)))


def bpe_patch_lengths(text: str, tokenizer: BytesTokenizer, bos: bool = False) -> list[int]:
    r"""One patch per BPE token: the byte length of each token of ``tokenizer.encode_ordinary(text)``.

    ``bos=True`` adds the ``[BOS]`` patch, to line up with byte ids that start with BOS.

    >>> import re
    >>> class Words:  # a toy tokenizer: one token per word, with its leading space (like GPT-2)
    ...     def encode_ordinary(self, text):
    ...         self.vocab = [w.encode() for w in re.findall(r" ?\S+", text)]
    ...         return list(range(len(self.vocab)))
    ...     def decode_bytes(self, ids):
    ...         return b"".join(self.vocab[i] for i in ids)
    >>> bpe_patch_lengths("ab cde", Words())
    [2, 4]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty: there is nothing to patch")
    for method in ("encode_ordinary", "decode_bytes"):
        if not callable(getattr(tokenizer, method, None)):
            raise TypeError(f"tokenizer must have a {method}() method, got {type(tokenizer).__name__}")
    lengths = [len(tokenizer.decode_bytes([i])) for i in tokenizer.encode_ordinary(text)]
    if sum(lengths) != len(text.encode("utf-8")) or 0 in lengths:
        raise ValueError(
            "the tokenizer does not round-trip this text byte for byte, so its tokens are not patches"
        )
    return [1] + lengths if bos else lengths


# ----------------------------------------------------------------------------- choosing the threshold


def _as_rows(entropies: object) -> list[np.ndarray]:
    """One sequence, a 2-D array/tensor (rows), or a list of sequences -> a list of 1-D arrays."""
    if isinstance(entropies, torch.Tensor | np.ndarray) and entropies.ndim == 2:
        return [_as_entropies(row) for row in entropies]
    if isinstance(entropies, list | tuple) and entropies and not isinstance(entropies[0], Real):
        return [_as_entropies(row) for row in entropies]
    return [_as_entropies(entropies)]


def calibrate_threshold(
    entropies: Sequence[float] | np.ndarray | torch.Tensor | Sequence[Sequence[float]],
    target_patch_size: float,
    monotonic: bool = False,
) -> float:
    """The threshold whose patches on this sample have an average length closest to the target.

    ``entropies`` is one sequence or several (a list of sequences, or a 2-D array: one row each). The
    average is total tokens / total patches.

    Why no search loop: each rule starts a patch where a *score* exceeds the threshold (``e[t-1]`` for
    the global rule, ``e[t-1] - e[t-2]`` for the monotonic one), plus the forced starts. So the number of
    patches is a step function of the threshold that only moves at the scores: the global rule's answer
    is a quantile of the entropies, and sorting the scores gives the exact best threshold for both rules
    (a bisection would converge to the same value).

    >>> e = [0.0, 3.0, 0.1, 0.2, 2.5, 0.3, 0.1, 2.9, 0.2, 0.1]
    >>> theta = calibrate_threshold(e, target_patch_size=2.5)  # 10 tokens -> 4 patches
    >>> theta  # halfway between the 2nd and 3rd largest scores, 2.9 and 2.5
    2.7
    >>> lengths_from_starts(entropy_patch_starts(e, theta), len(e))
    [1, 1, 6, 2]
    """
    if isinstance(target_patch_size, bool) or not isinstance(target_patch_size, Real):
        raise TypeError(f"target_patch_size must be a number, got {type(target_patch_size).__name__}")
    if math.isnan(target_patch_size) or target_patch_size < 1:
        raise ValueError(
            f"target_patch_size must be >= 1 (a patch holds at least one byte), got {target_patch_size}"
        )
    rows = _as_rows(entropies)
    n_tokens = sum(len(row) for row in rows)
    scores, forced = [], 0
    for e in rows:
        t = np.arange(2, len(e))  # tokens that may start a patch
        forced += min(len(e), 2) + int(monotonic and len(e) > 2)
        scores.append(e[t - 1] - e[t - 2] if monotonic else e[t - 1])
        if monotonic:
            scores[-1] = scores[-1][1:]  # token 2 is forced, not scored
    s = np.sort(np.concatenate(scores))[::-1]  # descending: threshold below s[k-1] lets k scores through
    # the best number k of scored starts, among the integers around the ideal count
    ideal = n_tokens / target_patch_size - forced
    candidates = {int(np.clip(k, 0, len(s))) for k in (math.floor(ideal), math.ceil(ideal))}
    k = min(sorted(candidates), key=lambda k: abs(n_tokens / (forced + k) - target_patch_size))
    if len(s) == 0 or k == 0:
        return float(s[0]) if len(s) else 0.0  # nothing may pass: the threshold sits on the largest score
    if k == len(s):
        return float(np.nextafter(s[-1], -np.inf))  # everything passes
    # ties: the count can only change where the sorted scores change value
    lower = s[k]
    return float((s[k - 1] + lower) / 2) if s[k - 1] > lower else float(lower)


# ----------------------------------------------------------------------------- batches for a BLT

SCHEMES = ("entropy", "space", "static")


def mean_patch_size(lengths: torch.Tensor) -> float:
    """Bytes per patch of a batch of patch lengths ``[B, P]`` (rows summing to ``T + 1``, trailing zeros
    padding): positions over non-empty patches, the ``[BOS]`` patch and the next byte's patch included.

    >>> mean_patch_size(torch.tensor([[1, 4, 4, 0], [1, 3, 3, 2]]))  # 8 positions each, 3 and 4 patches
    2.2857142857142856
    """
    if not isinstance(lengths, torch.Tensor) or lengths.dim() != 2 or not (lengths > 0).any(-1).all():
        raise ValueError(
            "lengths must be a [batch, patches] tensor of patch lengths with a non-empty patch in every "
            f"row, got {lengths!r:.80}"
        )
    positions = lengths.sum().item() - lengths.shape[0]  # lengths sum to T + 1 per row
    return positions / (lengths > 0).sum().item()


def lengths_from_start_mask(starts: torch.Tensor) -> torch.Tensor:
    """Patch lengths ``[B, P]`` (zero-padded on the right) from a boolean start mask ``[B, N]``.

    >>> lengths_from_start_mask(torch.tensor([[1, 1, 0, 1, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)).tolist()
    [[1, 2, 2], [5, 0, 0]]
    """
    n = starts.shape[1]
    rows = [torch.diff(row.nonzero().flatten(), append=torch.tensor([n])) for row in starts.cpu()]
    out = torch.zeros(len(rows), max(len(r) for r in rows), dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out.to(starts.device)


@dataclass(frozen=True)
class Patcher:
    """How a BLT cuts a batch of byte-id rows (each starting with BOS) into patches.

    ``scheme``: ``entropy`` (global rule, or ``monotonic``, with ``threshold`` in nats; needs the
    entropies, given or computed row by row with ``entropy_model``), ``space``
    (:func:`space_patch_starts`'s rule) or ``static`` (``[BOS]`` alone, then ``patch_size`` bytes each).
    Lengths include the next, unseen byte (they sum to ``T + 1``), as a BLT forward wants.

    >>> ids = torch.tensor([[1] + [b + 4 for b in b"hi, there"]])
    >>> Patcher("space").lengths(ids).tolist()  # [BOS] | "hi," | " there" + the next byte
    [[1, 3, 7]]
    >>> Patcher("static", patch_size=4).lengths(ids).tolist()
    [[1, 4, 4, 2]]
    """

    scheme: str = "entropy"
    threshold: float | None = None
    patch_size: int | None = None
    monotonic: bool = False
    # The byte model whose entropies the entropy scheme reads when none are given (each row scored on
    # its own), and when generating (``BLT.generate``).
    entropy_model: TransformerLM | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        if self.scheme == "entropy":
            _as_threshold(self.threshold)
        if self.scheme == "static":
            _as_positive_int(self.patch_size, "patch_size")

    def start_mask(self, ids: torch.Tensor, entropies: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, T + 1]`` booleans: which positions start a patch (position ``T`` is the next byte)."""
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
            raise ValueError(f"ids must be a 2-D tensor [batch, time], got {getattr(ids, 'shape', ids)!r}")
        b, t = ids.shape
        pos = torch.arange(t + 1, device=ids.device)
        if self.scheme == "static":
            starts = ((pos - 1) % self.patch_size == 0).expand(b, -1)
        elif self.scheme == "space":
            ends = _space_rule_ends(ids)
            starts = torch.cat([torch.ones_like(ends[:, :1]), ends], 1)  # token k ends -> k + 1 starts
        else:
            if entropies is None and self.entropy_model is not None:
                # Each row scored by itself from its BOS, so a row's patches never depend on the batch.
                entropies = entropies_of_rows(self.entropy_model, ids, progress=False)
            if entropies is None or entropies.shape != ids.shape:
                got = None if entropies is None else tuple(entropies.shape)
                raise ValueError(
                    f"entropy patching needs entropies shaped like ids {tuple(ids.shape)}, got {got} "
                    "(or a Patcher with an entropy_model, which computes them)"
                )
            e = entropies.to(ids.device).float()
            score = e[:, 1:] - e[:, :-1] if self.monotonic else e[:, 1:]  # decides tokens 2 .. T
            starts = torch.zeros(b, t + 1, dtype=torch.bool, device=ids.device)  # tokens 0, 1: forced below
            starts[:, 2:] = score > self.threshold
            if self.monotonic and t >= 2:
                starts[:, 2] = True  # the monotonic rule always starts token 2
        starts = starts.clone()
        starts[:, :2] = True  # [BOS] is a patch of its own: tokens 0 and 1 always start
        return starts

    def lengths(self, ids: torch.Tensor, entropies: torch.Tensor | None = None) -> torch.Tensor:
        """Patch lengths ``[B, P]`` summing to ``T + 1`` per row, zero-padded on the right."""
        return lengths_from_start_mask(self.start_mask(ids, entropies))


def patched_windows(
    ids: torch.Tensor,
    patcher: Patcher,
    batch_size: int,
    seq_len: int,
    generator: torch.Generator,
    entropies: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random training windows for a BLT: ``(x, patch_lengths, y)``.

    ``ids`` is a corpus as byte ids (BOS first) and ``entropies`` its next-byte entropies, computed once
    over the whole corpus (``entropies[i]`` predicts ``ids[i + 1]``). Each row of ``x`` is BOS followed
    by ``seq_len - 1`` corpus bytes, ``y`` is ``x`` shifted by one (the next corpus bytes), and the
    entropies of the window are the corpus's (a byte keeps the context it had in the corpus).
    """
    n = len(ids)
    if n < seq_len + 2:
        raise ValueError(f"the corpus has {n} ids, fewer than seq_len + 2 = {seq_len + 2}")
    if entropies is not None and entropies.shape != ids.shape:
        raise ValueError(f"entropies {tuple(entropies.shape)} must match ids {tuple(ids.shape)}")
    starts = torch.randint(1, n - seq_len, (batch_size,), generator=generator)
    offsets = torch.arange(seq_len)
    body = ids[starts[:, None] + offsets[: seq_len - 1]]
    x = torch.cat([torch.full((batch_size, 1), int(ids[0])), body], 1)
    y = ids[starts[:, None] + offsets]
    e = None
    if entropies is not None:
        e = torch.cat(
            [entropies[starts - 1][:, None], entropies[starts[:, None] + offsets[: seq_len - 1]]], 1
        )
    return x, patcher.lengths(x, e), y
