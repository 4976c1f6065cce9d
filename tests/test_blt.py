"""The Byte Latent Transformer: hash n-grams, patch plumbing, masks, HF interop, errors, training, FLOPs,
checkpoints."""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from dataclasses import asdict, replace

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file, save_model
from torch.utils.flop_counter import FlopCounterMode

from bltlib import flops
from bltlib.blt import (
    BLT,
    HASH_PRIMES,
    BLTConfig,
    HashNgramEmbedding,
    bits_per_byte,
    blt_card,
    bytes_read_patches,
    config_from_hf,
    config_to_hf,
    decoder_cross_mask,
    decoder_patch_ids,
    document_ids,
    encoder_cross_mask,
    hash_ngram_ids,
    latent_mask,
    load_blt,
    local_mask,
    patch_documents,
    patch_ids,
    patches_read_bytes,
    pool_patches,
    save_blt,
    training_throughput,
)
from bltlib.patching import Patcher, patch_ids_from_lengths, patched_windows
from bltlib.train import CheckpointError, TrainConfig, Trainer
from bltlib.transformer import IGNORE_INDEX, TransformerLM, attend

# The official primes (reference/blt_spec.md section 2), copied here so the table is checked too.
SPEC_PRIMES = [
    1000000007,
    5915587277,
    1500450271,
    3267000013,
    5754853343,
    4093082899,
    9576890767,
    3628273133,
    2860486313,
    5463458053,
    3367900313,
]
HELLO = torch.tensor([[1, 76, 105, 112, 112, 115]])  # BOS "Hello"
# T = 20: patch lengths sum to T + 1, the second row zero-padded (spec §6)
LENGTHS = torch.tensor([[1, 3, 4, 2, 5, 6], [1, 5, 5, 10, 0, 0]])
LENGTHS_SUM_T = torch.tensor([[1, 3, 4, 2, 5, 5], [1, 5, 5, 4, 3, 2]])  # sums to T, no padding


def byte_ids(b: int, t: int, seed: int = 0) -> torch.Tensor:
    """Random rows of byte ids, BOS first, no EOS."""
    ids = torch.randint(4, 260, (b, t), generator=torch.Generator().manual_seed(seed))
    ids[:, 0] = 1
    return ids


def randomize(model: torch.nn.Module, seed: int = 0, std: float = 0.3) -> torch.nn.Module:
    """Large random weights, so that any wiring mistake shows in the logits (norm gains included)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * std)
    return model.eval()


def tiny_config(**overrides) -> BLTConfig:
    base = dict(
        local_dim=16,
        local_heads=2,
        encoder_layers=1,
        decoder_layers=2,
        local_window=8,
        latent_dim=32,
        latent_heads=2,
        latent_layers=1,
        hash_vocab=53,
        ngram_sizes=(3, 4),
        max_seq_len=32,
    )
    return BLTConfig(**{**base, **overrides})


def tiny_blt(seed: int = 0, **overrides) -> BLT:
    torch.manual_seed(seed)
    return randomize(BLT(tiny_config(**overrides)), seed)


# ----------------------------------------------------------------------------- hash n-grams


def test_hash_primes_are_the_official_ones():
    assert list(HASH_PRIMES) == SPEC_PRIMES


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (3, [443987, 124875, 393970, 386145, 358223, 190185]),
        (8, [172383, 205585, 456240, 129346, 299568, 322649]),
    ],
)
def test_hash_spec_test_vectors(n, expected):
    assert hash_ngram_ids(HELLO, n=n, vocab=500002, func=0).tolist() == [expected]
    assert hash_ngram_ids(HELLO[0], n=n, vocab=500002).tolist() == expected  # 1-D works
    assert hash_ngram_ids(HELLO.int(), n=n, vocab=500002).tolist() == [expected]  # int32 too


def test_hash_equals_hugging_face_for_all_sizes_functions_and_vocabs():
    blt_hf = pytest.importorskip("transformers.models.blt.modeling_blt")
    gen = torch.Generator().manual_seed(0)
    batches = [
        torch.randint(0, 260, (3, 40), generator=gen),
        torch.randint(0, 260, (2, 1500), generator=gen),  # long rows: every power wraps
    ]
    checked = 0
    for ids in batches:
        for func in (0, 1, 5, 10, 11):
            for vocab in (500002, 30000, 97):
                for n in range(3, 9):
                    ours = hash_ngram_ids(ids, n, vocab, func)
                    prime = SPEC_PRIMES[func % 11]
                    theirs = blt_hf.byte_group_hash_function(ids, n, prime, vocab)
                    assert torch.equal(ours, theirs), (n, func, vocab)
                    assert ours.min() >= 0 and ours.max() < vocab
                    checked += 1
    assert checked == 2 * 5 * 3 * 6
    ids = batches[0]
    assert torch.equal(hash_ngram_ids(ids, 5, 97, func=11), hash_ngram_ids(ids, 5, 97, func=0))
    assert not torch.equal(hash_ngram_ids(ids, 5, 97, func=1), hash_ngram_ids(ids, 5, 97, func=0))


def test_hash_depends_only_on_the_last_n_ids():
    ids = byte_ids(1, 30, seed=3)
    other = ids.clone()
    other[0, 10] = 200 if ids[0, 10] != 200 else 201
    diff = hash_ngram_ids(ids, 4, 500002) != hash_ngram_ids(other, 4, 500002)
    assert diff[0].nonzero().flatten().tolist() == [10, 11, 12, 13]  # the 4-grams containing position 10


def test_the_embedding_hashes_every_table_at_once_as_hash_ngram_ids_does_one():
    config = BLTConfig(local_dim=8, local_heads=2, latent_dim=16, latent_heads=2, latent_layers=1,
                       hash_vocab=97, hash_functions=2, ngram_sizes=(3, 5, 8), max_seq_len=64)  # fmt: skip
    embedding = HashNgramEmbedding(config)
    ids = torch.cat([byte_ids(2, 40, seed=1), torch.randint(0, 260, (1, 40))])  # the last row: any ids
    expected = torch.stack(
        [hash_ngram_ids(ids, n, 97, f) + 97 * (3 * f + g) for f in range(2) for g, n in enumerate((3, 5, 8))],
        -1,
    )
    assert torch.equal(embedding.bucket_ids(ids), expected)
    assert "powers" not in embedding.state_dict()  # derived from the config, not a weight


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(ids=HELLO.float(), n=3, vocab=97), TypeError, "integer torch.Tensor"),
        (dict(ids=[1, 2, 3], n=3, vocab=97), TypeError, "integer torch.Tensor"),
        (dict(ids=HELLO, n=0, vocab=97), ValueError, "n must be a positive int"),
        (dict(ids=HELLO, n=3, vocab=0), ValueError, "vocab must be a positive int"),
        (dict(ids=HELLO, n=2.5, vocab=97), ValueError, "n must be a positive int"),
    ],
)
def test_hash_bad_args(kwargs, error, match):
    with pytest.raises(error, match=match):
        hash_ngram_ids(**kwargs)


# ----------------------------------------------------------------------------- patch plumbing


def random_lengths(gen: torch.Generator, t: int, plus_one: bool, n_cols: int) -> list[int]:
    """A row of patch lengths: [1] first, zeros anywhere after, summing to t (+ 1), padded to n_cols."""
    total = t + plus_one - 1
    cuts = sorted(
        torch.randint(
            0, total + 1, (int(torch.randint(0, n_cols - 2, (1,), generator=gen)),), generator=gen
        ).tolist()
    )
    row = [1] + [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
    return row + [0] * (n_cols - len(row))


def test_patch_ids_by_hand():
    lengths = torch.tensor([[1, 3, 0, 2, 1], [1, 2, 3, 0, 0]])  # a zero-length patch; trailing padding
    assert patch_ids(lengths, 6).tolist() == [[0, 1, 1, 1, 3, 3], [0, 1, 1, 2, 2, 2]]
    # sums to T: the last byte is in the last patch too
    assert patch_ids(torch.tensor([[1, 2, 3]]), 6).tolist() == [[0, 1, 1, 2, 2, 2]]


def test_patch_ids_match_the_list_version_row_by_row():
    gen = torch.Generator().manual_seed(0)
    for trial in range(40):
        t = int(torch.randint(2, 30, (1,), generator=gen))
        rows = [random_lengths(gen, t, plus_one=bool((trial + i) % 2), n_cols=12) for i in range(3)]
        ids = patch_ids(torch.tensor(rows), t)
        for row, got in zip(rows, ids.tolist(), strict=True):
            assert got == patch_ids_from_lengths(row, t), row


def test_decoder_patch_ids_shift_by_hand():
    # patches: [BOS] | bytes 1-3 | bytes 4-5 | bytes 6-8 + the next byte (sum T + 1, T = 9)
    assert decoder_patch_ids(torch.tensor([[1, 3, 2, 4]]), 9).tolist() == [[0, 0, 0, 1, 1, 2, 2, 2, 2]]
    # an empty patch 2: bytes 3-5 (patch 3) are predicted from output 2
    assert decoder_patch_ids(torch.tensor([[1, 2, 0, 3]]), 5).tolist() == [[0, 0, 2, 2, 2]]


def test_decoder_patch_ids_every_byte_of_patch_j_plus_1_reads_output_j():
    gen = torch.Generator().manual_seed(1)
    for _ in range(30):
        t = int(torch.randint(2, 25, (1,), generator=gen))
        lengths = torch.tensor([random_lengths(gen, t, plus_one=True, n_cols=10) for _ in range(3)])
        dec = decoder_patch_ids(lengths, t)
        enc_next = patch_ids(lengths, t + 1)[:, 1:]  # the patch of byte t + 1, which position t predicts
        assert torch.equal(dec, enc_next - 1)
        # the first byte after BOS is predicted from the [BOS] patch (unless patch 1 is empty)
        assert (dec[lengths[:, 1] > 0, 0] == 0).all()


def test_pool_patches_max_empty_and_gradients():
    h = torch.tensor([[[1.0, -2.0], [5.0, -1.0], [2.0, -3.0], [0.5, 4.0]]], requires_grad=True)
    ids = torch.tensor([[0, 1, 1, 3]])  # patch 2 is empty
    out = pool_patches(h, ids, 4)
    assert out.tolist() == [[[1.0, -2.0], [5.0, -1.0], [0.0, 0.0], [0.5, 4.0]]]
    out.sum().backward()
    # the gradient reaches exactly the maxima (position 1 holds both maxima of patch 1)
    assert h.grad.tolist() == [[[1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]]


def test_cross_masks_shapes_and_k_repetition():
    ids = torch.tensor([[0, 1, 1, 2], [0, 1, 2, 2]])
    enc = encoder_cross_mask(ids, 3, k=2)
    assert enc.shape == (2, 6, 4) and enc.dtype == torch.bool
    for b in range(2):
        for s in range(6):
            assert enc[b, s].tolist() == [i == s // 2 for i in ids[b].tolist()]
    dec_ids = torch.tensor([[0, 0, 1, 2]])
    dec = decoder_cross_mask(dec_ids, 3, k=3)
    assert dec.shape == (1, 4, 9)
    for t in range(4):
        assert dec[0, t].tolist() == [dec_ids[0, t].item() == s // 3 for s in range(9)]


@pytest.mark.parametrize("kv_heads", [4, 2, 1])
def test_cross_attention_by_patch_ids_equals_attention_under_the_cross_masks(kv_heads):
    # The model never builds the [P*k, T] / [T, P*k] masks; its index arithmetic must give the same
    # outputs and gradients as masked attention, including an empty patch (id 2 below) and padding.
    torch.manual_seed(0)
    b, t, k, heads, d = 2, 9, 2, 4, 8
    lengths = torch.tensor([[1, 3, 0, 4, 2], [1, 6, 3, 0, 0]])
    n_patches = lengths.shape[1]
    pids, dec_ids = patch_ids(lengths, t), decoder_patch_ids(lengths, t)
    q_slots = torch.randn(b, n_patches, k, heads, d, requires_grad=True)
    q_bytes = torch.randn(b, t, heads, d, requires_grad=True)
    k_bytes, v_bytes = (torch.randn(b, t, kv_heads, d, requires_grad=True) for _ in range(2))
    k_slots, v_slots = (torch.randn(b, n_patches, k, kv_heads, d, requires_grad=True) for _ in range(2))

    def heads_first(x):  # [B, N, H, d] -> [B, H, N, d]
        return x.transpose(1, 2)

    enc = patches_read_bytes(q_slots, k_bytes, v_bytes, pids)
    enc_ref = attend(
        heads_first(q_slots.flatten(1, 2)),
        heads_first(k_bytes),
        heads_first(v_bytes),
        encoder_cross_mask(pids, n_patches, k)[:, None],
    )
    torch.testing.assert_close(enc.flatten(1, 2), heads_first(enc_ref), atol=1e-6, rtol=1e-5)
    assert enc[0, 2].abs().max() == 0  # the empty patch reads nothing
    dec = bytes_read_patches(q_bytes, k_slots, v_slots, dec_ids)
    dec_ref = attend(
        heads_first(q_bytes),
        heads_first(k_slots.flatten(1, 2)),
        heads_first(v_slots.flatten(1, 2)),
        decoder_cross_mask(dec_ids, n_patches, k)[:, None],
    )
    torch.testing.assert_close(dec, heads_first(dec_ref), atol=1e-6, rtol=1e-5)

    leaves = (q_slots, q_bytes, k_bytes, v_bytes, k_slots, v_slots)
    weights = torch.randn(enc.numel() + dec.numel())
    ours = torch.autograd.grad(torch.cat([enc.flatten(), dec.flatten()]) @ weights, leaves)
    theirs = torch.autograd.grad(
        torch.cat([heads_first(enc_ref).flatten(), heads_first(dec_ref).flatten()]) @ weights, leaves
    )
    for got, want in zip(ours, theirs, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------------------- document masks


def test_document_ids_and_patch_documents_by_hand():
    ids = torch.tensor([[1, 100, 2, 1, 100, 2, 2], [1, 5, 6, 7, 8, 9, 10]])
    assert document_ids(ids).tolist() == [[0, 0, 0, 1, 1, 1, 2], [0] * 7]
    pids = torch.tensor([[0, 1, 1, 2, 3, 3, 4], [0, 1, 1, 1, 2, 2, 2]])
    # row 0: the EOS at 2 is in patch 1 -> patches 2.. are document 1; EOS at 5 -> patch 4 is document 2
    assert patch_documents(ids, pids, 5).tolist() == [[0, 0, 1, 1, 2], [0, 0, 0, 0, 0]]


@pytest.mark.parametrize("window", [None, 1, 3])
def test_local_mask_is_causal_windowed_and_per_document(window):
    ids = torch.tensor([[1, 9, 9, 2, 1, 9, 9, 9, 2, 1, 9], [1] + [9] * 10])
    docs = document_ids(ids)
    mask = local_mask(docs, window)
    assert mask.shape == (2, 1, 11, 11)
    for b in range(2):
        for i in range(11):
            for j in range(11):
                expected = j <= i and (window is None or i - j < window) and docs[b, i] == docs[b, j]
                assert mask[b, 0, i, j].item() == expected


def test_latent_mask_is_causal_per_document():
    docs = torch.tensor([[0, 0, 1, 1, 2]])
    mask = latent_mask(docs)
    assert mask.shape == (1, 1, 5, 5)
    expected = [[j <= i and docs[0, i] == docs[0, j] for j in range(5)] for i in range(5)]
    assert mask[0, 0].tolist() == expected


def test_document_mask_isolates_the_second_document():
    """Perturbing doc 1 (but not its last 8 bytes, which doc 2's hash n-grams, n <= 8, reach) leaves doc
    2's logits unchanged only with document_mask=True."""
    doc1 = [b + 4 for b in b"the cat sat."]  # 12 bytes: positions 1..12, EOS at 13
    doc2 = [b + 4 for b in b"on the mat"]  # BOS at 14, bytes at 15..24
    ids = torch.tensor([[1, *doc1, 2, 1, *doc2]])
    t = ids.shape[1]
    lengths = torch.tensor([[1, 4, 4, 5, 1, 5, 6]])  # [BOS] | 4 | 4 | 4 + EOS || [BOS] | 5 | 5 + next
    assert lengths.sum() == t + 1 and t == 25
    other = ids.clone()
    other[0, 1:5] = torch.tensor([b + 4 for b in b"XYZW"])  # doc 1's first 4 bytes, positions 1..4
    doc2_rows = slice(14, t)
    for document_mask in (True, False):
        model = tiny_blt(seed=2, document_mask=document_mask, local_window=None, ngram_sizes=(3, 8))
        with torch.no_grad():
            a, _ = model(ids, lengths)
            b, _ = model(other, lengths)
        assert (a[0, 1:14] - b[0, 1:14]).abs().max() > 1e-3  # doc 1 itself changed
        gap = (a[0, doc2_rows] - b[0, doc2_rows]).abs().max().item()
        if document_mask:
            assert gap < 1e-5
        else:
            assert gap > 1e-3


# ----------------------------------------------------------------------------- the model


def test_forward_shapes_and_loss_is_cross_entropy_with_ignore_index():
    model = tiny_blt()
    ids = byte_ids(2, 20)
    targets = torch.randint(4, 260, (2, 20), generator=torch.Generator().manual_seed(5))
    logits, loss = model(ids, LENGTHS, targets)
    assert logits.shape == (2, 20, 260) and loss.shape == ()
    assert torch.allclose(loss, F.cross_entropy(logits.flatten(0, 1), targets.flatten()), atol=1e-6)
    masked = targets.clone()
    masked[:, ::2] = IGNORE_INDEX
    _, masked_loss = model(ids, LENGTHS, masked)
    keep = masked != IGNORE_INDEX
    expected = F.cross_entropy(logits[keep], targets[keep])
    assert torch.allclose(masked_loss, expected, atol=1e-6)
    assert not torch.allclose(masked_loss, loss, atol=1e-3)
    assert model(ids, LENGTHS)[1] is None


@pytest.mark.parametrize("plus_one", [True, False], ids=["sum-T+1", "sum-T"])
def test_trailing_zero_padding_does_not_change_logits(plus_one):
    """A batch pads shorter patch rows with zeros; a row's logits must not depend on that padding. With
    lengths summing to T the last byte predicts a byte beyond every patch: it must read the last real
    patch's latent output (as in the unpadded row), not an empty padding patch's."""
    model = tiny_blt(seed=1)
    ids = byte_ids(1, 20, seed=1)
    row = [1, 5, 5, 10 - (not plus_one)]
    with torch.no_grad():
        plain = model(ids, torch.tensor([row]))[0]
        padded = model(ids, torch.tensor([row + [0, 0]]))[0]
    assert (plain - padded).abs().max() < 1e-5


def test_causal_future_bytes_do_not_change_past_logits():
    model = tiny_blt(seed=4)
    ids = byte_ids(1, 20, seed=4)
    lengths = LENGTHS[:1]
    other = ids.clone()
    other[0, 12:] = (ids[0, 12:] - 4 + 7) % 256 + 4  # patches: [0] [1-3] [4-7] [8-9] [10-14] [15-19]
    with torch.no_grad():
        a, b = model(ids, lengths)[0], model(other, lengths)[0]
    # positions 0..11 predict bytes 1..12 from latent outputs 0..3 (patch 4 holds byte 12 itself) and
    # their own prefix: nothing at or after position 12 may leak into them
    assert (a[0, :12] - b[0, :12]).abs().max() < 1e-5
    assert (a[0, 12:] - b[0, 12:]).abs().max() > 1e-3


def _two_layer_encoder(repool: bool, layers: int) -> BLT:
    return tiny_blt(seed=3, encoder_layers=layers, encoder_cross_all_layers=True, repool_queries=repool)


@pytest.mark.parametrize("layers", [1, 2])
def test_repool_queries_matters_only_with_several_cross_layers(layers):
    ids = byte_ids(2, 20, seed=1)
    once = _two_layer_encoder(False, layers)
    again = BLT(replace(once.config, repool_queries=True)).eval()
    again.load_state_dict(once.state_dict())
    with torch.no_grad():
        gap = (once(ids, LENGTHS)[0] - again(ids, LENGTHS)[0]).abs().max().item()
    if layers == 1:
        assert gap < 1e-6
    else:
        assert gap > 1e-2


# ----------------------------------------------------------------------------- errors


@functools.cache
def _err_model() -> BLT:
    return BLT(tiny_config(max_seq_len=8)).eval()


T6 = torch.tensor([[1, 2, 3, 1]])  # lengths for HELLO: sum 7 = T + 1


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((HELLO, torch.tensor([[1, 2, 2]])), ValueError, r"sum to 5, but ids have T = 6"),
        ((HELLO, torch.tensor([[1, 2, 5]])), ValueError, r"sum to 8, but ids have T = 6"),
        ((HELLO, torch.tensor([[2, 2, 3]])), ValueError, r"first patch must have length 1.*starts with 2"),
        ((HELLO, torch.tensor([[1, 4, -1, 3]])), ValueError, r"must be >= 0"),
        (
            (torch.tensor([[1, 76, 260, 4]]), torch.tensor([[1, 4]])),
            ValueError,
            r"ids has 260, outside 0..259",
        ),
        ((torch.tensor([[1, -1, 5, 4]]), torch.tensor([[1, 4]])), ValueError, r"ids has -1"),
        ((byte_ids(1, 9), torch.tensor([[1, 9]])), ValueError, r"9 bytes exceeds the model's max_seq_len 8"),
        (
            (HELLO, torch.tensor([[1] * 7 + [0] * 3])),
            ValueError,
            r"10 patches exceed the model's max_patches 9",
        ),
        ((HELLO, T6.repeat(2, 1)), ValueError, r"patch_lengths has 2 rows, ids has 1"),
        ((HELLO.tolist(), T6), TypeError, r"ids must be a torch.Tensor"),
        ((HELLO, [[1, 2, 3, 1]]), TypeError, r"patch_lengths must be a torch.Tensor"),
        ((HELLO.float(), T6), TypeError, r"ids must hold integers"),
        ((HELLO, T6.float()), TypeError, r"patch_lengths must hold integers"),
        ((HELLO[0], T6), ValueError, r"ids must have shape \(batch, time\)"),
        ((HELLO, T6, HELLO[:, :5]), ValueError, r"targets shape \(1, 5\) does not match ids shape \(1, 6\)"),
        ((HELLO, T6, torch.full((1, 6), 300)), ValueError, r"targets has 300"),
        ((HELLO, T6, HELLO.float()), TypeError, r"targets must be an integer"),
    ],
)
def test_forward_bad_input_raises_clear_error(args, error, match):
    with pytest.raises(error, match=match):
        _err_model()(*args)


def test_forward_accepts_lengths_summing_to_t_and_t_plus_one():
    model = _err_model()
    for lengths in ([[1, 2, 3, 1]], [[1, 2, 3]], [[1, 5, 0, 0]]):
        logits, _ = model(HELLO, torch.tensor(lengths))
        assert logits.shape == (1, 6, 260) and torch.isfinite(logits).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(encoder_layers=0), "encoder_layers must be an int >= 1"),
        (dict(cross_attn_k=0), "cross_attn_k must be a positive int"),
        (dict(ngram_sizes=(1, 3)), "ngram_sizes must be ints >= 2"),
        (dict(max_patches=0), "max_patches must be a positive int"),
    ],
)
def test_config_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_config(**kwargs)


# ----------------------------------------------------------------------------- Hugging Face


def hf_config(
    k: int = 2,
    ngrams: tuple[int, ...] = (3, 4),
    n_funcs: int = 1,
    enc_layers: int = 1,
    enc_all: bool = False,
    dec_all: bool = True,
    window: int | None = 8,
    global_kv: int = 4,
    global_dim: int | None = None,
) -> dict:
    """A tiny transformers BltConfig dict, wired by hand (HF does not keep these fields in step)."""
    d = 32
    dg = global_dim or 2 * d

    def local(layers: int, cross_all: bool) -> dict:
        return dict(
            hidden_size=d,
            num_attention_heads=4,
            num_key_value_heads=4,
            num_hidden_layers=layers,
            intermediate_size=48,
            cross_attn_k=k,
            cross_attn_all_layers=cross_all,
            hidden_size_global=dg,
            max_position_embeddings=64,
        )

    return dict(
        vocab_size=260,
        patch_in_forward=False,
        cross_attn_k=k,
        encoder_hash_byte_group_size=list(ngrams),
        encoder_hash_byte_group_vocab=97,
        encoder_hash_byte_group_nb_functions=n_funcs,
        local_attention_window_len=window,
        encoder_config=local(enc_layers, enc_all),
        decoder_config=local(2, dec_all),
        global_config=dict(
            hidden_size=dg,
            num_attention_heads=4,
            num_key_value_heads=global_kv,
            num_hidden_layers=2,
            intermediate_size=96,
            max_position_embeddings=65,
        ),
    )


def hf_model(config: dict, seed: int = 0):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    model = transformers.BltForCausalLM(transformers.BltConfig.from_dict(config))
    return randomize(model, seed)


def hf_logits(model, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids, patch_lengths=lengths, use_cache=False).logits  # 5.23 needs no cache


def ours(model: BLT, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(ids, lengths)[0]


def fresh_hf(config: dict, state: dict):
    transformers = pytest.importorskip("transformers")
    model = transformers.BltForCausalLM(transformers.BltConfig.from_dict(config)).eval()
    model.load_state_dict(state, strict=True)
    return model


HF_CASES = {
    "base": {},
    "k1": dict(k=1),
    "k3-latent-projection": dict(k=3, global_dim=40),
    "ngrams-3to8-two-functions": dict(ngrams=(3, 4, 5, 6, 7, 8), n_funcs=2),
    "two-encoder-layers-cross-all": dict(enc_layers=2, enc_all=True),
    "decoder-cross-first-only": dict(dec_all=False),
    "no-window": dict(window=None),
    "window-3": dict(window=3),
    "gqa-2": dict(global_kv=2),
    "gqa-1": dict(global_kv=1),
    "mixed": dict(
        k=3, global_dim=40, enc_layers=2, enc_all=True, dec_all=False, window=3, global_kv=1, n_funcs=2
    ),
}


@pytest.mark.parametrize("case", HF_CASES.values(), ids=HF_CASES.keys())
def test_from_hf_and_to_hf_match_hugging_face_logits(case):
    hf = hf_model(hf_config(**case), seed=len(str(case)))
    ids = byte_ids(2, 20, seed=7)
    expected = hf_logits(hf, ids, LENGTHS)
    assert expected.shape == (2, 20, 260) and expected.std() > 0.1  # random weights: logits far apart
    model = BLT.from_hf(hf.config.to_dict(), hf.state_dict())
    assert model.config.local_window == case.get("window", 8)
    assert (model.latent.in_proj is not None) == (
        "model.global_transformer.token_embedding_projection.weight" in hf.state_dict()
    )
    assert (ours(model, ids, LENGTHS) - expected).abs().max() < 1e-4
    # lengths summing to T (not T + 1) with the same patch count: HF agrees as well
    assert (ours(model, ids, LENGTHS_SUM_T) - hf_logits(hf, ids, LENGTHS_SUM_T)).abs().max() < 1e-4
    # and back: a fresh HF model loads our weights strictly and gives the same logits
    config, state = model.to_hf()
    back = fresh_hf(config, state)
    assert (hf_logits(back, ids, LENGTHS) - expected).abs().max() < 1e-4


def test_from_hf_k3_has_the_latent_projection():
    hf = hf_model(hf_config(k=3, global_dim=40))
    assert "model.global_transformer.token_embedding_projection.weight" in hf.state_dict()
    model = BLT.from_hf(hf.config.to_dict(), hf.state_dict())
    assert model.latent.in_proj is not None and model.latent.in_proj.weight.shape == (40, 96)


def test_from_hf_has_no_document_mask_like_hugging_face():
    hf = hf_model(hf_config())
    model = BLT.from_hf(hf.config.to_dict(), hf.state_dict())
    assert model.config.repool_queries and not model.config.document_mask
    ids = byte_ids(2, 20, seed=8)
    ids[:, 9] = 2  # an EOS inside the rows
    assert (ours(model, ids, LENGTHS) - hf_logits(hf, ids, LENGTHS)).abs().max() < 1e-4


def test_from_hf_ignores_patcher_weights():
    hf = hf_model(hf_config())
    state = dict(hf.state_dict())
    state["model.patcher.embed_tokens.weight"] = torch.zeros(260, 8)
    model = BLT.from_hf(hf.config.to_dict(), state)
    ids = byte_ids(2, 20, seed=9)
    assert (ours(model, ids, LENGTHS) - hf_logits(hf, ids, LENGTHS)).abs().max() < 1e-4


def test_native_blt_to_hf_gives_our_logits():
    config = BLTConfig(
        local_dim=32,
        local_heads=4,
        local_kv_heads=4,
        local_ffn_dim=48,
        encoder_layers=1,
        decoder_layers=2,
        local_window=6,
        latent_dim=48,
        latent_heads=4,
        latent_kv_heads=2,
        latent_layers=2,
        latent_ffn_dim=96,
        cross_attn_k=2,
        ngram_sizes=(3, 5),
        hash_functions=2,
        hash_vocab=53,
        max_seq_len=32,
        repool_queries=False,
        latent_rope_base=500000.0,
    )
    torch.manual_seed(0)
    model = randomize(BLT(config), seed=11)
    ids = byte_ids(2, 20, seed=10)
    config_dict, state = model.to_hf()
    hf = fresh_hf(config_dict, state)
    assert (hf_logits(hf, ids, LENGTHS) - ours(model, ids, LENGTHS)).abs().max() < 1e-4
    # the config survives the trip (HF's semantics: re-pooling, no document mask)
    back = config_from_hf(hf.config.to_dict())
    assert config_from_hf(config_to_hf(config)) == back
    assert back == replace(
        config, repool_queries=True, document_mask=False, max_patches=config.patch_capacity
    )


def test_to_hf_refuses_what_hf_cannot_express():
    model = BLT(tiny_config(encoder_layers=2, encoder_cross_all_layers=True, repool_queries=False))
    with pytest.raises(ValueError, match="re-pools"):
        model.to_hf()


@functools.cache
def _hf_base() -> tuple[dict, dict]:
    hf = hf_model(hf_config())
    return hf.config.to_dict(), dict(hf.state_dict())


def _edit(path: str, value: object) -> dict:
    config = copy.deepcopy(_hf_base()[0])
    *parents, last = path.split(".")
    target = config
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return config


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("global_config", _DELETE, r"missing global_config"),
        ("encoder_config.num_hidden_layers", _DELETE, r"missing encoder_config.num_hidden_layers"),
        ("encoder_hash_byte_group_vocab", _DELETE, r"missing encoder_hash_byte_group_vocab"),
        ("decoder_config.hidden_size", 16, r"encoder_config.hidden_size = 32 differs from decoder_config"),
        ("decoder_config.hidden_size_global", 40, r"hidden_size_global = 40 differs from global_config"),
        ("encoder_config.cross_attn_k", 3, r"encoder_config.cross_attn_k = 3 disagrees"),
        ("decoder_config.cross_attn_k", 1, r"decoder_config.cross_attn_k = 1 disagrees"),
        ("vocab_size", 259, r"vocab_size must be 260"),
        (
            "global_config.rope_parameters",
            {"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4},
            r"rope_type",
        ),
    ],
)
def test_from_hf_bad_config_names_the_field(path, value, match):
    with pytest.raises(ValueError, match=match):
        BLT.from_hf(_edit(path, value), _hf_base()[1])


def test_from_hf_config_must_be_a_dict():
    with pytest.raises(TypeError, match="config must be a dict"):
        BLT.from_hf("blt-1b", _hf_base()[1])


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("lm_head.weight", _DELETE, KeyError),
        ("model.local_encoder.layers.0.mlp.up_proj.weight", _DELETE, KeyError),
        ("model.something_else.weight", torch.zeros(3), KeyError),
        ("model.local_decoder.norm.weight", torch.zeros(31), ValueError),
        ("model.local_encoder.patch_embedding_projection.weight", torch.zeros(64, 31), ValueError),
        # a q/k projection is re-ordered for RoPE: a wrong shape must still be reported by name
        ("model.global_transformer.layers.1.self_attn.q_proj.weight", torch.zeros(62, 64), ValueError),
        ("model.local_decoder.layers.0.self_attn.k_proj.weight", torch.zeros(30, 32), ValueError),
    ],
)
def test_from_hf_bad_state_dict_names_the_key(key, value, error):
    config, state = _hf_base()
    state = dict(state)
    if value is _DELETE:
        del state[key]
    else:
        state[key] = value
    with pytest.raises(error, match=re.escape(key)):
        BLT.from_hf(config, state)


# ----------------------------------------------------------------------------- training


def test_tiny_blt_overfits_a_repeated_text():
    torch.manual_seed(0)
    model = BLT(tiny_config(max_seq_len=48))
    text = b"the cat sat on the mat. " * 3  # 72 bytes
    corpus = torch.tensor([1] + [b + 4 for b in text])
    x, y = corpus[None, :48], corpus[None, 1:49]
    lengths = Patcher("static", patch_size=4).lengths(x)

    def get_batch(split, step):
        return x, lengths, y

    cfg = TrainConfig(
        steps=100,
        lr=1e-2,
        warmup=10,
        weight_decay=0.0,
        eval_every=0,
        amp=False,
        compile=False,
        progress=False,
    )
    history = Trainer(model, cfg, get_batch, device="cpu").train()
    first, last = history[0]["loss"], history[-1]["val_loss"]
    assert first > 4.5  # ~ln 260 at the start
    assert last < 0.5 * first and last < 0.5


# ----------------------------------------------------------------------------- FLOPs


@pytest.mark.parametrize(
    "overrides",
    [
        dict(
            encoder_layers=2,
            encoder_cross_all_layers=True,
            repool_queries=True,
            decoder_cross_all_layers=False,
            latent_dim=48,
        ),
        dict(encoder_layers=2, encoder_cross_all_layers=True, repool_queries=False, latent_dim=32),
        dict(cross_attn_k=3, latent_dim=40, decoder_layers=3, local_ffn_dim=40, latent_ffn_dim=72),
    ],
)
def test_flops_per_byte_matches_counted_linear_flops(overrides):
    """``flops_per_byte`` against ``FlopCounterMode`` on a forward with static patches.

    What is compared: the matmul FLOPs of the ``nn.Linear`` layers (``aten.mm``), i.e. everything but
    attention. Attention itself is left out on both sides: the model computes it with dense masks (it
    spends FLOPs on masked-out pairs), so its count says nothing about the formula.

    The formula's non-attention part is derived honestly from the public function. With no local window,
    every self-attention term is linear in ``context_bytes`` (``4 h m`` with ``m`` = context for the
    local models and context / patch_size for the latent one), so ``2 f(T) - f(2T)`` removes them
    exactly. The cross-attention score terms do not depend on the context: the flops module charges
    ``4 h keys`` per query, which per byte is ``4 h k`` per encoder cross layer (k slots per patch
    reading patch_size bytes) and ``4 h k`` per decoder cross layer (each byte reads k slots); they are
    subtracted by hand.

    Two known differences remain, and are accounted for exactly: the ``[BOS]`` patch (P = 1 + m patches
    for T = 1 + m * ps bytes, so the model runs its latent/projection parts T / P bytes apart, not ps),
    handled by evaluating the formula at patch_size = T / P; and the head, 260 classes in the model vs
    the paper's 256 (``2 h * 4`` per byte). Then the match is exact (to float rounding). At the nominal
    patch size the formula is within 2% (T = 257: the BOS patch is one in 65).
    """
    config = tiny_config(local_window=None, latent_layers=2, max_seq_len=260, **overrides)
    model = BLT(config).eval()
    ps, m = 4, 64
    t = 1 + ps * m
    ids = byte_ids(1, t)
    lengths = torch.tensor([[1] + [ps] * m])  # sums to T: the [BOS] patch, then m patches of ps
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(ids, lengths)
    counts = {str(op): v for op, v in counter.get_flop_counts()["Global"].items()}
    counted = (counts.get("aten.mm", 0) + counts.get("aten.addmm", 0)) / t
    assert counted > 0

    d, k = config.local_dim, config.cross_attn_k
    enc_x = config.encoder_layers if config.encoder_cross_all_layers else 1
    dec_x = config.decoder_layers if config.decoder_cross_all_layers else 1
    cross_scores = 4 * d * k * (enc_x + dec_x)

    def non_attention(patch_size: float) -> float:
        f1 = config.flops_per_byte(patch_size, t)["total"]
        f2 = config.flops_per_byte(patch_size, 2 * t)["total"]
        return 2 * f1 - f2 - cross_scores

    head_260 = 2 * d * (260 - 256)
    exact = non_attention(t / lengths.shape[1]) + head_260
    assert abs(exact / counted - 1) < 1e-9
    assert abs(non_attention(ps) / counted - 1) < 0.02
    assert model.flops_per_byte(ps, t) == config.flops_per_byte(ps, t)


def test_the_byte_lm_yardstick_is_the_latent_model_over_bytes():
    config = tiny_config(latent_kv_heads=1, latent_ffn_dim=48, latent_layers=3)
    stack, latent = config.byte_lm_stack(), config.latent_stack()
    assert (stack.vocab_size, stack.max_seq_len, stack.sliding_window) == (260, config.max_seq_len, None)
    shape = ("dim", "n_layers", "n_heads", "n_kv_heads", "ffn_hidden", "rope_base")
    assert [getattr(stack, f) for f in shape] == [getattr(latent, f) for f in shape]
    lm = TransformerLM(stack)
    assert lm(torch.zeros(1, config.max_seq_len, dtype=torch.long))[0].shape == (1, config.max_seq_len, 260)


def test_training_throughput_counts_each_models_flops_and_times_alternating_rounds():
    config = tiny_config()
    corpus = torch.randint(4, 260, (400,))
    g = torch.Generator().manual_seed(0)
    batches = [patched_windows(corpus, Patcher("static", patch_size=4), 2, 32, g) for _ in range(2)]
    ticks = iter(range(1000))
    run = training_throughput(config, batches, rounds=2, calls=2, warmup=1, clock=lambda: float(next(ticks)))
    assert run["patch_size"] == 32 / 9  # [BOS], then 8 patches of 4 (the last holds the next byte)
    blt_flops = flops.training_flops(config.flops_per_byte(32 / 9, 32)["total"]) * 64
    assert run["BLT"]["flops_per_step"] == pytest.approx(blt_flops)
    lm = config.byte_lm_stack()
    dims = flops.Dims(lm.dim, lm.n_layers, lm.ffn_hidden, 32)
    assert (
        run["byte transformer"]["flops_per_step"]
        == flops.training_flops(flops.transformer_flops(dims, 260)) * 64
    )
    assert run["BLT"]["seconds"] == run["byte transformer"]["seconds"] == [0.5, 0.5]  # one tick per round


def test_flops_per_byte_parts_and_patch_size():
    config = tiny_config(latent_layers=4, latent_dim=64)
    small, large = config.flops_per_byte(2), config.flops_per_byte(8)
    assert small["total"] == pytest.approx(sum(v for key, v in small.items() if key != "total"))
    assert large["latent"] == pytest.approx(small["latent"] / 4, rel=0.05)  # latent runs once per patch
    assert large["encoder"] == small["encoder"] and large["decoder"] == small["decoder"]
    assert large["total"] < small["total"]


# ----------------------------------------------------------------------------- checkpoints


def test_save_and_load_round_trip(tmp_path):
    model = tiny_blt(seed=5, encoder_layers=2, hash_functions=2)
    card = {"bpb": 1.25, "corpus": "tiny"}
    path = save_blt(model, tmp_path / "sub" / "blt.safetensors", card=card)
    loaded = load_blt(path)
    assert asdict(loaded.config) == asdict(model.config) and loaded.config == model.config
    assert not loaded.training
    ids = byte_ids(2, 20, seed=6)
    assert torch.equal(ours(loaded, ids, LENGTHS), ours(model, ids, LENGTHS))
    assert blt_card(path) == card
    assert blt_card(save_blt(model, tmp_path / "nocard.safetensors")) == {}


def test_load_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load_blt(missing)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"this is not a safetensors file")
    with pytest.raises(CheckpointError, match=re.escape(str(corrupt))):
        load_blt(corrupt)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign), metadata={"format": "bltlib.train/1"})
    with pytest.raises(CheckpointError, match=re.escape(str(foreign)) + ".*not a bltlib BLT"):
        load_blt(foreign)
    with pytest.raises(CheckpointError, match=re.escape(str(foreign))):
        blt_card(foreign)
    # right format, weights of another shape than its config
    mismatched = tmp_path / "mismatched.safetensors"
    small = tiny_blt()
    save_model(
        small,
        str(mismatched),
        metadata={
            "format": "bltlib.blt/1",
            "config": json.dumps(asdict(replace(small.config, local_dim=32))),
            "card": "{}",
        },
    )
    with pytest.raises(CheckpointError, match=re.escape(str(mismatched))):
        load_blt(mismatched)


def test_load_blt_sets_the_patcher_from_the_card(tmp_path):
    card = {"patcher": {"scheme": "entropy", "threshold": 1.25, "target_patch_size": 4.5}}
    loaded = load_blt(save_blt(tiny_blt(), tmp_path / "blt.safetensors", card=card))
    assert loaded.patcher == Patcher("entropy", threshold=1.25)
    assert load_blt(save_blt(tiny_blt(), tmp_path / "plain.safetensors")).patcher is None


@pytest.mark.parametrize("n_bytes", [62, 63, 64, 100])  # windows of 32: tails of every length
def test_bits_per_byte_predicts_every_byte_once_in_windows(n_bytes):
    """The held-out evaluation: consecutive windows of BOS + seq_len - 1 bytes, each byte a target once,
    the entropies of each window taken from the corpus; compared with the windows built by hand."""
    model = tiny_blt(seed=3)
    ids = byte_ids(1, n_bytes + 1, seed=4)[0]  # BOS + n_bytes
    e = torch.rand(len(ids), generator=torch.Generator().manual_seed(5)) * 3
    patcher = Patcher("entropy", threshold=1.5)
    total = 0.0
    for s in range(1, len(ids), 32):
        y = ids[s : s + 32]
        x = torch.cat([ids[:1], y[:-1]])[None]
        lengths = patcher.lengths(x, e[s - 1 : s - 1 + len(y)][None])
        logits, _ = model(x, lengths)
        total += F.cross_entropy(logits[0], y, reduction="sum").item()
    expected = total / n_bytes / math.log(2)
    got = bits_per_byte(model, ids, patcher, e, seq_len=32, batch_size=2)
    assert got == pytest.approx(expected, rel=1e-5)
