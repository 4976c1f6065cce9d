"""Trainer: schedule, a step that learns, bit-for-bit resume, checkpoints and their errors."""

import json
import math

import pytest
import torch
from safetensors import safe_open
from torch import nn

from bltlib.train import CheckpointError, TrainConfig, Trainer, load_weights, lr_at, time_alternately
from bltlib.transformer import TransformerConfig, TransformerLM

VOCAB, BLOCK = 16, 12


def tiny_lm(seed=0, dropout=0.1):
    torch.manual_seed(seed)
    cfg = TransformerConfig(
        vocab_size=VOCAB, dim=16, n_layers=1, n_heads=2, max_seq_len=BLOCK, dropout=dropout
    )
    return TransformerLM(cfg)


def get_batch(split, step):
    """Counting sequences mod VOCAB from random starts: a pattern a tiny model learns in a few steps."""
    g = torch.Generator().manual_seed(step * 2 + (split == "val"))
    starts = torch.randint(VOCAB, (4, 1), generator=g)
    seq = (starts + torch.arange(BLOCK + 1)) % VOCAB
    return seq[:, :-1], seq[:, 1:]


def config(**kw):
    base = dict(steps=40, lr=1e-2, warmup=5, eval_every=10, progress=False, batch_size=4)
    return TrainConfig(**{**base, **kw})


def test_lr_schedule_shape():
    cfg = TrainConfig(steps=100, lr=1e-3, warmup=10, min_lr_ratio=0.1)
    lrs = [lr_at(s, cfg) for s in range(120)]
    assert lrs[:10] == sorted(lrs[:10]) and lrs[9] == pytest.approx(1e-3)  # warmup ends at the peak
    assert all(a >= b for a, b in zip(lrs[10:100], lrs[11:101], strict=True))  # then only decays
    assert lrs[100] == pytest.approx(1e-4) and lrs[119] == pytest.approx(1e-4)  # floor, held after the end
    assert lr_at(55, cfg) == pytest.approx(1e-4 + 0.9e-3 * 0.5)  # halfway down the cosine
    assert lr_at(0, TrainConfig(steps=5, lr=2.0, warmup=0, min_lr_ratio=0.0)) == 2.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": -1}, "steps"),
        ({"lr": float("nan")}, "lr"),
        ({"min_lr_ratio": 1.5}, "min_lr_ratio"),
        ({"betas": (0.9, 1.0)}, "betas"),
        ({"warmup": 2.5}, "warmup"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_training_lowers_loss_and_reports_metrics():
    seen = []
    trainer = Trainer(tiny_lm(dropout=0.0), config(), get_batch, callback=lambda s, m: seen.append((s, m)))
    history = trainer.train()
    assert [s for s, _ in seen] == list(range(1, 41)) and trainer.step == 40
    assert [m["step"] for m in history if "val_loss" in m] == [10, 20, 30, 40]
    assert history[-1]["val_loss"] < 0.5 * math.log(VOCAB)  # well below chance
    assert history[-1]["loss"] < history[0]["loss"]
    assert history[0]["lr"] == pytest.approx(lr_at(0, trainer.cfg))
    assert all(m["grad_norm"] > 0 for m in history)


def test_grad_clip_bounds_the_update():
    # the reported grad_norm is the norm before clipping; the gradients the optimizer used are within it
    trainer = Trainer(tiny_lm(dropout=0.0), config(grad_clip=1e-3, steps=1, warmup=0), get_batch)
    trainer.train()
    grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
    assert torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])) <= 1e-3 * 1.001
    assert trainer.history[0]["grad_norm"] > 1e-3


def test_resume_is_bit_for_bit(tmp_path):
    # On the CPU (tests/test_cuda.py covers CUDA, where compiled kernels are not bitwise repeatable).
    cfg = config(steps=16, eval_every=4)
    straight = Trainer(tiny_lm(seed=0), cfg, get_batch, device="cpu")
    straight.train()

    first = Trainer(tiny_lm(seed=0), cfg, get_batch, device="cpu")
    first.train(until=8)
    first.save(tmp_path / "ckpt")
    torch.manual_seed(123)  # disturb the global RNG: resume must restore it (dropout draws from it)
    resumed = Trainer(tiny_lm(seed=7), cfg, get_batch, device="cpu").resume(tmp_path / "ckpt")
    assert resumed.step == 8
    resumed.train()

    assert [m["loss"] for m in resumed.history] == [m["loss"] for m in straight.history]
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_failing_compiler_falls_back_to_eager_with_a_warning(monkeypatch):
    def broken_compile(model):
        def forward(*args):
            raise torch._dynamo.exc.BackendCompilerFailed.__new__(torch._dynamo.exc.BackendCompilerFailed)

        return forward

    monkeypatch.setattr(torch, "compile", broken_compile)
    eager = Trainer(tiny_lm(dropout=0.0), config(steps=3, compile=False), get_batch, device="cpu")
    trainer = Trainer(tiny_lm(dropout=0.0), config(steps=3, compile=True), get_batch, device="cpu")
    assert trainer.compiled
    with pytest.warns(UserWarning, match="torch.compile failed .*training without it"):
        history = trainer.train()
    assert not trainer.compiled
    assert [m["loss"] for m in history] == [m["loss"] for m in eager.train()]

    # A genuine error in the model is not swallowed: eager mode raises it again.
    def bad_batch(split, step):
        return torch.zeros(2, 4, dtype=torch.long), torch.full((2, 4), VOCAB + 5)

    with pytest.raises(ValueError, match="targets"), pytest.warns(UserWarning):
        Trainer(tiny_lm(), config(steps=1, compile=True), bad_batch, device="cpu").train()


def test_checkpoint_files(tmp_path):
    trainer = Trainer(tiny_lm(), config(steps=3, ckpt_dir=str(tmp_path / "run"), ckpt_every=2), get_batch)
    trainer.train()
    state = json.loads((tmp_path / "run" / "trainer.json").read_text())
    assert (
        state["step"] == 3 and state["config"]["lr"] == 1e-2 and state["model_config"]["vocab_size"] == VOCAB
    )
    with safe_open(str(tmp_path / "run" / "model.safetensors"), "pt") as f:
        assert f.metadata()["step"] == "3"


def test_corrupt_and_foreign_checkpoints(tmp_path):
    trainer = Trainer(tiny_lm(), config(steps=2), get_batch)
    trainer.train()
    ckpt = trainer.save(tmp_path / "ok")

    with pytest.raises(CheckpointError, match="not a bltlib checkpoint"):
        Trainer(tiny_lm(), config(), get_batch).resume(tmp_path / "nowhere")

    bigger = TransformerLM(
        TransformerConfig(vocab_size=VOCAB, dim=32, n_layers=1, n_heads=2, max_seq_len=BLOCK)
    )
    with pytest.raises(CheckpointError, match="cannot load weights"):
        Trainer(bigger, config(), get_batch).resume(ckpt)

    (ckpt / "optimizer.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="optimizer"):
        Trainer(tiny_lm(), config(), get_batch).resume(ckpt)

    (ckpt / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="cannot load weights"):
        load_weights(tiny_lm(), ckpt / "model.safetensors")

    (ckpt / "trainer.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(CheckpointError, match="not written by bltlib"):
        Trainer(tiny_lm(), config(), get_batch).resume(ckpt)


def test_bad_model_and_batches_give_clear_errors():
    class LogitsOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def forward(self, x, targets):
            return self.w * x

    with pytest.raises(TypeError, match=r"\(logits, loss\)"):
        Trainer(LogitsOnly(), config(), lambda s, i: (torch.ones(2), torch.ones(2))).train()

    class Exploding(LogitsOnly):
        def forward(self, x, targets):
            return x, self.w * float("nan")

    with pytest.raises(FloatingPointError, match="step 0"):
        Trainer(Exploding(), config(), lambda s, i: (torch.ones(2), torch.ones(2))).train()

    with pytest.raises(TypeError, match=r"\(\*inputs, targets\)"):
        Trainer(tiny_lm(), config(), lambda s, i: torch.ones(2)).train()
    with pytest.raises(TypeError, match="of length 1"):
        Trainer(tiny_lm(), config(), lambda s, i: (torch.ones(2),)).train()
    with pytest.raises(TypeError, match="get_batch"):
        Trainer(tiny_lm(), config(), "not callable")
    with pytest.raises(ValueError, match="until"):
        Trainer(tiny_lm(), config(), get_batch).train(until=1000)


def test_batches_with_several_inputs_reach_the_model_in_order():
    """A batch (*inputs, targets) is passed as model(*inputs, targets): how a BLT gets its patch lengths."""

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x, scale, targets):
            pred = self.w * x * scale
            return pred, ((pred - targets) ** 2).mean()

    x = torch.linspace(-1, 1, 16)
    trainer = Trainer(
        Scaled(), config(steps=200, lr=0.05), lambda split, step: (x, torch.full_like(x, 2.0), 4 * x)
    )
    trainer.train()
    assert trainer.model.w.item() == pytest.approx(2.0, abs=1e-2)  # w * 2 = 4 only if scale came second


def test_time_alternately_rotates_the_order_and_divides_each_round_by_its_calls():
    now, order = [0.0], []

    def work(name: str, cost: float):
        def run():
            order.append(name)
            now[0] += cost

        return run

    seconds = time_alternately(
        [work("a", 1.0), work("b", 2.0), work("c", 4.0)], rounds=3, calls=2, clock=lambda: now[0]
    )
    assert "".join(order) == "aabbcc" + "bbccaa" + "ccaabb"  # each round starts one function later
    assert seconds == [[1.0] * 3, [2.0] * 3, [4.0] * 3]  # per call, not per round
    for bad in (0, True, 1.5):
        with pytest.raises(ValueError, match="rounds must be a positive int"):
            time_alternately([work("a", 1.0)], rounds=bad)
        with pytest.raises(ValueError, match="calls must be a positive int"):
            time_alternately([work("a", 1.0)], rounds=1, calls=bad)
