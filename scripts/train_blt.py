"""Train the small Byte Latent Transformer shipped in ``bltlib/weights/``, and write its model card.

    python scripts/train_blt.py                   # the shipped model (CPU, 2 threads)
    python scripts/train_blt.py --steps 20 --out /tmp/blt.safetensors   # a quick smoke run
    torchrun --nproc_per_node=8 scripts/train_blt.py --batch-size 256    # several GPUs (DDP)

Data (vendored, offline): Jane Austen's novels, train split; validation on the val split; the card
reports bits per byte on the test split (never trained on). Patches come from lesson 3's shipped entropy
model (``bltlib/weights/entropy_model.safetensors``): its entropies over each split are computed once
and cached in ``--cache-dir``, and the global-rule threshold is calibrated so that training windows
have a mean patch size of ``--patch-size`` bytes (the calibration and the measured mean go on the card).

Writes ``<out>`` (safetensors; config, patcher and card in its metadata) and ``<out>`` with suffix ``.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from bltlib.blt import BLT, DEFAULT_WEIGHTS, BLTConfig, bits_per_byte, save_blt
from bltlib.config import seed_everything
from bltlib.data import encode_bytes, load_text
from bltlib.entropy import DEFAULT_WEIGHTS as ENTROPY_WEIGHTS
from bltlib.entropy import entropies, load_entropy_model
from bltlib.patching import Patcher, calibrate_threshold, patched_windows
from bltlib.train import TrainConfig, Trainer, is_main_process

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--local-dim", type=int, default=64)
    p.add_argument("--local-heads", type=int, default=4)
    p.add_argument("--encoder-layers", type=int, default=1)
    p.add_argument("--decoder-layers", type=int, default=2)
    p.add_argument("--window", type=int, default=128)
    p.add_argument("--latent-dim", type=int, default=128)
    p.add_argument("--latent-layers", type=int, default=3)
    p.add_argument("--latent-heads", type=int, default=4)
    p.add_argument("--k", type=int, default=2, help="query slots per patch (cross_attn_k)")
    p.add_argument("--hash-vocab", type=int, default=512)
    p.add_argument("--patch-size", type=float, default=4.5, help="target mean patch size (bytes)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", type=Path, default=ROOT / "runs" / "cache")
    p.add_argument(
        "--ckpt-dir", default=None, help="save a resumable trainer checkpoint here every 250 steps"
    )
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --ckpt-dir")
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    return p.parse_args(argv)


def corpus_entropies(split: str, cache_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Byte ids of Austen's ``split`` (BOS first) and the shipped entropy model's entropies, cached on disk
    under a name that changes when the entropy model's weights do."""
    ids = encode_bytes(load_text("austen", split=split))
    digest = hashlib.sha256(ENTROPY_WEIGHTS.read_bytes()).hexdigest()[:12]
    path = cache_dir / f"austen_{split}_entropies_{digest}.safetensors"
    if path.is_file():
        cached = load_file(str(path))
        if torch.equal(cached["ids"], ids):
            return ids, cached["entropies"]
    start = time.perf_counter()
    e = entropies(load_entropy_model(), ids, batch_size=32, progress=True)
    print(f"entropies of austen/{split} ({len(ids)} bytes) in {time.perf_counter() - start:.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"ids": ids, "entropies": e}, str(path))
    return ids, e


def calibrate(
    ids: torch.Tensor, e: torch.Tensor, target: float, seq_len: int, seed: int
) -> tuple[float, float]:
    """The threshold that gives training windows a mean patch size of ``target`` bytes, and the mean
    measured on fresh windows with it (patches per window include ``[BOS]`` and the next byte's)."""
    g = torch.Generator().manual_seed(seed + 12345)
    starts = torch.randint(1, len(ids) - seq_len, (256,), generator=g)
    rows = torch.stack([e[s - 1 : s + seq_len - 1] for s in starts])  # as patched_windows lines them up
    threshold = calibrate_threshold(rows, target)
    _, lengths, _ = patched_windows(
        ids, Patcher("entropy", threshold=threshold), 256, seq_len, g, entropies=e
    )
    mean = lengths.sum().item() / (lengths > 0).sum().item()
    return threshold, mean


def blt_config(args: argparse.Namespace) -> BLTConfig:
    return BLTConfig(
        local_dim=args.local_dim,
        local_heads=args.local_heads,
        encoder_layers=args.encoder_layers,
        decoder_layers=args.decoder_layers,
        local_window=args.window,
        latent_dim=args.latent_dim,
        latent_layers=args.latent_layers,
        latent_heads=args.latent_heads,
        cross_attn_k=args.k,
        hash_vocab=args.hash_vocab,
        max_seq_len=args.seq_len,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    train_ids, train_e = corpus_entropies("train", args.cache_dir)
    val_ids, val_e = corpus_entropies("val", args.cache_dir)
    test_ids, test_e = corpus_entropies("test", args.cache_dir)
    threshold, mean_patch = calibrate(train_ids, train_e, args.patch_size, args.seq_len, args.seed)
    patcher = Patcher("entropy", threshold=threshold)
    print(f"threshold {threshold:.4f} nats -> mean patch size {mean_patch:.2f} bytes")

    config = blt_config(args)
    train_cfg = TrainConfig(
        steps=args.steps,
        lr=args.lr,
        warmup=args.warmup,
        min_lr_ratio=0.1,
        batch_size=args.batch_size,
        eval_every=max(1, args.steps // 10),
        eval_batches=4,
        ckpt_dir=args.ckpt_dir,
        ckpt_every=250 if args.ckpt_dir else 0,
    )

    def get_batch(split: str, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(args.seed * 1_000_003 + 2 * step + (split == "val"))
        ids, e = (train_ids, train_e) if split == "train" else (val_ids, val_e)
        return patched_windows(ids, patcher, args.batch_size, args.seq_len, g, entropies=e)

    torch.manual_seed(args.seed)
    model = BLT(config)
    trainer = Trainer(model, train_cfg, get_batch)
    if args.resume:
        if not args.ckpt_dir:
            raise SystemExit("--resume needs --ckpt-dir, the folder of the checkpoint to continue from")
        trainer.resume(args.ckpt_dir)
    start = time.perf_counter()
    history = trainer.train()
    train_s = time.perf_counter() - start
    if not is_main_process():
        return  # under torchrun, rank 0 evaluates and writes the model
    model.eval()
    test_bpb = bits_per_byte(model, test_ids, patcher, test_e, seq_len=args.seq_len)
    print(f"held-out bits per byte (Austen test): {test_bpb:.4f}")

    argv = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--resume"]
    card = {
        "data": f"Austen train split ({len(train_ids)} bytes); patches from the shipped entropy model",
        "command": ("python scripts/train_blt.py " + shlex.join(argv)).strip(),
        "config": asdict(config),
        "patcher": {"scheme": "entropy", "threshold": threshold, "target_patch_size": args.patch_size},
        "mean_patch_size": round(mean_patch, 3),
        "train": {k: getattr(train_cfg, k) for k in ("steps", "lr", "warmup", "min_lr_ratio", "batch_size")},
        "seq_len": args.seq_len,
        "train_seconds": None if args.resume else round(train_s),
        "final_val_loss_nats": round(history[-1]["val_loss"], 4),
        "held_out_bits_per_byte": round(test_bpb, 4),
        "parameters": model.num_params(),
        "parameters_without_hash": model.num_params(exclude_hash=True),
        "flops_per_byte": round(model.flops_per_byte(mean_patch, args.seq_len)["total"]),
        "threads": args.threads,
        "torch": torch.__version__,
    }
    out = save_blt(model, args.out, card)
    out.with_suffix(".md").write_text(model_card_markdown(card, out))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {out.with_suffix('.md')}")


def model_card_markdown(card: dict, path: Path) -> str:
    c, train = card["config"], card["train"]
    seconds = "time not recorded (finished from a checkpoint)"
    if card["train_seconds"] is not None:
        seconds = f"{card['train_seconds']} s"
    return f"""# Byte Latent Transformer (`{path.name}`)

A {card["parameters"] / 1e6:.2f}M-parameter BLT (`bltlib.blt.BLT`), of which
{card["parameters_without_hash"] / 1e6:.2f}M outside the hash n-gram tables: hash embeddings of n = 3..8
({c["hash_vocab"]} rows each), a {c["encoder_layers"]}-layer local encoder and {c["decoder_layers"]}-layer
local decoder of width {c["local_dim"]} (attention window {c["local_window"]}), a {c["latent_layers"]}-layer
latent transformer of width {c["latent_dim"]}, and {c["cross_attn_k"]} query slots per patch. Load it with
`bltlib.blt.load_blt()`; its patcher (entropy threshold) comes with it as `model.patcher`.

- **Data**: {card["data"]}.
- **Command**: `{card["command"]}`
- **Patches**: lesson 3's entropy model, global rule, threshold {card["patcher"]["threshold"]:.4f} nats,
  calibrated to a mean of {card["patcher"]["target_patch_size"]} bytes per patch on training windows of
  {card["seq_len"]} bytes; measured mean patch size **{card["mean_patch_size"]}** bytes.
- **Training**: {train["steps"]} steps, batch {train["batch_size"]} x {card["seq_len"]} bytes, AdamW lr
  {train["lr"]} (warmup {train["warmup"]}, cosine to {train["min_lr_ratio"]}x), {seconds} on CPU with
  {card["threads"]} thread(s) (torch {card["torch"]}). Final validation loss (Austen val split):
  {card["final_val_loss_nats"]} nats/byte.
- **Held-out bits per byte** (Austen test split, never trained on; windows of {card["seq_len"]} bytes, BOS
  counted as in the reference): **{card["held_out_bits_per_byte"]}**.
- **Inference cost**: {card["flops_per_byte"]:,} forward FLOPs per byte (`BLT.flops_per_byte` at the mean
  patch size; hash tables cost none).
- **Size**: {path.stat().st_size / 1e6:.2f} MB (safetensors, float32; config, patcher and card in its
  metadata).
"""


if __name__ == "__main__":
    main()
