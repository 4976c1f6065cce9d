"""Lesson 5's study script end to end at the ci preset (results, resume, shipping), and the decoding and
loading it ships with: ``bltlib.charaware.answer`` and ``load_models``."""

import contextlib
import importlib.util
import io
import json
import math
import re
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from bltlib.bpe import BasicTokenizer
from bltlib.charaware import (
    BOS_TOKEN,
    STUDY_MODELS,
    TOKENIZER_FILE,
    CharAwareConfig,
    CharAwareLM,
    answer,
    charaware_card,
    load_models,
    study_weights,
)
from bltlib.tasks import CHAR_TASKS, NOISES
from bltlib.transformer import TransformerConfig, TransformerLM

ROOT = Path(__file__).resolve().parents[1]
WORD_SETS = ("frequent", "rare", "random")


def load_script():
    spec = importlib.util.spec_from_file_location("char_study", ROOT / "scripts" / "char_study.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def run(script, tmp: Path, *extra: str) -> str:
    """One invocation at the ci preset, writing only under ``tmp``; returns its log."""
    argv = ["--preset", "ci", "--threads", "1", "--run-dir", str(tmp / "runs"), "--out-dir", str(tmp / "out")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        script.main([*argv, "--weights-dir", str(tmp / "weights"), *extra])
    return out.getvalue()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The ci study in three invocations: pretrain + fine-tune, then everything, then everything again."""
    script = load_script()
    tmp = tmp_path_factory.mktemp("char_study")
    first = run(script, tmp, "--phases", "pretrain", "finetune")
    partial = (tmp / "out" / "char_study_ci.partial.json").is_file()
    final_after_first = (tmp / "out" / "char_study_ci.json").is_file()
    second = run(script, tmp)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp / "weights").iterdir()}
    results = (tmp / "out" / "char_study_ci.json").read_text()
    third = run(script, tmp)
    return {
        "script": script,
        "tmp": tmp,
        "logs": (first, second, third),
        "partial_after_first": partial,
        "final_after_first": final_after_first,
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
        assert r["runs"][name]["model"]["flops_per_byte"] > 0
    for when in ("pretrained", "finetuned"):
        delta = r["noise"][when]["delta_bpb"]
        assert set(delta) == set(NOISES)
        assert all(
            set(row) == set(STUDY_MODELS) and all(map(math.isfinite, row.values())) for row in delta.values()
        )
    # one body: the token models differ only in the extra path; the byte rows hold bytes_per_token x more
    params = {n: r["runs"][n]["model"]["parameters"] for n in STUDY_MODELS}
    assert len({p["body"] for p in params.values()}) == 1
    assert (
        params["bpe"]["extra"] == 0 and params["bpe_char"]["extra"] > 0 and params["bpe_matched"]["extra"] > 0
    )
    data = r["data"]
    assert data["byte_seq_len"] == round(data["token_seq_len"] * data["bytes_per_token"])
    assert r["words"]["frequent"] > 0 and r["words"]["rare"] > 0 and r["words"]["random"] > 0
    items = {n: r["runs"][n]["finetune"]["curve_points"] for n in STUDY_MODELS}
    assert all(v == items["bpe"] for v in items.values())  # the same fine-tuning items for every model


def test_partial_results_then_resume_skips_finished_phases(study):
    first, second, third = study["logs"]
    assert study["partial_after_first"] and not study["final_after_first"]
    assert "pretrain step" in first and "eval" not in first.replace("val ", "")
    assert "quick look: spell/frequent" in first  # a glance at the learning curve while fine-tuning
    for name in STUDY_MODELS:
        assert f"[{name}] pretrain: done" in second and f"[{name}] finetune: done, skipped" in second
        assert f"[{name}] eval: pretrained" in second
        for phase in ("pretrain: done", "finetune: done, skipped", "eval: done, skipped"):
            assert f"[{name}] {phase}" in third
    assert "pretrain step" not in second and "is up to date" in third
    assert "pretrain step" not in third and "finetune step" not in third
    out = study["tmp"] / "out"
    assert not (out / "char_study_ci.partial.json").exists()
    assert (out / "char_study_ci.json").read_text() == study["results_text"]
    assert {p: p.stat().st_mtime_ns for p in (study["tmp"] / "weights").iterdir()} == study["stamps"]
    assert len(study["results"]["commands"]) == 2  # the two invocations that changed something


def test_shipped_models_load_answer_within_caps_and_carry_cards(study):
    weights = study["tmp"] / "weights"
    models = load_models(weights_dir=weights)
    assert list(models) == list(STUDY_MODELS) and models["bytes"].tokenizer is None
    prompts = ["Spell the word: house\nAnswer:", "Reverse the word: cat\nAnswer:"]
    for name, m in models.items():
        path = study_weights(name, weights)
        assert path.stat().st_size < 5_000_000
        with safe_open(str(path), "pt") as f:
            assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
        assert next(m.model.parameters()).dtype == torch.float32
        card = charaware_card(path)
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
