"""FLOP accounting for token models and patch models: what a larger patch saves.

The count follows ``reference/blt_spec.md`` section 6 (the BLT paper's eqs. 13-17, Chinchilla style):
embeddings cost nothing, a matrix-vector product with an ``a x b`` matrix costs ``2ab``, and per token
and layer a transformer's forward pass costs

- ``2 * 4h^2`` for the query, key, value and output projections,
- ``2 * 3 * h * h_ffn`` for the SwiGLU feed-forward (three matrices),
- ``4 * h * m`` for attention over ``m`` positions (scores and the weighted sum),

plus ``2 * h * V`` for an output head over ``V`` classes. Training costs 3x the forward pass (backward
is 2x forward). The paper's exact appendix terms were not available to us; this is the approximation the
spec gives, enough to compare models with each other.

A patch model (BLT) spends, per byte: a small local encoder and decoder that run on every byte, the big
latent transformer once per *patch*, and cross-attention between the two. So the latent model's share
falls as ``1 / patch_size``.

>>> bpe = Dims(dim=2, n_layers=1, ffn_dim=4, context=3)
>>> transformer_flops(bpe, vocab=5)  # 2*4*4 + 2*3*2*4 + 4*2*3 = 104 per layer, + 2*2*5 = 20 for the head
124.0
>>> token_model_flops_per_byte(bpe, vocab=5, bytes_per_token=4.0)  # 124 / 4
31.0
"""

from __future__ import annotations

from dataclasses import dataclass

BYTE_CLASSES = 256  # the paper counts the byte decoder's head over 256 bytes


@dataclass(frozen=True)
class Dims:
    """The shape of one transformer stack: width, depth, SwiGLU hidden width and attention span.

    ``context`` is how many positions each one attends to (its own units: tokens, bytes or patches);
    for a sliding-window model, the window.
    """

    dim: int
    n_layers: int
    ffn_dim: int
    context: int

    def __post_init__(self) -> None:
        for name in ("dim", "n_layers", "ffn_dim", "context"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")


def _positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def layer_flops(dim: int, ffn_dim: int, context: int) -> float:
    """Forward FLOPs of one transformer layer for one position.

    >>> layer_flops(dim=2, ffn_dim=4, context=3)  # 32 (QKVO) + 48 (SwiGLU) + 24 (attention)
    104.0
    """
    return float(2 * 4 * dim**2 + 2 * 3 * dim * ffn_dim + 4 * dim * context)


def transformer_flops(dims: Dims, vocab: int = 0) -> float:
    """Forward FLOPs per position of a transformer stack, plus an output head over ``vocab`` classes.

    >>> transformer_flops(Dims(dim=2, n_layers=3, ffn_dim=4, context=3))  # 3 layers, no head
    312.0
    """
    return dims.n_layers * layer_flops(dims.dim, dims.ffn_dim, dims.context) + 2.0 * dims.dim * vocab


def cross_attention_flops(dim: int, n_layers: int, keys: float, keys_per_query: float) -> float:
    """Forward FLOPs per *query* of ``n_layers`` cross-attention layers.

    Each query pays its query and output projections (``2 * 2h^2``) and attention over ``keys``
    positions (``4 * h * keys``); the key and value projections (``2 * 2h^2`` per key) are shared by the
    queries that see that key, so each query pays them ``keys_per_query`` times on average.

    >>> cross_attention_flops(dim=2, n_layers=1, keys=4, keys_per_query=0.5)  # 16 + 0.5 * 16 + 32
    56.0
    """
    return n_layers * (4.0 * dim**2 * (1 + keys_per_query) + 4.0 * dim * keys)


def training_flops(forward: float) -> float:
    """Training FLOPs from forward FLOPs: the backward pass costs twice the forward.

    >>> training_flops(124.0)
    372.0
    """
    return 3.0 * forward


def token_model_flops_per_byte(dims: Dims, vocab: int, bytes_per_token: float) -> float:
    """Forward FLOPs per byte of a token (BPE) model: one pass of the whole model per token.

    >>> token_model_flops_per_byte(Dims(dim=2, n_layers=1, ffn_dim=4, context=3), 5, bytes_per_token=2)
    62.0
    """
    return transformer_flops(dims, vocab) / _positive(bytes_per_token, "bytes_per_token")


def patch_model_flops_per_byte(
    latent: Dims,
    encoder: Dims,
    decoder: Dims,
    patch_size: float,
    k: int = 1,
    cross_layers: tuple[int, int] | None = None,
) -> dict[str, float]:
    """Forward FLOPs per byte of a patch model, by part, and their ``total``.

    - ``encoder``, ``decoder``: the local models run on every byte (``context`` = their window); the
      decoder's head predicts one of 256 bytes;
    - ``latent``: the latent transformer runs once per patch, so it costs ``1 / patch_size`` per byte
      (no head: its output goes to the decoder);
    - ``encoder cross-attention``: each patch has ``k`` query vectors that attend to the patch's bytes
      (``patch_size`` keys), i.e. ``k / patch_size`` queries per byte;
    - ``decoder cross-attention``: every byte queries its patch's ``k`` vectors.

    ``cross_layers = (encoder layers, decoder layers)`` with cross-attention; by default all of them.

    >>> tiny = Dims(dim=2, n_layers=1, ffn_dim=4, context=3)
    >>> parts = patch_model_flops_per_byte(tiny, tiny, tiny, patch_size=4)
    >>> parts["latent"], parts["encoder"], parts["decoder"]  # 104 / 4, 104, 104 + 2*2*256
    (26.0, 104.0, 1128.0)
    >>> parts["encoder cross-attention"], parts["decoder cross-attention"]  # (16+4*16+32)/4, 16+16/4+8
    (28.0, 28.0)
    """
    patch_size = _positive(patch_size, "patch_size")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (query vectors per patch) must be an int >= 1, got {k!r}")
    enc_x, dec_x = cross_layers if cross_layers is not None else (encoder.n_layers, decoder.n_layers)
    parts = {
        "encoder": transformer_flops(encoder),
        "encoder cross-attention": cross_attention_flops(encoder.dim, enc_x, patch_size, patch_size / k)
        * k
        / patch_size,
        "latent": transformer_flops(latent) / patch_size,
        "decoder cross-attention": cross_attention_flops(decoder.dim, dec_x, k, k / patch_size),
        "decoder": transformer_flops(decoder, BYTE_CLASSES),
    }
    parts["total"] = sum(parts.values())
    return parts


__all__ = [
    "BYTE_CLASSES",
    "Dims",
    "cross_attention_flops",
    "layer_flops",
    "patch_model_flops_per_byte",
    "token_model_flops_per_byte",
    "training_flops",
    "transformer_flops",
]
