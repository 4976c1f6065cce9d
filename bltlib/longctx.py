"""Measuring a RoPE model past its training length: perplexity by length and position, short
fine-tunes, and the fitness a LongRoPE search minimises.

Every comparison runs on the same held-out windows: ``held_out_windows`` cuts ``n`` windows of the
longest length once, and shorter lengths use their prefixes, so a change in perplexity comes from the
method and the length, never from different text.

A *method* is a name and a factor; :func:`method_scaling` turns it into the ``bltlib.rope`` scaling
dict that ``TransformerLM.set_rope`` takes.

>>> method_scaling("yarn", 4.0, original_max_position_embeddings=256)
{'rope_type': 'yarn', 'factor': 4.0, 'original_max_position_embeddings': 256}
>>> method_scaling("none", 4.0, original_max_position_embeddings=256) is None
True
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_model
from tqdm.auto import tqdm

from bltlib.data import random_windows
from bltlib.rope import LongRopeSearchResult, longrope_scaling
from bltlib.tasks import text_and_passkey_batch
from bltlib.train import TrainConfig, Trainer, load_weights
from bltlib.transformer import TransformerConfig, TransformerLM

METHODS = ("none", "pi", "ntk", "dynamic", "yarn", "longrope")
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "rope_byte_lm.safetensors"
# Lesson 2's long runs at the laptop preset, recorded by scripts/rope_lesson_runs.py: the LongRoPE
# searches (JSON) and the three fine-tunes at 4L (weights), so the lesson loads them instead of
# spending minutes of CPU on them.
LESSON_RUNS = WEIGHTS_DIR / "rope_lesson_runs.json"
TUNED_METHODS = ("none", "pi", "yarn")


def tuned_weights(method: str) -> Path:
    """The shipped fine-tune of the lesson's model at 4L with ``method`` x4 (``none``, ``pi``, ``yarn``)."""
    if method not in TUNED_METHODS:
        raise ValueError(f"no shipped fine-tune for {method!r}; there is one for {', '.join(TUNED_METHODS)}")
    return WEIGHTS_DIR / f"rope_byte_lm_x4_{method}.safetensors"


def recorded_runs(path: str | Path = LESSON_RUNS) -> dict:
    """What scripts/rope_lesson_runs.py recorded: its command and sizes, and for each factor the LongRoPE
    search's result (``factors``, ``n_hat``, ``fitness``, ``history``)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def recorded_search(factor: float, path: str | Path = LESSON_RUNS) -> LongRopeSearchResult:
    """The recorded LongRoPE search for ``factor``, as ``rope.longrope_search`` returned it."""
    runs = recorded_runs(path)["longrope"]
    key = f"{factor:g}"
    if key not in runs:
        raise KeyError(f"no recorded LongRoPE search for factor {factor:g}; there are {', '.join(runs)}")
    found = runs[key]
    factors = torch.tensor(found["factors"], dtype=torch.float32)
    return LongRopeSearchResult(factors, found["n_hat"], found["fitness"], found["history"])


def passkey_text_batches(
    train_ids: torch.Tensor,
    val_ids: torch.Tensor,
    seq_len: int,
    batch_size: int,
    passkey_rows: int = 0,
    episode_rows: int = 0,
    seed: int = 0,
) -> Callable[[str, int], tuple[torch.Tensor, torch.Tensor]]:
    """Batches as a function of ``(split, step)``, as the Trainer wants: for training, random windows of
    ``train_ids`` plus ``passkey_rows`` passkey examples and ``episode_rows`` passkey episodes (each key's
    first statement masked out of the loss; ``bltlib.tasks.text_and_passkey_batch``); for validation,
    random windows of ``val_ids``. The same ``(split, step, seed)`` always gives the same batch."""

    def get_batch(split: str, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed * 100_003 + step + (10**6 if split == "val" else 0))
        if split == "val":
            return random_windows(val_ids, batch_size, seq_len, gen)
        return text_and_passkey_batch(
            train_ids, batch_size, seq_len, gen, passkey_rows, episode_rows, max_gap=seq_len - 100
        )

    return get_batch


# --------------------------------------------------------------------------- the shipped model


def save_lm(model: TransformerLM, path: str | Path, card: dict | None = None) -> Path:
    """Weights as safetensors, with the model config (and an optional card) as JSON in its metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"config": json.dumps(asdict(model.config))}
    if card:
        metadata["card"] = json.dumps(card)
    save_model(model, str(path), metadata=metadata)
    return path


def load_lm(path: str | Path = DEFAULT_WEIGHTS, device: torch.device | str = "cpu") -> TransformerLM:
    """A :class:`TransformerLM` from a file written by :func:`save_lm` (the shipped one by default),
    in eval mode on ``device`` (lessons pass ``config.get_device()``: the GPU when there is one)."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    if "config" not in metadata:
        raise ValueError(f"{path} has no model config in its metadata: was it written by save_lm?")
    model = TransformerLM(TransformerConfig(**json.loads(metadata["config"])))
    return load_weights(model, path).to(device).eval()


def model_card(path: str | Path = DEFAULT_WEIGHTS) -> dict:
    """The card stored in a weights file's metadata (training data, command, metrics)."""
    with safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("card", "{}"))


# --------------------------------------------------------------------------- methods


def method_scaling(
    method: str,
    factor: float,
    *,
    original_max_position_embeddings: int,
    longrope: tuple[Sequence[float] | torch.Tensor, int] | None = None,
) -> dict | None:
    """The scaling dict for ``method`` at ``factor``; ``longrope`` needs the searched
    ``(factors, n_hat)``.

    >>> method_scaling("pi", 8.0, original_max_position_embeddings=256)
    {'rope_type': 'linear', 'factor': 8.0}
    >>> searched = ([1.0, 2.0], 4)  # (factors, n_hat)
    >>> method_scaling("longrope", 2.0, original_max_position_embeddings=64, longrope=searched)["n_hat"]
    4
    """
    original = original_max_position_embeddings
    if method == "none":
        return None
    if method == "pi":
        return {"rope_type": "linear", "factor": factor}
    if method == "ntk":
        return {"rope_type": "ntk", "factor": factor}
    if method in ("dynamic", "yarn"):
        return {"rope_type": method, "factor": factor, "original_max_position_embeddings": original}
    if method == "longrope":
        if longrope is None:
            raise ValueError("method 'longrope' needs longrope=(factors, n_hat) from a LongRoPE search")
        factors, n_hat = longrope
        return longrope_scaling(factors, n_hat, factor, original)
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


@contextlib.contextmanager
def rope_set(model: TransformerLM, scaling: dict | None, max_seq_len: int) -> Iterator[TransformerLM]:
    """Within the block, ``model`` uses ``scaling`` for up to ``max_seq_len`` positions; then its own
    rotary cache comes back (even after an error)."""
    saved = model.rope
    model.set_rope(scaling=scaling, max_seq_len=max_seq_len)
    try:
        yield model
    finally:
        model.rope = saved


# --------------------------------------------------------------------------- evaluation


def held_out_windows(ids: torch.Tensor, n: int, length: int) -> torch.Tensor:
    """``n`` windows of ``length + 1`` ids (inputs and shifted targets), spread evenly over ``ids``.

    >>> held_out_windows(torch.arange(20), n=3, length=4).tolist()
    [[0, 1, 2, 3, 4], [8, 9, 10, 11, 12], [15, 16, 17, 18, 19]]
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if len(ids) < length + 1:
        raise ValueError(f"need at least length + 1 = {length + 1} ids, got {len(ids)}")
    starts = torch.linspace(0, len(ids) - length - 1, n).round().long()
    return ids[starts[:, None] + torch.arange(length + 1)]


@torch.no_grad()
def token_losses(
    model: TransformerLM, windows: torch.Tensor, length: int, scaling: dict | None, batch_size: int = 4
) -> torch.Tensor:
    """Cross-entropy in nats of every target, ``[n, length]``, on the first ``length + 1`` ids of each
    window, with the rotary embedding ``scaling`` for ``length`` positions."""
    if windows.shape[1] < length + 1:
        raise ValueError(f"windows hold {windows.shape[1]} ids; length {length} needs {length + 1}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rows = []
    with rope_set(model, scaling, length):
        for chunk in windows[:, : length + 1].split(batch_size):
            chunk = chunk.to(device)
            logits, _ = model(chunk[:, :-1])
            loss = F.cross_entropy(logits.float().transpose(1, 2), chunk[:, 1:], reduction="none")
            rows.append(loss.cpu())
    model.train(was_training)
    return torch.cat(rows)


def perplexity(losses: torch.Tensor) -> float:
    """``exp`` of the mean loss.

    >>> round(perplexity(torch.full((2, 3), math.log(4.0))), 6)
    4.0
    """
    return math.exp(losses.double().mean().item())


def bucket_perplexity(losses: torch.Tensor, bucket: int) -> list[float]:
    """Perplexity of positions ``[0, bucket)``, ``[bucket, 2 * bucket)``, ... over all windows.

    >>> bucket_perplexity(torch.log(torch.tensor([[1.0, 1.0, 4.0, 4.0]])), bucket=2)
    [1.0, 4.0]
    """
    if bucket < 1 or losses.shape[1] % bucket:
        raise ValueError(f"bucket {bucket} must be positive and divide the length {losses.shape[1]}")
    per_bucket = losses.double().reshape(losses.shape[0], -1, bucket).mean(dim=(0, 2))
    return [round(math.exp(v), 6) for v in per_bucket.tolist()]


def ppl_table(
    model: TransformerLM,
    windows: torch.Tensor,
    lengths: Sequence[int],
    scalings: dict[str, dict | None],
    batch_size: int = 4,
    progress: bool = True,
) -> dict[str, dict[int, float]]:
    """``{name: {length: perplexity}}`` for each named scaling at each length, on the same windows."""
    jobs = [(name, length) for name in scalings for length in lengths]
    table: dict[str, dict[int, float]] = {name: {} for name in scalings}
    for name, length in tqdm(jobs, desc="perplexity", disable=not progress):
        table[name][length] = perplexity(token_losses(model, windows, length, scalings[name], batch_size))
    return table


def longrope_fitness(
    model: TransformerLM,
    windows: torch.Tensor,
    length: int,
    factor: float,
    original_max_position_embeddings: int,
    batch_size: int = 4,
) -> Callable[[torch.Tensor, int], float]:
    """``fitness(factors, n_hat) -> perplexity`` at ``length`` on ``windows``, for ``rope.longrope_search``.

    Use windows from a split the final comparison does not use, so the search cannot overfit it.
    """

    def fitness(factors: torch.Tensor, n_hat: int) -> float:
        scaling = longrope_scaling(factors, n_hat, factor, original_max_position_embeddings)
        return perplexity(token_losses(model, windows, length, scaling, batch_size))

    return fitness


# --------------------------------------------------------------------------- fine-tuning


def finetune(
    model: TransformerLM,
    scaling: dict | None,
    length: int,
    get_batch: Callable[[str, int], tuple[torch.Tensor, torch.Tensor]],
    cfg: TrainConfig,
    callback: Callable[[int, dict], None] | None = None,
) -> tuple[TransformerLM, list[dict]]:
    """A copy of ``model`` trained at ``length`` with the rotary ``scaling``; returns it and the history.

    The original is untouched. The copy keeps ``scaling`` for ``length`` positions, and its config
    records both, so ``reset_rope()`` and :func:`save_lm` keep the context it was tuned for.
    """
    tuned = copy.deepcopy(model)
    tuned.config = replace(tuned.config, rope_scaling=scaling, max_seq_len=length)
    tuned.reset_rope()
    trainer = Trainer(tuned, cfg, get_batch, callback=callback, device=next(model.parameters()).device)
    history = trainer.train()
    return tuned.eval(), history
