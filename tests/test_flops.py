"""FLOP accounting against values computed by hand, and the properties a lesson relies on."""

import pytest

from bltlib.flops import (
    Dims,
    cross_attention_flops,
    layer_flops,
    patch_model_flops_per_byte,
    token_model_flops_per_byte,
    training_flops,
    transformer_flops,
)

# A Llama-like 1B shape, written out by hand below.
LLAMA = Dims(dim=2048, n_layers=16, ffn_dim=8192, context=8192)
LOCAL = Dims(dim=1024, n_layers=1, ffn_dim=4096, context=512)


def test_layer_by_hand():
    # h=2048: QKVO 8 h^2 = 33_554_432; SwiGLU 6 h h_ffn = 100_663_296; attention 4 h m = 67_108_864
    assert layer_flops(2048, 8192, 8192) == 33_554_432 + 100_663_296 + 67_108_864


def test_transformer_with_head_by_hand():
    per_layer = 33_554_432 + 100_663_296 + 67_108_864
    head = 2 * 2048 * 128_256
    assert transformer_flops(LLAMA, vocab=128_256) == 16 * per_layer + head


def test_token_model_divides_by_bytes_per_token():
    assert token_model_flops_per_byte(LLAMA, 128_256, 4.4) == pytest.approx(
        transformer_flops(LLAMA, 128_256) / 4.4
    )


def test_training_is_three_forwards():
    assert training_flops(1e9) == 3e9


def test_cross_attention_by_hand():
    # h=4, 2 layers, 6 keys, 3 keys per query: 2 * (4*16*(1+3) + 4*4*6) = 2 * (256 + 96)
    assert cross_attention_flops(4, 2, keys=6, keys_per_query=3) == 704.0


def test_patch_model_parts_by_hand():
    tiny = Dims(dim=2, n_layers=1, ffn_dim=4, context=3)
    parts = patch_model_flops_per_byte(tiny, tiny, tiny, patch_size=4, k=2)
    assert parts["encoder"] == 104.0
    assert parts["latent"] == 26.0
    assert parts["decoder"] == 104.0 + 2 * 2 * 256
    # encoder: 2 queries per 4-byte patch; each sees 4 keys, shared by 2 queries (2 keys per query)
    assert parts["encoder cross-attention"] == (16 * 3 + 4 * 2 * 4) * 2 / 4
    # decoder: each byte queries 2 vectors, shared by 4 bytes (0.5 keys per query)
    assert parts["decoder cross-attention"] == 16 * 1.5 + 4 * 2 * 2
    assert parts["total"] == pytest.approx(sum(v for name, v in parts.items() if name != "total"))


def test_cross_layers_can_be_switched_off():
    parts = patch_model_flops_per_byte(LLAMA, LOCAL, LOCAL, patch_size=4, cross_layers=(0, 0))
    assert parts["encoder cross-attention"] == parts["decoder cross-attention"] == 0.0


def test_larger_patches_cost_less_and_only_the_latent_share_changes():
    small = patch_model_flops_per_byte(LLAMA, LOCAL, LOCAL, patch_size=4)
    large = patch_model_flops_per_byte(LLAMA, LOCAL, LOCAL, patch_size=8)
    assert large["latent"] == pytest.approx(small["latent"] / 2)
    assert large["total"] < small["total"]
    assert large["encoder"] == small["encoder"] and large["decoder"] == small["decoder"]


def test_same_latent_as_bpe_model_breaks_even_near_its_bytes_per_token():
    # A patch model whose latent is the BPE model (minus its head) costs about as much per byte at the
    # BPE model's bytes/token, and less with larger patches: the paper's argument.
    bpe = token_model_flops_per_byte(LLAMA, 128_256, 4.4)
    at_8 = patch_model_flops_per_byte(LLAMA, LOCAL, LOCAL, patch_size=8)["total"]
    assert at_8 < bpe


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "4", True])
def test_bad_patch_size(bad):
    with pytest.raises(ValueError, match="patch_size"):
        patch_model_flops_per_byte(LLAMA, LOCAL, LOCAL, patch_size=bad)


def test_bad_dims_and_k():
    with pytest.raises(ValueError, match="n_layers"):
        Dims(dim=8, n_layers=-1, ffn_dim=8, context=8)
    with pytest.raises(ValueError, match="k"):
        patch_model_flops_per_byte(LLAMA, LOCAL, LOCAL, patch_size=4, k=0)
    with pytest.raises(ValueError, match="bytes_per_token"):
        token_model_flops_per_byte(LLAMA, 10, bytes_per_token=0)
