"""Train the small byte-level RoPE model shipped in ``bltlib/weights/`` for lesson 2, and write its card.

The shipped model is three stages (CPU, 1 thread, about 30 minutes in all):

    python scripts/train_rope_model.py --out stage1.safetensors
    python scripts/train_rope_model.py --init stage1.safetensors --steps 400 --passkey-rows 8 --lr 2e-3 \
        --warmup 20 --out stage2.safetensors
    python scripts/train_rope_model.py --init stage2.safetensors --steps 400 --passkey-rows 5 --drill-rows 5 \
        --lr 2e-3 --warmup 20

Stages 2 and 3 tried to teach passkey retrieval (more passkey rows, then dense key drills); they
improved perplexity a little but the model still does not copy the key (see the card). A smoke run:
``python scripts/train_rope_model.py --steps 2 --dim 32 --layers 1 --out /tmp/rope.safetensors``.

Data (vendored, so the run is offline and reproducible): random windows of ``--seq-len`` bytes from
Jane Austen's novels (train split); in every batch, ``--passkey-rows`` rows are passkey-retrieval
examples (``bltlib.tasks``) of the same length, so the model learns the task format at its training
length and lesson 2 can ask whether retrieval survives at 2-8x that length. Validation: Austen's val
split. Reported at the end: held-out perplexity and bits per byte on Austen's test split, and passkey
accuracy at the training length.

Writes ``<out>`` (safetensors; config and card in its metadata) and ``<out>`` with suffix ``.md``.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from bltlib.config import seed_everything
from bltlib.data import encode_bytes, load_text, random_windows
from bltlib.longctx import (
    DEFAULT_WEIGHTS,
    held_out_windows,
    load_lm,
    model_card,
    perplexity,
    save_lm,
    token_losses,
)
from bltlib.tasks import KEY_TEMPLATE, passkey_accuracy, passkey_answers, passkey_batch, passkey_examples
from bltlib.train import TrainConfig, Trainer
from bltlib.transformer import TransformerConfig, TransformerLM


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--passkey-rows", type=int, default=2, help="rows of each batch that are passkey examples")
    p.add_argument(
        "--drill-rows",
        type=int,
        default=0,
        help="rows of back-to-back key sentences (dense copying practice)",
    )
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-windows", type=int, default=64)
    p.add_argument("--init", type=Path, default=None, help="start from these weights (a second stage)")
    p.add_argument(
        "--ckpt-dir", default=None, help="save a resumable trainer checkpoint here every 200 steps"
    )
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    return p.parse_args(argv)


def key_drill_batch(
    batch_size: int, length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of back-to-back key sentences, each key copied ~20 bytes later: dense practice at copying.

    A passkey row has one key to copy in 256 bytes of filler, too sparse a signal for a small model to
    discover copying (an induction head) in a few hundred steps; these rows have a dozen.
    """
    rows = []
    for _ in range(batch_size):
        keys = torch.randint(10**5, (length // 40 + 2,), generator=generator).tolist()
        text = "".join(KEY_TEMPLATE.format(key=f"{k:05d}") for k in keys)
        rows.append(encode_bytes(text)[: length + 1])
    ids = torch.stack(rows)
    return ids[:, :-1], ids[:, 1:]


def make_get_batch(train_ids: torch.Tensor, val_ids: torch.Tensor, args: argparse.Namespace):
    """Batches as a function of (split, step), as the Trainer's resume needs: Austen plus passkey rows."""

    def get_batch(split: str, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        if split == "val":
            return random_windows(val_ids, args.batch_size, args.seq_len, torch.Generator().manual_seed(step))
        generator = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
        n_text = args.batch_size - args.passkey_rows - args.drill_rows
        parts = [random_windows(train_ids, n_text, args.seq_len, generator)]
        if args.passkey_rows:
            parts.append(passkey_batch(args.passkey_rows, args.seq_len, generator))
        if args.drill_rows:
            parts.append(key_drill_batch(args.drill_rows, args.seq_len, generator))
        return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])

    return get_batch


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    cfg = TransformerConfig(
        vocab_size=260, dim=args.dim, n_layers=args.layers, n_heads=args.heads, max_seq_len=args.seq_len
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
        ckpt_every=200 if args.ckpt_dir else 0,
    )
    train_ids = encode_bytes(load_text("austen", split="train"), bos=False)
    val_ids = encode_bytes(load_text("austen", split="val"), bos=False)
    previous = None
    if args.init is None:
        model = TransformerLM(cfg)
    else:
        # A later stage continues a saved model (its shape wins over --dim etc.); its card is kept inside.
        previous = model_card(args.init)
        model = load_lm(args.init).train()
        cfg = model.config
    print(f"{model.num_params():,} parameters; {args.steps} steps of {args.batch_size}x{args.seq_len} bytes")
    start = time.perf_counter()
    history = Trainer(model, train_cfg, make_get_batch(train_ids, val_ids, args)).train()
    train_s = time.perf_counter() - start

    test_ids = encode_bytes(load_text("austen", split="test"), bos=False)
    windows = held_out_windows(test_ids, args.eval_windows, args.seq_len)
    ppl = perplexity(token_losses(model, windows, args.seq_len, None))
    examples = passkey_examples(args.seq_len, [0.0, 0.25, 0.5, 0.75, 1.0], trials=10, seed=12345)
    accuracy = passkey_accuracy(passkey_answers(model, examples), examples)
    print(
        f"test ppl {ppl:.3f} ({math.log2(ppl):.3f} bits/byte), passkey at L {accuracy:.2f}, {train_s:.0f} s"
    )

    command = "python scripts/train_rope_model.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    card = {
        "data": f"Austen train split ({len(train_ids)} bytes), random {args.seq_len}-byte windows; "
        f"{args.passkey_rows} of {args.batch_size} rows per batch are passkey examples (bltlib.tasks), "
        f"{args.drill_rows} are key-sentence drills",
        "command": command.strip(),
        "config": asdict(cfg),
        "train": {k: v for k, v in asdict(train_cfg).items() if k not in ("ckpt_dir", "progress")},
        "parameters": model.num_params(),
        "train_seconds": round(train_s),
        "final_val_loss": round(history[-1]["val_loss"], 4),
        f"test_ppl_at_{args.seq_len}": round(ppl, 4),
        "test_bits_per_byte": round(math.log2(ppl), 4),
        f"passkey_accuracy_at_{args.seq_len}": accuracy,
    }
    if previous:
        card["previous_stage"] = previous
    save_lm(model, args.out, card)
    args.out.with_suffix(".md").write_text(render_card(card))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


def _previous(card: dict) -> str:
    """The earlier stage of a multi-stage run, as card lines."""
    prev = card.get("previous_stage")
    if not prev:
        return ""
    return (
        f"\n- Started from an earlier stage: `{prev['command']}` ({prev['train']['steps']} steps, "
        f"{prev['data']}; {prev['train_seconds']} s)" + _previous(prev)
    )


def render_card(card: dict) -> str:
    """The model card (markdown) from the card stored in the weights' metadata."""
    c, t = card["config"], card["train"]
    n = c["max_seq_len"]
    return f"""# rope_byte_lm: a tiny byte-level RoPE language model (lesson 2)

A decoder-only transformer over UTF-8 bytes (260 ids: 4 special + 256 bytes, as in BLT), with rotary
position embeddings, trained at a context of **{n} bytes** only. Lesson 2
(`notebooks/02_rope_long_context.ipynb`) stretches it to 2-8x that length with PI, NTK, dynamic NTK,
YaRN and LongRoPE.

- Architecture: `bltlib.transformer.TransformerLM`, dim {c["dim"]}, {c["n_layers"]} layers,
  {c["n_heads"]} heads (head_dim {c["dim"] // c["n_heads"]}), SwiGLU, RMSNorm, tied embeddings,
  RoPE base {c["rope_base"]}; {card["parameters"]:,} parameters.
- Data: {card["data"]}.
- Training: {t["steps"]} steps of AdamW (lr {t["lr"]}, warmup {t["warmup"]}, cosine to
  {t["min_lr_ratio"]:.0%}), batch {t["batch_size"]} x {n}, 1 CPU thread, {card["train_seconds"]} s.
- Command: `{card["command"]}`{_previous(card)}
- Load: `bltlib.longctx.load_lm()` (config and this card are in the safetensors metadata).

## Metrics (Austen test split, never trained on)
| metric | value |
|---|---|
| perplexity per byte at {n} | {card[f"test_ppl_at_{n}"]} |
| bits per byte | {card["test_bits_per_byte"]} |
| final val loss (nats) | {card["final_val_loss"]} |
| passkey accuracy at {n} (5 depths x 10 keys) | {card[f"passkey_accuracy_at_{n}"]} |

## Limits
Tiny and English-prose-only: it is for teaching what happens to positions past the training length,
not for generating text. Public-domain training text (see `bltlib/data/ATTRIBUTION.md`).
{card.get("notes", "")}"""


if __name__ == "__main__":
    main()
