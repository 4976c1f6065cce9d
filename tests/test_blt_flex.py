"""The BLT's document masks as flex-attention rules (``local_mask_mod``, ``latent_mask_mod``) against
the dense masks SDPA takes, and bf16 training on the CPU.

Flex attention runs on the CPU in this torch, eagerly and only without gradients (its backward is
CUDA-only): forwards are compared here, gradients in ``tests/test_cuda.py``.
"""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch.nn.attention.flex_attention import BlockMask, create_mask, flex_attention

from bltlib.blt import (
    BLT,
    BLTConfig,
    attention_mask,
    dense_mask_from_mod,
    document_ids,
    gpu_blt_config,
    latent_mask,
    latent_mask_mod,
    local_mask,
    local_mask_mod,
    patch_documents,
    patch_ids,
)
from bltlib.data.batching import EOS_ID
from bltlib.train import STATE_FILE, TrainConfig, Trainer
from bltlib.transformer import FLEX_MIN_HEAD_DIM, Attention, TransformerConfig, attend
from tests.scripts import load_script


@pytest.fixture(autouse=True)
def quiet_eager_flex():
    """Eager flex attention warns that it is not the fused kernel; on the CPU that is what we want."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*flex_attention called without torch.compile.*")
        yield


def _flex_runs_on_cpu() -> bool:
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = torch.zeros(1, 1, 4, 16)
            flex_attention(q, q, q)
    except Exception:  # noqa: BLE001 -- any failure means: this torch cannot run it here
        return False
    return True


needs_cpu_flex = pytest.mark.skipif(
    not _flex_runs_on_cpu(), reason="this torch cannot run flex attention on CPU"
)


def random_ids(b: int, t: int, seed: int, eos_per_row: int = 3) -> torch.Tensor:
    """Byte ids, BOS first, with EOS + BOS pairs at random places inside each row (several documents)."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 260, (b, t), generator=gen)
    ids[:, 0] = 1
    for row in range(b):
        n = int(torch.randint(0, eos_per_row + 1, (1,), generator=gen))
        for at in torch.randint(1, t - 1, (n,), generator=gen).tolist():
            ids[row, at], ids[row, at + 1] = EOS_ID, 1
    return ids


def random_lengths(b: int, t: int, seed: int) -> torch.Tensor:
    """Patch lengths ``[B, P]``, each row ``[BOS]`` then patches of 1-6 bytes summing to ``t + 1``,
    zero-padded."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(b):
        row, left = [1], t
        while left:
            row.append(min(left, int(torch.randint(1, 7, (1,), generator=gen))))
            left -= row[-1]
        rows.append(row)
    width = max(len(r) for r in rows)
    return torch.tensor([r + [0] * (width - len(r)) for r in rows])


def reference_mask(docs: torch.Tensor, window: int | None) -> torch.Tensor:
    """``[B, T, T]`` written out pair by pair: causal, within the window, same document."""
    b, t = docs.shape
    out = torch.zeros(b, t, t, dtype=torch.bool)
    for row in range(b):
        for i in range(t):
            for j in range(i + 1):
                out[row, i, j] = (window is None or i - j < window) and bool(docs[row, i] == docs[row, j])
    return out


# ----------------------------------------------------------------------------- the rules and the masks


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("window", [None, 1, 3, 7])
def test_local_mask_mod_equals_the_dense_mask_pair_by_pair(seed, window):
    docs = document_ids(random_ids(3, 24, seed))
    expected = reference_mask(docs, window)
    assert torch.equal(local_mask(docs, window)[:, 0], expected)
    # create_mask evaluates the rule the way flex does (vmap over b, h, q, kv): the same pairs again.
    rule = local_mask_mod(docs, window)
    assert torch.equal(create_mask(rule, 3, 1, 24, 24, device="cpu")[:, 0], expected)
    # And on plain scalar indices, as flex's kernels call it.
    for row, q, kv in [(0, 5, 2), (1, 23, 0), (2, 10, 10), (2, 3, 9)]:
        assert bool(rule(torch.tensor(row), None, torch.tensor(q), torch.tensor(kv))) == bool(
            expected[row, q, kv]
        )


@pytest.mark.parametrize("seed", range(4))
def test_latent_mask_mod_equals_the_dense_mask(seed):
    ids = random_ids(2, 40, seed, eos_per_row=4)
    lengths = random_lengths(2, 40, seed)
    n_patches = lengths.shape[1]
    patch_docs = patch_documents(ids, patch_ids(lengths, 40), n_patches)
    expected = reference_mask(patch_docs, None)
    assert torch.equal(latent_mask(patch_docs)[:, 0], expected)
    rule = latent_mask_mod(patch_docs)
    assert torch.equal(create_mask(rule, 2, 1, n_patches, n_patches, device="cpu")[:, 0], expected)


def test_attention_mask_gives_a_block_mask_for_flex_and_a_dense_mask_for_sdpa():
    docs = document_ids(random_ids(2, 300, seed=0))
    rule = local_mask_mod(docs, 40)
    dense = attention_mask(rule, 2, 300, torch.device("cpu"), flex=False)
    block = attention_mask(rule, 2, 300, torch.device("cpu"), flex=True)
    assert dense.dtype == torch.bool and dense.shape == (2, 1, 300, 300)
    assert torch.equal(dense, dense_mask_from_mod(rule, 2, 300, torch.device("cpu")))
    assert isinstance(block, BlockMask) and block.shape == (2, 1, 300, 300)
    # A window of 40 in blocks of 128: the block mask skips the blocks far below the diagonal.
    assert block.sparsity() > 0


# ----------------------------------------------------------------------------- flex vs SDPA


@needs_cpu_flex
@pytest.mark.parametrize("window", [None, 40])
@pytest.mark.parametrize("t", [50, 300])  # one block of 128 and a partial one; three blocks
def test_flex_with_the_block_mask_equals_sdpa_with_the_dense_mask(window, t):
    gen = torch.Generator().manual_seed(t)
    docs = document_ids(random_ids(2, t, seed=t, eos_per_row=4))
    rule = local_mask_mod(docs, window)
    q, k, v = (torch.randn(2, 3, t, 16, generator=gen) for _ in range(3))
    with torch.no_grad():
        flex = flex_attention(q, k, v, block_mask=attention_mask(rule, 2, t, q.device, flex=True))
    sdpa = attend(q, k, v, attention_mask(rule, 2, t, q.device, flex=False))
    torch.testing.assert_close(flex, sdpa, atol=1e-5, rtol=1e-5)


@needs_cpu_flex
@pytest.mark.parametrize("kv_heads", [4, 2])
def test_attention_layer_takes_a_block_mask_or_a_dense_mask_alike(kv_heads):
    """``Attention.forward`` dispatches on the mask's type, grouped-query heads included."""
    config = TransformerConfig(vocab_size=8, dim=64, n_heads=4, n_kv_heads=kv_heads, max_seq_len=160)
    torch.manual_seed(0)
    layer = Attention(config).eval()
    x = torch.randn(2, 160, 64)
    cos, sin = _rope(config)
    rule = latent_mask_mod(document_ids(random_ids(2, 160, seed=5, eos_per_row=5)))
    with torch.no_grad():
        flex = layer(x, cos, sin, mask=attention_mask(rule, 2, 160, x.device, flex=True))
        sdpa = layer(x, cos, sin, mask=attention_mask(rule, 2, 160, x.device, flex=False))
    torch.testing.assert_close(flex, sdpa, atol=1e-5, rtol=1e-5)


def _rope(config: TransformerConfig) -> tuple[torch.Tensor, torch.Tensor]:
    from bltlib.rope import RotaryCache

    return RotaryCache(config.head_dim, config.max_seq_len, config.rope_base)(config.max_seq_len, 0)


def test_flex_backward_on_cpu_is_unavailable_in_this_torch_or_equals_sdpa():
    """If a later torch learns flex's backward on the CPU, this compares the gradients; until then it
    records that it cannot (the GPU test compares them on CUDA)."""
    gen = torch.Generator().manual_seed(0)
    docs = document_ids(random_ids(1, 64, seed=1))
    rule = local_mask_mod(docs, 16)
    q, k, v = (torch.randn(1, 2, 64, 16, generator=gen, requires_grad=True) for _ in range(3))
    try:
        flex_attention(q, k, v, block_mask=attention_mask(rule, 1, 64, q.device, flex=True)).sum().backward()
    except NotImplementedError as err:
        pytest.skip(f"flex attention has no CPU backward in torch {torch.__version__}: {err}")
    flex_grads = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    attend(q, k, v, attention_mask(rule, 1, 64, q.device, flex=False)).sum().backward()
    for a, t in zip(flex_grads, (q, k, v), strict=True):
        torch.testing.assert_close(a, t.grad, atol=1e-5, rtol=1e-5)


# ----------------------------------------------------------------------------- the whole BLT


def small_config(**overrides) -> BLTConfig:
    base = dict(
        local_dim=32,
        local_heads=2,
        encoder_layers=2,
        decoder_layers=2,
        local_window=12,
        latent_dim=64,
        latent_heads=4,
        latent_layers=2,
        hash_vocab=53,
        ngram_sizes=(3, 4),
        max_seq_len=160,
    )
    return BLTConfig(**{**base, **overrides})


def twin_models(**overrides) -> tuple[BLT, BLT]:
    torch.manual_seed(0)
    flex = BLT(small_config(attn_impl="flex", **overrides)).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # large weights: a wrong mask shows in the logits
        for p in flex.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    sdpa = BLT(small_config(attn_impl="sdpa", **overrides)).eval()
    sdpa.load_state_dict(flex.state_dict())
    return flex, sdpa


@needs_cpu_flex
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"local_window": None},
        {"local_kv_heads": 1, "latent_kv_heads": 2},
        {"encoder_cross_all_layers": True},
    ],
    ids=["window", "no-window", "grouped-query", "cross-all"],
)
def test_blt_forward_with_flex_equals_sdpa_on_several_documents(overrides):
    flex, sdpa = twin_models(**overrides)
    ids, lengths = random_ids(3, 150, seed=7, eos_per_row=4), random_lengths(3, 150, seed=7)
    assert (ids[:, :-1] == EOS_ID).any(-1).sum() >= 2  # documents end inside most rows
    with torch.no_grad():
        a, _ = flex(ids, lengths)
        b, _ = sdpa(ids, lengths)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@needs_cpu_flex
def test_blt_with_flex_builds_block_masks_for_every_batch_and_sdpa_only_with_documents():
    flex, sdpa = twin_models()
    one_doc = random_ids(2, 100, seed=3, eos_per_row=0)
    lengths = random_lengths(2, 100, seed=3)
    pids, n = patch_ids(lengths, 100), lengths.shape[1]
    x = torch.zeros(1)  # no gradients: flex may run on the CPU
    local, latent = flex._document_masks(one_doc, pids, n, x)
    assert isinstance(local, BlockMask) and isinstance(latent, BlockMask)
    assert latent.shape[-2:] == (n, n)
    assert sdpa._document_masks(one_doc, pids, n, x) == (None, None)  # nothing to separate: fast paths
    several = random_ids(2, 100, seed=3, eos_per_row=3)
    local, latent = sdpa._document_masks(several, pids, n, x)
    assert local.dtype == latent.dtype == torch.bool and local.shape == (2, 1, 100, 100)
    with torch.no_grad():
        torch.testing.assert_close(flex(one_doc, lengths)[0], sdpa(one_doc, lengths)[0], atol=1e-4, rtol=1e-4)


def test_blt_forced_flex_cannot_train_on_the_cpu_and_says_so():
    model = BLT(small_config(attn_impl="flex"))
    ids, lengths = random_ids(1, 40, seed=0), random_lengths(1, 40, seed=0)
    with pytest.raises(RuntimeError, match="flex attention cannot backpropagate on CPU"):
        model(ids, lengths, targets=ids.roll(-1, 1))


# ----------------------------------------------------------------------------- bf16 training


def test_trainer_bf16_autocast_on_cpu_trains_a_tiny_blt():
    torch.manual_seed(0)
    model = BLT(small_config(max_seq_len=64))
    text = torch.tensor(list(b"the cat sat on the mat. " * 8)) + 4  # something to learn in a few steps
    ids = torch.stack([torch.cat([torch.tensor([1]), text[i : i + 63]]) for i in range(4)])
    lengths = random_lengths(4, 64, seed=2)
    batch = (ids, lengths, torch.stack([text[i : i + 64] for i in range(4)]))
    cfg = TrainConfig(steps=20, lr=1e-2, warmup=2, eval_every=0, progress=False, amp_on_cpu=True)
    trainer = Trainer(model, cfg, lambda split, step: batch, device="cpu")
    dtypes = []
    model.decoder.head.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    history = trainer.train()
    assert trainer.amp and set(dtypes) == {torch.bfloat16}  # the head's matmul ran in bf16
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay float32
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]


def test_amp_stays_off_on_the_cpu_by_default():
    trainer = Trainer(torch.nn.Linear(1, 1), TrainConfig(progress=False), lambda s, i: None, device="cpu")
    assert not trainer.amp


def test_resume_does_not_warn_about_fields_the_checkpoint_predates(tmp_path):
    class Regression(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.f = torch.nn.Linear(1, 1)

        def forward(self, x, targets):
            return self.f(x), ((self.f(x) - targets) ** 2).mean()

    x = torch.linspace(-1, 1, 8)[:, None]
    cfg = TrainConfig(steps=4, warmup=1, progress=False)
    trainer = Trainer(Regression(), cfg, lambda split, step: (x, 2 * x), device="cpu")
    trainer.train(until=2)
    trainer.save(tmp_path)
    state = json.loads((tmp_path / STATE_FILE).read_text())
    del state["config"]["amp_on_cpu"]  # as written before the field existed
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Trainer(Regression(), cfg, lambda split, step: (x, 2 * x), device="cpu").resume(tmp_path)


# ----------------------------------------------------------------------------- the gpu preset


def test_gpu_config_is_latent_heavy_and_flex_ready():
    config = gpu_blt_config()
    parts = config.flops_per_byte(patch_size=4.5)
    assert parts["latent"] > 0.7 * parts["total"]
    for stack in (config.encoder_stack(), config.latent_stack()):
        assert stack.head_dim >= FLEX_MIN_HEAD_DIM and stack.head_dim % 64 == 0


def test_train_blt_script_gpu_preset_uses_the_gpu_config():
    script = load_script("train_blt")
    args = script.parse_args(["--preset", "gpu"])
    assert script.blt_config(args) == gpu_blt_config()
    assert args.compile and args.out != script.DEFAULT_WEIGHTS  # never overwrites the shipped model
    shipped = script.parse_args([])
    assert shipped.out == script.DEFAULT_WEIGHTS and shipped.seq_len == 512 and shipped.compile is None
