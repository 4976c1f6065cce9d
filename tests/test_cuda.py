"""The CUDA code paths (flex attention compiled, bf16 autocast, torch.compile in the Trainer, models
moved between devices) against their CPU twins. Skipped where there is no GPU, as in CI; run on one with
``pytest tests/test_cuda.py -s`` (``-s`` shows the BLT throughput line), or ``scripts/gpu_check.sh``."""

from __future__ import annotations

import time

import pytest
import torch
from torch.nn.attention.flex_attention import BlockMask

from bltlib import entropy, longctx, tasks
from bltlib.blt import BLT, BLTConfig, gpu_blt_config, load_blt, patch_ids
from bltlib.data.batching import EOS_ID
from bltlib.flops import training_flops
from bltlib.train import TrainConfig, Trainer, load_weights
from bltlib.transformer import Attention, TransformerConfig, TransformerLM
from tests.test_transformer import _blocked_and_dense

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


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_blocked_window_attention_on_cuda_equals_sdpa_under_the_dense_mask(dtype):
    # The SDPA path with a window (taken on CUDA when dropout rules flex out): overlapping key windows
    # are strided views, which the CUDA kernels must read, and their backward is a shifted sum.
    torch.manual_seed(0)
    blocked, blocked_grads, dense, dense_grads = _blocked_and_dense(
        300, 48, heads=4, d=32, device=torch.device("cuda"), dtype=dtype
    )
    tol = dict(atol=2e-2, rtol=2e-2) if dtype == torch.bfloat16 else dict(atol=2e-5, rtol=2e-4)
    torch.testing.assert_close(blocked, dense, **tol)
    for got, expected in zip(blocked_grads, dense_grads, strict=True):
        torch.testing.assert_close(got, expected, **tol)


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


# ----------------------------------------------------------------------------- the BLT

H100_BF16_PEAK_TFLOPS = 989.0  # dense bf16, H100 SXM (an H200 has the same peak)


def blt_config(**overrides) -> BLTConfig:
    """Heads of 16 (local) and 32 (latent) channels: compiled flex attention takes both."""
    base = dict(
        local_dim=64,
        local_heads=4,
        encoder_layers=2,
        decoder_layers=2,
        local_window=48,
        latent_dim=128,
        latent_heads=4,
        latent_layers=2,
        hash_vocab=97,
        max_seq_len=256,
    )
    return BLTConfig(**{**base, **overrides})


def blt(seed: int = 0, **overrides) -> BLT:
    torch.manual_seed(seed)
    return BLT(blt_config(**overrides))


def documents_batch(
    b: int = 3, t: int = 250, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(ids, patch_lengths, targets)``: random bytes with documents ending inside the rows (EOS, BOS),
    patches of 1 to 8 bytes (rows zero-padded to one width)."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 260, (b, t), generator=gen)
    ids[:, 0] = 1
    for row in range(b):
        for at in torch.randint(1, t - 1, (row + 1,), generator=gen).tolist():
            ids[row, at], ids[row, at + 1] = EOS_ID, 1
    rows = []
    for _ in range(b):
        row, left = [1], t
        while left:
            row.append(min(left, int(torch.randint(1, 9, (1,), generator=gen))))
            left -= row[-1]
        rows.append(row)
    width = max(len(r) for r in rows)
    lengths = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    return ids, lengths, ids.roll(-1, 1)


@pytest.mark.parametrize("kv_heads", [None, 2])
def test_blt_flex_equals_sdpa_on_cuda_forward_and_gradients(kv_heads):
    flex = blt(attn_impl="flex", local_kv_heads=kv_heads, latent_kv_heads=kv_heads).cuda()
    sdpa = blt(attn_impl="sdpa", local_kv_heads=kv_heads, latent_kv_heads=kv_heads).cuda()
    sdpa.load_state_dict(flex.state_dict())
    ids, lengths, targets = (t.cuda() for t in documents_batch())
    x = flex.embed(ids)
    masks = flex._document_masks(ids, patch_ids(lengths, ids.shape[1]), lengths.shape[1], x)
    assert all(isinstance(m, BlockMask) for m in masks)  # the document masks go to flex as BlockMasks
    flex_logits, flex_loss = flex(ids, lengths, targets)
    sdpa_logits, sdpa_loss = sdpa(ids, lengths, targets)
    torch.testing.assert_close(flex_logits, sdpa_logits, atol=2e-4, rtol=2e-4)
    flex_loss.backward()
    sdpa_loss.backward()
    for (name, a), b in zip(flex.named_parameters(), sdpa.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=2e-4, rtol=2e-3, msg=name)


def test_blt_on_cuda_matches_the_cpu_model_on_documents():
    model = blt().eval()
    ids, lengths, _ = documents_batch(seed=1)
    with torch.no_grad():
        cpu = model(ids, lengths)[0]
        gpu = model.cuda()(ids.cuda(), lengths.cuda())[0].cpu()
    torch.testing.assert_close(gpu, cpu, atol=2e-4, rtol=2e-4)


def test_blt_compiled_equals_eager_forward_and_gradients():
    model = blt().cuda()
    ids, lengths, targets = (t.cuda() for t in documents_batch(seed=2))
    # fullgraph: with flex in both stacks, building the document BlockMasks needs no host sync.
    compiled = torch.compile(model, fullgraph=True)
    eager_logits, eager_loss = model(ids, lengths, targets)
    eager_loss.backward()
    eager_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    logits, loss = compiled(ids, lengths, targets)
    loss.backward()
    torch.testing.assert_close(logits, eager_logits, atol=1e-3, rtol=1e-3)
    for (name, p), g in zip(model.named_parameters(), eager_grads, strict=True):
        torch.testing.assert_close(p.grad, g, atol=1e-3, rtol=1e-2, msg=name)


def test_blt_bf16_compiled_training_steps_lower_the_loss():
    model = blt()
    text = torch.tensor(list(b"It is a truth universally acknowledged. " * 20)) + 4
    ids = torch.stack([torch.cat([torch.tensor([1]), text[i : i + 249]]) for i in range(4)])
    ids[:, 120], ids[:, 121] = EOS_ID, 1  # two documents per row
    lengths = documents_batch(b=4, seed=3)[1]
    batch = (ids, lengths, torch.stack([text[i : i + 250] for i in range(4)]))
    trainer = Trainer(model, TrainConfig(steps=40, lr=3e-3, warmup=5, progress=False), lambda s, i: batch)
    history = trainer.train()
    assert trainer.amp and trainer.compiled  # bf16 autocast, and compiling did not fall back to eager
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]


def _all_sdpa(*models: torch.nn.Module) -> None:
    for model in models:
        for module in model.modules():
            if isinstance(module, Attention):
                module.attn_impl = "sdpa"


PROMPTS = ["It is a truth universally acknowledged", "def main():\n    ", "Ça va très bien, merci", "x"]


def test_blt_cached_generation_equals_uncached_on_cuda():
    model = load_blt(device="cuda")
    # Flex attention (uncached, whole sequences) and SDPA (cached, one byte at a time) differ in the
    # last bits, so a greedy near-tie may flip; everything else must agree.
    flex_runs = [(model.generate(p, 48), model.generate(p, 48, cached=False)) for p in PROMPTS]
    assert sum(a.bytes == b.bytes for a, b in flex_runs) >= len(PROMPTS) - 1
    # With SDPA on both paths the arithmetic is the same: byte-identical, and the same patches.
    _all_sdpa(model, model.patcher.entropy_model)
    for prompt in PROMPTS:
        cached, uncached = model.generate(prompt, 48), model.generate(prompt, 48, cached=False)
        assert cached.bytes == uncached.bytes, prompt
        assert cached.patch_lengths == uncached.patch_lengths, prompt
        assert cached.counts["latent model"] < uncached.counts["latent model"]


def test_gpu_preset_training_throughput():
    """Not a speed assertion: prints the gpu preset's step time, bytes/s and MFU (bf16, compiled)."""
    config = gpu_blt_config()
    batch_size, t = 64, config.max_seq_len
    torch.manual_seed(0)
    model = BLT(config)
    ids = torch.randint(4, 260, (batch_size, t), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = 1
    # Patches of 4 and 5 bytes (mean 4.5, as the preset's entropy patching): one shape, one compilation.
    row = [1] + [4, 5] * (t // 9) + [t + 1 - 1 - 9 * (t // 9)]
    lengths = torch.tensor([row] * batch_size)
    batch = (ids, lengths, ids.roll(-1, 1))
    trainer = Trainer(model, TrainConfig(steps=100, lr=3e-4, warmup=5, progress=False), lambda s, i: batch)
    start = time.perf_counter()
    for _ in range(3):  # compilation and warm-up
        trainer.train_step()
    compile_s = time.perf_counter() - start
    torch.cuda.synchronize()
    start, steps = time.perf_counter(), 10
    for _ in range(steps):
        loss = trainer.train_step()["loss"]
    step_s = (time.perf_counter() - start) / steps
    mean_patch = t / (len(row) - 1)
    flops_per_byte = training_flops(config.flops_per_byte(mean_patch, t)["total"])
    tflops = batch_size * t / step_s * flops_per_byte / 1e12
    print(
        f"\ngpu preset BLT on {torch.cuda.get_device_name()}: {model.num_params() / 1e6:.1f}M parameters, "
        f"batch {batch_size} x {t} bytes, compile + 3 steps {compile_s:.0f} s, {step_s * 1e3:.1f} ms/step, "
        f"{batch_size * t / step_s / 1e6:.2f} MB/s, {tflops:.1f} TFLOP/s, "
        f"MFU {tflops / H100_BF16_PEAK_TFLOPS:.1%} of {H100_BF16_PEAK_TFLOPS:g} (H100 dense bf16)"
    )
    assert trainer.compiled and trainer.amp and loss == loss  # ran compiled in bf16, loss not NaN
