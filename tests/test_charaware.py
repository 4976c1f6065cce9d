"""Char-aware token models: byte table, the LSTM by hand, unique-token batching, the matched baseline's
size, equivalence with TransformerLM, training, FLOPs, save/load and errors; and the study's pieces that
lesson 5 shares with scripts/char_study.py: fine-tuning rows, per-row BLT patches, continuation bits and
the noise table, the BLT's parameter breakdown, and load_models(missing="skip")."""

import math
import random

import pytest
import torch
import torch.nn.functional as F

from bltlib import flops
from bltlib.blt import BLT, BLTConfig, save_blt
from bltlib.bpe import BasicTokenizer
from bltlib.charaware import (
    BOS_TOKEN,
    TOKENIZER_FILE,
    CharAwareConfig,
    CharAwareLM,
    CharLSTMEmbedding,
    MatchedEmbedding,
    _Saved,
    blt_param_counts,
    char_path_params,
    charaware_card,
    continuation_bits,
    encode_item,
    encode_prompt,
    flops_per_byte,
    fold_untargeted_patches,
    load_charaware,
    load_models,
    matched_width,
    model_logits,
    noise_passages,
    noise_table,
    pack_items,
    param_counts,
    save_charaware,
    study_weights,
    task_rows,
    token_byte_table,
    tokenizer_bytes,
)
from bltlib.data.batching import BOS_ID, OFFSET, random_windows
from bltlib.entropy import entropies, entropy_model_config, save_entropy_model
from bltlib.patching import Patcher
from bltlib.tasks import NOISES, CharItem, apply_noise
from bltlib.train import CheckpointError, TrainConfig, Trainer, save_weights
from bltlib.transformer import IGNORE_INDEX, TransformerConfig, TransformerLM

TEXT = "the cat sat on the mat; the rat ate the hat. " * 8
TOKENS = [bytes([i]) for i in range(256)] + [b"th", b"the", b" the", b"at", b"a long token!", b""]


def config(extra="none", **overrides):
    base = dict(vocab_size=len(TOKENS), dim=16, n_layers=1, n_heads=2, max_seq_len=32)
    return CharAwareConfig(**{**base, "extra": extra, "char_dim": 4, "char_hidden": 8, **overrides})


def model(extra="none", seed=0, **overrides):
    torch.manual_seed(seed)
    return CharAwareLM(config(extra, **overrides), TOKENS)


def ids(*rows):
    return torch.tensor(rows)


# ----------------------------------------------------------------------------- byte table


def test_byte_table_pads_shifts_truncates_and_handles_empty_tokens():
    table, lengths = token_byte_table([b"\x00", b"hi!", b"", b"\xff\xfe"])
    assert table.dtype == lengths.dtype == torch.long
    assert table.tolist() == [[1, 0, 0], [105, 106, 34], [0, 0, 0], [256, 255, 0]]
    assert lengths.tolist() == [1, 3, 0, 2]
    table, lengths = token_byte_table([b"abcdef", b"xy"], max_len=3)
    assert table.tolist() == [[98, 99, 100], [121, 122, 0]]  # the first three bytes are kept
    assert lengths.tolist() == [3, 2]
    assert token_byte_table([b"ab"], max_len=8)[0].shape == (1, 2)  # no wider than the longest token
    assert token_byte_table([b"", b""])[0].tolist() == [[0], [0]]  # only special tokens: one pad column


@pytest.mark.parametrize(
    "tokens, max_len, error",
    [
        (b"abc", None, ValueError),
        ([], None, ValueError),
        (["a"], None, TypeError),
        ([b"a"], 0, ValueError),
        ([b"a"], True, ValueError),
    ],
)
def test_byte_table_rejects_bad_input(tokens, max_len, error):
    with pytest.raises(error):
        token_byte_table(tokens, max_len)


def test_tokenizer_bytes_spells_every_id_and_blanks_specials():
    tok = BasicTokenizer()
    tok.train(TEXT, vocab_size=270)
    tok.register_special_tokens({"<|endoftext|>": 270})
    spelled = tokenizer_bytes(tok, vocab_size=272)
    assert len(spelled) == 272
    assert all(spelled[i] == tok.decode_bytes([i]) for i in range(270))
    assert spelled[270] == spelled[271] == b""
    assert len(tokenizer_bytes(tok)) == 271
    with pytest.raises(ValueError, match=">= 271"):
        tokenizer_bytes(tok, vocab_size=270)
    with pytest.raises(TypeError):
        tokenizer_bytes("not a tokenizer")


# ----------------------------------------------------------------------------- the char path


def lstm_by_hand(emb: CharLSTMEmbedding, token: bytes) -> torch.Tensor:
    """The char embedding stepped byte by byte from the LSTM equations (gate order i, f, g, o)."""
    lstm = emb.lstm
    h = c = torch.zeros(lstm.hidden_size)
    for byte in token:
        x = emb.byte_emb.weight[byte + 1]
        gates = lstm.weight_ih_l0 @ x + lstm.bias_ih_l0 + lstm.weight_hh_l0 @ h + lstm.bias_hh_l0
        i, f, g, o = gates.chunk(4)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
    return emb.proj.weight @ h


def test_char_embedding_is_the_lstm_final_state_projected():
    torch.manual_seed(0)
    tokens = [b"a", b"the", b"", b"\xe2\x82\xac", b"abcdefgh"]
    emb = CharLSTMEmbedding(tokens, dim=6, char_dim=3, hidden=5, max_len=5)
    with torch.no_grad():
        out = emb(ids([0, 1, 2, 3, 4]))[0]
        for i, token in enumerate(tokens):
            expected = lstm_by_hand(emb, token[:5])  # the long token is read up to max_len
            torch.testing.assert_close(out[i], expected, atol=1e-6, rtol=1e-5)
    assert out[2].abs().sum() == 0  # an empty (special) token adds nothing
    assert not out[4].equal(out[0])


def test_unique_token_batching_equals_running_every_position_alone():
    emb = model("char").extra_emb
    x = torch.randint(0, len(TOKENS), (3, 20), generator=torch.Generator().manual_seed(0))
    x[0, :6] = torch.tensor([259, 260, 256, 260, 261, 259])  # repeats, the long token, the empty one
    batched = emb(x)
    with torch.no_grad():
        for b in range(x.shape[0]):
            for t in range(x.shape[1]):
                token = x[b, t].item()
                n = emb.lengths[token].item()
                if n == 0:
                    alone = torch.zeros(emb.proj.out_features)
                else:
                    out, _ = emb.lstm(emb.byte_emb(emb.table[token, :n])[None])  # unpadded, one token
                    alone = emb.proj(out[0, -1])
                torch.testing.assert_close(batched[b, t], alone, atol=1e-6, rtol=1e-5)


def test_byte_table_is_a_non_persistent_buffer():
    m = model("char")
    assert {"extra_emb.table", "extra_emb.lengths"} <= dict(m.named_buffers()).keys()
    assert not any(k.endswith(("table", "lengths")) for k in m.state_dict())
    m = m.double()  # a dtype change leaves the integer table alone
    assert m.extra_emb.table.dtype == torch.long
    assert m(ids([1, 2, 259]))[0].dtype == torch.float64


def test_gradients_reach_the_lstm_and_byte_embedding():
    m = model("char")
    _, loss = m(ids([259, 104, 260, 32]), targets=ids([104, 260, 32, 116]))
    loss.backward()
    emb = m.extra_emb
    for name, p in emb.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert emb.byte_emb.weight.grad[0].abs().sum() == 0  # the padding row is never read
    assert emb.byte_emb.weight.grad[ord("t") + 1].abs().sum() > 0


# ----------------------------------------------------------------------------- the matched baseline


def test_matched_path_has_the_char_paths_parameter_count_as_near_as_possible():
    vocab, dim = 4096, 128
    tokens = [bytes([i]) for i in range(256)]
    rng = random.Random(0)
    tokens += [bytes(rng.randrange(97, 123) for _ in range(rng.randint(2, 8))) for _ in range(vocab - 256)]
    c = CharAwareConfig(vocab_size=vocab, dim=dim, n_layers=4, n_heads=4, char_dim=32, char_hidden=128)
    counts = {}
    for extra in ("none", "char", "matched"):
        torch.manual_seed(0)
        counts[extra] = param_counts(CharAwareLM(c.but(extra=extra), tokens))
    char, matched = counts["char"]["extra"], counts["matched"]["extra"]
    assert char == char_path_params(dim, 32, 128) == c.char_params
    e = c.matched_width
    assert matched == e * (vocab + dim)
    # e is the best integer width: its neighbours are no closer to the char path's count
    assert all(abs(matched - char) <= abs(w * (vocab + dim) - char) for w in (e - 1, e + 1))
    assert abs(matched - char) <= (vocab + dim) / 2
    assert counts["none"]["extra"] == 0
    assert counts["none"]["body"] == counts["char"]["body"] == counts["matched"]["body"]
    for part in counts.values():
        assert part["total"] == part["body"] + part["token_embedding"] + part["extra"]


def test_matched_width_solves_for_e():
    assert matched_width(1000, vocab=90, dim=10) == 10
    assert matched_width(1049, vocab=90, dim=10) == 10
    assert matched_width(1051, vocab=90, dim=10) == 11
    assert matched_width(1, vocab=90, dim=10) == 1  # never 0 wide
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError):
            matched_width(bad, vocab=90, dim=10)
    emb = MatchedEmbedding(vocab_size=7, dim=4, width=2)
    assert sum(p.numel() for p in emb.parameters()) == 2 * (7 + 4)


# ----------------------------------------------------------------------------- the model


def test_extra_none_is_exactly_a_transformer_lm():
    m = model("none")
    plain = TransformerLM(m.config.transformer_config())
    plain.load_state_dict(m.state_dict())
    x = ids([5, 259, 104, 32, 260], [1, 2, 3, 4, 5])
    logits, loss = m(x, targets=x.roll(-1, 1))
    plain_logits, plain_loss = plain(x, targets=x.roll(-1, 1))
    assert logits.equal(plain_logits) and loss.equal(plain_loss)
    assert param_counts(plain) == param_counts(m)


@pytest.mark.parametrize("extra", ["char", "matched"])
def test_extra_path_is_added_to_the_token_embedding_of_the_same_body(extra):
    none, other = model("none"), model(extra)
    body = none.state_dict()
    assert all(other.state_dict()[k].equal(v) for k, v in body.items())  # same seed, same body
    x = ids([5, 259, 104, 32, 260])
    torch.testing.assert_close(other.embed(x), other.tok_emb(x) + other.extra_emb(x))
    assert not other(x)[0].equal(none(x)[0])


@pytest.mark.parametrize("extra", ["char", "matched"])
def test_kv_cache_decoding_matches_the_full_forward(extra):
    m = model(extra).eval()
    x = ids([259, 104, 260, 32, 258, 261], [1, 2, 3, 4, 5, 6])
    with torch.no_grad():
        full, _ = m(x)
        caches = m.new_kv_caches(2)
        steps = torch.cat([m(x[:, t : t + 1], kv_caches=caches)[0] for t in range(x.shape[1])], dim=1)
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-5)
    out = m.generate(x[:, :2], max_new_tokens=5, temperature=0)
    assert out.shape == (2, 7) and out[:, :2].equal(x[:, :2])


def test_thirty_training_steps_lower_the_loss():
    tok = BasicTokenizer()
    tok.train(TEXT, vocab_size=280)
    data = torch.tensor(tok.encode(TEXT))
    torch.manual_seed(0)
    c = config("char", vocab_size=280)
    m = CharAwareLM(c, tokenizer_bytes(tok, 280))

    def get_batch(split, step):
        return random_windows(data, 8, 16, torch.Generator().manual_seed(step + 1000 * (split == "val")))

    train = TrainConfig(steps=30, lr=1e-2, warmup=3, eval_every=0, progress=False, compile=False)
    history = Trainer(m, train, get_batch, device="cpu").train()
    first, last = history[0]["loss"], history[-1]["val_loss"]
    assert last < 0.6 * first, (first, last)
    assert all(p.grad is not None for p in m.extra_emb.lstm.parameters())


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: config("lstm"), ValueError, "extra must be one of"),
        (lambda: config("char", char_hidden=0), ValueError, "char_hidden"),
        (lambda: config("char", max_token_len=0), ValueError, "max_token_len"),
        (lambda: CharAwareLM(config("char")), ValueError, "needs token_bytes"),
        (lambda: CharAwareLM(config("none"), TOKENS[:-1]), ValueError, "vocab_size is 262"),
        (lambda: CharAwareLM(TransformerConfig(vocab_size=262)), TypeError, "CharAwareConfig"),
    ],
)
def test_bad_configs_are_rejected(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("extra", ["none", "char", "matched"])
@pytest.mark.parametrize("bad", [len(TOKENS), -1])
def test_token_ids_out_of_range_are_rejected(extra, bad):
    m = model(extra)
    with pytest.raises(ValueError, match="out of range"):
        m(ids([1, bad]))
    if m.extra_emb is not None:  # the paths check on their own too
        with pytest.raises(ValueError, match=r"must lie in \[0, 262\)"):
            m.extra_emb(ids([1, bad]))
    with pytest.raises(TypeError):
        (m.extra_emb or m)(torch.ones(1, 2))


# ----------------------------------------------------------------------------- FLOPs


def test_flops_per_byte_adds_the_extra_path_to_the_token_model():
    c = CharAwareConfig(vocab_size=4096, dim=128, n_layers=4, n_heads=4, char_dim=32, char_hidden=128)
    dims = flops.Dims(128, 4, c.ffn_hidden, 256)
    body = flops.token_model_flops_per_byte(dims, 4096, bytes_per_token=4.0)
    assert flops_per_byte(c, 4.0, 256) == body
    assert flops_per_byte(c.transformer_config(), 4.0, 256) == body
    assert flops_per_byte(c.but(extra="char"), 4.0, 256) == body + 8 * 128 * 160 + 2 * 128 * 128 / 4
    assert flops_per_byte(c.but(extra="matched"), 4.0, 256) == body + 2 * c.matched_width * 128 / 4
    windowed = c.but(sliding_window=64)
    assert flops_per_byte(windowed, 4.0, 256) == flops_per_byte(c, 4.0, 64)  # attention reaches 64
    assert flops_per_byte(model("char"), 1.0, 8) == flops_per_byte(config("char"), 1.0, 8)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="context_tokens"):
            flops_per_byte(c, 4.0, bad)
    with pytest.raises(ValueError, match="bytes_per_token"):
        flops_per_byte(c, 0.0, 256)
    with pytest.raises(TypeError):
        flops_per_byte("config", 4.0, 256)


# ----------------------------------------------------------------------------- save and load


@pytest.mark.parametrize("extra", ["none", "char", "matched"])
def test_save_and_load_round_trip(tmp_path, extra):
    m = model(extra, max_token_len=4).eval()
    path = save_charaware(m, tmp_path / "sub" / "model.safetensors", card={"bits_per_byte": 1.5})
    loaded = load_charaware(path)
    assert not loaded.training
    assert loaded.config == m.config and loaded.token_bytes == TOKENS
    x = ids([5, 259, 104, 32, 260, 261])
    with torch.no_grad():
        assert loaded(x)[0].equal(m(x)[0])
    assert charaware_card(path) == {"bits_per_byte": 1.5}


def test_model_without_token_bytes_round_trips(tmp_path):
    torch.manual_seed(0)
    m = CharAwareLM(config("matched"))
    loaded = load_charaware(save_charaware(m, tmp_path / "m.safetensors"))
    assert loaded.token_bytes is None
    assert F.mse_loss(loaded(ids([1, 2]))[0], m(ids([1, 2]))[0]) == 0


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no char-aware token model"):
        load_charaware(tmp_path / "missing.safetensors")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00\x01 not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_charaware(corrupt)
    foreign = save_entropy_model(
        TransformerLM(entropy_model_config(dim=16, n_layers=1, n_heads=2)), tmp_path / "entropy.safetensors"
    )
    with pytest.raises(CheckpointError, match="not a bltlib char-aware token model"):
        load_charaware(foreign)
    m = model("char")
    bad_hex = save_weights(m, tmp_path / "hex.safetensors", "bltlib.charaware/1", _Saved(m.config, ["zz"]))
    with pytest.raises(CheckpointError, match="unusable char-aware model config"):
        load_charaware(bad_hex)
    short = _Saved(m.config, [b.hex() for b in TOKENS[:10]])
    with pytest.raises(CheckpointError, match="unusable"):
        load_charaware(save_weights(m, tmp_path / "short.safetensors", "bltlib.charaware/1", short))
    # a char model's weights under a matched config: the weights do not fit
    spelled = [b.hex() for b in TOKENS]
    wrong = save_weights(
        m,
        tmp_path / "wrong.safetensors",
        "bltlib.charaware/1",
        _Saved(m.config.but(extra="matched"), spelled),
    )
    with pytest.raises(CheckpointError, match="cannot load weights"):
        load_charaware(wrong)
    with pytest.raises(TypeError, match="CharAwareLM"):
        save_charaware(TransformerLM(m.config.transformer_config()), tmp_path / "plain.safetensors")


# ----------------------------------------------------------------------------- the study's fine-tuning rows

SPELL = CharItem("Spell the word: ab\nAnswer:", "a b")
REVERSE = CharItem("Reverse the word: cat\nAnswer:", "tac")


def study_tokenizer():
    """A small BPE tokenizer with the study's BOS after its merges (id 262)."""
    tok = BasicTokenizer()
    tok.train("Spell the word: Answer: the cat sat on the mat " * 4, 256 + 6)
    tok.register_special_tokens({BOS_TOKEN: 262})
    return tok


def byte_ids(text):
    return [b + OFFSET for b in text.encode()]


def test_encode_item_tokenises_prompt_and_continuation_apart_and_marks_the_continuation():
    ids, is_target = encode_item(SPELL)
    prompt, continuation = [BOS_ID, *byte_ids(SPELL.prompt)], byte_ids(" a b\n")
    assert ids == prompt + continuation
    assert is_target == [False] * len(prompt) + [True] * len(continuation)
    tok = study_tokenizer()
    ids, is_target = encode_item(SPELL, tok)
    prompt = [262, *tok.encode_ordinary(SPELL.prompt)]
    assert ids == prompt + tok.encode_ordinary(" a b\n") and sum(is_target) == len(ids) - len(prompt)
    assert not any(is_target[: len(prompt)]) and all(is_target[len(prompt) :])
    with pytest.raises(TypeError, match="CharItem"):
        encode_item("Spell the word: ab")


def test_pack_items_keeps_items_whole_in_order_and_fits_every_tokenizer():
    n_spell, n_reverse = len(encode_item(SPELL)[0]), len(encode_item(REVERSE)[0])
    assert (n_spell, n_reverse) == (32, 35)
    items = [SPELL, REVERSE, SPELL, SPELL]
    # a byte row of 66 inputs holds 67 ids: SPELL + REVERSE (67), then SPELL + SPELL (64)
    assert pack_items(items, [(None, 66)]) == [[SPELL, REVERSE], [SPELL, SPELL]]
    assert pack_items(items, [(None, 65)]) == [[SPELL], [REVERSE], [SPELL, SPELL]]
    # two tokenizers: a row must fit both (the tokens are fewer, so the bytes decide here)
    tok = study_tokenizer()
    assert len(encode_item(SPELL, tok)[0]) + len(encode_item(REVERSE, tok)[0]) < 67
    assert pack_items(items, [(tok, 66), (None, 65)]) == pack_items(items, [(None, 65)])
    assert pack_items(items, [(tok, 200), (None, 66)]) == [[SPELL, REVERSE], [SPELL, SPELL]]
    # and a token row can be what decides
    n_tok = len(encode_item(SPELL, tok)[0])
    assert pack_items([SPELL] * 3, [(tok, 2 * n_tok - 2), (None, 500)]) == [[SPELL]] * 3
    with pytest.raises(ValueError, match="does not fit a row"):
        pack_items(items, [(None, 33)])
    with pytest.raises(ValueError, match="seq_len"):
        pack_items(items, [(None, 0)])


def test_pack_items_stops_an_endless_stream_at_max_rows():
    drawn = []

    def endless():
        while True:
            drawn.append(SPELL)
            yield SPELL

    rows = pack_items(endless(), [(None, 63)], max_rows=3)  # two items a row
    assert rows == [[SPELL, SPELL]] * 3 and len(drawn) == 7  # the seventh closed the third row
    assert pack_items(endless(), [(None, 63)], max_rows=0) == []
    assert pack_items([SPELL] * 3, [(None, 63)], max_rows=5) == [[SPELL, SPELL], [SPELL]]  # ran out first


def test_task_rows_pack_ids_and_target_only_the_continuations():
    x, y = task_rows([[SPELL, SPELL], [REVERSE]], seq_len=70)
    spell = encode_item(SPELL)[0]
    ids = spell + spell
    assert x[0, : len(ids) - 1].tolist() == ids[:-1] and (x[0, len(ids) - 1 :] == BOS_ID).all()
    expected = [IGNORE_INDEX] * (len(spell) - 6) + byte_ids(" a b\n")  # y[t] is ids[t + 1]
    assert y[0, : len(spell) - 1].tolist() == expected
    second = y[0, len(spell) - 1 : len(ids) - 1].tolist()
    assert second == [IGNORE_INDEX, *expected]  # the second item's BOS is no target either
    assert (y[0, len(ids) - 1 :] == IGNORE_INDEX).all()
    assert bytes(t - OFFSET for t in y[1].tolist() if t != IGNORE_INDEX) == b" tac\n"
    tok = study_tokenizer()
    x, y = task_rows([[SPELL]], seq_len=40, tokenizer=tok)
    ids, is_target = encode_item(SPELL, tok)
    assert (
        x[0, 0] == 262 and x[0, : len(ids) - 1].tolist() == ids[:-1] and (x[0, len(ids) - 1 :] == 262).all()
    )
    assert [t for t in y[0].tolist() if t != IGNORE_INDEX] == [
        i for i, m in zip(ids, is_target, strict=True) if m
    ]
    with pytest.raises(ValueError, match="more than a row"):
        task_rows([[SPELL, SPELL]], seq_len=62)
    with pytest.raises(ValueError, match="holds no items"):
        task_rows([[]], seq_len=64)


# ----------------------------------------------------------------------------- the BLT's patches, per row

ROWS = ["the cat sat on the mat", "a dog ran far, far away", "zq"]


def byte_rows(texts, pad=0):
    """Byte-id rows (BOS first), right-padded with ``pad`` to the longest."""
    ids = [encode_prompt(t) for t in texts]
    width = max(map(len, ids))
    return torch.tensor([row + [pad] * (width - len(row)) for row in ids])


def entropy_patcher(x):
    """Entropy patching by a tiny random entropy model, at the median entropy of ``x`` (varied patches)."""
    torch.manual_seed(0)
    model = TransformerLM(entropy_model_config(dim=16, n_layers=1, n_heads=2, max_seq_len=64)).eval()
    threshold = entropies(model, x, progress=False).median().item()
    return Patcher("entropy", threshold=threshold, entropy_model=model)


def tiny_blt(patcher):
    torch.manual_seed(0)
    config = BLTConfig(local_dim=8, local_heads=2, latent_dim=16, latent_heads=2, latent_layers=1,
                       hash_vocab=8, max_seq_len=48)  # fmt: skip
    model = BLT(config).eval()
    model.patcher = patcher
    return model


def test_row_patches_come_from_each_rows_own_entropies_whatever_the_batch():
    x = byte_rows(ROWS)
    patcher = entropy_patcher(x)
    lengths = patcher.lengths(x)
    assert (lengths.sum(1) == x.shape[1] + 1).all() and len(set(map(tuple, lengths.tolist()))) == 3
    for r, text in enumerate(ROWS[:2]):
        alone = byte_rows([text])
        by_hand = patcher.lengths(alone, entropies(patcher.entropy_model, alone[0], progress=False)[None])[0]
        assert torch.equal(patcher.lengths(alone)[0], by_hand)
        # in the batch: the same patches over the row's own bytes, then the padding's
        assert lengths[r, : len(by_hand) - 1].tolist() == by_hand[:-1].tolist()
        shuffled = patcher.lengths(torch.stack([x[2], x[r], x[1 - r]]))[1]
        assert torch.equal(shuffled, lengths[r])
    assert torch.equal(
        Patcher("entropy", patcher.threshold, entropy_model=patcher.entropy_model).lengths(x), lengths
    )
    with pytest.raises(ValueError, match="entropy_model"):
        Patcher("entropy", threshold=1.0).lengths(x)


def test_model_logits_of_a_blt_use_its_row_patches_and_ignore_the_batch():
    x = byte_rows(ROWS)
    model = tiny_blt(entropy_patcher(x))
    with torch.no_grad():
        logits = model_logits(model, x)
        assert torch.equal(logits, model(x, model.patcher.lengths(x))[0])
        n = len(encode_prompt(ROWS[0]))
        alone = model_logits(model, byte_rows(ROWS[:1]))[0]
    torch.testing.assert_close(logits[0, :n], alone, atol=1e-5, rtol=1e-5)
    model.patcher = None
    with pytest.raises(ValueError, match="no patcher"):
        model_logits(model, x)


def test_folding_the_patches_after_the_last_target_leaves_every_targeted_logit_unchanged():
    spell, reverse = CharItem("Spell: ab\nAnswer:", "a b"), CharItem("Reverse: abc\nAnswer:", "cba")
    items = [[spell], [reverse], [spell, reverse]]  # 23, 26 and 49 ids: the last row is full
    x, y = task_rows(items, seq_len=48)
    x[1, 30:] = torch.tensor([b + OFFSET for b in b"padding of bytes, not BOS"])[:18]  # any padding
    model = tiny_blt(None)
    model.patcher = entropy_patcher(x)
    lengths = model.patcher.lengths(x)
    folded = fold_untargeted_patches(lengths, y)
    assert (folded.sum(1) == lengths.sum(1)).all()
    assert ((folded > 0).sum(1) <= (lengths > 0).sum(1)).all() and (folded > 0).sum() < (lengths > 0).sum()
    assert folded[2].tolist() == lengths[2, : folded.shape[1]].tolist()  # the full row keeps its own
    with torch.no_grad():
        before, after = model(x, lengths)[0], model(x, folded)[0]
    for r in range(len(items)):
        last = int((y[r] != IGNORE_INDEX).nonzero().max())
        torch.testing.assert_close(after[r, : last + 1], before[r, : last + 1], atol=1e-5, rtol=1e-5)
        starts = (lengths[r].cumsum(0) - lengths[r])[lengths[r] > 0]
        kept = starts[starts <= last + 1]  # every patch start up to the one after the last target
        assert (folded[r].cumsum(0) - folded[r])[: len(kept)].tolist() == kept.tolist()
    full = torch.full_like(y, 7)
    assert torch.equal(fold_untargeted_patches(lengths, full), lengths[:, : int((lengths > 0).sum(1).max())])
    assert fold_untargeted_patches(lengths, torch.full_like(y, IGNORE_INDEX)).tolist() == [[49]] * 3
    with pytest.raises(ValueError, match="same B"):
        fold_untargeted_patches(lengths, y[:1])


def test_blt_param_counts_split_the_parameters_and_the_latent_is_the_token_models_body():
    model = tiny_blt(None)
    counts = blt_param_counts(model)
    parts = ("latent", "local", "byte_embedding", "hash_embeddings")
    assert sum(counts[k] for k in parts) == counts["total"] == model.num_params()
    assert counts["without_hash"] == counts["total"] - counts["hash_embeddings"] == 11272
    assert counts["byte_embedding"] == 260 * 8 and counts["hash_embeddings"] == 6 * 8 * 8
    body = CharAwareLM(CharAwareConfig(vocab_size=260, dim=16, n_layers=1, n_heads=2))
    assert counts["latent"] == param_counts(body)["body"] - 16  # less the final norm
    with pytest.raises(TypeError, match="BLT"):
        blt_param_counts(body)


# ----------------------------------------------------------------------------- continuation bits and noise

PAIRS = [("It is a truth universally", " acknowledged, that"), ("a single man", " in possession"), ("x", "!")]


def test_continuation_bits_of_a_byte_model_is_the_log_softmax_by_hand():
    torch.manual_seed(0)
    byte_model = CharAwareLM(CharAwareConfig(vocab_size=260, dim=16, n_layers=1, n_heads=2, max_seq_len=64))
    byte_model.train()
    score = continuation_bits(byte_model, PAIRS, batch_size=2)
    assert byte_model.training  # evaluated in eval mode, the mode restored
    byte_model.eval()
    per_pair = []
    for context, continuation in PAIRS:
        ids = encode_prompt(context + continuation)  # bytes: tokenised apart or together, the same ids
        n_ctx = len(encode_prompt(context))
        with torch.no_grad():
            log_p = F.log_softmax(byte_model(torch.tensor([ids[:-1]]))[0][0], dim=-1)
        nats = -sum(log_p[t - 1, ids[t]].item() for t in range(n_ctx, len(ids)))
        per_pair.append(nats / math.log(2))
    assert score.pair_bits == pytest.approx(per_pair, rel=1e-5)
    assert score.bits == pytest.approx(sum(per_pair), rel=1e-5)
    n_bytes = sum(len(c.encode()) for _, c in PAIRS)
    assert score.n_bytes == score.n_ids == n_bytes and score.contexts_cut == 0
    assert score.bits_per_byte == pytest.approx(sum(per_pair) / n_bytes, rel=1e-5)
    assert score.nats_per_id == pytest.approx(sum(per_pair) * math.log(2) / n_bytes, rel=1e-5)
    assert continuation_bits(byte_model, PAIRS, batch_size=16).pair_bits == pytest.approx(per_pair, rel=1e-5)


def test_continuation_bits_cuts_long_contexts_and_checks_its_input():
    torch.manual_seed(0)
    short = CharAwareLM(CharAwareConfig(vocab_size=260, dim=16, n_layers=1, n_heads=2, max_seq_len=30))
    score = continuation_bits(short, PAIRS)
    assert score.contexts_cut == 1  # BOS + 25 + 19 ids do not fit 30 + 1: the first context loses its start
    context, continuation = PAIRS[0]
    kept = context[-(31 - len(continuation) - 1) :]  # BOS, then as much of the context's end as fits
    alone = continuation_bits(short, [(kept, continuation)])
    assert alone.contexts_cut == 0 and score.pair_bits[0] == pytest.approx(alone.pair_bits[0], rel=1e-5)
    with pytest.raises(ValueError, match="alone fills"):
        continuation_bits(short, [("a", " " * 30)])
    with pytest.raises(ValueError, match="non-empty"):
        continuation_bits(short, [])
    token_model = CharAwareLM(CharAwareConfig(vocab_size=263, dim=16, n_layers=1, n_heads=2))
    with pytest.raises(ValueError, match="needs its tokenizer"):
        continuation_bits(token_model, PAIRS)
    with pytest.raises(ValueError, match="tokenizer=None"):
        continuation_bits(tiny_blt(None), PAIRS, study_tokenizer())


def test_continuation_bits_of_a_token_model_counts_the_continuation_tokens():
    tok = study_tokenizer()
    torch.manual_seed(0)
    token_model = CharAwareLM(CharAwareConfig(vocab_size=263, dim=16, n_layers=1, n_heads=2)).eval()
    pairs = [("Spell the word: cat", " the mat"), ("the cat", " sat on")]
    score = continuation_bits(token_model, pairs, tok)
    assert score.n_ids == sum(len(tok.encode_ordinary(c)) for _, c in pairs) < score.n_bytes == 15
    context, continuation = pairs[1]
    ids = [262, *tok.encode_ordinary(context), *tok.encode_ordinary(continuation)]
    n_ctx = 1 + len(tok.encode_ordinary(context))
    with torch.no_grad():
        log_p = F.log_softmax(token_model(torch.tensor([ids[:-1]]))[0][0], dim=-1)
    nats = -sum(log_p[t - 1, ids[t]].item() for t in range(n_ctx, len(ids)))
    assert score.pair_bits[1] == pytest.approx(nats / math.log(2), rel=1e-5)


def test_continuation_bits_of_a_blt_patch_each_row_alone():
    model = tiny_blt(entropy_patcher(byte_rows(ROWS)))
    together = continuation_bits(model, PAIRS)
    apart = [continuation_bits(model, [pair]).pair_bits[0] for pair in PAIRS]
    assert together.pair_bits == pytest.approx(apart, rel=1e-4)
    assert all(math.isfinite(b) and b > 0 for b in apart)


def test_noise_passages_are_consecutive_pieces_of_the_text_starting_at_words():
    text = " ".join(f"w{i}" for i in range(500))
    pairs = noise_passages(text, 5, context_chars=20, continuation_chars=10, seed=1)
    assert pairs == noise_passages(text, 5, context_chars=20, continuation_chars=10, seed=1)
    assert pairs != noise_passages(text, 5, context_chars=20, continuation_chars=10, seed=2)
    for context, continuation in pairs:
        assert f" {context}{continuation} " in text and continuation.startswith(" ")
        assert len(context) >= 20 and len(continuation) >= 10 and not context.startswith(" ")
    with pytest.raises(ValueError, match="longer than"):
        noise_passages("too short", 1, 20, 10, seed=0)
    with pytest.raises(ValueError, match="spaces"):
        noise_passages("x" * 1000, 1, 20, 10, seed=0)


def test_noise_table_is_noised_minus_clean_bits_per_byte():
    torch.manual_seed(0)
    byte_model = CharAwareLM(CharAwareConfig(vocab_size=260, dim=16, n_layers=1, n_heads=2, max_seq_len=64))
    table = noise_table(byte_model, PAIRS)
    clean = continuation_bits(byte_model, PAIRS).bits_per_byte
    assert table["clean_bpb"] == clean and list(table["delta_bpb"]) == list(NOISES)
    for noise in NOISES:
        noised = [(apply_noise(noise, c, seed=i), a) for i, (c, a) in enumerate(PAIRS)]
        score = continuation_bits(byte_model, noised)
        assert table["noised_bpb"][noise] == score.bits_per_byte
        assert table["delta_bpb"][noise] == score.bits_per_byte - clean
        assert table["contexts_cut"][noise] == score.contexts_cut


# ----------------------------------------------------------------------------- load_models(missing=...)


def test_load_models_can_skip_the_missing_ones(tmp_path):
    with pytest.raises(FileNotFoundError, match="no char-study model 'bpe'"):
        load_models(weights_dir=tmp_path)
    assert load_models(weights_dir=tmp_path, missing="skip") == {}
    torch.manual_seed(0)
    byte_model = CharAwareLM(CharAwareConfig(vocab_size=260, dim=16, n_layers=1, n_heads=2))
    save_charaware(byte_model, study_weights("bytes", tmp_path), card={"model": "bytes"})
    save_blt(tiny_blt(None), study_weights("blt", tmp_path), card={"model": "blt"})
    models = load_models(weights_dir=tmp_path, missing="skip")
    assert list(models) == ["bytes", "blt"] and models["bytes"].tokenizer is None
    assert models["bytes"].card == {"model": "bytes"} and isinstance(models["blt"].model, BLT)
    assert list(load_models(["blt", "bpe", "bytes"], weights_dir=tmp_path, missing="skip")) == [
        "blt",
        "bytes",
    ]
    # a token model that is there still needs its tokenizer
    tok = study_tokenizer()
    config = CharAwareConfig(vocab_size=263, dim=16, n_layers=1, n_heads=2)
    save_charaware(
        CharAwareLM(config, tokenizer_bytes(tok, 263)), study_weights("bpe", tmp_path), card={"model": "bpe"}
    )
    with pytest.raises(FileNotFoundError, match="no char-study tokenizer"):
        load_models(weights_dir=tmp_path, missing="skip")
    tok.save(str(tmp_path / TOKENIZER_FILE.removesuffix(".model")))
    assert list(load_models(weights_dir=tmp_path, missing="skip")) == ["bpe", "bytes", "blt"]
    with pytest.raises(ValueError, match="missing must be"):
        load_models(weights_dir=tmp_path, missing="ignore")
