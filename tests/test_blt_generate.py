"""Patch-aware BLT generation: KV caches everywhere, the latent model only at patch boundaries, and
byte-identical output to the recompute-everything reference (``BLT.generate(..., cached=False)``)."""

from __future__ import annotations

import dataclasses
import functools

import pytest
import torch

from bltlib.blt import BLT, BLTConfig, Generation, load_blt
from bltlib.data import encode_bytes, load_text, load_udhr
from bltlib.entropy import entropy_from_logits, entropy_model_config
from bltlib.patching import Patcher
from bltlib.transformer import TransformerLM

AUSTEN = load_text("austen", split="test")


@functools.cache
def shipped() -> BLT:
    return load_blt()


def udhr(lang: str, n: int) -> bytes:
    return load_udhr(lang).encode("utf-8")[200 : 200 + n]


# (prompt, new bytes): English, code, several scripts, a prompt ending mid-character, 1 to 512 new bytes,
# a prompt longer than the model's max_seq_len, and sequences that outgrow the entropy model's length.
PROMPTS = [
    ("It is a truth universally acknowledged", 1),
    (AUSTEN[5000:5040], 2),
    (AUSTEN[9000:9300], 40),  # 300 bytes: past the entropy model's 256 positions while generating
    ("def fibonacci(n):\n    if n < 2:\n        return n\n    return ", 48),
    ("for (int i = 0; i < n; i++) {\n", 24),
    ("import torch\nx = torch.zeros(", 16),
    (udhr("deu_1996", 60), 24),
    (udhr("fra", 60), 24),
    (udhr("rus", 60), 24),
    (udhr("ell_monotonic", 60), 16),
    (udhr("cmn_hans", 60), 24),
    (udhr("jpn", 45), 16),
    (udhr("arb", 60), 16),
    (udhr("hin", 60), 16),
    (udhr("amh", 45), 12),
    ("caf\xe9".encode()[:-1], 10),  # ends between the two bytes of "é"
    ("\u4e2d".encode()[:2], 6),  # two of the three bytes of a Chinese character
    ("x", 64),
    ("   ", 8),
    ("1 + 2 = 3, 2 + 3 = ", 12),
    (AUSTEN[20000:20700], 20),  # 700 bytes: longer than max_seq_len, so its last 511 are kept
    ("Mr. Darcy", 512),  # 522 positions in all: past the BLT's own max_seq_len of 512
]


@pytest.mark.parametrize(("prompt", "n_new"), PROMPTS, ids=[f"{i}" for i in range(len(PROMPTS))])
def test_cached_generation_is_byte_identical_to_the_recompute_reference(prompt, n_new):
    model = shipped()
    fast = model.generate(prompt, n_new)
    slow = model.generate(prompt, n_new, cached=False)
    assert fast.bytes == slow.bytes
    assert fast.patch_lengths == slow.patch_lengths
    assert fast.latent_positions == slow.latent_positions
    torch.testing.assert_close(torch.tensor(fast.entropies), torch.tensor(slow.entropies), atol=1e-4, rtol=0)
    n = 1 + len(fast.prompt) + len(fast.bytes)
    assert sum(fast.patch_lengths) == n and len(fast.entropies) == n - 1
    if len(fast.bytes) == n_new:  # no EOS: every patch but the open one closed, each with one latent step
        assert fast.counts["latent model"] == len(fast.patch_lengths) - 1 == len(fast.latent_positions)
        assert fast.counts["decoder"] == fast.counts["encoder"] == fast.counts["entropy model"] == n - 1
    # the reference reruns everything: its latent model saw every patch again for every byte
    assert slow.counts["latent model"] > fast.counts["latent model"] or n_new == 1


def test_latent_steps_follow_the_entropy_threshold():
    model = shipped()
    g = model.generate(AUSTEN[3000:3100], 80)
    threshold = model.patcher.threshold
    closes = [i for i, e in enumerate(g.entropies) if i >= 1 and e > threshold] + [0]
    assert sorted(closes) == g.latent_positions  # position 0 ([BOS]) always closes its own patch
    assert g.counts["latent model"] == len(g.latent_positions)
    ends = torch.tensor(g.patch_lengths).cumsum(0)[:-1] - 1
    assert ends.tolist() == g.latent_positions  # each closed patch ends where the latent model ran


def test_long_prompt_keeps_its_last_bytes_and_rope_tables_are_restored():
    model = shipped()
    prompt = AUSTEN[:2000].encode()
    g = model.generate(prompt, 3)
    assert g.prompt == prompt[-(model.config.max_seq_len - 1) :]
    assert model.encoder.rope.max_seq_len == model.config.max_seq_len
    assert model.patcher.entropy_model.max_seq_len == model.patcher.entropy_model.config.max_seq_len
    assert not model.training


def test_seeded_sampling_is_reproducible_and_matches_the_reference():
    model = shipped()
    args = dict(temperature=0.9, top_k=40, top_p=0.95)
    a = model.generate("The weather was", 40, seed=7, **args)
    b = model.generate("The weather was", 40, seed=7, **args)
    c = model.generate("The weather was", 40, seed=8, **args)
    ref = model.generate("The weather was", 40, seed=7, cached=False, **args)
    assert a.bytes == b.bytes == ref.bytes
    assert a.bytes != c.bytes


def test_text_shows_broken_utf8_as_replacement_characters():
    g = Generation(b"", "é".encode()[:1] + b"ok", [1], [], [], {}, [])
    assert g.text == "\ufffdok"


def tiny_model(**overrides) -> BLT:
    torch.manual_seed(0)
    base = dict(
        local_dim=32,
        local_heads=2,
        latent_dim=48,
        latent_heads=2,
        latent_layers=2,
        hash_vocab=97,
        max_seq_len=64,
        max_patches=128,
        local_window=8,
    )
    return BLT(BLTConfig(**{**base, **overrides})).eval()


def tiny_entropy_model() -> TransformerLM:
    torch.manual_seed(1)
    config = entropy_model_config(dim=32, n_layers=2, n_heads=2, max_seq_len=32, sliding_window=6)
    return TransformerLM(config).eval()


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        dict(cross_attn_k=1, encoder_layers=2, encoder_cross_all_layers=True),
        dict(cross_attn_k=3, encoder_layers=2, encoder_cross_all_layers=True, repool_queries=True),
        dict(decoder_cross_all_layers=False, latent_kv_heads=1, local_kv_heads=1),
        dict(ngram_sizes=(2, 3), hash_functions=2),
    ],
)
@pytest.mark.parametrize(
    "patcher",
    [Patcher("static", patch_size=3), Patcher("space"), "entropy", "monotonic"],
    ids=["static", "space", "entropy", "monotonic"],
)
def test_every_variant_and_patching_rule_generates_identically(overrides, patcher):
    model = tiny_model(**overrides)
    if patcher in ("entropy", "monotonic"):
        entropy_model, monotonic = tiny_entropy_model(), patcher == "monotonic"
        e = entropy_from_logits(entropy_model(encode_bytes("the cat sat on the mat, then. ")[None])[0])
        # thresholds that close some patches and not others for this untrained entropy model; halfway
        # between the two middle entropies, since one *at* an entropy hinges on the last bit of rounding
        middle = e.sort().values[len(e) // 2 - 1 : len(e) // 2 + 1]
        threshold = 0.0 if monotonic else middle.mean().item()
        patcher = Patcher("entropy", threshold=threshold, monotonic=monotonic, entropy_model=entropy_model)
    model.patcher = patcher
    # 30 prompt bytes + 70 new: past both models' max_seq_len (64, 32) on sliding windows
    prompt = b"the cat sat on the mat, then. "
    fast = model.generate(prompt, 70, temperature=1.0, seed=3)
    slow = model.generate(prompt, 70, temperature=1.0, seed=3, cached=False)
    assert fast.bytes == slow.bytes and fast.patch_lengths == slow.patch_lengths
    assert 1 < len(fast.patch_lengths) < sum(fast.patch_lengths) - 1  # patches of several sizes
    assert len(fast.bytes) == 70 or fast.counts["decoder"] == len(fast.prompt) + len(fast.bytes) + 1


def test_generation_stops_at_eos():
    model = tiny_model()
    model.patcher = Patcher("space")
    torch.nn.init.zeros_(model.decoder.norm.weight)  # every logit 0: the first id allowed (EOS) wins
    for cached in (True, False):
        g = model.generate("abc", 10, cached=cached)
        assert g.bytes == b"" and g.patch_lengths == [1, 3]


def test_latent_capacity_and_window_limits_give_clear_errors():
    model = tiny_model(max_patches=12)
    model.patcher = Patcher("static", patch_size=1)
    for cached in (True, False):
        with pytest.raises(ValueError, match="latent model holds 12"):
            model.generate("abcdefgh", 20, cached=cached)
    windowless = tiny_model(local_window=None)
    windowless.patcher = Patcher("space")
    windowless.generate("abc", 60)  # 64 positions: fits
    with pytest.raises(ValueError, match="no sliding window"):
        windowless.generate("abc", 61)
    entropy = tiny_entropy_model()
    entropy.config = dataclasses.replace(entropy.config, sliding_window=None)
    model.patcher = Patcher("entropy", threshold=1.0, entropy_model=entropy)
    with pytest.raises(ValueError, match="entropy model holds 32"):
        model.generate("abc", 40)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(prompt="", max_new_bytes=3), ValueError, "prompt is empty"),
        (dict(prompt=["a"], max_new_bytes=3), TypeError, "prompt must be str or bytes"),
        (dict(prompt="a", max_new_bytes=-1), ValueError, "max_new_bytes"),
        (dict(prompt="a", max_new_bytes=2.0), ValueError, "max_new_bytes"),
        (dict(prompt="a", max_new_bytes=2, temperature=-0.5), ValueError, "temperature"),
        (dict(prompt="a", max_new_bytes=2, top_p=0.0), ValueError, "top_p"),
        (dict(prompt="a", max_new_bytes=2, top_p=1.5), ValueError, "top_p"),
        (dict(prompt="a", max_new_bytes=2, top_k=0), ValueError, "top_k"),
        (dict(prompt="a", max_new_bytes=2, seed="7"), TypeError, "seed"),
    ],
)
def test_bad_arguments_give_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        shipped().generate(**kwargs)


def test_a_model_without_a_patcher_or_entropy_model_says_what_is_missing():
    model = tiny_model()
    with pytest.raises(ValueError, match="model.patcher is None"):
        model.generate("a", 2)
    model.patcher = Patcher("entropy", threshold=1.0)
    with pytest.raises(ValueError, match="needs the entropy model"):
        model.generate("a", 2)


def test_zero_new_bytes_still_patches_the_prompt():
    g = shipped().generate("Hello there", 0)
    assert g.bytes == b"" and sum(g.patch_lengths) == 12 and g.seconds == []


def test_stop_ends_generation_after_the_stop_bytes_in_both_paths():
    model = shipped()
    full = model.generate("It is a truth universally acknowledged", 120)
    assert b"\n" in full.bytes  # the shipped model writes Austen's line breaks
    cut = full.bytes.index(b"\n") + 1
    for cached in (True, False):
        g = model.generate("It is a truth universally acknowledged", 120, stop="\n", cached=cached)
        assert g.bytes == full.bytes[:cut]
        assert g.patch_lengths == full.patch_lengths[: len(g.patch_lengths) - 1] + [g.patch_lengths[-1]]
        assert len(g.seconds) == cut
    with pytest.raises(ValueError, match="stop must be"):
        model.generate("a", 3, stop="")
