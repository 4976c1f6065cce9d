"""Lesson 5's study script end to end at the ci preset (results, resume, shipping), and the decoding and
loading it ships with: ``bltlib.charaware.answer`` and ``load_models``, for token, byte and BLT models."""

import contextlib
import io
import json
import math
import re
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from bltlib.blt import BLT, BLTConfig, Generation, blt_card
from bltlib.bpe import BasicTokenizer
from bltlib.charaware import (
    BOS_TOKEN,
    BYTE_MODELS,
    STUDY_MODELS,
    TOKENIZER_FILE,
    CharAwareConfig,
    CharAwareLM,
    answer,
    charaware_card,
    fold_untargeted_patches,
    load_models,
    study_weights,
)
from bltlib.entropy import entropy_model_config
from bltlib.patching import Patcher
from bltlib.tasks import CHAR_TASKS, NOISES
from bltlib.transformer import TransformerConfig, TransformerLM
from tests.scripts import load_script

WORD_SETS = ("frequent", "rare", "random")
WITHOUT_BLT = [n for n in STUDY_MODELS if n != "blt"]


def run(script, tmp: Path, *extra: str) -> str:
    """One invocation at the ci preset, writing only under ``tmp``; returns its log."""
    argv = ["--preset", "ci", "--threads", "1", "--run-dir", str(tmp / "runs"), "--out-dir", str(tmp / "out")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        script.main([*argv, "--weights-dir", str(tmp / "weights"), *extra])
    return out.getvalue()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The ci study in four invocations: pretrain + fine-tune; everything for all models but the BLT;
    everything for the BLT (as a study begun before the BLT joined is completed); everything again."""
    script = load_script("char_study")
    tmp = tmp_path_factory.mktemp("char_study")
    final = tmp / "out" / "char_study_ci.json"
    first = run(script, tmp, "--phases", "pretrain", "finetune")
    partial = (tmp / "out" / "char_study_ci.partial.json").is_file()
    final_after_first = final.is_file()
    second = run(script, tmp, "--models", *WITHOUT_BLT)
    final_without_blt = final.is_file()
    third = run(script, tmp, "--models", "blt", "--eval-workers", "2")  # its answers from two processes
    stamps = {p: p.stat().st_mtime_ns for p in (tmp / "weights").iterdir()}
    results = final.read_text()
    fourth = run(script, tmp)
    return {
        "script": script,
        "tmp": tmp,
        "logs": (first, second, third, fourth),
        "partial_after_first": partial,
        "final_after_first": final_after_first,
        "final_without_blt": final_without_blt,
        "stamps": stamps,
        "results_text": results,
        "results": json.loads(results),
    }


# ----------------------------------------------------------------------------- the study


def test_every_task_model_and_word_set_has_an_interval_and_a_baseline(study):
    tasks = study["results"]["tasks"]
    assert set(tasks) == set(CHAR_TASKS)
    for task in CHAR_TASKS:
        assert set(tasks[task]) == set(WORD_SETS)
        for ws in WORD_SETS:
            cell = tasks[task][ws]
            assert cell["n"] == 2 and 0.0 < cell["majority_baseline"] <= 1.0
            assert set(cell["models"]) == set(STUDY_MODELS)
            for m in cell["models"].values():
                lo, hi = m["ci95"]
                assert 0.0 <= lo <= m["accuracy"] <= hi <= 1.0 and hi - lo > 0
                assert m["accuracy"] == m["correct"] / cell["n"]


def test_bits_per_byte_noise_curve_and_matching_are_reported(study):
    r = study["results"]
    for name in STUDY_MODELS:
        bpb = r["bits_per_byte"][name]
        assert all(math.isfinite(v) and 0 < v < 10 for v in (bpb["pretrained"], bpb["finetuned"]))
        curve = r["curve"][name]
        assert len(curve) >= 3 and [c["items"] for c in curve] == sorted({c["items"] for c in curve})
        assert set(curve[-1]["cells"]) == set(CHAR_TASKS)
        assert r["runs"][name]["model"]["flops_per_byte"] == r["flops_per_byte"][name] > 0
    for when in ("pretrained", "finetuned"):
        delta = r["noise"][when]["delta_bpb"]
        assert set(delta) == set(NOISES)
        assert all(
            set(row) == set(STUDY_MODELS) and all(map(math.isfinite, row.values())) for row in delta.values()
        )
    # one body: the token models differ only in the extra path; the byte rows hold bytes_per_token x more
    params = {n: r["runs"][n]["model"]["parameters"] for n in STUDY_MODELS}
    assert len({params[n]["body"] for n in WITHOUT_BLT}) == 1
    assert (
        params["bpe"]["extra"] == 0 and params["bpe_char"]["extra"] > 0 and params["bpe_matched"]["extra"] > 0
    )
    # the BLT's latent transformer has the body's blocks (its final norm sits in the decoder)
    blt = r["runs"]["blt"]["model"]
    assert params["blt"]["latent"] == params["bpe"]["body"] - r["settings"]["dim"]
    assert params["blt"]["without_hash"] == params["blt"]["total"] - params["blt"]["hash_embeddings"]
    assert blt["config"]["cross_attn_k"] * blt["config"]["local_dim"] == blt["config"]["latent_dim"]
    assert 1 < blt["mean_patch_size"] < blt["seq_len"] and blt["entropy_model_flops_per_byte"] > 0
    assert r["blt"]["patcher"]["scheme"] == "entropy" and r["blt"]["patcher"]["threshold"] > 0
    seen = {n: r["runs"][n]["pretrain"]["bytes_seen"] for n in BYTE_MODELS}
    assert seen["blt"] == seen["bytes"] and blt["seq_len"] == r["data"]["byte_seq_len"]
    data = r["data"]
    assert data["byte_seq_len"] == round(data["token_seq_len"] * data["bytes_per_token"])
    assert r["words"]["frequent"] > 0 and r["words"]["rare"] > 0 and r["words"]["random"] > 0
    items = {n: r["runs"][n]["finetune"]["curve_points"] for n in STUDY_MODELS}
    assert all(v == items["bpe"] for v in items.values())  # the same fine-tuning items for every model


def test_the_tables_beside_the_results_carry_its_numbers(study):
    r = study["results"]
    md = (study["tmp"] / "out" / "char_study_ci.md").read_text()
    assert r["commands"][0] in md and "## Mean over the ten tasks" in md
    assert "| words | majority | " + " | ".join(STUDY_MODELS) + " |" in md
    spell = r["tasks"]["spell"]["rare"]
    cells = " | ".join(
        f"{100 * m['accuracy']:.1f} [{100 * m['ci95'][0]:.1f}, {100 * m['ci95'][1]:.1f}]"
        for m in spell["models"].values()
    )
    assert f"| spell | rare | {100 * spell['majority_baseline']:.1f} | {cells} |" in md
    for name in STUDY_MODELS:
        bpb = r["bits_per_byte"][name]
        assert f"| {name} | {bpb['pretrained']:.3f} | {bpb['finetuned']:.3f} |" in md
    # the pooled row: every task's correct answers over every task's items
    for ws in WORD_SETS:
        correct = sum(r["tasks"][t][ws]["models"]["bpe"]["correct"] for t in CHAR_TASKS)
        n = sum(r["tasks"][t][ws]["n"] for t in CHAR_TASKS)
        row = next(line for line in md.splitlines() if line.startswith(f"| {ws} | "))
        assert row.split(" | ")[2].startswith(f"{100 * correct / n:.1f} [")
    noise_rows = [line for line in md.splitlines() if line.split(" | ")[0].lstrip("| ") in NOISES]
    assert len(noise_rows) == 2 * len(NOISES)  # pretrained and fine-tuned


def test_partial_results_then_resume_skips_finished_phases(study):
    first, second, third, fourth = study["logs"]
    assert study["partial_after_first"] and not study["final_after_first"]
    assert "pretrain step" in first and "eval" not in first.replace("val ", "")
    assert "quick look: spell/frequent" in first  # a glance at the learning curve while fine-tuning
    # without the BLT the results stay partial; the later --models blt completes them
    assert not study["final_without_blt"] and "not every model has every phase" in second
    for name in STUDY_MODELS:
        evaluated = third if name == "blt" else second
        assert f"[{name}] pretrain: done" in evaluated and f"[{name}] finetune: done, skipped" in evaluated
        assert f"[{name}] eval: pretrained" in evaluated
        for phase in ("pretrain: done", "finetune: done, skipped", "eval: done, skipped"):
            assert f"[{name}] {phase}" in fourth
    assert "[blt]" not in second and "[bytes]" not in third and "wrote" in third
    assert "pretrain step" not in second + third and "is up to date" in fourth
    assert "pretrain step" not in fourth and "finetune step" not in fourth
    out = study["tmp"] / "out"
    assert not (out / "char_study_ci.partial.json").exists()
    assert (out / "char_study_ci.json").read_text() == study["results_text"]
    assert {p: p.stat().st_mtime_ns for p in (study["tmp"] / "weights").iterdir()} == study["stamps"]
    assert len(study["results"]["commands"]) == 3  # the three invocations that changed something


def test_the_blt_reads_the_byte_models_rows_patched_row_by_row(study):
    script = study["script"]
    args = script.parse_args(["--preset", "ci", "--run-dir", str(study["tmp"] / "runs")])
    s = script.Study(args)
    for batches in (s.pretrain_batches, s.finetune_batches):
        for split, step in (("train", 3), ("val", 0)):
            x, lengths, y = batches("blt")(split, step)
            byte_x, byte_y = batches("bytes")(split, step)
            assert torch.equal(x, byte_x) and torch.equal(y, byte_y)
            assert (lengths[:, 0] == 1).all() and (lengths.sum(-1) == x.shape[1] + 1).all()
            # A row's patches do not depend on its batch; those after its last target are folded into one.
            alone = fold_untargeted_patches(s.patcher.lengths(x[1:2]), y[1:2])[0]
            assert torch.equal(lengths[1, : len(alone)], alone) and not lengths[1, len(alone) :].any()
    _, _, y = s.finetune_batches("blt")("train", 0)
    assert (y == -100).any()  # fine-tuning rows: loss on the answers only, as for the byte model


def test_shipped_models_load_answer_within_caps_and_carry_cards(study):
    weights = study["tmp"] / "weights"
    models = load_models(weights_dir=weights)
    assert list(models) == list(STUDY_MODELS) and all(models[n].tokenizer is None for n in BYTE_MODELS)
    assert isinstance(models["blt"].model, BLT) and models["blt"].model.patcher.entropy_model is not None
    prompts = ["Spell the word: house\nAnswer:", "Reverse the word: cat\nAnswer:"]
    for name, m in models.items():
        path = study_weights(name, weights)
        assert path.stat().st_size < 5_000_000
        with safe_open(str(path), "pt") as f:
            assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
        assert next(m.model.parameters()).dtype == torch.float32
        card = blt_card(path) if name == "blt" else charaware_card(path)
        assert card["command"].startswith("python scripts/char_study.py") and card["model"] == name
        assert set(card["metrics"]["mean_accuracy"]) == set(WORD_SETS)
        out = m.answer(prompts, max_new=[3, 7])
        assert all(len(a.encode()) <= cap and "\n" not in a for a, cap in zip(out, [3, 7], strict=True))
    assert (weights / TOKENIZER_FILE).is_file()


def test_settings_mismatch_and_oversized_files_fail_clearly(study, tmp_path, monkeypatch):
    script = study["script"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "char_study_ci.partial.json").write_text(json.dumps({"settings": {"dim": 1}}))
    argv = ["--preset", "ci", "--run-dir", str(tmp_path / "runs"), "--out-dir", str(out)]
    with pytest.raises(SystemExit, match="other settings"):
        script.main(argv)
    # everything done: only shipping runs, into a fresh folder, and refuses a file over the limit
    monkeypatch.setattr(script, "MAX_FILE_BYTES", 1000)
    with pytest.raises(SystemExit, match="over the limit"):
        run(script, study["tmp"], "--models", "bytes", "--weights-dir", str(tmp_path / "w"))
    assert not (tmp_path / "w" / "char_bytes.safetensors").exists()
    # a resumed run (the same command again) is listed once
    (out / "char_study_ci.partial.json").write_text(
        json.dumps(
            {"settings": script._jsonable(script.PRESETS["ci"]), "commands": ["a", "b", "a"], "runs": {}}
        )
    )
    args = script.parse_args(argv)
    runner = script.Runner(script.Study(args), args, argv)
    assert runner.state["commands"] == ["a", "b"]
    for flag in ("--threads", "--eval-workers"):
        with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as err:
            script.parse_args([flag, "0"])
        assert f"{flag} must be at least 1" in err.getvalue()


# ----------------------------------------------------------------------------- answer()


class Echo(TransformerLM):
    """Greedily 'generates' its prompt again (without BOS), then a newline: a model whose output we know."""

    def __init__(self, vocab_size: int, newline: int, max_seq_len: int = 64) -> None:
        super().__init__(
            TransformerConfig(vocab_size=vocab_size, dim=8, n_layers=1, n_heads=2, max_seq_len=max_seq_len)
        )
        self.newline = newline

    def forward(self, idx, targets=None, kv_caches=None):
        start = kv_caches[0].length if kv_caches else 0
        if start == 0:
            self.prompt = idx[:, 1:]
        for cache in kv_caches or []:
            cache.length += idx.shape[1]
        k = start + idx.shape[1] - 1 - self.prompt.shape[1]  # ids generated so far
        nxt = self.prompt[:, k] if k < self.prompt.shape[1] else torch.full((idx.shape[0],), self.newline)
        logits = torch.zeros(*idx.shape, self.config.vocab_size)
        logits[torch.arange(idx.shape[0]), -1, nxt] = 1.0
        return logits, None


def test_answer_echo_byte_model_stops_at_newline_and_respects_caps():
    model = Echo(260, newline=ord("\n") + 4).train()
    prompts = ["hello", "hi", "ab\ncd", "héllo", "longer prompt"]
    assert answer(model, prompts) == ["hello", "hi", "ab", "héllo", "longer prompt"]  # order kept
    assert answer(model, prompts, max_new=[3, 10, 10, 2, 0]) == ["hel", "hi", "ab", "h\ufffd", ""]
    assert answer(model, prompts, max_new=1) == ["h", "h", "a", "h", "l"]
    assert model.training  # answer() evaluates in eval mode and restores the mode
    assert answer(Echo(260, newline=2), ["xyz"]) == ["xyz"]  # a special id (EOS) ends the answer too


def test_answer_echo_token_model_cuts_a_token_at_its_newline():
    tok = BasicTokenizer()
    tok.train("ab\nab\nab\nab\n", 256 + 2)  # merges a+b, then ab+\n: a token that ends in a newline
    assert tok.vocab[257] == b"ab\n"
    tok.register_special_tokens({BOS_TOKEN: 258})
    model = Echo(259, newline=10)
    assert tok.encode_ordinary("xab\nyy") == [120, 257, 121, 121]
    assert answer(model, ["xab\nyy", "yy"], tok) == ["xab", "yy"]
    assert answer(model, ["xab\nyy", "yy"], tok, max_new=[2, 1]) == ["xa", "y"]


def test_answer_on_real_models_and_bad_input():
    config = CharAwareConfig(vocab_size=260, dim=16, n_layers=1, n_heads=2, max_seq_len=24)
    torch.manual_seed(0)
    model = CharAwareLM(config)
    out = answer(model, ["Reverse: cat\nAnswer:", "x"], max_new=[4, 40])  # 40: stops at max_seq_len
    assert len(out[0].encode()) <= 4 and len(out[1].encode()) <= 22
    with pytest.raises(ValueError, match="reads at most 24"):
        answer(model, ["x" * 30])
    with pytest.raises(ValueError, match="one int per prompt"):
        answer(model, ["a", "b"], max_new=[1])
    with pytest.raises(TypeError, match="not a single str"):
        answer(model, "a prompt")
    token_model = CharAwareLM(config.but(vocab_size=300))
    with pytest.raises(ValueError, match="needs its tokenizer"):
        answer(token_model, ["a"])
    tok = BasicTokenizer()
    with pytest.raises(ValueError, match=re.escape(f"no {BOS_TOKEN!r} special token")):
        answer(token_model, ["a"], tok)


class CannedBLT(BLT):
    """A BLT whose greedy generation is known: ``text`` (bytes), as much of it as is asked for."""

    def __init__(self, text: bytes) -> None:
        super().__init__(BLTConfig(local_dim=8, local_heads=2, latent_dim=16, latent_heads=2, latent_layers=1,
                                   hash_vocab=8, max_seq_len=24))  # fmt: skip
        self.text, self.asked = text, []

    def generate(self, prompt, max_new_bytes, **kw):
        self.asked.append((prompt, max_new_bytes))
        new = self.text[:max_new_bytes]
        return Generation(prompt.encode(), new, [], [], [], {}, [])


def test_answer_blt_cuts_at_newline_caps_and_checks_its_input():
    model = CannedBLT(b"ab\ncd")
    assert answer(model, ["x", "hello", "y"], max_new=[1, 10, 0]) == ["a", "ab", ""]
    assert model.asked == [("x", 1), ("hello", 10)]  # no call for a zero cap
    assert answer(model, ["x" * 20]) == ["ab"] and model.asked[-1] == ("x" * 20, 3)  # up to max_seq_len
    with pytest.raises(ValueError, match="reads at most 24"):
        answer(model, ["x" * 24])
    with pytest.raises(ValueError, match="tokenizer=None"):
        answer(model, ["x"], BasicTokenizer())


@pytest.mark.parametrize("patcher", ["entropy", "static"])
def test_answer_on_a_real_blt_matches_its_greedy_generation(patcher):
    torch.manual_seed(0)
    model = BLT(BLTConfig(local_dim=16, local_heads=2, latent_dim=32, latent_heads=2, latent_layers=1,
                          hash_vocab=64, max_seq_len=48)).train()  # fmt: skip
    if patcher == "static":
        model.patcher = Patcher("static", patch_size=3)
    else:
        entropy_model = TransformerLM(entropy_model_config(dim=16, n_layers=1, n_heads=2, max_seq_len=64))
        model.patcher = Patcher("entropy", threshold=5.0, entropy_model=entropy_model)
    prompts, caps = ["Spell the word: cat\nAnswer:", "Reverse the word: dog\nAnswer:"], [7, 11]
    out = answer(model, prompts, max_new=caps)
    for prompt, cap, text in zip(prompts, caps, out, strict=True):
        greedy = model.generate(prompt, cap).bytes.split(b"\n", 1)[0]
        assert text == greedy.decode("utf-8", errors="replace") and len(greedy) <= cap
    assert model.training  # generate() evaluates in eval mode and restores the mode
    if patcher == "entropy":  # several processes give the same answers, in order
        more = prompts + ["Count the letter a: banana\nAnswer:"]
        assert answer(model, more, max_new=8, workers=2) == answer(model, more, max_new=8)
        with pytest.raises(ValueError, match="workers"):
            answer(model, prompts, workers=0)


# ----------------------------------------------------------------------------- load_models()


def test_load_models_names_the_script_when_files_are_missing(tmp_path, study):
    with pytest.raises(FileNotFoundError, match=r"no char-study model 'bpe' .*scripts/char_study.py"):
        load_models(["bpe"], weights_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown study model 'gpt'"):
        load_models(["gpt"], weights_dir=tmp_path)
    # the weights are there but the tokenizer is not
    (tmp_path / "char_bpe.safetensors").write_bytes(
        (study["tmp"] / "weights" / "char_bpe.safetensors").read_bytes()
    )
    with pytest.raises(FileNotFoundError, match="no char-study tokenizer"):
        load_models(["bpe"], weights_dir=tmp_path)
    assert list(load_models(["bytes"], weights_dir=study["tmp"] / "weights")) == ["bytes"]


def test_merge_from_takes_another_runs_models(study, tmp_path):
    # A second process's models (its own --out-dir, the same run folder) join this run's results.
    script, tmp = study["script"], study["tmp"]
    argv = ["--preset", "ci", "--threads", "1", "--run-dir", str(tmp / "runs"), "--out-dir", str(tmp_path)]
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        script.main([*argv, "--no-ship", "--models", "bpe", "--merge-from", str(tmp / "out")])
    assert "merged bpe, bpe_char, bpe_matched, bytes, blt from" in log.getvalue()
    merged = json.loads((tmp_path / "char_study_ci.json").read_text())
    assert merged["tasks"] == study["results"]["tasks"]
    with pytest.raises(SystemExit, match="holds no results"):
        script.main([*argv, "--no-ship", "--models", "bpe", "--merge-from", str(tmp_path / "nowhere")])
