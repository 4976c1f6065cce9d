"""The byte-level entropy model: a small :class:`~bltlib.transformer.TransformerLM` over the 260 byte ids,
and the per-byte next-byte entropies that entropy patching (:mod:`bltlib.patching`) cuts on.

Conventions follow the reference BLT code (``reference/blt_spec.md`` section 1): text becomes byte ids
with BOS first (``bltlib.data.encode_bytes``), ``entropies[i]`` is the entropy, in nats over all 260
classes, of the model's prediction at position ``i`` of token ``i + 1``, computed in float32 and per row
(no leakage between the rows of a batch, unlike the reference's issue #123).

Texts longer than the model's ``max_seq_len`` are cut into overlapping windows (see :func:`chunk_spans`):
unlike the reference, whose context resets every 8192 bytes, every position here keeps at least
``overlap`` bytes of context (by default the model's attention window).

>>> model = TransformerLM(entropy_model_config(dim=16, n_layers=1, n_heads=2, max_seq_len=32))
>>> e = entropies(model, "Hello")
>>> e.shape, e.dtype  # BOS + 5 bytes
(torch.Size([6]), torch.float32)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from bltlib.config import int_at_least
from bltlib.data.batching import BYTE_VOCAB, encode_bytes, random_windows
from bltlib.train import CheckpointError, TrainConfig, Trainer, load_weights, read_metadata, save_weights
from bltlib.transformer import TransformerConfig, TransformerLM

FORMAT = "bltlib.entropy/1"
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "entropy_model.safetensors"
Data = str | bytes | torch.Tensor


def entropy_model_config(**overrides: object) -> TransformerConfig:
    """The shipped entropy model's shape, with any field overridden. Always 260 byte ids.

    Small enough to run 1 MB of text in under a minute on 2 CPU cores; the window keeps attention local
    like the reference's 512-byte window, scaled down.

    >>> entropy_model_config().vocab_size
    260
    """
    base = dict(vocab_size=BYTE_VOCAB, dim=128, n_layers=3, n_heads=4, max_seq_len=256, sliding_window=64)
    return TransformerConfig(**{**base, **overrides})


# ----------------------------------------------------------------------------- entropies


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Shannon entropy ``-sum_v p_v log p_v`` in nats over the last axis, computed in float32.

    >>> round(entropy_from_logits(torch.zeros(260)).item(), 4), round(math.log(260), 4)  # uniform
    (5.5607, 5.5607)
    >>> entropy_from_logits(torch.tensor([[0.0, -1e9]]))  # certain
    tensor([0.])
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(
            f"logits must be a floating-point tensor, got {getattr(logits, 'dtype', type(logits))}"
        )
    return _entropy(F.log_softmax(logits.float(), dim=-1))


def _entropy(log_p: torch.Tensor) -> torch.Tensor:
    return (log_p.exp() * -log_p).sum(-1)  # -log_p, not -(...): a certain prediction gives 0., not -0.


def chunk_spans(n: int, length: int, overlap: int) -> list[tuple[int, int, int]]:
    """How a sequence of ``n`` tokens is cut for a model that takes at most ``length`` at a time.

    Each span ``(start, keep_from, keep_to)`` runs the model on ``ids[start : start + length]`` and keeps
    its outputs for positions ``keep_from <= i < keep_to``. Spans overlap by ``overlap`` tokens, so every
    kept position (past the first window) sees at least ``overlap`` tokens of context; the last span is
    pulled back to end at ``n``, so every span has exactly ``length`` tokens and they batch together.

    >>> chunk_spans(10, 4, 2)
    [(0, 0, 4), (2, 4, 6), (4, 6, 8), (6, 8, 10)]
    >>> chunk_spans(9, 4, 1)  # the last window starts early (5, not 6) to stay 4 long
    [(0, 0, 4), (3, 4, 7), (5, 7, 9)]
    >>> chunk_spans(3, 4, 2)
    [(0, 0, 3)]
    """
    if not int_at_least(overlap, 0) or overlap >= length:
        raise ValueError(f"overlap must be in [0, {length}) for windows of {length} tokens, got {overlap}")
    spans, done, start = [], 0, 0
    while done < n:
        start = max(0, min(start, n - length))
        end = min(start + length, n)
        spans.append((start, done, end))
        done, start = end, end - overlap
    return spans


def _check_model(model: object) -> TransformerLM:
    if not isinstance(model, TransformerLM):
        raise TypeError(f"the entropy model must be a bltlib TransformerLM, got {type(model).__name__}")
    if model.config.vocab_size != BYTE_VOCAB:
        raise ValueError(
            f"an entropy model predicts the {BYTE_VOCAB} byte ids (256 bytes + 4 specials); "
            f"this model has vocab_size {model.config.vocab_size}"
        )
    return model


def _as_rows(data: Data) -> tuple[torch.Tensor, bool]:
    """Byte ids as ``[rows, T]`` and whether the input was one sequence (so the output is 1-D)."""
    if isinstance(data, str | bytes | bytearray):
        if len(data) == 0:
            raise ValueError("the text is empty: there is nothing to score")
        return encode_bytes(bytes(data) if isinstance(data, bytearray) else data)[None], True
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"data must be str, bytes or a tensor of byte ids, got {type(data).__name__}")
    if data.is_floating_point() or data.is_complex() or data.dtype == torch.bool:
        raise TypeError(f"byte ids must be an integer tensor, got {data.dtype}")
    if data.dim() not in (1, 2) or data.numel() == 0:
        raise ValueError(f"byte ids must be a non-empty 1-D or 2-D (rows, T) tensor, got {tuple(data.shape)}")
    if data.min() < 0 or data.max() >= BYTE_VOCAB:
        raise ValueError(
            f"byte ids must lie in [0, {BYTE_VOCAB}), got {data.min().item()}..{data.max().item()}"
        )
    return (data[None] if data.dim() == 1 else data).long().cpu(), data.dim() == 1


def _default_overlap(model: TransformerLM) -> int:
    window = model.config.sliding_window
    return window if window is not None and window < model.max_seq_len else model.max_seq_len // 2


@torch.inference_mode()
def _score(
    model: TransformerLM, ids: torch.Tensor, batch_size: int, overlap: int | None, progress: bool | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-position entropies ``[R, T]`` and next-token negative log-likelihoods ``[R, T - 1]``."""
    if not int_at_least(batch_size, 1):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    overlap = _default_overlap(model) if overlap is None else overlap
    rows, n = ids.shape
    spans = chunk_spans(n, model.max_seq_len, overlap)
    width = spans[0][2] - spans[0][0]
    index = torch.tensor([s for s, _, _ in spans])[:, None] + torch.arange(width)  # [S, width]
    padded = F.pad(ids, (0, 1))  # the token after the last position does not exist: a dummy target
    windows, targets = ids[:, index].reshape(-1, width), padded[:, index + 1].reshape(-1, width)
    ent, nll = torch.empty(windows.shape), torch.empty(windows.shape)
    device, was_training = next(model.parameters()).device, model.training
    model.eval()
    try:
        # one window per batch row: rows never attend to each other, so no leakage across the batch
        for i in tqdm(
            range(0, len(windows), batch_size),
            desc="entropies",
            delay=2 if progress is None else 0,
            disable=progress is False,
        ):
            log_p = F.log_softmax(model(windows[i : i + batch_size].to(device))[0].float(), dim=-1)
            ent[i : i + batch_size] = _entropy(log_p).cpu()
            picked = log_p.gather(-1, targets[i : i + batch_size, :, None].to(device))
            nll[i : i + batch_size] = -picked[..., 0].cpu()
    finally:
        model.train(was_training)
    ent, nll = ent.view(rows, len(spans), width), nll.view(rows, len(spans), width)
    out_ent, out_nll = torch.empty(rows, n), torch.empty(rows, n)
    for k, (start, keep_from, keep_to) in enumerate(spans):
        out_ent[:, keep_from:keep_to] = ent[:, k, keep_from - start : keep_to - start]
        out_nll[:, keep_from:keep_to] = nll[:, k, keep_from - start : keep_to - start]
    return out_ent, out_nll[:, :-1]


def entropies(
    model: TransformerLM,
    data: Data,
    batch_size: int = 16,
    overlap: int | None = None,
    progress: bool | None = None,
) -> torch.Tensor:
    """Next-byte entropies (nats, float32, on the CPU): ``entropies[i] = H(token i+1 | tokens <= i)``.

    ``data``: a ``str``/``bytes`` (encoded with BOS first, so the result has ``len(bytes) + 1`` entries and
    lines up with the patchers' positions), a 1-D tensor of byte ids, or a 2-D ``[rows, T]`` tensor whose
    rows are scored independently (result ``[rows, T]``).

    Sequences longer than the model's ``max_seq_len`` are scored in overlapping windows
    (:func:`chunk_spans`); each position keeps at least ``overlap`` tokens of context (default: the
    model's sliding window, else half its length). ``batch_size`` windows run per forward pass;
    ``progress``: ``None`` shows a bar once scoring has taken 2 s, ``True`` always, ``False`` never.

    >>> model = TransformerLM(entropy_model_config(dim=16, n_layers=1, n_heads=2, max_seq_len=32))
    >>> entropies(model, torch.ones(3, 50, dtype=torch.long)).shape
    torch.Size([3, 50])
    """
    model = _check_model(model)
    ids, single = _as_rows(data)
    out, _ = _score(model, ids, batch_size, overlap, progress)
    return out[0] if single else out


def bits_per_byte(
    model: TransformerLM,
    data: Data,
    batch_size: int = 16,
    overlap: int | None = None,
    progress: bool | None = None,
) -> float:
    """Held-out compression: mean next-byte cross-entropy in bits, ``sum(-log2 p(next | past)) / #targets``.

    Every token after the first is a target (for text: each byte, predicted from BOS and the bytes
    before it), as in the reference's bits-per-byte. A uniform guess over 260 ids scores log2(260) = 8.02.
    """
    model = _check_model(model)
    ids, _ = _as_rows(data)
    if ids.shape[1] < 2:
        raise ValueError("bits_per_byte needs at least two tokens (one to predict)")
    _, nll = _score(model, ids, batch_size, overlap, progress)
    return nll.double().mean().item() / math.log(2)


# ----------------------------------------------------------------------------- training, saving, loading


def encode_corpus(text: str | bytes | list[str]) -> torch.Tensor:
    """Byte ids for training: a text with BOS first, or documents each framed by BOS ... EOS.

    >>> encode_corpus(["a", "b"]).tolist()
    [1, 101, 2, 1, 102, 2]
    """
    if isinstance(text, list):
        if not text or not all(isinstance(doc, str | bytes) for doc in text):
            raise TypeError("a corpus list must be a non-empty list of str documents")
        return torch.cat([encode_bytes(doc, bos=True, eos=True) for doc in text])
    if not isinstance(text, str | bytes):
        raise TypeError(f"text must be str, bytes or a list of str, got {type(text).__name__}")
    return encode_bytes(text, bos=True)


def train_entropy_model(
    text: str | bytes | list[str],
    cfg: TransformerConfig | None = None,
    train_cfg: TrainConfig | None = None,
    *,
    val_text: str | bytes | list[str] | None = None,
    seed: int = 0,
    callback: Callable[[int, dict], None] | None = None,
    device: torch.device | str | None = None,
    resume_from: str | Path | None = None,
) -> tuple[TransformerLM, list[dict]]:
    """Train an entropy model (next-byte LM) on ``text``; returns the model (in eval mode) and the history.

    Batches are ``train_cfg.batch_size`` random windows of ``cfg.max_seq_len`` bytes, drawn from a
    generator seeded by (seed, step), so runs are reproducible and resumable: ``resume_from`` (a
    checkpoint folder written via ``train_cfg.ckpt_dir``) continues a run to the same weights as a
    straight one. Without ``val_text`` the last 5% of ``text`` is held out for the validation loss.
    """
    cfg = cfg or entropy_model_config()
    train_cfg = train_cfg or TrainConfig()
    if cfg.vocab_size != BYTE_VOCAB:
        raise ValueError(f"an entropy model needs vocab_size {BYTE_VOCAB}, got {cfg.vocab_size}")
    ids = encode_corpus(text)
    if val_text is None:
        cut = int(len(ids) * 0.95)
        ids, val_ids = ids[:cut], ids[cut:]
    else:
        val_ids = encode_corpus(val_text)
    block = cfg.max_seq_len
    for name, part in (("training", ids), ("validation", val_ids)):
        if len(part) < block + 1:
            raise ValueError(
                f"the {name} text has {len(part)} tokens, fewer than max_seq_len + 1 = {block + 1}"
            )

    def get_batch(split: str, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed * 1_000_003 + 2 * step + (split == "val"))
        return random_windows(ids if split == "train" else val_ids, train_cfg.batch_size, block, g)

    torch.manual_seed(seed)
    model = TransformerLM(cfg)
    trainer = Trainer(model, train_cfg, get_batch, callback=callback, device=device)
    if resume_from is not None:
        trainer.resume(resume_from)
    history = trainer.train()
    return model.eval(), history


def save_entropy_model(model: TransformerLM, path: str | Path, card: dict | None = None) -> Path:
    """Write ``model`` as one safetensors file, with its config and a JSON-able ``card`` as metadata."""
    model = _check_model(model)
    return save_weights(model, path, FORMAT, model.config, card)


def _metadata(path: Path) -> dict[str, str]:
    hint = " (train it with `python scripts/train_entropy_model.py`)" if path == DEFAULT_WEIGHTS else ""
    return read_metadata(path, FORMAT, "entropy model", hint)


def entropy_model_card(path: str | Path | None = None) -> dict:
    """The card stored with a saved entropy model (default: the shipped one)."""
    return json.loads(_metadata(Path(path) if path is not None else DEFAULT_WEIGHTS)["card"])


def load_entropy_model(path: str | Path | None = None, device: torch.device | str = "cpu") -> TransformerLM:
    """Load an entropy model saved by :func:`save_entropy_model` (default: the one shipped in
    ``bltlib/weights/``), in eval mode on ``device``."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    metadata = _metadata(path)
    try:
        config = TransformerConfig(**json.loads(metadata["config"]))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} has an unusable model config: {err}") from err
    if config.vocab_size != BYTE_VOCAB:
        raise CheckpointError(
            f"{path} holds a model with vocab_size {config.vocab_size}, not {BYTE_VOCAB} byte ids"
        )
    model = load_weights(TransformerLM(config), path)
    return model.to(device).eval()


__all__ = [
    "DEFAULT_WEIGHTS",
    "bits_per_byte",
    "chunk_spans",
    "encode_corpus",
    "entropies",
    "entropy_from_logits",
    "entropy_model_card",
    "entropy_model_config",
    "load_entropy_model",
    "save_entropy_model",
    "train_entropy_model",
]
