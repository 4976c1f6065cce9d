"""A small, readable training loop shared by lessons 2-4.

What it does, in the order a step runs: fetch a batch with ``get_batch("train", step)``, set the learning
rate from :func:`lr_at` (linear warmup, cosine decay to ``min_lr_ratio * lr``), forward under bf16
autocast on CUDA (full fp32 on CPU unless ``amp_on_cpu``), backward, clip the gradient norm, AdamW step; every
``eval_every`` steps, the mean loss on ``eval_batches`` fixed validation batches. A ``callback(step,
metrics)`` sees every step (for live loss plots), and a ``tqdm`` bar shows the loss.

The model is anything with ``model(*inputs, targets) -> (logits, loss)``; batches come from a callable
``get_batch(split, step) -> (*inputs, targets)``: ``(x, y)`` for a token model, ``(ids, patch_lengths,
targets)`` for a BLT. Making batches a function of the step (not of a hidden iterator)
is what lets :meth:`Trainer.resume` continue a run bit for bit (on the CPU, and on CUDA without
``compile`` and ``amp``; compiled CUDA kernels may sum in a different order after a restart).

Checkpoints are a folder: ``model.safetensors`` (weights), ``trainer.json`` (step, config, history) and
``optimizer.pt`` (optimizer state and RNG states, read back with ``torch.load(weights_only=True)``, so
loading never unpickles code).

Several processes: launched by ``torchrun --nproc_per_node=N``, the Trainer finds ``WORLD_SIZE`` in the
environment, joins the process group (NCCL on CUDA, gloo on CPU) and wraps the model in DDP, or shards
it with FSDP2 (``cfg.parallel="fsdp"``). ``get_batch`` still returns the *global* batch; each rank keeps
its own slice of the rows, so N processes with batch B take the same steps as one process with batch B.
Rank 0 alone shows progress, calls ``callback`` and writes checkpoints; every rank resumes from them.

>>> cfg = TrainConfig(steps=100, lr=1e-3, warmup=10, min_lr_ratio=0.1)
>>> [round(lr_at(s, cfg), 6) for s in (0, 9, 55, 100)]
[0.0001, 0.001, 0.00055, 0.0001]
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import pickle
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, is_dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model, save_model
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from bltlib.config import get_device, int_at_least

FORMAT = "bltlib.train/1"  # written in every checkpoint, so a foreign folder is recognised as such
MODEL_FILE, STATE_FILE, OPTIM_FILE = "model.safetensors", "trainer.json", "optimizer.pt"

Batch = tuple[torch.Tensor, ...]  # (*inputs, targets)
PARALLEL = ("ddp", "fsdp")
# Optimizer (and sharded model) states as plain tensors keyed by parameter name, the same whatever the
# number of processes, so that any run can resume any checkpoint.
FULL_STATE = StateDictOptions(full_state_dict=True, cpu_offload=True)


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or was written for another model."""


@dataclass
class TrainConfig:
    """Hyper-parameters of a run. ``batch_size`` is for ``get_batch`` to read; it is recorded, not used here.

    ``amp`` turns on bf16 autocast, on CUDA only unless ``amp_on_cpu`` (bf16 is slower than float32 on
    most CPUs: that switch is there to test the bf16 path without a GPU). ``compile=None`` compiles the
    model on CUDA only; if compiling fails (a compiler bug for some shape), the Trainer warns and runs
    eagerly instead.
    ``ckpt_dir`` with ``ckpt_every > 0`` saves a checkpoint every ``ckpt_every`` steps and at the end.
    ``parallel``: how several processes (under ``torchrun``) share the work, ``ddp`` or ``fsdp``.
    """

    steps: int = 1000
    lr: float = 3e-4
    warmup: int = 100
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    batch_size: int = 32
    eval_every: int = 100
    eval_batches: int = 1
    betas: tuple[float, float] = (0.9, 0.95)
    amp: bool = True
    amp_on_cpu: bool = False
    compile: bool | None = None
    progress: bool = True
    ckpt_dir: str | None = None
    ckpt_every: int = 0
    parallel: str = "ddp"

    def __post_init__(self) -> None:
        if self.parallel not in PARALLEL:
            raise ValueError(f"parallel must be one of {', '.join(PARALLEL)}, got {self.parallel!r}")
        self.betas = tuple(self.betas)  # JSON round trips give lists
        for name in ("steps", "warmup", "batch_size", "eval_every", "eval_batches", "ckpt_every"):
            value = getattr(self, name)
            if not int_at_least(value, 0):
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        for name in ("lr", "weight_decay", "grad_clip"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate for (0-based) ``step``: linear warmup over ``cfg.warmup`` steps, then cosine decay
    from ``cfg.lr`` to ``cfg.min_lr_ratio * cfg.lr`` at ``cfg.steps``; constant after that.

    >>> cfg = TrainConfig(steps=10, lr=1.0, warmup=2, min_lr_ratio=0.0)
    >>> [round(lr_at(s, cfg), 3) for s in range(11)]
    [0.5, 1.0, 1.0, 0.962, 0.854, 0.691, 0.5, 0.309, 0.146, 0.038, 0.0]
    """
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup  # step 0 already moves: no wasted step at lr = 0
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def is_main_process() -> bool:
    """True in a single process, and on rank 0 of a distributed run (the one that writes files)."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def init_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """``(rank, world size, device)``; joins the process group when ``torchrun`` started several processes.

    >>> init_distributed(torch.device("cpu"))  # one process: nothing to join
    (0, 1, device(type='cpu'))
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW, decaying matrices only: decay on norm gains and biases would just pull them towards 0."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=1e-8)


def _jsonable(obj: object) -> object:
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj if isinstance(obj, str | int | float | bool | type(None)) else repr(obj)


class Trainer:
    """Train ``model`` on batches from ``get_batch`` following ``cfg``.

    >>> class Regression(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.f = nn.Linear(1, 1)
    ...     def forward(self, x, targets):
    ...         pred = self.f(x)
    ...         return pred, ((pred - targets) ** 2).mean()
    >>> _ = torch.manual_seed(0)
    >>> x = torch.linspace(-1, 1, 32)[:, None]
    >>> get_batch = lambda split, step: (x, 3 * x + 1)
    >>> trainer = Trainer(Regression(), TrainConfig(steps=300, lr=0.1, warmup=10, progress=False), get_batch)
    >>> history = trainer.train()
    >>> history[-1]["step"], round(history[-1]["val_loss"], 4)
    (300, 0.0)
    """

    def __init__(
        self,
        model: nn.Module,
        cfg: TrainConfig,
        get_batch: Callable[[str, int], Batch],
        *,
        callback: Callable[[int, dict], None] | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(cfg, TrainConfig):
            raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
        if not callable(get_batch):
            raise TypeError("get_batch must be a callable get_batch(split, step) -> (*inputs, targets)")
        self.cfg, self.get_batch, self.callback = cfg, get_batch, callback
        device = torch.device(device) if device is not None else get_device()
        self.rank, self.world, self.device = init_distributed(device)
        self.model = model.to(self.device)
        self.sharded = self.world > 1 and cfg.parallel == "fsdp"
        # FSDP shards the weights in place; an unsharded CPU copy is what checkpoints are read and written
        # through (a course-scale shortcut: it costs one copy of the weights per process)
        self._full_copy = copy.deepcopy(self.model).cpu() if self.sharded else None
        if self.sharded:
            from torch.distributed.fsdp import fully_shard

            fully_shard(self.model)
        self.optimizer = make_optimizer(self.model, cfg)
        on_cuda = self.device.type == "cuda"
        self.amp = cfg.amp and (on_cuda or cfg.amp_on_cpu)
        compile_ = on_cuda if cfg.compile is None else cfg.compile
        # keep the plain module for checkpoints: a compiled one renames its weights "_orig_mod.*"
        self._wrapped = self.model
        if self.world > 1 and not self.sharded:
            self._wrapped = DistributedDataParallel(self.model, device_ids=[self.device] if on_cuda else None)
        self._forward = torch.compile(self._wrapped) if compile_ else self._wrapped
        self.step = 0
        self.history: list[dict] = []

    # ------------------------------------------------------------------------- one step

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _loss(self, batch: Batch) -> torch.Tensor:
        if not (isinstance(batch, tuple | list) and len(batch) >= 2):
            raise TypeError(
                f"get_batch must return a tuple (*inputs, targets) of tensors, got {type(batch).__name__}"
                + (f" of length {len(batch)}" if isinstance(batch, tuple | list) else "")
            )
        if not all(isinstance(t, torch.Tensor) for t in batch):
            raise TypeError("get_batch must return tensors (*inputs, targets)")
        batch = tuple(t.to(self.device, non_blocking=True) for t in self._my_rows(batch))
        with self._autocast():
            out = self._compiled_or_eager(batch)
        if not (isinstance(out, tuple | list) and len(out) == 2):
            raise TypeError("model(*inputs, targets) must return (logits, loss)")
        loss = out[1]
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError(f"model(*inputs, targets) must return a scalar loss tensor, got {loss!r:.60}")
        return loss.float()

    def _my_rows(self, batch: Batch) -> Batch:
        """This rank's slice of the global batch: rows ``[rank * B / N, (rank + 1) * B / N)``."""
        if self.world == 1:
            return tuple(batch)
        rows = batch[0].shape[0]
        if any(t.shape[0] != rows for t in batch) or rows % self.world:
            raise ValueError(
                f"a batch of {[tuple(t.shape) for t in batch]} cannot be split evenly over {self.world} "
                "processes: every tensor needs the same number of rows, a multiple of the process count"
            )
        return tuple(t.chunk(self.world)[self.rank] for t in batch)

    def _mean_over_ranks(self, value: torch.Tensor) -> torch.Tensor:
        if self.world == 1:
            return value
        value = value.detach().clone()
        dist.all_reduce(value)  # a sum: gloo has no average
        return value / self.world

    @property
    def compiled(self) -> bool:
        """Whether steps run through ``torch.compile`` (False after a compiler failure)."""
        return self._forward is not self._wrapped

    def _compiled_or_eager(self, batch: Batch) -> object:
        # torch.compile is a speed-up, never a requirement: if the compiler fails (it compiles at the
        # first call and again for a new shape or mode), run eagerly from then on. A genuine error in
        # the model fails again in eager mode, with its own message.
        try:
            return self._forward(*batch)
        except torch._dynamo.exc.TorchDynamoException as err:
            if not self.compiled:
                raise
            first_line = (str(err).strip().splitlines() or [""])[0][:200]
            warnings.warn(
                f"torch.compile failed ({type(err).__name__}: {first_line}); training without it",
                stacklevel=4,
            )
            self._forward = self._wrapped
            return self._wrapped(*batch)

    def train_step(self) -> dict:
        """One optimizer step; returns its metrics (``step`` counts completed steps)."""
        self.model.train()
        lr = lr_at(self.step, self.cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss = self._loss(self.get_batch("train", self.step))
        mean_loss = self._mean_over_ranks(loss)  # the same on every rank, so all stop together
        if not torch.isfinite(mean_loss):
            raise FloatingPointError(
                f"loss is {mean_loss.item()} at step {self.step}: try a lower lr or more warmup"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP and FSDP average the gradients over ranks here
        max_norm = self.cfg.grad_clip if self.cfg.grad_clip > 0 else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        if hasattr(grad_norm, "full_tensor"):  # FSDP returns a distributed tensor
            grad_norm = grad_norm.full_tensor()
        self.optimizer.step()
        self.step += 1
        return {"step": self.step, "loss": mean_loss.item(), "lr": lr, "grad_norm": grad_norm.item()}

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean loss over the fixed batches ``get_batch("val", i)``, ``i < cfg.eval_batches``."""
        self.model.eval()
        losses = [
            self._mean_over_ranks(self._loss(self.get_batch("val", i))).item()
            for i in range(max(1, self.cfg.eval_batches))
        ]
        self.model.train()
        return sum(losses) / len(losses)

    def train(self, until: int | None = None) -> list[dict]:
        """Train from the current step up to ``until`` (default ``cfg.steps``); returns the history.

        Evaluates every ``cfg.eval_every`` steps and at the last step of the run.
        """
        end = self.cfg.steps if until is None else until
        if not 0 <= end <= self.cfg.steps:
            raise ValueError(f"until must be in [0, cfg.steps={self.cfg.steps}], got {until}")
        bar = tqdm(
            total=end, initial=self.step, desc="train", disable=not (self.cfg.progress and self.rank == 0)
        )
        while self.step < end:
            metrics = self.train_step()
            every = self.cfg.eval_every
            if (every and self.step % every == 0) or self.step == self.cfg.steps:
                metrics["val_loss"] = self.evaluate()
            self.history.append(metrics)
            bar.update(1)
            bar.set_postfix(
                {k: f"{metrics[k]:.3f}" for k in ("loss", "val_loss") if k in metrics}, refresh=False
            )
            if self.callback is not None and self.rank == 0:
                self.callback(self.step, metrics)
            ckpt = self.cfg.ckpt_dir and self.cfg.ckpt_every
            if ckpt and (self.step % self.cfg.ckpt_every == 0 or self.step == self.cfg.steps):
                self.save(self.cfg.ckpt_dir)
        bar.close()
        return self.history

    # ------------------------------------------------------------------------- checkpoints

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint folder (weights, optimizer and RNG states, step, config, history).

        In a distributed run every rank must call it (gathering sharded weights is collective); rank 0
        writes.
        """
        path = Path(path)
        plain = self._unsharded_model()
        optimizer = get_optimizer_state_dict(self.model, self.optimizer, options=FULL_STATE)
        if self.rank == 0:
            path.mkdir(parents=True, exist_ok=True)
            save_model(plain, str(path / MODEL_FILE), metadata={"format": FORMAT, "step": str(self.step)})
            rng = {"cpu": torch.get_rng_state()}
            if torch.cuda.is_available():
                rng["cuda"] = torch.cuda.get_rng_state_all()
            torch.save({"optimizer": optimizer, "rng": rng}, path / OPTIM_FILE)
            state = {
                "format": FORMAT,
                "step": self.step,
                "config": asdict(self.cfg),
                "model_config": _jsonable(getattr(plain, "config", None)),
                "history": self.history,
            }
            (path / STATE_FILE).write_text(json.dumps(state, indent=1))
        if self.world > 1:
            dist.barrier()  # nobody reads the checkpoint before it is complete
        return path

    def _unsharded_model(self) -> nn.Module:
        """The model with all its weights in one place (gathered from the ranks under FSDP)."""
        if not self.sharded:
            return self.model
        full = get_model_state_dict(self.model, options=FULL_STATE)  # collective; only rank 0 gets it
        if self.rank == 0:
            self._full_copy.load_state_dict(full)
        return self._full_copy

    def resume(self, path: str | Path) -> Trainer:
        """Load a checkpoint written by :meth:`save` and continue from its step. Returns the trainer.

        Checkpoints do not depend on how many processes wrote them: a run on N processes resumes from
        one written by a single process, and the other way round.
        """
        path = Path(path)
        state = _read_state(path)
        if self.sharded:
            load_weights(self._full_copy, path / MODEL_FILE)
            set_model_state_dict(self.model, self._full_copy.state_dict(), options=FULL_STATE)
        else:
            load_weights(self.model, path / MODEL_FILE)
        try:
            saved = torch.load(path / OPTIM_FILE, map_location="cpu", weights_only=True)
            set_optimizer_state_dict(self.model, self.optimizer, saved["optimizer"], options=FULL_STATE)
            torch.set_rng_state(saved["rng"]["cpu"].cpu())
        except (
            OSError,
            RuntimeError,
            KeyError,
            ValueError,
            TypeError,
            EOFError,
            pickle.UnpicklingError,
        ) as err:
            raise CheckpointError(
                f"{path / OPTIM_FILE} is missing or not a bltlib optimizer state: {err}"
            ) from err
        if "cuda" in saved["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in saved["rng"]["cuda"]])
        changed = {
            k
            for k, v in asdict(self.cfg).items()
            # a field the checkpoint predates is no change; checkpoints do not depend on "parallel"
            if k in state["config"] and _jsonable(v) != state["config"][k] and k != "parallel"
        }
        if changed and self.rank == 0:
            warnings.warn(f"resuming with a config that differs in {sorted(changed)}", stacklevel=2)
        self.step, self.history = int(state["step"]), list(state["history"])
        return self


def time_alternately(
    fns: Sequence[Callable[[], object]],
    rounds: int,
    calls: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> list[list[float]]:
    """Seconds per call of each of ``fns`` (one list per function, one entry per round).

    In each round every function runs ``calls`` times, one function after the other, and the order
    rotates from round to round, so that all of them meet the same machine: a busy neighbour or a CPU
    that clocks down hurts them alike. Compare their best (or median) rounds. ``clock`` may be
    ``time.process_time`` (this process's CPU time: with one thread, other processes barely count).

    >>> order = []
    >>> _ = time_alternately([lambda: order.append("a"), lambda: order.append("b")], rounds=3)
    >>> "".join(order)
    'abbaab'
    """
    if not int_at_least(rounds, 1):
        raise ValueError(f"rounds must be a positive int, got {rounds!r}")
    if not int_at_least(calls, 1):
        raise ValueError(f"calls must be a positive int, got {calls!r}")
    seconds: list[list[float]] = [[] for _ in fns]
    for r in range(rounds):
        for i in [(r + j) % len(fns) for j in range(len(fns))]:
            start = clock()
            for _ in range(calls):
                fns[i]()
            seconds[i].append((clock() - start) / calls)
    return seconds


def _read_state(path: Path) -> dict:
    try:
        state = json.loads((path / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not a bltlib checkpoint folder ({STATE_FILE}: {err})") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path / STATE_FILE} was not written by bltlib.train (format {FORMAT!r})")
    return state


def save_weights(
    model: nn.Module, path: str | Path, format: str, config: object, card: dict | None = None
) -> Path:
    """Write ``model`` as one safetensors file, with ``format``, its ``config`` (a dataclass) and a
    JSON-able ``card`` as metadata (the shipped models' file format; see :func:`read_metadata`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": format, "config": json.dumps(asdict(config)), "card": json.dumps(card or {})}
    save_model(model, str(path), metadata=metadata)
    return path


def read_metadata(path: Path, format: str, what: str, hint: str = "") -> dict[str, str]:
    """The metadata of a file written by :func:`save_weights` with ``format``, or a clear error naming
    the file: missing (``hint`` says how to make it), unreadable, or another kind (``what`` it should be).
    """
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}{hint}")
    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err
    if metadata.get("format") != format:
        raise CheckpointError(f"{path} is not a bltlib {what} (no {format!r} metadata)")
    return metadata


def load_weights(model: nn.Module, file: str | Path) -> nn.Module:
    """Load safetensors weights into ``model`` in place, with a clear error for a corrupt or foreign file."""
    try:
        load_model(model, str(file), strict=True)
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"cannot load weights from {file} into {type(model).__name__}: {err}") from err
    return model
