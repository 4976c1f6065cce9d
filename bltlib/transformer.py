"""A small decoder-only transformer: the blocks lessons 2-4 share, in one readable file.

Pre-norm Llama-style blocks: ``x + Attention(RMSNorm(x))`` then ``x + SwiGLU(RMSNorm(x))``, rotary
positions (``bltlib.rope``), causal attention with an optional sliding window, and a KV cache for
generation. Attention runs through ``scaled_dot_product_attention`` on CPU and through flex attention
on CUDA; both use the same mask function, :func:`mask_mod`.

>>> model = TransformerLM(TransformerConfig(vocab_size=10, dim=16, n_layers=1, n_heads=2, max_seq_len=8))
>>> logits, loss = model(torch.zeros(2, 5, dtype=torch.long), targets=torch.zeros(2, 5, dtype=torch.long))
>>> tuple(logits.shape), loss.shape
((2, 5, 10), torch.Size([]))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from bltlib.config import int_at_least
from bltlib.rope import RotaryCache, apply_rotary, rope_parameters

if TYPE_CHECKING:  # imported where flex attention runs, not at import time
    from torch.nn.attention.flex_attention import BlockMask

IGNORE_INDEX = -100  # targets with this value do not count in the loss
ATTN_IMPLS = ("auto", "sdpa", "flex")
FLEX_MIN_HEAD_DIM = 16  # torch's compiled flex-attention kernel refuses smaller heads (torch 2.11)


@dataclass
class TransformerConfig:
    """Everything that fixes the shape of a :class:`TransformerLM`.

    ``sliding_window = w`` lets each position see itself and the ``w - 1`` positions before it.
    ``rope_scaling`` is a ``bltlib.rope`` scaling dict (HF vocabulary), applied from the start.
    ``attn_impl``: ``auto`` picks flex attention on CUDA (heads of 16 channels or more) and SDPA elsewhere.
    ``n_kv_heads < n_heads`` shares each key/value head among ``n_heads / n_kv_heads`` query heads
    (grouped-query attention); ``ffn_dim`` sets the SwiGLU width exactly instead of ``ffn_mult``.
    """

    vocab_size: int = 260
    dim: int = 128
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int | None = None
    max_seq_len: int = 256
    sliding_window: int | None = None
    rope_base: float = 10000.0
    rope_scaling: dict | None = None
    ffn_mult: float = 8 / 3  # SwiGLU's three matrices at 8/3 * dim cost about the same as a 4 * dim MLP
    ffn_dim: int | None = None
    dropout: float = 0.0
    tie_embeddings: bool = True
    norm_eps: float = 1e-5
    attn_impl: str = "auto"

    def __post_init__(self) -> None:
        for name in ("vocab_size", "dim", "n_layers", "n_heads", "max_seq_len"):
            value = getattr(self, name)
            if not int_at_least(value, 1):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} is not divisible by n_heads {self.n_heads}")
        if self.head_dim % 2:
            raise ValueError(
                f"head_dim must be even, got {self.head_dim} (dim {self.dim} / n_heads {self.n_heads})"
            )
        if self.sliding_window is not None and (
            not isinstance(self.sliding_window, int) or self.sliding_window < 1
        ):
            raise ValueError(f"sliding_window must be a positive int or None, got {self.sliding_window!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.ffn_mult > 0:
            raise ValueError(f"ffn_mult must be positive, got {self.ffn_mult}")
        for name in ("n_kv_heads", "ffn_dim"):
            value = getattr(self, name)
            if value is not None and not int_at_least(value, 1):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads {self.n_heads} is not a multiple of n_kv_heads {self.kv_heads}")
        if self.attn_impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl must be one of {', '.join(ATTN_IMPLS)}, got {self.attn_impl!r}")
        rope_parameters(self.head_dim, self.rope_base, self.rope_scaling)  # a bad scaling fails here, early

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def kv_heads(self) -> int:
        """Key/value heads: ``n_kv_heads``, or ``n_heads`` (plain multi-head attention)."""
        return self.n_kv_heads or self.n_heads

    @property
    def ffn_hidden(self) -> int:
        """SwiGLU width: ``ffn_dim`` if set, else ``ffn_mult * dim`` rounded up to a multiple of 8."""
        return self.ffn_dim or 8 * math.ceil(self.ffn_mult * self.dim / 8)


# --------------------------------------------------------------------------- masks


def mask_mod(sliding_window: int | None = None, q_offset: int = 0) -> Callable:
    """The attention rule as flex attention's ``mask_mod(b, h, q_idx, kv_idx) -> bool``.

    Query ``q_idx`` sits at absolute position ``q_idx + q_offset`` (``q_offset > 0`` when earlier tokens
    are in a KV cache). It may see key ``kv_idx`` when the key is not in the future and, with a window
    ``w``, is one of the last ``w`` positions (itself included).

    >>> rule = mask_mod(sliding_window=2)
    >>> [bool(rule(0, 0, torch.tensor(3), torch.tensor(k))) for k in range(5)]
    [False, False, True, True, False]
    """

    def rule(b, h, q_idx, kv_idx):
        q_pos = q_idx + q_offset
        visible = kv_idx <= q_pos
        if sliding_window is not None:
            visible = visible & (q_pos - kv_idx < sliding_window)
        return visible

    return rule


@lru_cache(maxsize=64)
def dense_mask(
    q_len: int, kv_len: int, sliding_window: int | None = None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Boolean ``[q_len, kv_len]`` mask (True = may attend), queries being the last ``q_len`` positions.

    Built once per shape and cached, as SDPA's ``attn_mask``.

    >>> dense_mask(3, 3, sliding_window=2).int().tolist()
    [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    """
    q_idx = torch.arange(q_len, device=device)[:, None]
    kv_idx = torch.arange(kv_len, device=device)[None, :]
    return mask_mod(sliding_window, q_offset=kv_len - q_len)(None, None, q_idx, kv_idx)


@lru_cache(maxsize=16)
def _block_mask(seq_len: int, sliding_window: int | None, device: torch.device):
    from torch.nn.attention.flex_attention import create_block_mask

    return create_block_mask(mask_mod(sliding_window), None, None, seq_len, seq_len, device=device)


@lru_cache(maxsize=1)
def _flex_attention() -> Callable:
    from torch.nn.attention.flex_attention import flex_attention

    # Compiled on CUDA for the fused kernel; eager elsewhere (correct, but materialises the scores).
    return torch.compile(flex_attention) if torch.cuda.is_available() else flex_attention


def repeat_kv_heads(t: torch.Tensor, heads: int, dim: int = 1) -> torch.Tensor:
    """Grouped-query attention: key/value head ``j`` (along ``dim``) serves query heads
    ``j * g .. (j + 1) * g - 1``, ``g = heads / kv_heads``; repeated so there is one per query head.

    >>> repeat_kv_heads(torch.tensor([[1.0], [2.0]]), heads=4, dim=0).flatten().tolist()
    [1.0, 1.0, 2.0, 2.0]
    """
    groups = heads // t.shape[dim]
    return t.repeat_interleave(groups, dim=dim) if groups > 1 else t


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, dropout_p: float = 0.0
) -> torch.Tensor:
    """Scaled dot-product attention under an explicit boolean ``mask`` (True = may attend).

    ``q`` is ``[B, H, Tq, d]``; ``k``, ``v`` may have fewer heads (grouped-query: head ``h`` reads
    key/value head ``h // (H / H_kv)``); ``mask`` broadcasts to ``[B, H, Tq, Tk]``. A query that may see
    no key at all (an empty patch in cross-attention) gets 0, as under flex attention, not NaN.

    >>> q = k = v = torch.ones(1, 2, 2, 4)
    >>> attend(q, k[:, :1], v[:, :1], torch.tensor([[True, False], [False, False]]))[0, :, :, 0].tolist()
    [[1.0, 0.0], [1.0, 0.0]]
    """
    k, v = repeat_kv_heads(k, q.shape[1]), repeat_kv_heads(v, q.shape[1])
    mask = mask.view((1,) * (4 - mask.dim()) + mask.shape)  # 4-D: SDPA's fused CPU kernel needs it
    sees_any = mask.any(-1, keepdim=True)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask | ~sees_any, dropout_p=dropout_p)
    return y * sees_any


class _OverlappingWindows(torch.autograd.Function):
    """``x [B, H, T, d]`` -> ``[B * H, n_blocks, reach + step, d]``: for each block of ``step`` positions,
    the ``reach`` positions before it and the block itself, as a *view* of one padded copy (the windows
    overlap in memory; positions before 0 and past ``T`` are zeros). Backward adds each window's
    gradient back to the positions it holds: a shifted sum, where ``as_strided``'s own backward scatters."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, reach: int, step: int) -> torch.Tensor:
        b, h, t, d = x.shape
        n_blocks = -(-t // step)
        ctx.reach, ctx.step, ctx.shape = reach, step, x.shape
        padded = F.pad(x, (0, 0, reach, n_blocks * step - t))
        length = padded.shape[2]
        return padded.as_strided((b * h, n_blocks, reach + step, d), (length * d, step * d, d, 1))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        n, n_blocks, span, d = grad.shape
        pieces = span // ctx.step  # each window is `pieces` blocks; piece j of window i is block i + j
        grad = grad.reshape(n, n_blocks, pieces, ctx.step, d)
        out = grad.new_zeros(n, n_blocks + pieces - 1, ctx.step, d)
        for j in range(pieces):
            out[:, j : j + n_blocks] += grad[:, :, j]
        t = ctx.shape[2]
        return out.flatten(1, 2)[:, ctx.reach : ctx.reach + t].view(ctx.shape), None, None


@lru_cache(maxsize=16)
def _window_block_mask(window: int, step: int, n_blocks: int, device: torch.device) -> torch.Tensor:
    """``[1, n_blocks, step, window + step]``: query ``i`` of a block sees window keys ``j`` with
    ``i < j <= i + window`` (key ``j`` sits ``j - window`` after the block's start), none before 0."""
    i = torch.arange(step, device=device)[:, None]
    j = torch.arange(window + step, device=device)[None, :]
    start = step * torch.arange(n_blocks, device=device)[:, None, None]
    return ((j > i) & (j <= i + window) & (start + j >= window))[None]  # 4-D, as SDPA's fused kernel wants


def window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, dropout_p: float = 0.0
) -> torch.Tensor:
    """Causal sliding-window attention (``[B, H, T, d]`` in and out) in blocks of queries.

    A query sees at most ``window`` keys. Cut the queries into blocks of ``step = window / 2``: a block
    reaches back ``window`` keys from its start, so it is scored against ``window + step`` keys, not
    all ``T``, and the work grows like ``T * window``, not ``T ** 2``. (Blocks of ``window`` queries
    would score ``2 * window`` keys, half of them masked; halving the block wastes a third, and smaller
    blocks cost more than they save on a CPU.) The key windows overlap: they are views of one padded
    copy (:class:`_OverlappingWindows`). Same result as SDPA under ``dense_mask(T, T, window)``.

    >>> q = k = v = torch.randn(1, 1, 10, 4)
    >>> full = F.scaled_dot_product_attention(q, k, v, attn_mask=dense_mask(10, 10, sliding_window=3))
    >>> torch.allclose(window_attention(q, k, v, window=3), full, atol=1e-6)
    True
    """
    b, h, t, d = q.shape
    step = window // 2 if window % 2 == 0 else window
    n_blocks = -(-t // step)
    # Padded keys are in every real query's future; padded queries are dropped. (batch x heads) is
    # SDPA's batch and the blocks its heads: its fused CPU kernel takes 4-D inputs and masks only.
    q = F.pad(q, (0, 0, 0, n_blocks * step - t)).reshape(b * h, n_blocks, step, d)
    keys, values = (_OverlappingWindows.apply(x, window, step) for x in (k, v))
    mask = _window_block_mask(window, step, n_blocks, q.device)
    y = F.scaled_dot_product_attention(q, keys, values, mask, dropout_p)
    return y.view(b, h, n_blocks * step, d)[:, :, :t]


# --------------------------------------------------------------------------- blocks


class RMSNorm(nn.Module):
    """``x / rms(x) * weight``: LayerNorm without centring or bias (computed in float32)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # F.rms_norm is x * rsqrt(mean(x^2) + eps) * weight in one fused op (bitwise the same in float32:
        # tested); one op instead of seven matters when decoding one token at a time.
        if x.dtype == torch.float32:
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        return F.rms_norm(x.float(), self.weight.shape, eps=self.eps).to(x.dtype) * self.weight


class SwiGLU(nn.Module):
    """``down(silu(gate(x)) * up(x))``: a gated MLP, as in Llama."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.gate = nn.Linear(dim, hidden, bias=False)
        self.up = nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.silu(self.gate(x)) * self.up(x)))


class KVCache:
    """Keys and values of one attention layer for positions already seen, up to ``capacity``.

    >>> cache = KVCache(batch_size=1, n_heads=2, head_dim=4, capacity=3)
    >>> k, v = cache.update(torch.ones(1, 2, 2, 4), torch.ones(1, 2, 2, 4))
    >>> tuple(k.shape), cache.length
    ((1, 2, 2, 4), 2)
    """

    def __init__(
        self,
        batch_size: int,
        n_heads: int,
        head_dim: int,
        capacity: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        shape = (batch_size, n_heads, capacity, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.capacity = capacity
        self.length = 0

    def check_room(self, new: int) -> None:
        if self.length + new > self.capacity:
            raise ValueError(
                f"KV cache holds {self.capacity} positions; cannot add {new} after {self.length} "
                f"(make a bigger cache or a fresh one)"
            )

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``k, v`` (``[B, H, T, head_dim]``); return all keys and values so far."""
        t = k.shape[2]
        self.check_room(t)
        self.k[:, :, self.length : self.length + t] = k
        self.v[:, :, self.length : self.length + t] = v
        self.length += t
        return self.k[:, :, : self.length], self.v[:, :, : self.length]


class Attention(nn.Module):
    """Multi-head causal self-attention with rotary positions, an optional sliding window and
    grouped-query heads; or, given an explicit ``mask``, attention under that mask (e.g. documents)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.n_heads, self.head_dim = config.n_heads, config.head_dim
        self.n_kv_heads = config.kv_heads
        self.sliding_window = config.sliding_window
        self.attn_impl = config.attn_impl
        self.dropout = config.dropout
        self.q = nn.Linear(config.dim, config.dim, bias=False)
        self.k = nn.Linear(config.dim, config.kv_heads * config.head_dim, bias=False)
        self.v = nn.Linear(config.dim, config.kv_heads * config.head_dim, bias=False)
        self.out = nn.Linear(config.dim, config.dim, bias=False)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        kv_cache: KVCache | None = None,
        mask: torch.Tensor | BlockMask | None = None,
    ) -> torch.Tensor:
        """``x`` is ``[B, T, dim]``; ``cos``/``sin`` (``[T, head_dim]``) are for the positions of ``x``.

        ``mask`` (boolean, broadcasting to ``[B, heads, T, keys]``) replaces the config's causal/window rule;
        a flex ``BlockMask`` does the same through flex attention (no KV cache, no dropout).
        """
        b, t, dim = x.shape
        q = self.q(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k, v = (
            proj(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2) for proj in (self.k, self.v)
        )
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if kv_cache is not None:
            k, v = kv_cache.update(k, v)
        dropout_p = self.dropout if self.training else 0.0
        if mask is not None and not isinstance(mask, torch.Tensor):  # a BlockMask: flex attention
            gqa = self.n_kv_heads != self.n_heads
            y = _flex_attention()(q, k, v, block_mask=mask, enable_gqa=gqa)
        elif mask is not None:
            y = attend(q, k, v, mask, dropout_p)
        elif t == 1 and kv_cache is not None:
            # One new token (decoding): every cached key is in its past; the window keeps the last ones.
            if self.sliding_window is not None:
                k, v = k[:, :, -self.sliding_window :], v[:, :, -self.sliding_window :]
            gqa = self.n_kv_heads != self.n_heads
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, enable_gqa=gqa)
        elif self.n_kv_heads != self.n_heads:
            y = attend(q, k, v, dense_mask(q.shape[2], k.shape[2], self.sliding_window, x.device), dropout_p)
        elif self._use_flex(x, kv_cache):
            # flex attention has no dropout argument; dropout > 0 falls back to SDPA in _use_flex.
            y = _flex_attention()(q, k, v, block_mask=_block_mask(t, self.sliding_window, x.device))
        elif self.sliding_window is not None and kv_cache is None and t > 2 * self.sliding_window:
            # Long inputs: score each block of queries against the keys in its reach only.
            y = window_attention(q, k, v, self.sliding_window, dropout_p)
        elif self.sliding_window is None and q.shape[2] == k.shape[2]:
            # Plain causal, no cache offset: SDPA's built-in causal path (flash kernel on CUDA).
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        else:
            mask = dense_mask(q.shape[2], k.shape[2], self.sliding_window, x.device)[None, None]
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        return self.resid_dropout(self.out(y.transpose(1, 2).reshape(b, t, dim)))

    def _use_flex(self, x: torch.Tensor, kv_cache: KVCache | None) -> bool:
        # Decoding with a cache has one query at a time: SDPA with a small dense mask is simpler there.
        if kv_cache is not None or (self.training and self.dropout > 0):
            return False
        if self.attn_impl == "auto":
            return x.is_cuda and self.head_dim >= FLEX_MIN_HEAD_DIM
        if self.attn_impl == "flex" and x.is_cuda and self.head_dim < FLEX_MIN_HEAD_DIM:
            raise ValueError(
                f"compiled flex attention needs head_dim >= {FLEX_MIN_HEAD_DIM}, got {self.head_dim}; "
                "use attn_impl='auto' or 'sdpa', or fewer heads"
            )
        if self.attn_impl == "flex" and not x.is_cuda and torch.is_grad_enabled() and x.requires_grad:
            raise RuntimeError(
                "flex attention cannot backpropagate on CPU; train with attn_impl='sdpa' or 'auto' "
                "(flex with torch.no_grad() is fine)"
            )
        return self.attn_impl == "flex"


class Block(nn.Module):
    """Pre-norm transformer block: attention then SwiGLU, each added back to the residual stream."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.dim, config.norm_eps)
        self.attn = Attention(config)
        self.mlp_norm = RMSNorm(config.dim, config.norm_eps)
        self.mlp = SwiGLU(config.dim, config.ffn_hidden, config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        kv_cache: KVCache | None = None,
        mask: torch.Tensor | BlockMask | None = None,
    ) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin, kv_cache, mask)
        return x + self.mlp(self.mlp_norm(x))


# --------------------------------------------------------------------------- sampling


def check_sampling(temperature: float, top_k: int | None = None, top_p: float | None = None) -> None:
    """A clear error for sampling settings that mean nothing (see :func:`sample_next`)."""
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0 (0 = greedy), got {temperature!r}")
    if top_k is not None and not int_at_least(top_k, 1):
        raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 < top_p <= 1
    ):
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p!r}")


def sample_next(
    logits: torch.Tensor,
    temperature: float,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The next token ``[B, 1]`` from last-position logits ``[B, vocab]``.

    ``temperature = 0`` is greedy (argmax); otherwise sample from ``softmax(logits / temperature)`` among
    the ``top_k`` most likely tokens and the smallest set whose probability reaches ``top_p`` (nucleus).

    >>> sample_next(torch.tensor([[0.0, 3.0, 1.0]]), temperature=0).tolist()
    [[1]]
    >>> g = torch.Generator().manual_seed(0)
    >>> sample_next(torch.tensor([[0.0, 3.0, 2.9]]), temperature=1.0, top_p=0.01, generator=g).tolist()
    [[1]]
    """
    logits = logits.float()
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        sorted_logits, order = logits.sort(-1, descending=True)
        probs = sorted_logits.softmax(-1)
        # Drop a token when the more likely ones already reach top_p (the most likely always stays).
        drop = probs.cumsum(-1) - probs >= top_p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), float("-inf"))
    probs = F.softmax(logits, dim=-1)
    # Sample where the generator lives (a CPU generator is the common, reproducible case).
    where = generator.device if generator is not None else probs.device
    return torch.multinomial(probs.to(where), 1, generator=generator).to(logits.device)


# --------------------------------------------------------------------------- model


class TransformerLM(nn.Module):
    """Token embedding, ``n_layers`` blocks, final norm and a (tied) output head.

    The rotary cache is built for ``config.max_seq_len`` with ``config.rope_scaling``. Longer inputs are
    an error; to evaluate at a longer context on purpose, call :meth:`set_rope` first.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.dim)
        self.drop = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight
        self.rope = RotaryCache(config.head_dim, config.max_seq_len, config.rope_base, config.rope_scaling)
        self.apply(self._init_weights)
        # GPT-2: shrink the projections that write into the residual stream, one pair per layer.
        for name, p in self.named_parameters():
            if name.endswith(("attn.out.weight", "mlp.down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @property
    def max_seq_len(self) -> int:
        """The longest sequence the model accepts now (``config.max_seq_len`` unless :meth:`set_rope`)."""
        return self.rope.max_seq_len

    def set_rope(
        self, *, scaling: dict | None, max_seq_len: int | None = None, base: float | None = None
    ) -> TransformerLM:
        """Rebuild the rotary cache, e.g. to evaluate at 4x the training length with a scaling.

        ``scaling=None`` means plain RoPE; ``max_seq_len`` and ``base`` default to the config's. Weights
        do not change; ``reset_rope()`` undoes this. Returns the model.

        >>> m = TransformerLM(TransformerConfig(vocab_size=10, dim=16, n_layers=1, n_heads=2, max_seq_len=8))
        >>> m.set_rope(scaling={"rope_type": "linear", "factor": 4.0}, max_seq_len=32).max_seq_len
        32
        """
        device = self.rope.cos.device
        self.rope = RotaryCache(
            self.config.head_dim,
            max_seq_len or self.config.max_seq_len,
            self.config.rope_base if base is None else base,
            scaling,
        ).to(device)
        return self

    def reset_rope(self) -> TransformerLM:
        """Back to the rotary embedding the config describes."""
        return self.set_rope(scaling=self.config.rope_scaling)

    def num_params(self, exclude_embeddings: bool = False) -> int:
        """Parameter count (shared tensors once); optionally without the token embedding."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.tok_emb.weight.numel() if exclude_embeddings else n

    def new_kv_caches(self, batch_size: int, capacity: int | None = None) -> list[KVCache]:
        """One empty :class:`KVCache` per layer, on the model's device and dtype."""
        capacity = capacity or self.max_seq_len
        if capacity > self.max_seq_len:
            raise ValueError(
                f"KV cache capacity {capacity} exceeds the model's max_seq_len {self.max_seq_len}"
            )
        weight = self.tok_emb.weight
        c = self.config
        return [
            KVCache(batch_size, c.kv_heads, c.head_dim, capacity, weight.device, weight.dtype)
            for _ in range(c.n_layers)
        ]

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Input vectors ``[B, T, dim]`` for token ids ``idx``; :meth:`forward` applies dropout after.

        A subclass overrides this to add further embeddings (``bltlib.charaware``)."""
        return self.tok_emb(idx)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        kv_caches: list[KVCache] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``[B, T, vocab]`` for token ids ``idx [B, T]``, and the mean cross-entropy if ``targets``.

        With ``kv_caches`` (from :meth:`new_kv_caches`), ``idx`` continues the cached sequence.
        """
        self._check_tokens(idx, "idx")
        b, t = idx.shape
        offset = 0
        if kv_caches is not None:
            if len(kv_caches) != len(self.layers):
                raise ValueError(
                    f"expected {len(self.layers)} KV caches (one per layer), got {len(kv_caches)}"
                )
            if kv_caches[0].k.shape[0] != b:
                raise ValueError(f"KV caches were made for batch size {kv_caches[0].k.shape[0]}, idx has {b}")
            kv_caches[0].check_room(t)
            offset = kv_caches[0].length
        if offset + t > self.max_seq_len:
            raise ValueError(
                f"sequence length {offset + t} exceeds the model's max_seq_len {self.max_seq_len}; "
                f"to evaluate longer contexts on purpose, call model.set_rope(scaling=..., max_seq_len=...)"
            )
        cos, sin = self.rope(t, offset)
        x = self.drop(self.embed(idx))
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if kv_caches is None else kv_caches[i])
        logits = self.lm_head(self.norm(x))
        if targets is None:
            return logits, None
        if targets.shape != idx.shape:
            raise ValueError(
                f"targets shape {tuple(targets.shape)} does not match idx shape {tuple(idx.shape)}"
            )
        self._check_tokens(targets, "targets", allow_ignore=True)
        loss = F.cross_entropy(
            logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE_INDEX
        )
        return logits, loss

    def _check_tokens(self, ids: torch.Tensor, name: str, allow_ignore: bool = False) -> None:
        if not isinstance(ids, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
        if ids.dtype not in (torch.long, torch.int32):
            raise TypeError(f"{name} must hold integer token ids (torch.long), got {ids.dtype}")
        if ids.dim() != 2:
            raise ValueError(f"{name} must have shape (batch, time), got {tuple(ids.shape)}")
        if ids.numel() == 0:
            raise ValueError(f"{name} is empty: shape {tuple(ids.shape)}")
        if torch.compiler.is_compiling():
            return  # the value check below needs a host sync and data-dependent control flow
        bad = (ids < 0) | (ids >= self.config.vocab_size)
        if allow_ignore:
            bad &= ids != IGNORE_INDEX
        if bad.any():
            vocab = self.config.vocab_size
            raise ValueError(f"{name} has token id {ids[bad][0].item()}, out of range for vocab_size {vocab}")

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Extend ``idx [B, T]`` by ``max_new_tokens`` sampled tokens, reusing keys/values in a KV cache.

        ``temperature = 0`` is greedy decoding; ``top_k`` samples among the k most likely tokens only.
        """
        if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be a non-negative int, got {max_new_tokens!r}")
        check_sampling(temperature, top_k)
        self._check_tokens(idx, "idx")
        total = idx.shape[1] + max_new_tokens
        if total > self.max_seq_len:
            raise ValueError(
                f"prompt of {idx.shape[1]} tokens + {max_new_tokens} new ones = {total} exceeds the model's "
                f"max_seq_len {self.max_seq_len}"
            )
        if max_new_tokens == 0:
            return idx
        caches = self.new_kv_caches(idx.shape[0], capacity=total)
        logits, _ = self(idx, kv_caches=caches)
        out = [idx]
        for step in range(max_new_tokens):
            nxt = sample_next(logits[:, -1], temperature, top_k, generator=generator)
            out.append(nxt)
            if step + 1 < max_new_tokens:
                logits, _ = self(nxt, kv_caches=caches)
        return torch.cat(out, dim=1)
