"""Byte-level token ids (the BLT convention) and nanoGPT-style batching.

A byte b becomes id b + OFFSET; ids 0..3 are special, so the vocabulary has 256 + 4 = 260 entries.

>>> encode_bytes("hi")
tensor([  1, 108, 109])
>>> decode_bytes_ids(encode_bytes("hi", eos=True))
b'hi'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

BOE_ID = 0  # boundary of entity / padding in the BLT code
BOS_ID = 1
EOS_ID = 2
BPE_ID = 3  # marks BPE-delimited patch starts in the BLT code
OFFSET = 4
BYTE_VOCAB = 256 + OFFSET  # 260


def encode_bytes(text: str | bytes, bos: bool = True, eos: bool = False) -> torch.Tensor:
    """UTF-8 bytes of ``text`` as a 1-D LongTensor of ids, byte b -> b + 4, optionally framed by BOS/EOS.

    >>> encode_bytes("é", bos=False)  # two UTF-8 bytes: 0xC3 0xA9
    tensor([199, 173])
    >>> encode_bytes(b"A", eos=True)
    tensor([ 1, 69,  2])
    """
    if isinstance(text, str):
        data = text.encode("utf-8")
    elif isinstance(text, (bytes, bytearray)):
        data = bytes(text)
    else:
        raise TypeError(f"text must be str or bytes, got {type(text).__name__}")
    # frombuffer avoids a Python list of ints (10 MB corpora); it rejects empty buffers.
    ids = torch.frombuffer(bytearray(data), dtype=torch.uint8).long() + OFFSET if data else torch.empty(0)
    parts = [torch.tensor([BOS_ID])] * bos + [ids.long()] + [torch.tensor([EOS_ID])] * eos
    return torch.cat(parts)


def decode_bytes_ids(ids: torch.Tensor | Iterable[int]) -> bytes:
    """Bytes from byte ids, dropping the special ids 0..3; ids outside 0..259 raise ValueError.

    >>> decode_bytes_ids([1, 108, 109, 2])
    b'hi'
    >>> decode_bytes_ids([300])
    Traceback (most recent call last):
    ...
    ValueError: byte ids must be in [0, 260); got 300
    """
    t = torch.as_tensor(ids if isinstance(ids, torch.Tensor) else list(ids), dtype=torch.long).flatten()
    if t.numel() and (t.min() < 0 or t.max() >= BYTE_VOCAB):
        bad = t[(t < 0) | (t >= BYTE_VOCAB)][0].item()
        raise ValueError(f"byte ids must be in [0, {BYTE_VOCAB}); got {bad}")
    return (t[t >= OFFSET] - OFFSET).to(torch.uint8).cpu().numpy().tobytes()


def random_windows(
    ids: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch of (x, y) windows, y being x shifted left by one (nanoGPT's get_batch).

    Both have shape (batch_size, block_size) and live on ``ids``' device. Pass a seeded generator for
    reproducible batches.

    >>> ids = torch.arange(10)
    >>> x, y = random_windows(ids, 2, 4, torch.Generator().manual_seed(0))
    >>> x.shape, bool((y == x + 1).all())
    (torch.Size([2, 4]), True)
    """
    _check_ids(ids, block_size)
    if not _is_int(batch_size) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
    # One gather of (batch, block+1) windows instead of a Python loop over slices.
    windows = ids[(starts[:, None] + torch.arange(block_size + 1)).to(ids.device)]
    return windows[:, :-1], windows[:, 1:]


def sequential_windows(
    ids: torch.Tensor, block_size: int, stride: int | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Deterministic (x, y) windows over ``ids`` for evaluation, each of shape (1, <= block_size).

    Windows start at 0, stride, 2*stride, ... (stride defaults to block_size); the last one is shorter
    if needed, so that with stride == block_size every target ids[1:] appears exactly once.

    >>> [(x.tolist(), y.tolist()) for x, y in sequential_windows(torch.arange(6), 2)]
    [([[0, 1]], [[1, 2]]), ([[2, 3]], [[3, 4]]), ([[4]], [[5]])]
    """
    _check_ids(ids, 1)
    if not _is_int(block_size) or block_size <= 0:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    stride = block_size if stride is None else stride
    if not _is_int(stride) or not 0 < stride <= block_size:
        raise ValueError(f"stride must be an int in [1, block_size={block_size}], got {stride!r}")
    return _windows(ids, block_size, stride)  # checked here, not at the first next()


def consecutive_windows(n: int, length: int, batch_size: int) -> list[tuple[list[int], int]]:
    """Windows of ``length`` that cover positions ``0 .. n - 1`` once, in batches: ``(starts, length)``
    pairs, the full windows ``batch_size`` at a time and a shorter last one on its own.

    >>> consecutive_windows(10, 4, batch_size=2)
    [([0, 4], 4), ([8], 2)]
    """
    full = list(range(0, n - length + 1, length))
    batches = [(full[i : i + batch_size], length) for i in range(0, len(full), batch_size)]
    tail = len(full) * length
    return batches + ([([tail], n - tail)] if tail < n else [])


def _windows(ids: torch.Tensor, block_size: int, stride: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    n_targets = len(ids) - 1
    for start in range(0, n_targets, stride):
        end = min(start + block_size, n_targets)
        yield ids[start:end][None], ids[start + 1 : end + 1][None]
        if end == n_targets:
            break


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_ids(ids: torch.Tensor, block_size: int) -> None:
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1:
        raise TypeError(f"ids must be a 1-D torch.Tensor, got {getattr(ids, 'shape', type(ids).__name__)}")
    if not _is_int(block_size) or block_size <= 0:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    if len(ids) < block_size + 1:
        raise ValueError(
            f"need at least block_size + 1 = {block_size + 1} ids for (x, y) windows, got {len(ids)}"
        )
