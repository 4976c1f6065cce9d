"""The CUDA code paths (flex attention compiled, bf16 autocast, torch.compile in the Trainer, models
moved between devices) against their CPU twins. Skipped where there is no GPU, as in CI; run on one with
``pytest tests/test_cuda.py``."""

from __future__ import annotations

import pytest
import torch

from bltlib import entropy, longctx, tasks
from bltlib.train import TrainConfig, Trainer, load_weights
from bltlib.transformer import TransformerConfig, TransformerLM

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

VOCAB = 64


def tiny(**overrides) -> TransformerLM:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=VOCAB, dim=64, n_layers=2, n_heads=4, max_seq_len=256, **overrides)
    return TransformerLM(config)


def tokens(b: int = 3, t: int = 200, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (b, t), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("window", [None, 48])
def test_flex_attention_on_cuda_equals_sdpa_forward_and_backward(window):
    flex = tiny(sliding_window=window, attn_impl="flex").cuda()
    sdpa = tiny(sliding_window=window, attn_impl="sdpa").cuda()
    sdpa.load_state_dict(flex.state_dict())
    idx, targets = tokens().cuda(), tokens(seed=1).cuda()
    flex_logits, flex_loss = flex(idx, targets)
    sdpa_logits, sdpa_loss = sdpa(idx, targets)
    torch.testing.assert_close(flex_logits, sdpa_logits, atol=2e-4, rtol=2e-4)
    flex_loss.backward()
    sdpa_loss.backward()
    for (name, a), b in zip(flex.named_parameters(), sdpa.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=2e-4, rtol=2e-3, msg=name)


def test_auto_picks_flex_on_cuda_and_matches_the_cpu_model():
    model = tiny(sliding_window=32)
    idx = tokens()
    with torch.no_grad():
        cpu_logits = model.eval()(idx)[0]
        gpu_logits = model.cuda()(idx.cuda())[0].cpu()
    assert model.layers[0].attn._use_flex(torch.zeros(1, device="cuda"), None)
    torch.testing.assert_close(gpu_logits, cpu_logits, atol=2e-4, rtol=2e-4)


def test_trainer_on_cuda_compiles_uses_bf16_and_saves_plain_weights(tmp_path):
    model = tiny()
    idx = tokens(b=4, t=64)
    batch = (idx[:, :-1], idx[:, 1:])
    trainer = Trainer(model, TrainConfig(steps=60, lr=3e-3, warmup=5, progress=False), lambda s, i: batch)
    assert trainer.amp and trainer._forward is not trainer.model  # bf16 autocast and a compiled forward
    history = trainer.train()
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    trainer.save(tmp_path / "ckpt")
    # The checkpoint holds the plain module's names, so a CPU model loads it and agrees.
    cpu = load_weights(tiny(), tmp_path / "ckpt" / "model.safetensors").eval()
    with torch.no_grad():
        torch.testing.assert_close(cpu(idx)[0], model.eval()(idx.cuda())[0].cpu(), atol=2e-4, rtol=2e-4)


def test_resume_on_cuda_continues_exactly(tmp_path):
    def run(until: int, resume_from=None) -> Trainer:
        model = tiny(dropout=0.1)
        gen = torch.Generator().manual_seed(0)
        data = torch.randint(0, VOCAB, (64, 65), generator=gen)
        cfg = TrainConfig(steps=16, lr=3e-3, warmup=2, progress=False, compile=False, amp=False)
        trainer = Trainer(
            model,
            cfg,
            lambda split, step: (data[step % 64 : step % 64 + 4, :-1], data[step % 64 : step % 64 + 4, 1:]),
        )
        if resume_from:
            trainer.resume(resume_from)
        trainer.train(until=until)
        return trainer

    first = run(8)
    first.save(tmp_path / "half")
    resumed = run(16, tmp_path / "half")
    straight = run(16)
    for a, b in zip(resumed.model.parameters(), straight.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_entropy_model_gives_the_same_entropies_on_cuda():
    text = "It is a truth universally acknowledged, that a single man in possession of a good fortune"
    cpu = entropy.entropies(entropy.load_entropy_model(), text * 4)
    gpu = entropy.entropies(entropy.load_entropy_model(device="cuda"), text * 4)
    assert gpu.device.type == "cpu"  # results come back to the CPU either way
    torch.testing.assert_close(gpu, cpu, atol=1e-3, rtol=1e-3)


def test_passkey_generation_on_cuda_matches_cpu():
    model = longctx.load_lm()
    examples = tasks.passkey_examples(512, [0.0, 0.5, 1.0], trials=2, seed=3)
    yarn = {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 256}
    with longctx.rope_set(model, yarn, 512):
        cpu = tasks.passkey_answers(model, examples)
    with longctx.rope_set(model.cuda(), yarn, 512):
        gpu = tasks.passkey_answers(model, examples)
    # Greedy decoding: a near-tie between two bytes may flip between devices, but not most answers.
    assert sum(a == b for a, b in zip(cpu, gpu, strict=True)) >= len(examples) - 1


def test_heads_too_small_for_compiled_flex_fall_back_to_sdpa_or_explain():
    small = TransformerConfig(vocab_size=VOCAB, dim=32, n_layers=1, n_heads=4, max_seq_len=64)  # head_dim 8
    torch.manual_seed(0)
    model = TransformerLM(small).cuda()
    idx = tokens(t=40).cuda()
    _, loss = model(idx, idx)  # auto: SDPA here, so training works
    loss.backward()
    small.attn_impl = "flex"
    with pytest.raises(ValueError, match="head_dim >= 16, got 8"):
        TransformerLM(small).cuda()(idx)


def test_lesson2_model_loads_on_cuda_and_scores_like_the_cpu():
    windows = torch.randint(4, 260, (2, 513), generator=torch.Generator().manual_seed(0))
    yarn = {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 256}
    cpu = longctx.token_losses(longctx.load_lm(), windows, 512, yarn)
    gpu_model = longctx.load_lm(device="cuda")
    assert next(gpu_model.parameters()).is_cuda and not gpu_model.training
    torch.testing.assert_close(longctx.token_losses(gpu_model, windows, 512, yarn), cpu, atol=1e-3, rtol=1e-3)
