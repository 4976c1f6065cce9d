"""The Byte Latent Transformer (BLT), in one readable file: bytes in, bytes out, a big model over patches.

The data flow, for byte ids ``[B, T]`` (BOS = 1, byte b = b + 4) and patch lengths ``[B, P]``:

1. :class:`HashNgramEmbedding`: each byte's embedding plus hashed embeddings of the n-grams ending at it;
2. :class:`LocalEncoder`: a few transformer layers over bytes (sliding window), then cross-attention in
   which ``k`` query slots per patch, initialised from the max over the patch's byte states, read the
   patch's bytes -> patch vectors ``[B, P, k * local_dim]``;
3. :class:`LatentTransformer`: the big model, causal over *patches* (no final norm);
4. :class:`LocalDecoder`: byte states cross-attend to the latent output of the *previous* patch (the
   one-patch shift: every byte of patch ``j + 1`` is predicted from patch ``j``'s output), a few layers,
   a norm and the 260-class head.

It follows the official code (``reference/blt_spec.md``) and loads Hugging Face transformers'
``BltForCausalLM`` weights (:meth:`BLT.from_hf`, :meth:`BLT.to_hf`). Departures, each a config switch:
``repool_queries`` (HF re-pools the encoder's queries after every layer; the official code pools once)
and ``document_mask`` (the official code splits attention at EOS; HF does not). Cross-attention uses the
local models' heads (as HF does; the official code has a separate head count), and sees only the
patch's own bytes (the official ``cross_attn_window = None``).

>>> config = BLTConfig(local_dim=16, local_heads=2, latent_dim=32, latent_heads=2, latent_layers=1,
...                    hash_vocab=64, max_seq_len=32)
>>> model = BLT(config)
>>> ids = torch.tensor([[1, 76, 105, 112, 112, 115]])  # BOS "Hello"
>>> lengths = torch.tensor([[1, 2, 3, 1]])  # sums to T + 1: the last patch holds the next byte
>>> logits, loss = model(ids, lengths, targets=ids.roll(-1, 1))
>>> tuple(logits.shape), loss.shape
((1, 6, 260), torch.Size([]))
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from bltlib import flops
from bltlib.config import int_at_least
from bltlib.data.batching import BYTE_VOCAB, EOS_ID, OFFSET, consecutive_windows, encode_bytes
from bltlib.entropy import entropy_from_logits, load_entropy_model
from bltlib.patching import Patcher, lengths_from_start_mask, mean_patch_size
from bltlib.rope import RotaryCache, interleaved_to_half
from bltlib.train import (
    CheckpointError,
    TrainConfig,
    Trainer,
    load_weights,
    read_metadata,
    save_weights,
    time_alternately,
)
from bltlib.transformer import (
    IGNORE_INDEX,
    Block,
    KVCache,
    RMSNorm,
    TransformerConfig,
    TransformerLM,
    check_sampling,
    repeat_kv_heads,
    sample_next,
)

if TYPE_CHECKING:  # flex attention is imported where it runs (see attention_mask)
    from torch.nn.attention.flex_attention import BlockMask

FORMAT = "bltlib.blt/1"
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "blt.safetensors"
# The official hash primes, one per hash function (reference/blt_spec.md section 2).
HASH_PRIMES = (
    1000000007,
    5915587277,
    1500450271,
    3267000013,
    5754853343,
    4093082899,
    9576890767,
    3628273133,
    2860486313,
    5463458053,
    3367900313,
)


# ----------------------------------------------------------------------------- hash n-grams


def _wrap_int64(x: int) -> int:
    """``x`` as torch's int64 arithmetic would hold it (two's complement wraparound)."""
    x &= (1 << 64) - 1
    return x - (1 << 64) if x >= 1 << 63 else x


def _hash_powers(n: int, func: int = 0) -> list[int]:
    """``p^0 .. p^(n-1)`` in int64 arithmetic for hash function ``func`` (``p = HASH_PRIMES[func % 11]``):
    the weights of an n-gram's bytes, oldest first.

    >>> _hash_powers(3, func=0)[:2]
    [1, 1000000007]
    """
    prime = HASH_PRIMES[func % len(HASH_PRIMES)]
    return [_wrap_int64(prime**k) for k in range(n)]


def hash_ngram_ids(ids: torch.Tensor, n: int, vocab: int, func: int = 0) -> torch.Tensor:
    """Bucket of the byte n-gram ending at each position: the official rolling polynomial hash.

    The ids (with the +4 offset, BOS included) are left-padded with ``n - 1`` zeros; the window
    ``w_0 .. w_{n-1}`` ending at position ``i`` (oldest first) hashes to ``sum_k w_k * p^k`` in int64
    arithmetic (it wraps around, as in the reference), with ``p = HASH_PRIMES[func % 11]``, then
    ``mod vocab`` (non-negative).

    >>> hash_ngram_ids(torch.tensor([[1, 76, 105, 112, 112, 115]]), n=3, vocab=500002).tolist()
    [[443987, 124875, 393970, 386145, 358223, 190185]]
    """
    if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.long, torch.int32):
        raise TypeError(
            f"ids must be an integer torch.Tensor, got {getattr(ids, 'dtype', type(ids).__name__)}"
        )
    for name, value in (("n", n), ("vocab", vocab)):
        if not int_at_least(value, 1):
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    powers = torch.tensor(_hash_powers(n, func), dtype=torch.long, device=ids.device)
    padded = F.pad(ids.long(), (n - 1, 0))  # zeros (BOE) before the first byte
    windows = padded.unfold(-1, n, 1)  # [..., T, n], oldest byte first
    return (windows * powers).sum(-1) % vocab


# ----------------------------------------------------------------------------- config


def stack_dims(stack: TransformerConfig, n_layers: int, reach: int) -> flops.Dims:
    """The ``bltlib.flops`` shape of ``n_layers`` blocks of ``stack``, attention reaching ``reach`` positions.

    >>> stack_dims(TransformerConfig(vocab_size=260, dim=64, n_layers=2, n_heads=4), 2, 128)
    Dims(dim=64, n_layers=2, ffn_dim=176, context=128)
    """
    return flops.Dims(stack.dim, n_layers, stack.ffn_hidden, reach)


@dataclass
class BLTConfig:
    """Everything that fixes the shape of a :class:`BLT`.

    Local models (encoder and decoder share the width ``local_dim``), latent model, cross-attention
    (``cross_attn_k`` query slots per patch; after the last encoder layer or after every one; before the
    first decoder layer or before every one), hash n-gram embeddings (``hash_functions`` x
    ``len(ngram_sizes)`` tables of ``hash_vocab`` rows), and the longest input: ``max_seq_len`` bytes and
    ``max_patches`` patches (default ``max_seq_len + 1``). ``None`` for a kv-head count or an FFN width
    means "as many as query heads" and "8/3 of the width".
    """

    local_dim: int = 128
    local_heads: int = 4
    local_kv_heads: int | None = None
    local_ffn_dim: int | None = None
    encoder_layers: int = 1
    decoder_layers: int = 2
    local_window: int | None = 128
    latent_dim: int = 256
    latent_layers: int = 4
    latent_heads: int = 4
    latent_kv_heads: int | None = None
    latent_ffn_dim: int | None = None
    cross_attn_k: int = 2
    encoder_cross_all_layers: bool = False
    decoder_cross_all_layers: bool = True
    repool_queries: bool = False
    ngram_sizes: tuple[int, ...] = (3, 4, 5, 6, 7, 8)
    hash_functions: int = 1
    hash_vocab: int = 4096
    max_seq_len: int = 512
    max_patches: int | None = None
    local_rope_base: float = 10000.0
    latent_rope_base: float = 10000.0
    norm_eps: float = 1e-5
    document_mask: bool = True
    dropout: float = 0.0
    attn_impl: str = "auto"

    def __post_init__(self) -> None:
        self.ngram_sizes = tuple(self.ngram_sizes)  # JSON round trips give lists
        for name in ("cross_attn_k", "hash_functions", "hash_vocab", "latent_layers"):
            value = getattr(self, name)
            if not int_at_least(value, 1):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("encoder_layers", "decoder_layers"):
            value = getattr(self, name)
            if not int_at_least(value, 1):
                raise ValueError(f"{name} must be an int >= 1 (cross-attention needs a layer), got {value!r}")
        if not self.ngram_sizes or not all(isinstance(n, int) and n >= 2 for n in self.ngram_sizes):
            raise ValueError(f"ngram_sizes must be ints >= 2, got {self.ngram_sizes!r}")
        if self.max_patches is not None and (not isinstance(self.max_patches, int) or self.max_patches < 1):
            raise ValueError(f"max_patches must be a positive int or None, got {self.max_patches!r}")
        self.encoder_stack(), self.latent_stack()  # width, heads and window errors surface here, early

    @property
    def patch_capacity(self) -> int:
        """The most patches a row may have (``max_patches``, by default ``max_seq_len + 1``)."""
        return self.max_patches or self.max_seq_len + 1

    def _stack(self, **kw: object) -> TransformerConfig:
        return TransformerConfig(
            vocab_size=BYTE_VOCAB,
            norm_eps=self.norm_eps,
            dropout=self.dropout,
            attn_impl=self.attn_impl,
            **kw,
        )

    def encoder_stack(self, n_layers: int | None = None) -> TransformerConfig:
        """The local models' transformer blocks, as a :class:`~bltlib.transformer.TransformerConfig`."""
        return self._stack(
            dim=self.local_dim,
            n_layers=n_layers or self.encoder_layers,
            n_heads=self.local_heads,
            n_kv_heads=self.local_kv_heads,
            ffn_dim=self.local_ffn_dim,
            max_seq_len=self.max_seq_len,
            sliding_window=self.local_window,
            rope_base=self.local_rope_base,
        )

    def decoder_stack(self) -> TransformerConfig:
        return self.encoder_stack(self.decoder_layers)

    def latent_stack(self) -> TransformerConfig:
        return self._stack(
            dim=self.latent_dim,
            n_layers=self.latent_layers,
            n_heads=self.latent_heads,
            n_kv_heads=self.latent_kv_heads,
            ffn_dim=self.latent_ffn_dim,
            max_seq_len=self.patch_capacity,
            rope_base=self.latent_rope_base,
        )

    def byte_lm_stack(self) -> TransformerConfig:
        """A plain byte-level transformer as wide and deep as the latent model, over as many bytes: the
        yardstick for whether the BLT's hashing, pooling and masks waste the machine (lesson 4's speed
        section, ``benchmarks/bench_blt.py``)."""
        return replace(self.latent_stack(), max_seq_len=self.max_seq_len)

    def flops_per_byte(self, patch_size: float, context_bytes: int | None = None) -> dict[str, float]:
        """Forward FLOPs per byte by part (``bltlib.flops`` terms for this model's shapes), and ``total``.

        ``context_bytes`` (default ``max_seq_len``) sets how far attention reaches: the local models see
        ``min(window, context)`` bytes, the latent model ``context / patch_size`` patches. On top of the
        paper's terms this counts the projections the model has: the encoder's query slots (per cross
        layer), the latent input (when ``k * local_dim != latent_dim``) and the decoder's slots, each once
        per patch. Training costs 3x (``flops.training_flops``).
        """
        context = context_bytes or self.max_seq_len
        local, latent = self.encoder_stack(), self.latent_stack()
        window = min(context, self.local_window or context)

        k, d, dg = self.cross_attn_k, self.local_dim, self.latent_dim
        enc_x = self.encoder_layers if self.encoder_cross_all_layers else 1
        dec_x = self.decoder_layers if self.decoder_cross_all_layers else 1
        parts = flops.patch_model_flops_per_byte(
            latent=stack_dims(latent, self.latent_layers, max(1, round(context / patch_size))),
            encoder=stack_dims(local, self.encoder_layers, window),
            decoder=stack_dims(local, self.decoder_layers, window),
            patch_size=patch_size,
            k=k,
            cross_layers=(enc_x, dec_x),
        )
        pools = enc_x if self.repool_queries else 1
        per_patch = 2 * d * k * d * pools + 2 * dg * k * d + (2 * k * d * dg if k * d != dg else 0)
        parts["projections"] = per_patch / patch_size
        parts["total"] = sum(v for name, v in parts.items() if name != "total")
        return parts


def gpu_blt_config(**overrides: object) -> BLTConfig:
    """The BLT of the ``gpu`` preset (``scripts/train_blt.py --preset gpu``): real scale on one GPU.

    The latent model (768 wide, 12 layers) holds three quarters of the FLOPs; the local models (256 wide,
    encoder 1 and decoder 4 layers, window 512) run on every byte. Heads of 64 channels everywhere, so
    compiled flex attention takes every self-attention. 137M parameters, 46M of them in the six hash
    tables (30,000 rows each), which cost no FLOPs. ``overrides`` replace fields.

    >>> config = gpu_blt_config()
    >>> with torch.device("meta"):  # count without allocating
    ...     model = BLT(config)
    >>> model.num_params(), model.num_params(exclude_hash=True)
    (137352448, 91272448)
    >>> parts = config.flops_per_byte(patch_size=4.5)
    >>> round(parts["total"] / 1e6, 1), round(parts["latent"] / parts["total"], 2)
    (54.4, 0.76)
    """
    shape = dict(
        local_dim=256,
        local_heads=4,
        encoder_layers=1,
        decoder_layers=4,
        local_window=512,
        latent_dim=768,
        latent_layers=12,
        latent_heads=12,
        cross_attn_k=2,
        hash_vocab=30000,
        max_seq_len=2048,
    )
    return BLTConfig(**{**shape, **overrides})


# ----------------------------------------------------------------------------- patches and masks


def patch_ids(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """Patch index of each of the first ``n`` positions, for a batch of patch lengths ``[B, P]``.

    ``id_t = #{patch ends <= t}``: zero-length patches take an index but no position, and positions past
    the last length (when lengths sum to less than ``n``) fall into the last non-empty patch.

    >>> patch_ids(torch.tensor([[1, 3, 0, 2]]), 6).tolist()
    [[0, 1, 1, 1, 3, 3]]
    """
    ends = lengths.cumsum(-1)
    positions = torch.arange(n, device=lengths.device)
    ids = (ends[:, None, :] <= positions[None, :, None]).sum(-1)
    last = lengths.shape[1] - 1 - (lengths.flip(-1) > 0).long().argmax(-1)  # the last non-empty patch
    return torch.minimum(ids, last[:, None])


def decoder_patch_ids(lengths: torch.Tensor, n: int) -> torch.Tensor:
    """The latent output each position's *prediction* reads: the one-patch shift.

    Position ``t`` predicts byte ``t + 1``; that byte lies in patch ``j + 1``, which may only use what the
    latent model knew after patch ``j``. Dropping the first length (the ``[BOS]`` patch, always 1) shifts
    every id down by one patch.

    >>> decoder_patch_ids(torch.tensor([[1, 3, 2]]), 5).tolist()  # bytes 1-3 form patch 1, 4-5 patch 2
    [[0, 0, 0, 1, 1]]
    """
    return patch_ids(lengths[:, 1:], n)


def pool_patches(h: torch.Tensor, ids: torch.Tensor, n_patches: int) -> torch.Tensor:
    """Max over each patch's positions: ``[B, T, D] -> [B, P, D]``; an empty patch gets zeros.

    >>> h = torch.tensor([[[1.0], [5.0], [2.0]]])
    >>> pool_patches(h, torch.tensor([[0, 1, 1]]), 3).flatten().tolist()
    [1.0, 5.0, 0.0]
    """
    out = h.new_zeros(h.shape[0], n_patches, h.shape[-1])
    index = ids[..., None].expand(-1, -1, h.shape[-1])
    return out.scatter_reduce(1, index, h, reduce="amax", include_self=False)


def encoder_cross_mask(ids: torch.Tensor, n_patches: int, k: int) -> torch.Tensor:
    """``[B, P * k, T]``: query slot ``s`` (patch ``s // k``) may read position ``t`` iff ``t`` is in it.

    >>> encoder_cross_mask(torch.tensor([[0, 1, 1]]), 2, k=1).int().tolist()
    [[[1, 0, 0], [0, 1, 1]]]
    """
    slots = torch.arange(n_patches, device=ids.device).repeat_interleave(k)
    return ids[:, None, :] == slots[None, :, None]


def decoder_cross_mask(dec_ids: torch.Tensor, n_patches: int, k: int) -> torch.Tensor:
    """``[B, T, P * k]``: position ``t`` may read the ``k`` slots of latent output ``dec_ids[t]``.

    >>> decoder_cross_mask(torch.tensor([[0, 0, 1]]), 2, k=1).int().tolist()
    [[[1, 0], [1, 0], [0, 1]]]
    """
    slots = torch.arange(n_patches, device=dec_ids.device).repeat_interleave(k)
    return dec_ids[:, :, None] == slots[None, None, :]


def document_ids(ids: torch.Tensor) -> torch.Tensor:
    """Document index of each position: the number of EOS strictly before it (an EOS ends its own).

    >>> document_ids(torch.tensor([[1, 100, 2, 1, 100]])).tolist()
    [[0, 0, 0, 1, 1]]
    """
    eos = (ids == EOS_ID).long()
    return eos.cumsum(-1) - eos


def local_mask_mod(docs: torch.Tensor, window: int | None) -> Callable:
    """The local models' self-attention rule as flex attention's ``mask_mod(b, h, q_idx, kv_idx)``:
    causal, within ``window`` (itself included), and in the same document of row ``b`` (``docs`` is
    ``[B, T]``, from :func:`document_ids`). :func:`local_mask` is this rule evaluated on every pair.

    >>> rule = local_mask_mod(torch.tensor([[0, 0, 1, 1]]), window=None)
    >>> [bool(rule(0, 0, torch.tensor(3), torch.tensor(k))) for k in range(4)]
    [False, False, True, True]
    """

    def rule(b, h, q_idx, kv_idx):
        visible = (kv_idx <= q_idx) & (docs[b, q_idx] == docs[b, kv_idx])
        if window is not None:
            visible = visible & (q_idx - kv_idx < window)
        return visible

    return rule


def latent_mask_mod(patch_docs: torch.Tensor) -> Callable:
    """The latent model's rule as a ``mask_mod``: causal over patches, within a document
    (``patch_docs`` ``[B, P]``, from :func:`patch_documents`). :func:`latent_mask` evaluates it."""
    return local_mask_mod(patch_docs, window=None)


def dense_mask_from_mod(rule: Callable, batch: int, n: int, device: torch.device) -> torch.Tensor:
    """``[B, 1, n, n]``: a ``mask_mod`` evaluated on every (row, query, key), as SDPA's boolean mask.

    The dense masks are *computed from* the flex rules, so the two attention paths cannot drift apart.

    >>> dense_mask_from_mod(lambda b, h, q, kv: kv <= q, 1, 2, torch.device("cpu"))[0, 0].int().tolist()
    [[1, 0], [1, 1]]
    """
    rows = torch.arange(batch, device=device)[:, None, None]
    pos = torch.arange(n, device=device)
    return rule(rows, None, pos[None, :, None], pos[None, None, :]).expand(batch, n, n)[:, None]


def local_mask(docs: torch.Tensor, window: int | None) -> torch.Tensor:
    """``[B, 1, T, T]`` self-attention mask of the local models: causal, within ``window``, same document.

    >>> local_mask(torch.tensor([[0, 0, 1]]), window=None)[0, 0].int().tolist()
    [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    """
    return dense_mask_from_mod(local_mask_mod(docs, window), *docs.shape, docs.device)


def patch_documents(ids: torch.Tensor, pids: torch.Tensor, n_patches: int) -> torch.Tensor:
    """Document index of each patch: the number of EOS bytes in the patches before it.

    >>> patch_documents(torch.tensor([[1, 100, 2, 100]]), torch.tensor([[0, 1, 1, 2]]), 3).tolist()
    [[0, 0, 1]]
    """
    eos = (ids == EOS_ID).long()
    per_patch = eos.new_zeros(ids.shape[0], n_patches).scatter_add(1, pids, eos)
    return per_patch.cumsum(-1) - per_patch


def latent_mask(patch_docs: torch.Tensor) -> torch.Tensor:
    """``[B, 1, P, P]``: causal over patches, within a document."""
    return dense_mask_from_mod(latent_mask_mod(patch_docs), *patch_docs.shape, patch_docs.device)


def attention_mask(
    rule: Callable, batch: int, n: int, device: torch.device, flex: bool
) -> torch.Tensor | BlockMask:
    """What an ``Attention`` layer takes for ``rule`` over ``n`` positions: a flex ``BlockMask`` (the
    kernel skips the blocks the rule rules out, e.g. those outside a local window) or SDPA's dense mask."""
    if not flex:
        return dense_mask_from_mod(rule, batch, n, device)
    from torch.nn.attention.flex_attention import create_block_mask

    # H=None: one mask for all heads. Built per batch, since the documents are; under torch.compile
    # (the Trainer on CUDA) building it fuses into the step instead of materialising [B, n, n].
    return create_block_mask(rule, batch, None, n, n, device=device)


# ----------------------------------------------------------------------------- modules


class HashNgramEmbedding(nn.Module):
    """Byte embedding plus, for every hash function and n-gram size, a row of that n-gram's table.

    The tables are fused into one (table ``f * len(ngram_sizes) + g`` holds rows ``[i * V, (i + 1) * V)``,
    as in HF), so the lookup is one ``embedding_bag``. The sum is not normalised (the released weights
    expect a plain sum; the paper divides by the number of terms).
    """

    def __init__(self, config: BLTConfig) -> None:
        super().__init__()
        self.ngram_sizes, self.n_functions, self.vocab = (
            config.ngram_sizes,
            config.hash_functions,
            config.hash_vocab,
        )
        self.bytes = nn.Embedding(BYTE_VOCAB, config.local_dim)
        self.hashes = nn.Embedding(self.n_functions * len(self.ngram_sizes) * self.vocab, config.local_dim)
        # Every table's hash at once: :func:`hash_ngram_ids` over the longest window, the powers of each
        # table's prime right-aligned (the n-gram is the window's last n bytes) and zeros before them.
        longest = max(self.ngram_sizes)
        powers = torch.zeros(self.n_functions * len(self.ngram_sizes), longest, dtype=torch.long)
        for f in range(self.n_functions):
            for g, n in enumerate(self.ngram_sizes):
                powers[f * len(self.ngram_sizes) + g, longest - n :] = torch.tensor(_hash_powers(n, f))
        self.register_buffer("powers", powers, persistent=False)
        self.register_buffer("offsets", torch.arange(len(powers)) * self.vocab, persistent=False)

    def bucket_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """``[B, T, tables]``: the row of the fused table that each position reads from each table
        (table ``f * len(ngram_sizes) + g`` is ``hash_ngram_ids(ids, ngram_sizes[g], vocab, f)``)."""
        longest = self.powers.shape[1]
        windows = F.pad(ids.long(), (longest - 1, 0)).unfold(-1, longest, 1)  # [B, T, longest]
        return (windows[..., None, :] * self.powers).sum(-1) % self.vocab + self.offsets

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        buckets = self.bucket_ids(ids)
        hashed = F.embedding_bag(buckets.flatten(0, 1), self.hashes.weight, mode="sum")
        return self.bytes(ids) + hashed.view(*ids.shape, -1)


def batch_patch_rows(ids: torch.Tensor, n_patches: int) -> torch.Tensor:
    """Patch ids ``[B, T]`` numbered across the batch, flat ``[B * T]``: row ``b``'s patches become
    ``b * P .. b * P + P - 1``, so one ``index_select`` or ``index_add`` over ``[B * P, ...]`` serves
    every row at once.

    >>> batch_patch_rows(torch.tensor([[0, 1, 1], [0, 0, 2]]), n_patches=3).tolist()
    [0, 1, 1, 3, 3, 5]
    """
    return (ids + n_patches * torch.arange(ids.shape[0], device=ids.device)[:, None]).flatten()


def patches_read_bytes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pids: torch.Tensor) -> torch.Tensor:
    """Each patch's query slots attend to that patch's bytes only: ``encoder_cross_mask`` as arithmetic.

    ``q`` is ``[B, P, k, H, d]`` (``k`` slots per patch), ``k``/``v`` are ``[B, T, H_kv, d]`` and ``pids``
    ``[B, T]`` the patch of each byte. A softmax over a *segment* of bytes: scores are computed for the
    ``T x k`` (byte, slot) pairs that the mask allows, never for the ``T x P x k`` it forbids, so the
    cost grows like ``T``, not ``T * P``. An empty patch reads nothing and gets 0, as under the mask.

    >>> q = torch.zeros(1, 2, 1, 1, 1); kv = torch.tensor([[[[1.0]], [[3.0]], [[5.0]]]])
    >>> patches_read_bytes(q, kv, kv, torch.tensor([[0, 1, 1]])).flatten().tolist()  # means of 1 | 3, 5
    [1.0, 4.0]
    """
    b, n_patches, slots, heads, d = q.shape
    k, v = (repeat_kv_heads(t, heads, dim=2) for t in (k, v))
    rows = batch_patch_rows(pids, n_patches)
    q_of_byte = q.flatten(0, 1).index_select(0, rows)  # [B*T, k, H, d]: the slots that read each byte
    scores = (q_of_byte * k.flatten(0, 1)[:, None]).sum(-1) / math.sqrt(d)  # [B*T, k, H]
    # Softmax within each patch: subtract the patch's max (detached: softmax does not depend on it).
    peak = scores.new_full((b * n_patches, slots, heads), -torch.inf)
    peak = peak.scatter_reduce(0, rows[:, None, None].expand_as(scores), scores.detach(), "amax")
    weights = torch.exp(scores - peak.index_select(0, rows))
    total = weights.new_zeros(b * n_patches, slots, heads).index_add(0, rows, weights)
    summed = q.new_zeros(b * n_patches, slots, heads, d).index_add(
        0, rows, weights[..., None] * v.flatten(0, 1)[:, None]
    )
    out = summed / total.clamp_min(torch.finfo(total.dtype).tiny)[..., None]
    return out.view(b, n_patches, slots, heads, d)


def bytes_read_patches(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dec_ids: torch.Tensor
) -> torch.Tensor:
    """Each byte attends to the ``k`` slots of one latent output: ``decoder_cross_mask`` as arithmetic.

    ``q`` is ``[B, T, H, d]``, ``k``/``v`` ``[B, P, k, H_kv, d]`` and ``dec_ids`` ``[B, T]`` the patch each
    byte reads. Gathering those ``k`` slots per byte replaces a ``[T, P * k]`` mask that is almost all False.

    >>> kv = torch.tensor([[[[[1.0]], [[3.0]]], [[[5.0]], [[7.0]]]]])  # 2 patches x 2 slots
    >>> bytes_read_patches(torch.zeros(1, 2, 1, 1), kv, kv, torch.tensor([[0, 1]])).flatten().tolist()
    [2.0, 6.0]
    """
    b, n, heads, d = q.shape
    n_patches = k.shape[1]
    k, v = (repeat_kv_heads(t, heads, dim=3).flatten(0, 1) for t in (k, v))  # [B*P, k, H, d]
    rows = batch_patch_rows(dec_ids, n_patches)
    k_of_byte, v_of_byte = (t.index_select(0, rows) for t in (k, v))  # [B*T, k, H, d]
    scores = (q.reshape(b * n, 1, heads, d) * k_of_byte).sum(-1) / math.sqrt(d)
    weights = torch.softmax(scores, dim=1)  # over the k slots
    return (weights[..., None] * v_of_byte).sum(1).view(b, n, heads, d)


class CrossAttention(nn.Module):
    """Patches read their bytes (encoder) or bytes read their patch (decoder); RMSNorm on both sides, no
    positions (spec §3). Which side may read which is fixed by patch ids, as the cross masks draw it."""

    def __init__(self, config: TransformerConfig, slots: int, encoder: bool) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = config.n_heads, config.kv_heads, config.head_dim
        self.slots, self.encoder = slots, encoder
        self.q_norm = RMSNorm(config.dim, config.norm_eps)
        self.kv_norm = RMSNorm(config.dim, config.norm_eps)
        self.q = nn.Linear(config.dim, config.n_heads * config.head_dim, bias=False)
        self.k = nn.Linear(config.dim, config.kv_heads * config.head_dim, bias=False)
        self.v = nn.Linear(config.dim, config.kv_heads * config.head_dim, bias=False)
        self.out = nn.Linear(config.n_heads * config.head_dim, config.dim, bias=False)

    def forward(self, x: torch.Tensor, kv: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Queries ``x [B, N, D]`` read ``kv [B, M, D]``.

        Encoder: ``x`` holds ``P * k`` slots, ``kv`` the ``T`` bytes, ``ids`` each byte's patch.
        Decoder: ``x`` holds the ``T`` bytes, ``kv`` the ``P * k`` slots, ``ids`` the patch each byte reads.
        """
        return self.read(x, self.keys_values(kv), ids)

    def keys_values(self, kv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values ``[B, M, H_kv * d]`` of ``kv [B, M, D]`` (generation keeps its patch's)."""
        kv = self.kv_norm(kv)
        return self.k(kv), self.v(kv)

    def read(
        self, x: torch.Tensor, keys_values: tuple[torch.Tensor, torch.Tensor], ids: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`forward` with the keys and values of ``kv`` given (:meth:`keys_values`)."""
        b, n, _ = x.shape
        q, (k, v) = self.q(self.q_norm(x)), keys_values
        heads, kv_heads, d = self.n_heads, self.n_kv_heads, self.head_dim
        if self.encoder:
            q = q.view(b, n // self.slots, self.slots, heads, d)
            y = patches_read_bytes(q, k.view(b, -1, kv_heads, d), v.view(b, -1, kv_heads, d), ids)
        else:
            k, v = (t.view(b, -1, self.slots, kv_heads, d) for t in (k, v))
            y = bytes_read_patches(q.view(b, n, heads, d), k, v, ids)
        # The reference returns x + out and its caller adds x again (x <- 2x + out); the released
        # weights were trained that way, so the residual is doubled here on purpose.
        return 2 * x + self.out(y.reshape(b, n, -1))


class LocalEncoder(nn.Module):
    """Byte layers, then ``k`` query slots per patch that read their patch's bytes."""

    def __init__(self, config: BLTConfig) -> None:
        super().__init__()
        stack = config.encoder_stack()
        self.k, self.repool = config.cross_attn_k, config.repool_queries
        self.cross_all = config.encoder_cross_all_layers
        self.layers = nn.ModuleList(Block(stack) for _ in range(stack.n_layers))
        self.cross = nn.ModuleList(
            CrossAttention(stack, self.k, encoder=True)
            for _ in range(stack.n_layers if self.cross_all else 1)
        )
        self.query_proj = nn.Linear(stack.dim, stack.dim * self.k, bias=False)
        self.rope = RotaryCache(stack.head_dim, stack.max_seq_len, stack.rope_base)

    def forward(
        self,
        x: torch.Tensor,
        pids: torch.Tensor,
        n_patches: int,
        self_mask: torch.Tensor | BlockMask | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Byte states ``[B, T, D]`` and patch vectors ``[B, P, k * D]``."""
        states = self.byte_states(x, self_mask)
        return states[-1], self.read_patches(states, pids, n_patches)

    def byte_states(
        self,
        x: torch.Tensor,
        self_mask: torch.Tensor | BlockMask | None = None,
        kv_caches: list[KVCache] | None = None,
    ) -> list[torch.Tensor]:
        """The byte layers' outputs, one ``[B, T, D]`` per layer. With ``kv_caches``, ``x`` continues
        the cached bytes. Cross-attention never writes into the bytes, so they need no patches."""
        offset = 0 if kv_caches is None else kv_caches[0].length
        cos, sin = self.rope(x.shape[1], offset)
        states = []
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if kv_caches is None else kv_caches[i], mask=self_mask)
            states.append(x)
        return states

    def read_patches(self, states: list[torch.Tensor], pids: torch.Tensor, n_patches: int) -> torch.Tensor:
        """``[B, P, k * D]``: each patch's ``k`` query slots, pooled from its bytes, read its bytes in the
        cross-attention layers (after the last byte layer, or after each)."""
        b, _, d = states[0].shape
        queries = None
        for i, x in enumerate(states):
            if self.cross_all or i == len(states) - 1:
                if queries is None or self.repool:
                    queries = self.query_proj(pool_patches(x, pids, n_patches)).view(b, n_patches * self.k, d)
                queries = self.cross[i if self.cross_all else 0](queries, x, pids)
        return queries.view(b, n_patches, self.k * d)


class LatentTransformer(nn.Module):
    """The big model: causal over patches, RoPE over patch positions, no final norm."""

    def __init__(self, config: BLTConfig) -> None:
        super().__init__()
        stack = config.latent_stack()
        d_in = config.cross_attn_k * config.local_dim
        self.in_proj = nn.Linear(d_in, stack.dim, bias=False) if d_in != stack.dim else None
        self.layers = nn.ModuleList(Block(stack) for _ in range(stack.n_layers))
        self.rope = RotaryCache(stack.head_dim, stack.max_seq_len, stack.rope_base)

    def forward(
        self,
        patches: torch.Tensor,
        mask: torch.Tensor | BlockMask | None,
        kv_caches: list[KVCache] | None = None,
    ) -> torch.Tensor:
        """Latent outputs ``[B, P, latent_dim]``; with ``kv_caches``, ``patches`` continue the cached ones."""
        h = self.in_proj(patches) if self.in_proj is not None else patches
        cos, sin = self.rope(h.shape[1], 0 if kv_caches is None else kv_caches[0].length)
        for i, layer in enumerate(self.layers):
            h = layer(h, cos, sin, None if kv_caches is None else kv_caches[i], mask=mask)
        return h


class LocalDecoder(nn.Module):
    """Byte states read their (shifted) patch's latent output, then byte layers, norm and head."""

    def __init__(self, config: BLTConfig) -> None:
        super().__init__()
        stack = config.decoder_stack()
        self.k, self.cross_all = config.cross_attn_k, config.decoder_cross_all_layers
        self.slot_proj = nn.Linear(config.latent_dim, stack.dim * self.k, bias=False)
        self.cross = nn.ModuleList(
            CrossAttention(stack, self.k, encoder=False)
            for _ in range(stack.n_layers if self.cross_all else 1)
        )
        self.layers = nn.ModuleList(Block(stack) for _ in range(stack.n_layers))
        self.norm = RMSNorm(stack.dim, stack.norm_eps)
        self.head = nn.Linear(stack.dim, BYTE_VOCAB, bias=False)
        self.rope = RotaryCache(stack.head_dim, stack.max_seq_len, stack.rope_base)

    def forward(
        self,
        x: torch.Tensor,
        latent: torch.Tensor,
        dec_ids: torch.Tensor,
        self_mask: torch.Tensor | BlockMask | None,
        kv_caches: list[KVCache] | None = None,
    ) -> torch.Tensor:
        """Logits ``[B, T, 260]`` for byte states ``x``, position ``t`` reading latent output ``dec_ids[t]``;
        with ``kv_caches``, ``x`` continues the cached bytes."""
        return self.read(x, self.latent_keys(latent), dec_ids, self_mask, kv_caches)

    def latent_keys(self, latent: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each cross-attention's keys and values of the latent outputs' ``k`` slots each. Generation
        computes them once per patch, not once per byte."""
        b, n_patches, _ = latent.shape
        slots = self.slot_proj(latent).view(b, n_patches * self.k, -1)
        return [cross.keys_values(slots) for cross in self.cross]

    def read(
        self,
        x: torch.Tensor,
        latent_keys: list[tuple[torch.Tensor, torch.Tensor]],
        dec_ids: torch.Tensor,
        self_mask: torch.Tensor | BlockMask | None,
        kv_caches: list[KVCache] | None = None,
    ) -> torch.Tensor:
        """:meth:`forward` with the latent outputs' keys and values given (:meth:`latent_keys`)."""
        cos, sin = self.rope(x.shape[1], 0 if kv_caches is None else kv_caches[0].length)
        for i, layer in enumerate(self.layers):
            if self.cross_all or i == 0:
                x = self.cross[i].read(x, latent_keys[i], dec_ids)
            x = layer(x, cos, sin, None if kv_caches is None else kv_caches[i], mask=self_mask)
        return self.head(self.norm(x))


# ----------------------------------------------------------------------------- the model


class BLT(nn.Module):
    """Hash n-gram embeddings -> local encoder -> latent transformer -> local decoder -> 260 logits."""

    def __init__(self, config: BLTConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = HashNgramEmbedding(config)
        self.encoder = LocalEncoder(config)
        self.latent = LatentTransformer(config)
        self.decoder = LocalDecoder(config)
        self.patcher: Patcher | None = None  # how its inputs are cut; load_blt() sets the shipped one
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, exclude_hash: bool = False) -> int:
        """Parameter count; ``exclude_hash`` leaves out the hash n-gram tables (they cost no FLOPs)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.embed.hashes.weight.numel() if exclude_hash else n

    def forward(
        self, ids: torch.Tensor, patch_lengths: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``[B, T, 260]`` for byte ids ``[B, T]`` cut into patches ``[B, P]``, and the mean
        cross-entropy (nats per target byte; ``IGNORE_INDEX`` targets do not count) if ``targets``.

        Each row of ``patch_lengths`` starts with 1 (the ``[BOS]`` patch) and sums to ``T + 1`` (the
        last patch holds the next, unseen byte) or ``T``; trailing zeros pad a batch.
        """
        check_inputs(ids, patch_lengths, self.config)
        logits = self._logits(ids, patch_lengths)
        if targets is None:
            return logits, None
        check_targets(targets, ids)
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)
        return logits, loss

    def _logits(self, ids: torch.Tensor, patch_lengths: torch.Tensor) -> torch.Tensor:
        b, t = ids.shape
        n_patches = patch_lengths.shape[1]
        pids = patch_ids(patch_lengths, t)
        x = self.embed(ids)
        self_mask, latent_attn_mask = self._document_masks(ids, pids, n_patches, x)
        h, patches = self.encoder(x, pids, n_patches, self_mask)
        latent = self.latent(patches, latent_attn_mask)
        return self.decoder(h, latent, decoder_patch_ids(patch_lengths, t), self_mask)

    def _document_masks(
        self, ids: torch.Tensor, pids: torch.Tensor, n_patches: int, x: torch.Tensor
    ) -> tuple[torch.Tensor | BlockMask | None, torch.Tensor | BlockMask | None]:
        """The local and the latent self-attention masks that keep documents apart, or ``None`` for the
        layers' own causal (and window) rule: flex ``BlockMask``s where the layers run flex attention
        (CUDA), SDPA's dense masks elsewhere, both from :func:`local_mask_mod` / :func:`latent_mask_mod`.

        Dense masks are made only when an EOS sits inside a row (else the unmasked paths are faster).
        When both stacks run flex, BlockMasks are made for every batch without looking: one document
        gives the plain causal rule anyway, and not reading the ids back saves a host sync that would
        split a compiled step in two.
        """
        c = self.config
        if not c.document_mask:
            return None, None
        # ``x`` (device, whether it needs gradients) is what each stack's attention decides by.
        flex_local, flex_latent = (
            part.layers[0].attn._use_flex(x, None) for part in (self.encoder, self.latent)
        )
        if not (flex_local and flex_latent) and not (ids[:, :-1] == EOS_ID).any():
            return None, None
        b, t = ids.shape
        local = attention_mask(
            local_mask_mod(document_ids(ids), c.local_window), b, t, ids.device, flex_local
        )
        latent_rule = latent_mask_mod(patch_documents(ids, pids, n_patches))
        return local, attention_mask(latent_rule, b, n_patches, ids.device, flex_latent)

    # ------------------------------------------------------------------------- generation

    @torch.inference_mode()
    def generate(
        self,
        prompt: str | bytes,
        max_new_bytes: int,
        *,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop: str | bytes | None = None,
        cached: bool = True,
    ) -> Generation:
        """Continue ``prompt`` by up to ``max_new_bytes`` bytes (an EOS ends it early), patching as it goes
        with ``self.patcher`` (``load_blt`` sets the shipped one, entropy model included).

        ``cached=True`` is patch-aware: KV caches in the entropy model, the local encoder, the latent
        model and the local decoder, and the latent model takes one step only when a patch closes.
        ``cached=False`` is the reference, as the official ``generate_nocache``: entropies, patches and
        the whole BLT recomputed over the whole sequence for every byte. Both give the same bytes.

        ``temperature = 0`` is greedy; otherwise sampling with ``top_k``/``top_p``, reproducible with
        ``seed``. ``stop`` (a newline, say) ends generation as soon as the new bytes end with it; it is
        kept in ``.bytes``. A prompt longer than ``max_seq_len - 1`` bytes keeps its last bytes. The
        sequence may grow past ``max_seq_len`` when the local models (and the entropy model) use sliding
        windows: a window makes positions relative, so longer rotary tables compute what the model
        computes within its length. The latent model holds at most ``patch_capacity`` patches.
        """
        ids = self._prompt_ids(prompt)
        if not int_at_least(max_new_bytes, 0):
            raise ValueError(f"max_new_bytes must be a non-negative int, got {max_new_bytes!r}")
        check_sampling(temperature, top_k, top_p)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        patcher = self._generation_patcher()
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        if isinstance(stop, str):
            stop = stop.encode("utf-8")
        if stop is not None and (not isinstance(stop, bytes) or not stop):
            raise ValueError(f"stop must be a non-empty str or bytes, or None, got {stop!r}")
        stop_ids = None if stop is None else [b + OFFSET for b in stop]

        def finished(new: list[int]) -> bool:
            return len(new) == max_new_bytes or (stop_ids is not None and new[-len(stop_ids) :] == stop_ids)

        def pick(logits: torch.Tensor) -> int:
            # Only bytes or EOS can come next: PAD, BOS and the BPE marker are not outputs.
            logits = logits.float().masked_fill(NOT_GENERATED.to(logits.device), float("-inf"))
            return int(sample_next(logits, temperature, top_k, top_p, generator))

        length = ids.shape[1] + max_new_bytes  # positions the models may have to hold
        was_training = self.training
        self.eval()
        try:
            with _reach(self, patcher.entropy_model, length):
                run = _generate_cached if cached else _generate_uncached
                return run(
                    self, patcher, ids.to(next(self.parameters()).device), max_new_bytes, pick, finished
                )
        finally:
            self.train(was_training)

    def _prompt_ids(self, prompt: object) -> torch.Tensor:
        if isinstance(prompt, str):
            data = prompt.encode("utf-8")
        elif isinstance(prompt, bytes | bytearray):
            data = bytes(prompt)
        else:
            raise TypeError(f"prompt must be str or bytes, got {type(prompt).__name__}")
        if not data:
            raise ValueError("the prompt is empty: give at least one byte to continue")
        return encode_bytes(data[-(self.config.max_seq_len - 1) :], bos=True)[None]

    def _generation_patcher(self) -> Patcher:
        patcher = self.patcher
        if patcher is None:
            raise ValueError(
                "model.patcher is None: set it to a bltlib.patching.Patcher (load_blt() sets the shipped one)"
            )
        if patcher.scheme == "entropy" and patcher.entropy_model is None:
            raise ValueError(
                "entropy patching needs the entropy model: Patcher(..., entropy_model=load_entropy_model())"
            )
        return patcher

    # ------------------------------------------------------------------------- Hugging Face

    @classmethod
    def from_hf(cls, config: dict, state_dict: dict[str, torch.Tensor]) -> BLT:
        """A BLT with the weights of a transformers ``BltForCausalLM``, from its ``config.to_dict()`` and
        ``state_dict()``. The result gives the same logits as HF's model (it re-pools queries and has no
        document mask, as HF does). The patcher's weights, if present, are not part of the BLT."""
        model = cls(config_from_hf(config)).eval()
        ours = model.state_dict()
        theirs = dict(state_dict)
        loaded = {}
        for key, (hf_key, heads) in _hf_key_map(model).items():
            if hf_key not in theirs:
                raise KeyError(f"state_dict is missing {hf_key!r} (for {key})")
            tensor = theirs.pop(hf_key)
            if tuple(tensor.shape) != tuple(ours[key].shape):
                raise ValueError(
                    f"{hf_key!r} has shape {tuple(tensor.shape)}, the config implies {tuple(ours[key].shape)}"
                )
            if heads:
                tensor = _permute_rows(tensor, heads, interleaved_to_half)
            loaded[key] = tensor
        unexpected = [k for k in theirs if not k.startswith("model.patcher.")]
        if unexpected:
            raise KeyError(f"state_dict has unexpected keys, e.g. {unexpected[:3]}")
        model.load_state_dict(loaded, strict=True)
        return model

    def to_hf(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """``(config dict, state_dict)`` for transformers: ``BltForCausalLM(BltConfig.from_dict(c))``
        with ``load_state_dict(sd)`` gives this model's logits (for inputs without an EOS inside a row,
        since HF has no document mask)."""
        c = self.config
        if c.encoder_cross_all_layers and c.encoder_layers > 1 and not c.repool_queries:
            raise ValueError(
                "HF re-pools the encoder's queries after every layer; this model pools once "
                "(repool_queries=False) with cross-attention after each of several encoder layers, "
                "which HF cannot express"
            )
        state = {}
        for key, tensor in self.state_dict().items():
            hf_key, heads = _hf_key_map(self)[key]
            state[hf_key] = _permute_rows(tensor, heads, _half_to_interleaved) if heads else tensor.clone()
        return config_to_hf(c), state

    # ------------------------------------------------------------------------- FLOPs

    def flops_per_byte(self, patch_size: float, context_bytes: int | None = None) -> dict[str, float]:
        """Forward FLOPs per byte by part: see :meth:`BLTConfig.flops_per_byte`."""
        return self.config.flops_per_byte(patch_size, context_bytes)


# ----------------------------------------------------------------------------- generation

NOT_GENERATED = torch.tensor([i < OFFSET and i != EOS_ID for i in range(BYTE_VOCAB)])
COMPONENTS = ("entropy model", "encoder", "latent model", "decoder")  # the parts Generation.counts counts


@dataclass(frozen=True)
class Generation:
    """What :meth:`BLT.generate` made, and what each part of the model did to make it.

    Positions count in ``[BOS] + prompt + new bytes``. ``entropies[i]`` is the entropy model's
    uncertainty about byte ``i + 1`` (nats; empty without an entropy model). ``latent_positions``
    lists the positions after which a patch closed and the latent model ran. ``counts`` says how many
    positions each part processed (bytes; patches for the latent model); ``seconds`` is the time taken
    to predict each new byte.
    """

    prompt: bytes
    bytes: bytes
    patch_lengths: list[int]
    entropies: list[float]
    latent_positions: list[int]
    counts: dict[str, int]
    seconds: list[float]

    @property
    def text(self) -> str:
        """The new bytes as text; invalid UTF-8 (e.g. a character cut in half) shows as U+FFFD."""
        return self.bytes.decode("utf-8", errors="replace")


@contextmanager
def _reach(model: BLT, entropy_model: TransformerLM | None, length: int) -> Iterator[None]:
    """Rotary tables for ``length`` positions in the local models and the entropy model, for the
    duration of a generation. Only a model with a sliding window may go past its length: its
    attention sees relative positions only, so the longer table changes nothing it computed before."""
    c = model.config
    swaps = []  # (module, its rotary cache, head size)
    if length > c.max_seq_len:
        if c.local_window is None:
            raise ValueError(
                f"prompt + new bytes need {length} positions, beyond max_seq_len {c.max_seq_len}, and the "
                "local models have no sliding window to go further: ask for fewer new bytes"
            )
        swaps += [(part, part.rope, c.encoder_stack().head_dim) for part in (model.encoder, model.decoder)]
    if entropy_model is not None and length > entropy_model.max_seq_len:
        ec = entropy_model.config
        if ec.sliding_window is None or ec.rope_scaling is not None:
            raise ValueError(
                f"prompt + new bytes need {length} positions; the entropy model holds "
                f"{entropy_model.max_seq_len} and has no sliding window (or has a length-dependent RoPE "
                "scaling) to go further"
            )
        swaps.append((entropy_model, entropy_model.rope, ec.head_dim))
    try:
        for part, old, head_dim in swaps:
            part.rope = RotaryCache(head_dim, length, old.base).to(old.cos.device)
        yield
    finally:
        for part, old, _ in swaps:
            part.rope = old


def _entropies(entropy_model: TransformerLM | None, ids: torch.Tensor, caches: list[KVCache] | None = None):
    """Next-byte entropies ``[1, T]`` of ``ids`` (continuing ``caches``), or ``None`` without a model."""
    if entropy_model is None:
        return None
    return entropy_from_logits(entropy_model(ids, kv_caches=caches)[0].float())


def _record(
    ids: torch.Tensor, n_prompt: int, new: list[int], starts: list[bool], entropies: list[float]
) -> dict[str, object]:
    """The Generation fields both paths share, for the ``N`` positions of ``[BOS] + prompt + new``: patch
    starts decided for positions ``0 .. N - 1`` (the patch of the last byte is still open)."""
    n = n_prompt + len(new)
    starts = starts[:n]
    return dict(
        prompt=bytes(b - OFFSET for b in ids[0, 1:n_prompt].tolist()),
        bytes=bytes(b - OFFSET for b in new),
        patch_lengths=lengths_from_start_mask(torch.tensor([starts]))[0].tolist(),
        entropies=entropies[: n - 1],
        latent_positions=[p - 1 for p in range(1, n) if starts[p]],
    )


def _latent_room(model: BLT, n_patches: int) -> None:
    if n_patches > model.config.patch_capacity:
        raise ValueError(
            f"the sequence now has {n_patches} patches; the latent model holds "
            f"{model.config.patch_capacity}: ask for fewer new bytes or a shorter prompt"
        )


def _generate_uncached(
    model: BLT,
    patcher: Patcher,
    ids: torch.Tensor,
    max_new: int,
    pick: Callable[[torch.Tensor], int],
    finished: Callable[[list[int]], bool],
) -> Generation:
    """The reference: entropies, patches and all of the BLT recomputed over the whole sequence per byte."""
    n_prompt = ids.shape[1]
    counts = dict.fromkeys(COMPONENTS, 0)
    new, seconds = [], []
    while True:
        tick = time.perf_counter()
        t = ids.shape[1]
        entropies = _entropies(patcher.entropy_model, ids)
        starts = patcher.start_mask(ids, entropies)
        if finished(new):
            break
        lengths = lengths_from_start_mask(starts)
        _latent_room(model, lengths.shape[1])
        nxt = pick(model._logits(ids, lengths)[:, -1])
        seconds.append(time.perf_counter() - tick)
        ran = (0 if entropies is None else t, t, lengths.shape[1], t)
        for part, n in zip(COMPONENTS, ran, strict=True):
            counts[part] += n
        if nxt == EOS_ID:
            break
        new.append(nxt)
        ids = torch.cat([ids, ids.new_tensor([[nxt]])], 1)
    entropies = [] if entropies is None else entropies[0].tolist()
    return Generation(
        **_record(ids, n_prompt, new, starts[0].tolist(), entropies), counts=counts, seconds=seconds
    )


def _generate_cached(
    model: BLT,
    patcher: Patcher,
    ids: torch.Tensor,
    max_new: int,
    pick: Callable[[torch.Tensor], int],
    finished: Callable[[list[int]], bool],
) -> Generation:
    """Patch-aware generation with KV caches: per byte, one step of the entropy model, the encoder and
    the decoder; one latent step only when the entropy step closes a patch (spec §7)."""
    c, em = model.config, patcher.entropy_model
    device, dtype = ids.device, next(model.parameters()).dtype
    n_prompt = ids.shape[1]
    capacity = n_prompt + max_new  # positions the byte-level caches may have to hold
    local, latent = c.encoder_stack(), c.latent_stack()

    def caches(stack: TransformerConfig, n_layers: int, size: int) -> list[KVCache]:
        return [KVCache(1, stack.kv_heads, stack.head_dim, size, device, dtype) for _ in range(n_layers)]

    enc_caches, dec_caches = (
        caches(local, c.encoder_layers, capacity),
        caches(local, c.decoder_layers, capacity),
    )
    lat_caches = caches(latent, c.latent_layers, c.patch_capacity)
    ent_caches = em.new_kv_caches(1, capacity) if em is not None else None
    counts = dict.fromkeys(COMPONENTS, 0)
    # Each encoder layer's byte states: a closing patch's query slots read its bytes' states.
    states = [
        torch.zeros(1, capacity, c.local_dim, device=device, dtype=dtype) for _ in range(c.encoder_layers)
    ]
    longest_ngram = max(c.ngram_sizes)

    def read_bytes(x: torch.Tensor, at: int) -> torch.Tensor:
        """Encoder states of the bytes ``x`` at positions ``at ..``, kept; the last layer's returned."""
        for layer_states, h in zip(states, model.encoder.byte_states(x, kv_caches=enc_caches), strict=True):
            layer_states[:, at : at + h.shape[1]] = h
        counts["encoder"] += x.shape[1]
        return h

    def close_patches(spans: list[tuple[int, int]]) -> torch.Tensor:
        """One latent step per closed patch (``spans`` of byte positions); their latent outputs."""
        _latent_room(model, lat_caches[0].length + len(spans))
        first, end = spans[0][0], spans[-1][1]
        pids = torch.cat([torch.full((e - s,), i, device=device) for i, (s, e) in enumerate(spans)])[None]
        vectors = model.encoder.read_patches([h[:, first:end] for h in states], pids, len(spans))
        counts["latent model"] += len(spans)
        return model.latent(vectors, None, lat_caches)

    def decode(h: torch.Tensor, latent_keys: list, dec_ids: torch.Tensor) -> torch.Tensor:
        counts["decoder"] += h.shape[1]
        return model.decoder.read(h, latent_keys, dec_ids, None, dec_caches)[:, -1]

    # The prompt, all at once: entropies, patch starts up to the next byte, closed patches, decoder.
    tick = time.perf_counter()
    entropy_list: list[float] = []
    e = _entropies(em, ids, ent_caches)
    if e is not None:
        counts["entropy model"] += n_prompt
        entropy_list = e[0].tolist()
    starts = patcher.start_mask(ids, e)[0].tolist()  # positions 0 .. n_prompt (the next byte)
    h = read_bytes(model.embed(ids), 0)
    bounds = [p for p in range(len(starts)) if starts[p]]
    open_start = bounds[-1]  # the patch still open holds positions open_start .. (and the next byte)
    latent_out = close_patches(list(zip(bounds[:-1], bounds[1:], strict=True)))
    lengths = lengths_from_start_mask(torch.tensor([starts], device=device))
    logits = decode(h, model.decoder.latent_keys(latent_out), decoder_patch_ids(lengths, n_prompt))
    # What the open patch's bytes read: the last closed patch's output (its keys and values, kept).
    current = model.decoder.latent_keys(latent_out[:, -1:])

    # The whole sequence so far and its entropies, in place: the patcher's rules read them.
    seq = torch.cat([ids, ids.new_zeros(1, max_new)], 1)
    seen = None if e is None else torch.cat([e, e.new_zeros(1, max_new)], 1)
    new, seconds = [], []
    while not finished(new):
        nxt = pick(logits)
        seconds.append(time.perf_counter() - tick)
        if nxt == EOS_ID:
            break
        new.append(nxt)
        pos = n_prompt + len(new) - 1
        seq[0, pos] = nxt
        if finished(new):
            break  # nothing will read this byte's states
        tick = time.perf_counter()
        e = _entropies(em, seq[:, pos : pos + 1], ent_caches)
        if e is not None:
            counts["entropy model"] += 1
            seen[0, pos] = e[0, 0]
            entropy_list.append(e[0, 0].item())
        window = None if seen is None else seen[:, : pos + 1]
        # Does the next byte open a patch? The patcher's own rule, on the sequence so far.
        starts.append(bool(patcher.start_mask(seq[:, : pos + 1], window)[0, -1]))
        h = read_bytes(model.embed(seq[:, max(0, pos + 1 - longest_ngram) : pos + 1])[:, -1:], pos)
        if starts[-1]:
            current = model.decoder.latent_keys(close_patches([(open_start, pos + 1)]))
            open_start = pos + 1
        logits = decode(h, current, torch.zeros(1, 1, dtype=torch.long, device=device))
    return Generation(**_record(ids, n_prompt, new, starts, entropy_list), counts=counts, seconds=seconds)


# ----------------------------------------------------------------------------- input checks


def check_inputs(ids: torch.Tensor, patch_lengths: torch.Tensor, config: BLTConfig) -> None:
    """Raise a clear error for ids or patch lengths the model cannot take (see :meth:`BLT.forward`)."""
    for name, t in (("ids", ids), ("patch_lengths", patch_lengths)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in (torch.long, torch.int32):
            raise TypeError(f"{name} must hold integers (torch.long), got {t.dtype}")
        if t.dim() != 2:
            raise ValueError(
                f"{name} must have shape (batch, {'time' if name == 'ids' else 'patches'}), "
                f"got {tuple(t.shape)}"
            )
        if t.numel() == 0:
            raise ValueError(f"{name} is empty: shape {tuple(t.shape)}")
    b, t = ids.shape
    if patch_lengths.shape[0] != b:
        raise ValueError(f"patch_lengths has {patch_lengths.shape[0]} rows, ids has {b}")
    if t > config.max_seq_len:
        raise ValueError(f"sequence of {t} bytes exceeds the model's max_seq_len {config.max_seq_len}")
    if patch_lengths.shape[1] > config.patch_capacity:
        raise ValueError(
            f"{patch_lengths.shape[1]} patches exceed the model's max_patches {config.patch_capacity}"
        )
    if torch.compiler.is_compiling():
        return  # the value checks below need host syncs
    if ((ids < 0) | (ids >= BYTE_VOCAB)).any():
        bad = ids[(ids < 0) | (ids >= BYTE_VOCAB)][0].item()
        raise ValueError(f"ids has {bad}, outside 0..{BYTE_VOCAB - 1} (byte b is b + 4; BOS 1, EOS 2)")
    if (patch_lengths < 0).any():
        row = int((patch_lengths < 0).any(-1).nonzero()[0])
        raise ValueError(f"patch lengths must be >= 0; row {row} has {patch_lengths[row].tolist()[:12]}")
    if (patch_lengths[:, 0] != 1).any():
        row = int((patch_lengths[:, 0] != 1).nonzero()[0])
        raise ValueError(
            f"the first patch must have length 1 (the [BOS] patch); row {row} starts with "
            f"{patch_lengths[row, 0].item()}"
        )
    sums = patch_lengths.sum(-1)
    bad = (sums != t) & (sums != t + 1)
    if bad.any():
        row = int(bad.nonzero()[0])
        raise ValueError(
            f"patch lengths of row {row} sum to {sums[row].item()}, but ids have T = {t} bytes: "
            f"they must sum to T + 1 (the last patch holds the next byte) or T"
        )


def check_targets(targets: torch.Tensor, ids: torch.Tensor) -> None:
    if not isinstance(targets, torch.Tensor) or targets.dtype not in (torch.long, torch.int32):
        raise TypeError("targets must be an integer torch.Tensor of byte ids")
    if targets.shape != ids.shape:
        raise ValueError(f"targets shape {tuple(targets.shape)} does not match ids shape {tuple(ids.shape)}")
    if torch.compiler.is_compiling():
        return
    bad = ((targets < 0) | (targets >= BYTE_VOCAB)) & (targets != IGNORE_INDEX)
    if bad.any():
        raise ValueError(
            f"targets has {targets[bad][0].item()}, outside 0..{BYTE_VOCAB - 1} and not IGNORE_INDEX"
        )


# ----------------------------------------------------------------------------- HF conversion


def _half_to_interleaved(head_dim: int) -> torch.Tensor:
    return torch.argsort(interleaved_to_half(head_dim))


def _permute_rows(weight: torch.Tensor, heads: int, order: object) -> torch.Tensor:
    """Reorder each head's rows of a q/k projection between RoPE layouts (see ``rope.apply_rotary``)."""
    head_dim = weight.shape[0] // heads
    return weight.reshape(heads, head_dim, -1)[:, order(head_dim)].reshape(weight.shape).clone()


_HF_PARTS = (  # our module prefix -> HF's
    ("embed.bytes.", "model.local_encoder.embed_tokens."),
    ("embed.hashes.", "model.encoder_hash_tok_embedding."),
    ("encoder.query_proj.", "model.local_encoder.patch_embedding_projection."),
    ("encoder.", "model.local_encoder."),
    ("latent.in_proj.", "model.global_transformer.token_embedding_projection."),
    ("latent.", "model.global_transformer."),
    ("decoder.head.", "lm_head."),
    ("decoder.slot_proj.", "model.local_decoder.patch_embedding_projection."),
    ("decoder.", "model.local_decoder."),
)
_HF_NAMES = {  # our sub-module names -> HF's
    "attn_norm": "input_layernorm",
    "mlp_norm": "post_attention_layernorm",
    "attn": "self_attn",
    "cross": "cross_attn_layers",
    "kv_norm": "k_norm",
    "q": "q_proj",
    "k": "k_proj",
    "v": "v_proj",
    "out": "o_proj",
    "gate": "gate_proj",
    "up": "up_proj",
    "down": "down_proj",
}


def _hf_key_map(model: BLT) -> dict[str, tuple[str, int]]:
    """Our state_dict key -> (HF key, heads to re-order for RoPE, or 0)."""
    c = model.config
    out = {}
    for key in model.state_dict():
        ours, hf = next((o, h) for o, h in _HF_PARTS if key.startswith(o))
        names = key[len(ours) :].split(".")
        hf_key = hf + ".".join(_HF_NAMES.get(n, n) for n in names)
        heads = 0
        if ".attn.q." in f".{key}" or ".attn.k." in f".{key}":
            latent = key.startswith("latent.")
            q_heads = c.latent_heads if latent else c.local_heads
            kv_heads = (c.latent_kv_heads if latent else c.local_kv_heads) or q_heads
            heads = q_heads if ".attn.q." in key else kv_heads
        out[key] = (hf_key, heads)
    return out


def _rope_theta(sub: dict, name: str) -> float:
    params = sub.get("rope_parameters") or {}
    kind = params.get("rope_type", "default")
    if kind != "default":
        raise ValueError(f"{name}.rope_parameters has rope_type {kind!r}; only 'default' RoPE is supported")
    return float(params.get("rope_theta", 500000.0))


def config_from_hf(config: dict) -> BLTConfig:
    """A :class:`BLTConfig` from a transformers ``BltConfig.to_dict()``, with a clear error for a field
    that is missing or that this model cannot express."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict (BltConfig.to_dict()), got {type(config).__name__}")

    def field(d: dict, name: str, where: str) -> object:
        if not isinstance(d, dict) or name not in d or d[name] is None:
            raise ValueError(f"config is missing {where}{name}")
        return d[name]

    enc, dec, glob = (field(config, n, "") for n in ("encoder_config", "decoder_config", "global_config"))
    k = field(config, "cross_attn_k", "")
    if field(config, "vocab_size", "") != BYTE_VOCAB:
        raise ValueError(f"vocab_size must be {BYTE_VOCAB} byte ids, got {config['vocab_size']}")
    for name, sub in (("encoder_config", enc), ("decoder_config", dec)):
        if field(sub, "cross_attn_k", f"{name}.") != k:
            raise ValueError(f"{name}.cross_attn_k = {sub['cross_attn_k']} disagrees with cross_attn_k = {k}")
    for name in (
        "hidden_size",
        "num_attention_heads",
        "num_key_value_heads",
        "intermediate_size",
        "rms_norm_eps",
    ):
        if field(enc, name, "encoder_config.") != field(dec, name, "decoder_config."):
            raise ValueError(
                f"encoder_config.{name} = {enc[name]} differs from decoder_config.{name} = {dec[name]}; "
                "this BLT's local models share it"
            )
    if field(glob, "rms_norm_eps", "global_config.") != enc["rms_norm_eps"]:
        raise ValueError("global_config.rms_norm_eps differs from the local models'; this BLT shares one")
    if field(dec, "hidden_size_global", "decoder_config.") != field(glob, "hidden_size", "global_config."):
        raise ValueError(
            f"decoder_config.hidden_size_global = {dec['hidden_size_global']} differs from "
            f"global_config.hidden_size = {glob['hidden_size']}"
        )
    if _rope_theta(enc, "encoder_config") != _rope_theta(dec, "decoder_config"):
        raise ValueError("encoder and decoder RoPE thetas differ; this BLT's local models share one")
    n_hash = field(config, "encoder_hash_byte_group_nb_functions", "")
    return BLTConfig(
        local_dim=enc["hidden_size"],
        local_heads=enc["num_attention_heads"],
        local_kv_heads=enc["num_key_value_heads"],
        local_ffn_dim=enc["intermediate_size"],
        encoder_layers=field(enc, "num_hidden_layers", "encoder_config."),
        decoder_layers=field(dec, "num_hidden_layers", "decoder_config."),
        local_window=config.get("local_attention_window_len"),
        latent_dim=glob["hidden_size"],
        latent_layers=field(glob, "num_hidden_layers", "global_config."),
        latent_heads=field(glob, "num_attention_heads", "global_config."),
        latent_kv_heads=glob.get("num_key_value_heads"),
        latent_ffn_dim=field(glob, "intermediate_size", "global_config."),
        cross_attn_k=k,
        encoder_cross_all_layers=bool(enc.get("cross_attn_all_layers", False)),
        decoder_cross_all_layers=bool(dec.get("cross_attn_all_layers", True)),
        repool_queries=True,
        ngram_sizes=tuple(field(config, "encoder_hash_byte_group_size", "")),
        hash_functions=n_hash,
        hash_vocab=field(config, "encoder_hash_byte_group_vocab", ""),
        max_seq_len=field(enc, "max_position_embeddings", "encoder_config."),
        max_patches=field(glob, "max_position_embeddings", "global_config."),
        local_rope_base=_rope_theta(enc, "encoder_config"),
        latent_rope_base=_rope_theta(glob, "global_config"),
        norm_eps=enc["rms_norm_eps"],
        document_mask=False,
    )


def config_to_hf(c: BLTConfig) -> dict:
    """The transformers ``BltConfig`` dict for a :class:`BLTConfig` (no patcher in the forward)."""
    local, latent = c.encoder_stack(), c.latent_stack()

    def sub(stack: TransformerConfig, n_layers: int, base: float, max_pos: int) -> dict:
        return {
            "hidden_size": stack.dim,
            "num_attention_heads": stack.n_heads,
            "num_key_value_heads": stack.kv_heads,
            "num_hidden_layers": n_layers,
            "intermediate_size": stack.ffn_hidden,
            "rms_norm_eps": c.norm_eps,
            "max_position_embeddings": max_pos,
            "rope_parameters": {"rope_type": "default", "rope_theta": base},
        }

    cross = {"cross_attn_k": c.cross_attn_k, "hidden_size_global": c.latent_dim}
    return {
        "model_type": "blt",
        "vocab_size": BYTE_VOCAB,
        "max_position_embeddings": c.patch_capacity,
        "patch_in_forward": False,
        "local_attention_window_len": c.local_window,
        "cross_attn_k": c.cross_attn_k,
        "encoder_hash_byte_group_size": list(c.ngram_sizes),
        "encoder_hash_byte_group_vocab": c.hash_vocab,
        "encoder_hash_byte_group_nb_functions": c.hash_functions,
        "tie_word_embeddings": False,
        "encoder_config": {
            **sub(local, c.encoder_layers, c.local_rope_base, c.max_seq_len),
            **cross,
            "cross_attn_all_layers": c.encoder_cross_all_layers,
        },
        "decoder_config": {
            **sub(local, c.decoder_layers, c.local_rope_base, c.max_seq_len),
            **cross,
            "cross_attn_all_layers": c.decoder_cross_all_layers,
        },
        "global_config": sub(latent, c.latent_layers, c.latent_rope_base, c.patch_capacity),
    }


# ----------------------------------------------------------------------------- saving and loading


def save_blt(model: BLT, path: str | Path, card: dict | None = None) -> Path:
    """Write ``model`` as one safetensors file with its config and a JSON-able ``card`` as metadata."""
    if not isinstance(model, BLT):
        raise TypeError(f"model must be a BLT, got {type(model).__name__}")
    return save_weights(model, path, FORMAT, model.config, card)


def _metadata(path: Path) -> dict[str, str]:
    hint = " (train it with `python scripts/train_blt.py`)" if path == DEFAULT_WEIGHTS else ""
    return read_metadata(path, FORMAT, "BLT", hint)


def blt_card(path: str | Path | None = None) -> dict:
    """The card stored with a saved BLT (default: the shipped one)."""
    return json.loads(_metadata(Path(path) if path is not None else DEFAULT_WEIGHTS)["card"])


def load_blt(path: str | Path | None = None, device: torch.device | str = "cpu") -> BLT:
    """Load a BLT saved by :func:`save_blt` (default: the one shipped in ``bltlib/weights/``), in eval
    mode on ``device``, with ``model.patcher`` set from its card (the shipped model: entropy patching at
    the threshold it was trained with, by the shipped entropy model), ready to :meth:`~BLT.generate`."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    metadata = _metadata(path)
    try:
        raw = json.loads(metadata["config"])
        known = {f.name for f in fields(BLTConfig)}
        config = BLTConfig(**{k: v for k, v in raw.items() if k in known})
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} has an unusable BLT config: {err}") from err
    model = load_weights(BLT(config), path)
    patcher = json.loads(metadata.get("card", "{}")).get("patcher")
    if patcher:
        rule = {k: v for k, v in patcher.items() if k in ("scheme", "threshold", "patch_size", "monotonic")}
        # Entropy patching reads the shipped entropy model (the one the BLT was trained on).
        entropy_model = load_entropy_model(device=device) if rule.get("scheme") == "entropy" else None
        model.patcher = Patcher(**rule, entropy_model=entropy_model)
    return model.to(device).eval()


def training_throughput(
    config: BLTConfig,
    batches: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    *,
    rounds: int = 3,
    calls: int = 2,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
    device: torch.device | str | None = None,
) -> dict[str, dict]:
    """Training steps (forward, backward, AdamW) of a fresh BLT of ``config`` and of a byte transformer as
    big as its latent model (:meth:`BLTConfig.byte_lm_stack`) on the same ``(x, patch_lengths, y)``
    batches (taken in turn), timed by :func:`~bltlib.train.time_alternately` after ``warmup`` untimed
    steps each. For each model: counted training FLOPs per step (``bltlib.flops``; the BLT's at the
    batches' mean patch size) and the seconds per step of every round; achieved FLOP/s is their ratio.
    The yardstick of lesson 4's speed section and ``benchmarks/bench_blt.py``.
    """
    width = max(lengths.shape[1] for _, lengths, _ in batches)
    patch_size = mean_patch_size(
        torch.cat([F.pad(lengths, (0, width - lengths.shape[1])) for _, lengths, _ in batches])
    )
    positions, t = batches[0][0].numel(), batches[0][0].shape[1]
    lm_config = config.byte_lm_stack()
    per_byte = {
        "BLT": config.flops_per_byte(patch_size, t)["total"],
        "byte transformer": flops.transformer_flops(
            stack_dims(lm_config, lm_config.n_layers, t), lm_config.vocab_size
        ),
    }
    train_cfg = TrainConfig(steps=10_000, warmup=10, lr=1e-3, compile=False, amp=False, progress=False)
    token_batches = [(x, y) for x, _, y in batches]
    trainers = {
        "BLT": Trainer(
            BLT(config), train_cfg, lambda split, step: batches[step % len(batches)], device=device
        ),
        "byte transformer": Trainer(
            TransformerLM(lm_config),
            train_cfg,
            lambda split, step: token_batches[step % len(batches)],
            device=device,
        ),
    }
    for trainer in trainers.values():
        for _ in range(warmup):
            trainer.train_step()
    seconds = time_alternately([trainer.train_step for trainer in trainers.values()], rounds, calls, clock)
    return {
        "patch_size": patch_size,
        **{
            name: {"flops_per_step": flops.training_flops(per_byte[name]) * positions, "seconds": s}
            for name, s in zip(trainers, seconds, strict=True)
        },
    }


@torch.no_grad()
def bits_per_byte(
    model: BLT,
    ids: torch.Tensor,
    patcher: Patcher,
    entropies: torch.Tensor | None = None,
    seq_len: int | None = None,
    batch_size: int = 8,
) -> float:
    """Held-out bits per byte of a corpus (byte ids, BOS first), every byte predicted once.

    The corpus is cut into consecutive windows; each is BOS followed by ``seq_len - 1`` bytes and
    predicts the next ``seq_len`` bytes (so each window starts from scratch: no context carries over).
    ``entropies`` (for entropy patching) are the corpus's, as in :func:`bltlib.patching.patched_windows`.
    Bits per byte = total cross-entropy / ln 2 / targets; every target counts as a byte (spec §6).
    """
    if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D tensor of at least two byte ids (BOS first)")
    seq_len = seq_len or model.config.max_seq_len
    device = next(model.parameters()).device
    total = 0.0
    # windows over the targets ids[1:]; target r is token r + 1, predicted from tokens <= r
    for rows, t in consecutive_windows(len(ids) - 1, seq_len, batch_size):
        x = torch.stack([torch.cat([ids[:1], ids[r + 1 : r + t]]) for r in rows])
        y = torch.stack([ids[r + 1 : r + 1 + t] for r in rows])
        e = None if entropies is None else torch.stack([entropies[r : r + t] for r in rows])
        logits, _ = model(x.to(device), patcher.lengths(x, e).to(device))
        total += F.cross_entropy(logits.float().flatten(0, 1), y.to(device).flatten(), reduction="sum").item()
    count = len(ids) - 1
    return total / count / math.log(2)


__all__ = [
    "BLT",
    "BLTConfig",
    "CrossAttention",
    "DEFAULT_WEIGHTS",
    "HASH_PRIMES",
    "HashNgramEmbedding",
    "LatentTransformer",
    "LocalDecoder",
    "LocalEncoder",
    "batch_patch_rows",
    "blt_card",
    "bits_per_byte",
    "check_inputs",
    "config_from_hf",
    "config_to_hf",
    "decoder_cross_mask",
    "decoder_patch_ids",
    "dense_mask_from_mod",
    "document_ids",
    "gpu_blt_config",
    "encoder_cross_mask",
    "hash_ngram_ids",
    "latent_mask",
    "latent_mask_mod",
    "load_blt",
    "local_mask",
    "local_mask_mod",
    "patch_documents",
    "patch_ids",
    "pool_patches",
    "save_blt",
    "training_throughput",
]
