"""The equal-FLOP study: BPE tokens vs bytes vs BLT patches, at the same training-FLOP budget.

    python scripts/blt_vs_bpe.py --preset laptop     # the recorded study (2 CPU threads, < 1 hour)
    python scripts/blt_vs_bpe.py --preset ci         # a smoke run (seconds)

Five models train on the same bytes (Austen, train split), each for as many steps as the budget buys:

- ``bpe``: a ``TransformerLM`` over lesson 1's tokenizer (GPT-4 split, trained on the same text);
- ``bytes``: the same ``TransformerLM`` over bytes;
- ``blt-static``, ``blt-space``, ``blt-entropy``: one BLT config, three ways to cut patches (entropy
  patches from lesson 3's shipped model, threshold calibrated to the static patch size).

FLOPs come from ``bltlib.flops`` (training = 3 x forward per byte x bytes seen). Every model gets the
same learning-rate sweep and seeds, the same bytes per step, and the same evaluation: held-out bits per
byte in consecutive windows of ``--seq-len`` bytes (``bpe``: windows of about as many bytes in tokens,
its token losses summed over the bytes they cover), along training on the first ``--val-bytes`` of the
val split, and at the end on the whole test split.

Writes ``bltlib/data/results/blt_vs_bpe_<preset>.json`` (runs, curves, final table, the command) and
prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from bltlib import blt as bltmod
from bltlib.bpe import RegexTokenizer
from bltlib.config import seed_everything
from bltlib.data import load_text
from bltlib.data.batching import consecutive_windows
from bltlib.flops import Dims, token_model_flops_per_byte, training_flops, transformer_flops
from bltlib.patching import Patcher, patched_windows
from bltlib.train import TrainConfig, Trainer
from bltlib.transformer import TransformerConfig, TransformerLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_blt import calibrate, corpus_entropies  # noqa: E402  (the shipped model's data recipe)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("bpe", "bytes", "blt-static", "blt-space", "blt-entropy")
PRESETS = {  # budget in BLT-entropy steps; the others get the same FLOPs
    "ci": dict(
        blt_steps=4, lrs=(2e-3,), seeds=(0,), batch_size=2, seq_len=64, val_bytes=2_000, test_bytes=4_000
    ),
    "laptop": dict(blt_steps=120, lrs=(1e-3, 3e-3), seeds=(0,), batch_size=16, seq_len=512, val_bytes=32_000),
    "gpu": dict(
        blt_steps=4000, lrs=(1e-3, 2e-3, 4e-3), seeds=(0, 1), batch_size=32, seq_len=512, val_bytes=200_000
    ),
}
EVAL_FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="laptop")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--dim", type=int, default=128, help="width of the token/byte transformers")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--patch-size", type=int, default=4, help="static patch size; entropy is calibrated to it")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache-dir", type=Path, default=ROOT / "runs" / "cache")
    p.add_argument("--out", type=Path, default=None)
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- data


def token_windows(toks: torch.Tensor, bos: int, batch_size: int, ctx: int, g: torch.Generator) -> tuple:
    """Random windows of a token stream: x = BOS + ctx - 1 tokens, y = the next ctx tokens."""
    starts = torch.randint(0, len(toks) - ctx, (batch_size,), generator=g)
    y = torch.stack([toks[s : s + ctx] for s in starts])
    return torch.cat([torch.full((batch_size, 1), bos), y[:, :-1]], 1), y


@torch.no_grad()
def lm_bits_per_byte(
    model: TransformerLM, toks: torch.Tensor, bos: int, ctx: int, token_bytes: torch.Tensor
) -> float:
    """Held-out bits per byte of a token (or byte) model in consecutive windows of ``ctx`` targets, each
    starting from BOS: summed token losses / ln 2 / the bytes the target tokens cover."""
    total = 0.0
    for starts, t in consecutive_windows(len(toks), ctx, batch_size=8):
        y = torch.stack([toks[s : s + t] for s in starts])
        x = torch.cat([torch.full((len(y), 1), bos), y[:, :-1]], 1)
        logits, _ = model(x)
        total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="sum").item()
    return total / math.log(2) / token_bytes[toks].sum().item()


# ----------------------------------------------------------------------------- one run


def build(name: str, args: argparse.Namespace, p: dict, data: dict, seed: int) -> tuple:
    """(model, get_batch(step, g), evaluate(split) -> bpb, forward FLOPs per byte, description)."""
    torch.manual_seed(seed)
    t = p["seq_len"]
    if name in ("bpe", "bytes"):
        bpe = name == "bpe"
        vocab = data["vocab"] + 1 if bpe else 260
        bos = data["vocab"] if bpe else 1
        ctx = max(8, round(t / data["bytes_per_token"])) if bpe else t
        cfg = TransformerConfig(
            vocab_size=vocab, dim=args.dim, n_layers=args.layers, n_heads=4, max_seq_len=ctx
        )
        model = TransformerLM(cfg)
        stream = data["train_toks"] if bpe else data["train_ids"]
        held = {s: data[f"{s}_toks"] if bpe else data[f"{s}_ids"][1:] for s in ("val", "test")}
        nbytes = data["token_bytes"] if bpe else torch.ones(260, dtype=torch.long)
        dims = Dims(args.dim, args.layers, cfg.ffn_hidden, ctx)
        per_token = transformer_flops(dims, vocab)
        fpb = token_model_flops_per_byte(dims, vocab, data["bytes_per_token"]) if bpe else per_token

        def get_batch(step: int, g: torch.Generator) -> tuple:
            return token_windows(stream, bos, p["batch_size"], ctx, g)

        def evaluate(split: str) -> float:
            return lm_bits_per_byte(model.eval(), held[split], bos, ctx, nbytes)

        return model, get_batch, evaluate, fpb, f"TransformerLM dim {args.dim} x {args.layers}, context {ctx}"
    scheme = name.removeprefix("blt-")
    patcher = {
        "static": Patcher("static", patch_size=args.patch_size),
        "space": Patcher("space"),
        "entropy": Patcher("entropy", threshold=data["threshold"]),
    }[scheme]
    config = bltmod.BLTConfig(
        local_dim=64,
        local_heads=4,
        local_window=128,
        latent_dim=args.dim,
        latent_layers=3,
        hash_vocab=512,
        max_seq_len=t,
    )
    model = bltmod.BLT(config)
    e = {s: data[f"{s}_e"] if scheme == "entropy" else None for s in ("train", "val", "test")}
    g0 = torch.Generator().manual_seed(99)
    _, lengths, _ = patched_windows(data["train_ids"], patcher, 64, t, g0, entropies=e["train"])
    mean_patch = lengths.sum().item() / (lengths > 0).sum().item()
    fpb = config.flops_per_byte(mean_patch, t)["total"]

    def get_batch(step: int, g: torch.Generator) -> tuple:
        return patched_windows(data["train_ids"], patcher, p["batch_size"], t, g, entropies=e["train"])

    def evaluate(split: str) -> float:
        return bltmod.bits_per_byte(model.eval(), data[f"{split}_ids"], patcher, e[split], seq_len=t)

    return model, get_batch, evaluate, fpb, f"BLT ({scheme}), mean patch {mean_patch:.2f} bytes"


def run(
    name: str, lr: float, seed: int, args: argparse.Namespace, p: dict, data: dict, budget: float
) -> dict:
    model, get_batch, evaluate, fpb, desc = build(name, args, p, data, seed)
    bytes_per_step = p["batch_size"] * p["seq_len"]
    steps = max(1, round(budget / training_flops(fpb * bytes_per_step)))
    cfg = TrainConfig(
        steps=steps,
        lr=lr,
        warmup=max(1, steps // 10),
        batch_size=p["batch_size"],
        eval_every=0,
        progress=False,
    )

    def batch(split: str, step: int) -> tuple:
        g = torch.Generator().manual_seed(seed * 1_000_003 + 2 * step + (split == "val"))
        return get_batch(step, g)

    trainer = Trainer(model, cfg, batch)
    curve, start = [], time.perf_counter()
    for frac in EVAL_FRACTIONS:
        trainer.train(until=max(1, round(steps * frac)))
        done = trainer.step
        curve.append(
            {
                "step": done,
                "train_flops": training_flops(fpb * bytes_per_step * done),
                "val_bpb": evaluate("val"),
            }
        )
        model.train()
    seconds = time.perf_counter() - start
    result = {
        "model": name,
        "description": desc,
        "lr": lr,
        "seed": seed,
        "steps": steps,
        "bytes_seen": steps * bytes_per_step,
        "inference_flops_per_byte": fpb,
        "parameters": sum(q.numel() for q in model.parameters()),
        "parameters_non_embedding": non_embedding_params(model),
        "curve": curve,
        "test_bpb": evaluate("test"),
        "train_seconds": round(seconds, 1),
    }
    print(
        f"{name:12s} lr {lr:g} seed {seed}: {steps} steps, test {result['test_bpb']:.3f} bpb, {seconds:.0f} s"
    )
    return result


def non_embedding_params(model: torch.nn.Module) -> int:
    """Parameters outside lookup tables (token embeddings, hash n-gram tables): the ones that cost FLOPs."""
    tables = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    return sum(q.numel() for q in model.parameters()) - tables


# ----------------------------------------------------------------------------- the study


def load_data(args: argparse.Namespace, p: dict) -> dict:
    data = {}
    for split in ("train", "val", "test"):
        ids, e = corpus_entropies(split, args.cache_dir)
        limit = {"val": p["val_bytes"], "test": p.get("test_bytes")}.get(split)
        if limit:
            ids, e = ids[: limit + 1], e[: limit + 1]
        data[f"{split}_ids"], data[f"{split}_e"] = ids, e
    train_text = load_text("austen", split="train")
    tok = RegexTokenizer()
    tok.train(train_text, args.vocab_size)
    data["vocab"] = len(tok.vocab)
    data["token_bytes"] = torch.tensor([len(tok.vocab[i]) for i in range(len(tok.vocab))])
    for split in ("train", "val", "test"):
        text = bytes((data[f"{split}_ids"][1:] - 4).tolist()).decode("utf-8", errors="ignore")
        data[f"{split}_toks"] = torch.tensor(tok.encode_ordinary(text))
    data["bytes_per_token"] = data["token_bytes"][data["train_toks"]].float().mean().item()
    data["threshold"], data["entropy_mean_patch"] = calibrate(
        data["train_ids"], data["train_e"], args.patch_size, p["seq_len"], seed=0
    )
    return data


def summarise(runs: list[dict]) -> list[dict]:
    """Per model: the learning rate with the best mean final val bpb, and its mean test bpb over seeds."""
    rows = []
    for name in dict.fromkeys(r["model"] for r in runs):
        mine = [r for r in runs if r["model"] == name]
        by_lr = {}
        for r in mine:
            by_lr.setdefault(r["lr"], []).append(r)
        lr, best = min(
            by_lr.items(), key=lambda kv: sum(r["curve"][-1]["val_bpb"] for r in kv[1]) / len(kv[1])
        )
        r0 = best[0]
        rows.append(
            {
                "model": name,
                "best_lr": lr,
                "test_bpb": sum(r["test_bpb"] for r in best) / len(best),
                "seeds": len(best),
                "train_flops": r0["curve"][-1]["train_flops"],
                "bytes_seen": r0["bytes_seen"],
                "inference_flops_per_byte": r0["inference_flops_per_byte"],
                "parameters": r0["parameters"],
                "parameters_non_embedding": r0["parameters_non_embedding"],
                "description": r0["description"],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(0)
    p = PRESETS[args.preset]
    start = time.perf_counter()
    data = load_data(args, p)
    print(
        f"BPE: {data['vocab']} tokens, {data['bytes_per_token']:.2f} bytes/token; entropy threshold "
        f"{data['threshold']:.3f} -> {data['entropy_mean_patch']:.2f} bytes/patch"
    )
    # the budget: what blt-entropy spends in blt_steps steps
    _, _, _, fpb, _ = build("blt-entropy", args, p, data, 0)
    budget = training_flops(fpb * p["batch_size"] * p["seq_len"] * p["blt_steps"])
    print(f"budget {budget:.3g} training FLOPs per run")
    out = args.out or ROOT / "bltlib" / "data" / "results" / f"blt_vs_bpe_{args.preset}.json"
    partial = out.with_suffix(".partial.json")  # finished runs, so an interrupted study can go on
    done = json.loads(partial.read_text()) if partial.is_file() else []
    done = [r for r in done if r.get("budget") == budget]
    runs = []
    for m, lr, s in ((m, lr, s) for m in args.models for lr in p["lrs"] for s in p["seeds"]):
        old = [r for r in done if (r["model"], r["lr"], r["seed"]) == (m, lr, s)]
        runs.append(old[0] if old else {**run(m, lr, s, args, p, data, budget), "budget": budget})
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(runs, indent=1))
    table = summarise(runs)
    result = {
        "command": "python scripts/blt_vs_bpe.py " + shlex.join(sys.argv[1:] if argv is None else argv),
        "preset": args.preset,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()},
        "budget_train_flops": budget,
        "bpe_vocab": data["vocab"],
        "bytes_per_token": data["bytes_per_token"],
        "entropy_threshold": data["threshold"],
        "entropy_mean_patch": data["entropy_mean_patch"],
        "threads": args.threads,
        "torch": torch.__version__,
        "total_seconds": round(time.perf_counter() - start),
        "table": table,
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    partial.unlink()
    print("\n| model | best lr | test bits/byte | train FLOPs | bytes seen | inference FLOPs/byte ", end="")
    print("| params (non-emb.) |")
    print("|---|---|---|---|---|---|---|")
    for r in table:
        print(
            f"| {r['model']} | {r['best_lr']:g} | {r['test_bpb']:.3f} | {r['train_flops']:.3g} "
            f"| {r['bytes_seen']:,} | {r['inference_flops_per_byte']:,.0f} "
            f"| {r['parameters']:,} ({r['parameters_non_embedding']:,}) |"
        )
    print(f"wrote {out} in {result['total_seconds']} s")


if __name__ == "__main__":
    main()
