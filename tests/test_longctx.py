"""Long-context evaluation helpers: same windows, per-token losses, buckets, fine-tune, fitness."""

import math

import pytest
import torch

from bltlib import longctx
from bltlib.rope import longrope_search
from bltlib.train import TrainConfig
from bltlib.transformer import TransformerConfig, TransformerLM
from tests.scripts import load_script

L = 32


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return TransformerLM(
        TransformerConfig(vocab_size=260, dim=32, n_layers=1, n_heads=2, max_seq_len=L)
    ).eval()


@pytest.fixture(scope="module")
def windows():
    ids = torch.randint(4, 260, (2000,), generator=torch.Generator().manual_seed(1))
    return longctx.held_out_windows(ids, 3, 4 * L)


def test_method_scaling_covers_every_method():
    for method in longctx.METHODS[:-1]:
        scaling = longctx.method_scaling(method, 4.0, original_max_position_embeddings=L)
        assert scaling is None if method == "none" else scaling["factor"] == 4.0
    scaling = longctx.method_scaling(
        "longrope", 4.0, original_max_position_embeddings=L, longrope=([1.0] * 8, 2)
    )
    assert scaling["rope_type"] == "longrope" and scaling["n_hat"] == 2
    with pytest.raises(ValueError, match="needs longrope"):
        longctx.method_scaling("longrope", 4.0, original_max_position_embeddings=L)
    with pytest.raises(ValueError, match="unknown method"):
        longctx.method_scaling("alibi", 4.0, original_max_position_embeddings=L)


def test_windows_are_fixed_and_shorter_lengths_use_their_prefixes(model, windows):
    assert windows.shape == (3, 4 * L + 1)
    long = longctx.token_losses(model, windows, 2 * L, None)
    short = longctx.token_losses(model, windows, L, None)
    assert long.shape == (3, 2 * L) and short.shape == (3, L)
    # Causal attention: the first L losses of the longer run are those of the short run.
    assert torch.allclose(long[:, :L], short, atol=1e-5)
    with pytest.raises(ValueError, match="need at least"):
        longctx.held_out_windows(torch.arange(10), 2, 10)


def test_token_losses_match_the_models_own_loss_and_restore_its_rope(model, windows):
    losses = longctx.token_losses(model, windows, L, None, batch_size=2)
    _, loss = model(windows[:, :L], targets=windows[:, 1 : L + 1])
    assert math.isclose(losses.mean().item(), loss.item(), rel_tol=1e-5)
    before = model.max_seq_len
    longctx.token_losses(model, windows, 4 * L, {"rope_type": "linear", "factor": 4.0})
    assert model.max_seq_len == before and model.rope.scaling is None
    with pytest.raises(ValueError, match="exceeds"):
        model(windows[:, : 2 * L])


def test_rope_set_restores_after_an_error(model):
    with pytest.raises(RuntimeError), longctx.rope_set(model, None, 4 * L):
        assert model.max_seq_len == 4 * L
        raise RuntimeError("boom")
    assert model.max_seq_len == L


def test_scaling_changes_the_numbers_and_table_is_complete(model, windows):
    scalings = {"none": None, "pi x4": longctx.method_scaling("pi", 4.0, original_max_position_embeddings=L)}
    table = longctx.ppl_table(model, windows, [L, 2 * L], scalings, progress=False)
    assert set(table) == {"none", "pi x4"} and all(set(row) == {L, 2 * L} for row in table.values())
    assert table["none"][L] != table["pi x4"][L]
    assert all(1.0 < v < 1000 for row in table.values() for v in row.values())


def test_perplexity_and_buckets():
    losses = torch.log(torch.tensor([[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 8.0, 8.0]]))
    assert longctx.bucket_perplexity(losses, 2) == [1.0, 4.0]
    assert math.isclose(longctx.perplexity(losses), math.exp(losses.mean().item()))
    with pytest.raises(ValueError, match="divide"):
        longctx.bucket_perplexity(losses, 3)


def test_longrope_fitness_plugs_into_the_search(model, windows):
    fitness = longctx.longrope_fitness(model, windows[:1], 2 * L, 2.0, L)
    head_dim = model.config.head_dim
    ones = fitness(torch.ones(head_dim // 2), 4)
    scaling = longctx.method_scaling(
        "longrope", 2.0, original_max_position_embeddings=L, longrope=([1.0] * 8, 4)
    )
    expected = longctx.perplexity(longctx.token_losses(model, windows[:1], 2 * L, scaling))
    assert math.isclose(ones, expected, rel_tol=1e-9)
    result = longrope_search(
        fitness,
        head_dim,
        2.0,
        original_max_position_embeddings=L,
        population=4,
        generations=1,
        progress=False,
    )
    assert result.fitness <= min(h["best"] for h in result.history)


def test_finetune_returns_a_tuned_copy_at_the_new_length(model):
    ids = torch.randint(4, 260, (5000,), generator=torch.Generator().manual_seed(2))

    def get_batch(split, step):
        starts = torch.randint(0, len(ids) - 2 * L - 1, (2,), generator=torch.Generator().manual_seed(step))
        rows = torch.stack([ids[s : s + 2 * L + 1] for s in starts.tolist()])
        return rows[:, :-1], rows[:, 1:]

    before = {k: v.clone() for k, v in model.state_dict().items()}
    scaling = longctx.method_scaling("yarn", 2.0, original_max_position_embeddings=L)
    cfg = TrainConfig(steps=2, lr=1e-3, warmup=1, eval_every=0, progress=False)
    tuned, history = longctx.finetune(model, scaling, 2 * L, get_batch, cfg)
    assert len(history) == 2 and not tuned.training
    assert tuned.max_seq_len == 2 * L and tuned.config.rope_scaling == scaling
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "the original is untouched"
    assert model.max_seq_len == L and model.config.rope_scaling is None


def test_save_and_load_round_trip(model, tmp_path):
    path = longctx.save_lm(model, tmp_path / "m.safetensors", card={"note": "test"})
    loaded = longctx.load_lm(path)
    assert loaded.config == model.config and not loaded.training
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True)
    )
    assert longctx.model_card(path) == {"note": "test"}


def test_the_shipped_model_loads_with_its_card():
    model = longctx.load_lm()
    card = longctx.model_card()
    assert model.config.max_seq_len == 256 and model.config.rope_scaling is None
    assert card["parameters"] == model.num_params()
    assert card["test_bits_per_byte"] < 3.0
    assert longctx.DEFAULT_WEIGHTS.with_suffix(".md").exists()


def test_training_script_smoke(tmp_path):
    script = load_script("train_rope_model")
    out = tmp_path / "stage1.safetensors"
    common = [
        "--dim",
        "32",
        "--layers",
        "1",
        "--heads",
        "2",
        "--seq-len",
        "128",
        "--batch-size",
        "4",
        "--passkey-rows",
        "1",
        "--eval-windows",
        "2",
    ]
    script.main(["--steps", "2", "--no-tie-embeddings", "--episode-rows", "1", *common, "--out", str(out)])
    second = tmp_path / "stage2.safetensors"
    script.main(
        [
            "--init",
            str(out),
            "--steps",
            "1",
            "--episode-rows",
            "1",
            *common,
            "--out",
            str(second),
        ]
    )
    card = longctx.model_card(second)
    assert card["previous_stage"]["train"]["steps"] == 2 and card["train"]["steps"] == 1
    text = second.with_suffix(".md").read_text()
    assert "Started from an earlier stage" in text and "passkey accuracy at 128" in text
    assert "untied embeddings" in text and "masked out of the loss" in card["previous_stage"]["data"]
    assert longctx.load_lm(second).config.max_seq_len == 128
    assert ("1 GPU" if torch.cuda.is_available() else "CPU, 1 thread") in text
    with pytest.raises(SystemExit):
        script.parse_args(["--batch-size", "4", "--passkey-rows", "3", "--episode-rows", "2"])


# --------------------------------------------------------------------------- lesson 2's recorded runs


def test_the_recorded_longrope_searches_load_as_the_search_returns_them():
    runs = longctx.recorded_runs()
    assert runs["command"] == "python scripts/rope_lesson_runs.py"
    assert runs["search"]["population"] == 24 and runs["search"]["generations"] == 12
    for factor in (4.0, 8.0):
        found = longctx.recorded_search(factor)
        assert found.factors.shape == (16,) and isinstance(found.n_hat, int)
        assert len(found.history) == runs["search"]["generations"] + 1
        bests = [h["best"] for h in found.history]
        assert bests == sorted(bests, reverse=True) and found.fitness == pytest.approx(bests[-1], abs=1e-5)
        assert 1.0 <= found.factors.min() and found.factors.max() <= 1.25 * factor + 1e-4
    with pytest.raises(KeyError, match="no recorded LongRoPE search for factor 2"):
        longctx.recorded_search(2.0)


@pytest.mark.parametrize("method", longctx.TUNED_METHODS)
def test_the_shipped_fine_tunes_keep_their_scaling_and_length(method):
    tuned = longctx.load_lm(longctx.tuned_weights(method))
    assert tuned.config.max_seq_len == 4 * 256
    assert tuned.config.rope_scaling == longctx.method_scaling(
        method, 4.0, original_max_position_embeddings=256
    )
    assert next(tuned.parameters()).dtype == torch.float32  # stored as float16, computed in float32
    card = longctx.model_card(longctx.tuned_weights(method))
    assert card["command"] == "python scripts/rope_lesson_runs.py" and card["finetune"]["steps"] == 80
    with pytest.raises(ValueError, match="no shipped fine-tune for 'ntk'"):
        longctx.tuned_weights("ntk")


def test_passkey_text_batches_are_a_function_of_split_and_step():
    ids = torch.randint(4, 260, (5000,), generator=torch.Generator().manual_seed(0))
    get_batch = longctx.passkey_text_batches(ids, ids, 128, 4, passkey_rows=1, episode_rows=1, seed=1)
    x, y = get_batch("train", 3)
    assert x.shape == y.shape == (4, 128)
    assert torch.equal(get_batch("train", 3)[0], x) and not torch.equal(get_batch("train", 4)[0], x)
    assert not torch.equal(get_batch("val", 3)[0], x)
