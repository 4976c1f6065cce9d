"""Lesson 2's two long runs at the laptop preset, recorded so that the lesson loads them instead of
spending the better part of an hour of a laptop's CPU on them:

- the LongRoPE searches for factors 4 and 8 (population 24, 12 generations, fitness = perplexity at the
  target length on 4 windows of Austen's validation split) -> ``bltlib/weights/rope_lesson_runs.json``;
- the fine-tunes at 4L = 1024 bytes with no scaling, PI x4 and YaRN x4 (80 steps of 4 rows, a quarter
  passkey examples and a quarter passkey episodes) ->
  ``bltlib/weights/rope_byte_lm_x4_{none,pi,yarn}.safetensors`` (float16: half the size; the lesson
  computes in float32).

The code is the lesson's own (``bltlib.longctx``, ``bltlib.rope.longrope_search``) with the laptop sizes,
from the shipped ``rope_byte_lm``:

    python scripts/rope_lesson_runs.py            # about 43 minutes on 2 CPU cores; writes the files above
    python scripts/rope_lesson_runs.py --check    # recompute and compare with the recorded files

At the ``ci`` and ``gpu`` presets the lesson runs both live (tiny and large), with the same code.
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
import time

import torch

from bltlib import longctx, rope
from bltlib.config import seed_everything
from bltlib.data import encode_bytes, load_text
from bltlib.train import TrainConfig

# The laptop preset's sizes for these runs (lesson 2 prints them from the recorded file).
SEARCH = {"windows": 4, "population": 24, "generations": 12, "seed": 0}
FACTORS = (4.0, 8.0)
FINETUNE = {"steps": 80, "batch_size": 4, "lr": 1e-3, "min_lr_ratio": 0.1, "length_factor": 4, "seed": 1}


def searches(model, val_ids: torch.Tensor, length: int, head_dim: int, base: float) -> dict[str, dict]:
    windows = longctx.held_out_windows(val_ids, SEARCH["windows"], 8 * length)
    out = {}
    for factor in FACTORS:
        start = time.perf_counter()
        fitness = longctx.longrope_fitness(model, windows, int(factor * length), factor, length)
        found = rope.longrope_search(
            fitness,
            head_dim,
            factor,
            base,
            original_max_position_embeddings=length,
            population=SEARCH["population"],
            generations=SEARCH["generations"],
            seed=SEARCH["seed"],
            desc=f"LongRoPE x{factor:g}",
        )
        out[f"{factor:g}"] = {
            "factors": [round(v, 6) for v in found.factors.tolist()],
            "n_hat": found.n_hat,
            "fitness": round(found.fitness, 6),
            "history": [{k: h[k] for k in ("generation", "best", "mean")} for h in found.history],
            "seconds": round(time.perf_counter() - start, 1),
        }
    return out


def finetunes(model, train_ids: torch.Tensor, val_ids: torch.Tensor, length: int) -> dict[str, dict]:
    tune_len = FINETUNE["length_factor"] * length
    steps, batch = FINETUNE["steps"], FINETUNE["batch_size"]
    cfg = TrainConfig(
        steps=steps,
        lr=FINETUNE["lr"],
        warmup=max(1, steps // 10),
        min_lr_ratio=FINETUNE["min_lr_ratio"],
        eval_every=0,
        eval_batches=1,
        batch_size=batch,
    )
    rows = max(1, batch // 4)
    out = {}
    for method in longctx.TUNED_METHODS:
        seed_everything(0)
        start = time.perf_counter()
        scaling = longctx.method_scaling(method, 4.0, original_max_position_embeddings=length)
        get_batch = longctx.passkey_text_batches(
            train_ids, val_ids, tune_len, batch, passkey_rows=rows, episode_rows=rows, seed=FINETUNE["seed"]
        )
        tuned, history = longctx.finetune(model, scaling, tune_len, get_batch, cfg)
        out[method] = {
            "model": tuned,
            "loss": [round(history[0]["loss"], 4), round(history[-1]["loss"], 4)],
            "val_loss": round(history[-1]["val_loss"], 4),
            "seconds": round(time.perf_counter() - start, 1),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="recompute and compare, write nothing")
    args = parser.parse_args(argv)
    command = "python scripts/rope_lesson_runs.py"
    model = longctx.load_lm()
    length, head_dim, base = model.config.max_seq_len, model.config.head_dim, model.config.rope_base
    train_ids = encode_bytes(load_text("austen", split="train"), bos=False)
    val_ids = encode_bytes(load_text("austen", split="val"), bos=False)

    found = searches(model, val_ids, length, head_dim, base)
    tuned = finetunes(model, train_ids, val_ids, length)
    record = {
        "command": command,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "search": {**SEARCH, "split": "val", "window_bytes": 8 * length},
        "finetune": {
            **FINETUNE,
            **{m: {k: v for k, v in t.items() if k != "model"} for m, t in tuned.items()},
        },
        "longrope": found,
    }
    if args.check:
        recorded = longctx.recorded_runs()
        for factor, run in found.items():
            same = run["factors"] == recorded["longrope"][factor]["factors"]
            print(f"LongRoPE x{factor}: same factors as recorded: {same}")
        for method, run in tuned.items():
            shipped = longctx.load_lm(longctx.tuned_weights(method))
            pairs = zip(shipped.state_dict().values(), run["model"].state_dict().values(), strict=True)
            diff = max((a.float() - b.half().float()).abs().max().item() for a, b in pairs)
            print(f"fine-tune {method} x4: largest weight difference from the shipped one {diff:.2e}")
        return
    longctx.LESSON_RUNS.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {longctx.LESSON_RUNS}")
    for method, run in tuned.items():
        card = {
            "base_model": "rope_byte_lm",
            "command": command,
            "method": f"{method} x4",
            "finetune": {**FINETUNE, "loss": run["loss"], "val_loss": run["val_loss"]},
            "seconds": run["seconds"],
            "dtype": "float16 (the lesson loads it into float32)",
        }
        path = longctx.save_lm(copy.deepcopy(run["model"]).half(), longctx.tuned_weights(method), card)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(" ".join(shlex.quote(a) for a in sys.argv), "done")


if __name__ == "__main__":
    main()
