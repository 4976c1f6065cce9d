"""Train the small byte-level entropy model shipped in ``bltlib/weights/``, and write its model card.

    python scripts/train_entropy_model.py            # the shipped model (CPU, 2 threads)
    python scripts/train_entropy_model.py --steps 50 --out /tmp/em.safetensors   # a quick smoke run

Data (all vendored, so the run is offline and reproducible): Jane Austen's novels (train split), the
first ``--code-bytes`` of the CPython standard library slice (train split) and the UDHR in every
vendored language, each a document framed by BOS ... EOS. Validation during training: Austen's val split.
Reported at the end: held-out bits per byte on Austen's test split (English prose, never trained on),
and how long entropies take for a paragraph and for 1 MB of text with the threads used.

Writes ``<out>`` (safetensors; config and card in its metadata) and ``<out>`` with suffix ``.md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from bltlib.config import seed_everything
from bltlib.data import load_text, load_udhr_all, mixed_text
from bltlib.entropy import (
    DEFAULT_WEIGHTS,
    bits_per_byte,
    entropies,
    entropy_model_config,
    save_entropy_model,
    train_entropy_model,
)
from bltlib.train import TrainConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--code-bytes", type=int, default=1_000_000, help="how much of the code corpus to use")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--ckpt-dir", default=None, help="save a resumable trainer checkpoint here every 250 steps"
    )
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --ckpt-dir")
    p.add_argument("--speed-bytes", type=int, default=1_000_000, help="text size for the speed measurement")
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    return p.parse_args(argv)


def training_documents(code_bytes: int) -> list[str]:
    code = load_text("code", split="train")
    code = code[: code.rfind("\n", 0, code_bytes) + 1]  # whole lines (code is ASCII-heavy, chars ~ bytes)
    return [load_text("austen", split="train"), code, *load_udhr_all().values()]


def timed(fn, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    cfg = entropy_model_config(
        dim=args.dim,
        n_layers=args.layers,
        n_heads=args.heads,
        max_seq_len=args.seq_len,
        sliding_window=args.window,
    )
    train_cfg = TrainConfig(
        steps=args.steps,
        lr=args.lr,
        warmup=args.warmup,
        min_lr_ratio=0.1,
        weight_decay=0.1,
        grad_clip=1.0,
        batch_size=args.batch_size,
        eval_every=max(1, args.steps // 10),
        eval_batches=4,
        ckpt_dir=args.ckpt_dir,
        ckpt_every=250 if args.ckpt_dir else 0,
    )
    if args.resume and not args.ckpt_dir:
        raise SystemExit("--resume needs --ckpt-dir, the folder of the checkpoint to continue from")
    docs = training_documents(args.code_bytes)
    n_train = sum(len(d.encode()) for d in docs)
    print(f"training on {n_train / 1e6:.2f} MB, {args.steps} steps of {args.batch_size}x{args.seq_len} bytes")
    resume_from = args.ckpt_dir if args.resume else None
    val_text = load_text("austen", split="val")
    (model, history), train_s = timed(
        train_entropy_model, docs, cfg, train_cfg, val_text=val_text, seed=args.seed, resume_from=resume_from
    )

    held_out = {
        "austen_test": load_text("austen", split="test"),
        "code_test_100KB": load_text("code", split="test")[:100_000],
    }
    bpb = {name: round(bits_per_byte(model, text), 4) for name, text in held_out.items()}
    paragraph = held_out["austen_test"][:600]
    entropies(model, paragraph)  # warm-up
    _, paragraph_s = timed(entropies, model, paragraph)
    _, speed_s = timed(entropies, model, mixed_text(args.speed_bytes, split="train"))  # speed only
    print(f"bits per byte {bpb}; paragraph {paragraph_s:.3f} s; {args.speed_bytes} bytes {speed_s:.1f} s")

    # a resumed run ends with the same weights as a straight one, so the card gives the straight command
    argv = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--resume"]
    command = "python scripts/train_entropy_model.py " + shlex.join(argv)
    card = {
        "data": "Austen train split + CPython stdlib train split (first "
        f"{args.code_bytes} chars) + UDHR (19 languages); {n_train} bytes",
        "command": command.strip(),
        "config": asdict(cfg),
        "train": {k: getattr(train_cfg, k) for k in ("steps", "lr", "warmup", "min_lr_ratio", "batch_size")},
        "train_seconds": None if args.resume else round(train_s),
        "final_val_loss_nats": round(history[-1]["val_loss"], 4),
        "held_out_bits_per_byte": bpb,
        "parameters": model.num_params(),
        "entropy_seconds": {
            "paragraph_600B": round(paragraph_s, 3),
            f"{args.speed_bytes}B": round(speed_s, 1),
        },
        "threads": args.threads,
        "torch": torch.__version__,
    }
    out = save_entropy_model(model, args.out, card)
    out.with_suffix(".md").write_text(model_card_markdown(card, out))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {out.with_suffix('.md')}")


def model_card_markdown(card: dict, path: Path) -> str:
    cfg, train = card["config"], card["train"]
    (_, paragraph_s), (big, big_s) = card["entropy_seconds"].items()
    seconds = "time not recorded (finished from a checkpoint)"
    if card["train_seconds"] is not None:
        seconds = f"{card['train_seconds']} s"
    return f"""# Byte-level entropy model (`{path.name}`)

A {card["parameters"] / 1e6:.2f}M-parameter next-byte transformer (`bltlib.transformer.TransformerLM`):
dim {cfg["dim"]}, {cfg["n_layers"]} layers, {cfg["n_heads"]} heads, 260 byte ids, trained on windows of
{cfg["max_seq_len"]} bytes with a sliding attention window of {cfg["sliding_window"]}. It plays the role
of BLT's 100M-parameter entropy model at course scale: `bltlib.entropy.entropies` turns its predictions
into per-byte entropies for entropy patching. Load it with `bltlib.entropy.load_entropy_model()`.

- **Data**: {card["data"]}.
- **Command**: `{card["command"]}`
- **Training**: {train["steps"]} steps, batch {train["batch_size"]}, AdamW lr {train["lr"]}
  (warmup {train["warmup"]}, cosine to {train["min_lr_ratio"]}x), {seconds} on
  CPU with {card["threads"]} thread(s) (torch {card["torch"]}). Final validation loss (Austen val split):
  {card["final_val_loss_nats"]} nats/byte.
- **Held-out bits per byte**: English prose (Austen test split, never trained on):
  **{card["held_out_bits_per_byte"]["austen_test"]}**; Python code (first 100 KB of the code test split):
  {card["held_out_bits_per_byte"]["code_test_100KB"]}. (Uniform over 260 ids: 8.02.)
- **Speed** of `entropies` on the training machine ({card["threads"]} thread(s), 2 cores shared with
  other jobs): a 600-byte paragraph in {paragraph_s} s; {big} of mixed text in {big_s} s.
- **Size**: {path.stat().st_size / 1e6:.2f} MB (safetensors, float32; config and this card in its metadata).
- **Limits**: tiny and trained for minutes, so its entropies are far noisier than the reference model's;
  thresholds calibrated on it (`bltlib.patching.calibrate_threshold`) do not transfer to BLT's 1.335.
"""


if __name__ == "__main__":
    main()
