"""The Trainer under several processes (DDP, FSDP2), on the CPU with the gloo backend, as torchrun runs it.

Each test spawns 2 processes that set the variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT); the Trainer finds them and joins the group itself.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

from bltlib.train import TrainConfig, Trainer, is_main_process
from bltlib.transformer import TransformerConfig, TransformerLM

VOCAB, BLOCK, ROWS = 16, 12, 4


def tiny_lm() -> TransformerLM:
    torch.manual_seed(0)
    return TransformerLM(
        TransformerConfig(vocab_size=VOCAB, dim=16, n_layers=2, n_heads=2, max_seq_len=BLOCK)
    )


def get_batch(split: str, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The global batch: counting sequences mod VOCAB from random starts."""
    g = torch.Generator().manual_seed(step * 2 + (split == "val"))
    seq = (torch.randint(VOCAB, (ROWS, 1), generator=g) + torch.arange(BLOCK + 1)) % VOCAB
    return seq[:, :-1], seq[:, 1:]


def train(out: str, steps: int, parallel: str = "ddp", resume: str | None = None) -> None:
    cfg = TrainConfig(steps=20, lr=1e-2, warmup=3, eval_every=5, progress=False, parallel=parallel)
    trainer = Trainer(tiny_lm(), cfg, get_batch, device="cpu")
    if resume:
        trainer.resume(resume)
    trainer.train(until=steps)
    trainer.save(out)


def _worker(rank: int, world: int, port: int, args: tuple) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    try:
        train(*args)
        assert is_main_process() == (rank == 0)
    finally:
        dist.destroy_process_group()


def run_distributed(*args: object, world: int = 2) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(world, port, args), nprocs=world, join=True)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def assert_close(a: dict, b: dict, atol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=atol, rtol=0), f"{key}: {(a[key] - b[key]).abs().max()}"


def history(folder: Path) -> list[dict]:
    import json

    return json.loads((folder / "trainer.json").read_text())["history"]


@pytest.mark.parametrize("parallel", ["ddp", "fsdp"])
def test_two_processes_equal_one_and_resume_identically(tmp_path, parallel):
    """2 processes with global batch B take the steps 1 process takes with batch B (weights and logged
    losses within 1e-5), including across a resume from a 2-process checkpoint; one process resumes
    that checkpoint too."""
    train(str(tmp_path / "one"), steps=12)
    run_distributed(str(tmp_path / "half"), 6, parallel)
    run_distributed(str(tmp_path / "two"), 12, parallel, str(tmp_path / "half"))
    assert_close(weights(tmp_path / "two"), weights(tmp_path / "one"), atol=1e-5)
    one, two = history(tmp_path / "one"), history(tmp_path / "two")
    assert [h["step"] for h in two] == list(range(1, 13))
    for a, b in zip(one, two, strict=True):  # logged losses are the mean over ranks: the global loss
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a.get("val_loss", 0) == pytest.approx(b.get("val_loss", 0), abs=1e-5)
    train(str(tmp_path / "single"), 12, resume=str(tmp_path / "half"))
    assert_close(weights(tmp_path / "single"), weights(tmp_path / "one"), atol=1e-5)


def test_a_batch_that_does_not_split_evenly_is_a_clear_error(tmp_path):
    def odd_rows(split, step):
        x, y = get_batch(split, step)
        return x[:3], y[:3]

    trainer = Trainer(tiny_lm(), TrainConfig(steps=1, progress=False), odd_rows, device="cpu")
    trainer.world, trainer.rank = 2, 0  # as if on rank 0 of 2: only the row split is exercised
    with pytest.raises(ValueError, match="cannot be split evenly over 2 processes"):
        trainer._my_rows(odd_rows("train", 0))
