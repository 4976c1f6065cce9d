"""Train the small Byte Latent Transformer shipped in ``bltlib/weights/``, and write its model card.

    python scripts/train_blt.py                   # the shipped model (CPU, 2 threads)
    python scripts/train_blt.py --steps 20 --out /tmp/blt.safetensors   # a quick smoke run
    python scripts/train_blt.py --preset gpu      # real scale on one GPU: bf16, torch.compile, flex
    torchrun --nproc_per_node=8 scripts/train_blt.py --batch-size 256    # several GPUs (DDP)

Presets: ``shipped`` (the default) is the small model in ``bltlib/weights/``; ``gpu`` is
:func:`bltlib.blt.gpu_blt_config` (137M parameters, 54 MFLOP per byte, three quarters of them in the
latent model), 64 x 2048-byte batches, bf16 autocast, ``torch.compile`` and flex attention with
document-aware block masks, written to ``runs/blt_gpu.safetensors``. Any flag overrides its preset.
Every ``--log-every`` steps the run prints bytes/s, achieved TFLOP/s (``BLT.flops_per_byte`` x 3 for
training, at the measured mean patch size) and, on CUDA, the model FLOPs utilisation against
``--peak-tflops`` (default 989: an H100 SXM's dense bf16 peak; an H200 has the same).

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
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from bltlib.blt import BLT, DEFAULT_WEIGHTS, BLTConfig, bits_per_byte, gpu_blt_config, save_blt
from bltlib.config import get_device, seed_everything
from bltlib.data import encode_bytes, load_text
from bltlib.entropy import DEFAULT_WEIGHTS as ENTROPY_WEIGHTS
from bltlib.entropy import entropies, load_entropy_model
from bltlib.flops import training_flops
from bltlib.patching import Patcher, calibrate_threshold, patched_windows
from bltlib.train import TrainConfig, Trainer, is_main_process

ROOT = Path(__file__).resolve().parents[1]


# Dense bf16 tensor-core peak of an H100 SXM (NVIDIA's datasheet quotes 2x that, with 2:4 sparsity).
H100_BF16_PEAK_TFLOPS = 989.0


def _preset(config: BLTConfig, **run: object) -> dict[str, object]:
    """A preset's flags: the model's shape from ``config`` (as the shape flags name it) and the run's."""
    shape = dict(
        local_dim=config.local_dim,
        local_heads=config.local_heads,
        encoder_layers=config.encoder_layers,
        decoder_layers=config.decoder_layers,
        window=config.local_window,
        latent_dim=config.latent_dim,
        latent_layers=config.latent_layers,
        latent_heads=config.latent_heads,
        k=config.cross_attn_k,
        hash_vocab=config.hash_vocab,
        seq_len=config.max_seq_len,
    )
    return {**shape, **run}


PRESETS = {
    # The shipped model; compile=None: the Trainer compiles on CUDA only.
    "shipped": _preset(
        BLTConfig(
            local_dim=64,
            local_heads=4,
            decoder_layers=2,
            local_window=128,
            latent_dim=128,
            latent_layers=3,
            hash_vocab=512,
            max_seq_len=512,
        ),
        steps=2000,
        batch_size=16,
        lr=2e-3,
        warmup=100,
        compile=None,
        log_every=100,
        out=DEFAULT_WEIGHTS,
    ),
    "gpu": _preset(
        gpu_blt_config(),
        steps=2000,
        batch_size=64,
        lr=6e-4,
        warmup=100,
        compile=True,
        log_every=20,
        out=ROOT / "runs" / "blt_gpu.safetensors",
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--preset", choices=sorted(PRESETS), default="shipped", help="defaults for the flags below"
    )
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seq-len", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup", type=int)
    p.add_argument("--local-dim", type=int)
    p.add_argument("--local-heads", type=int)
    p.add_argument("--encoder-layers", type=int)
    p.add_argument("--decoder-layers", type=int)
    p.add_argument("--window", type=int)
    p.add_argument("--latent-dim", type=int)
    p.add_argument("--latent-layers", type=int)
    p.add_argument("--latent-heads", type=int)
    p.add_argument("--k", type=int, help="query slots per patch (cross_attn_k)")
    p.add_argument("--hash-vocab", type=int)
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the training step (default: the preset's; shipped: on CUDA only)",
    )
    p.add_argument("--log-every", type=int, help="print throughput every N steps")
    p.add_argument("--eval-every", type=int, help="validation loss every N steps (default: steps / 10)")
    p.add_argument("--peak-tflops", type=float, default=H100_BF16_PEAK_TFLOPS, help="the card's bf16 peak")
    p.add_argument("--patch-size", type=float, default=4.5, help="target mean patch size (bytes)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", type=Path, default=ROOT / "runs" / "cache")
    p.add_argument(
        "--ckpt-dir", default=None, help="save a resumable trainer checkpoint here every 250 steps"
    )
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --ckpt-dir")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    for name, value in PRESETS[args.preset].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def corpus_entropies(split: str, cache_dir: Path, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
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
    e = entropies(load_entropy_model(device=device), ids, batch_size=32, progress=True)
    print(
        f"entropies of austen/{split} ({len(ids)} bytes) in {time.perf_counter() - start:.0f} s on {device}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"ids": ids, "entropies": e}, str(path))
    return ids, e


def calibrate(
    ids: torch.Tensor, e: torch.Tensor, target: float, seq_len: int, seed: int
) -> tuple[float, float, int]:
    """The threshold that gives training windows a mean patch size of ``target`` bytes, the mean
    measured on fresh windows with it (patches per window include ``[BOS]`` and the next byte's), and
    the most patches one of those windows had."""
    g = torch.Generator().manual_seed(seed + 12345)
    starts = torch.randint(1, len(ids) - seq_len, (256,), generator=g)
    rows = torch.stack([e[s - 1 : s + seq_len - 1] for s in starts])  # as patched_windows lines them up
    threshold = calibrate_threshold(rows, target)
    _, lengths, _ = patched_windows(
        ids, Patcher("entropy", threshold=threshold), 256, seq_len, g, entropies=e
    )
    mean = lengths.sum().item() / (lengths > 0).sum().item()
    return threshold, mean, int((lengths > 0).sum(-1).max())


def pad_patches(lengths: torch.Tensor, width: int, capacity: int, multiple: int = 64) -> torch.Tensor:
    """Zero-pad patch lengths ``[B, P]`` to at least ``width`` columns, rounded up to ``multiple`` (never
    past ``capacity`` unless the batch itself needs it). A compiled step is specialised to the number of
    patches: a fixed width keeps it from recompiling for every batch. Padded patches change no logit.

    >>> pad_patches(torch.tensor([[1, 3, 2]]), width=4, capacity=100, multiple=4).tolist()
    [[1, 3, 2, 0]]
    """
    need = lengths.shape[1]
    rounded = -(-max(width, need) // multiple) * multiple
    return F.pad(lengths, (0, max(need, min(rounded, capacity)) - need))


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


class Throughput:
    """Step times from the Trainer's callback, printed every ``every`` steps as bytes/s, TFLOP/s and MFU.

    The Trainer reads each step's loss back (``.item()``), so the time between two callbacks is one
    step. Steps that also evaluated, and the first ``skip`` steps (compilation), are left out; each
    interval reports its median step, robust to the odd recompilation.
    """

    def __init__(
        self, bytes_per_step: int, flops_per_byte: float, peak_tflops: float | None, every: int, skip: int = 3
    ) -> None:
        self.bytes_per_step, self.flops_per_byte = bytes_per_step, flops_per_byte
        self.peak, self.every, self.skip = peak_tflops, every, skip
        self.last = time.perf_counter()
        self.window: list[float] = []
        self.all: list[float] = []

    def __call__(self, step: int, metrics: dict) -> None:
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        if step > self.skip and "val_loss" not in metrics:
            self.window.append(seconds)
            self.all.append(seconds)
        if self.every and step % self.every == 0 and self.window:
            print(f"step {step:5d}  loss {metrics['loss']:.4f}  {self.describe(self.window)}", flush=True)
            self.window = []

    def summary(self) -> dict[str, float]:
        """Median step time over the run, and what follows from it."""
        if not self.all:
            return {}
        step_s = statistics.median(self.all)
        bytes_s = self.bytes_per_step / step_s
        tflops = bytes_s * self.flops_per_byte / 1e12
        out = {"step_seconds": step_s, "bytes_per_second": bytes_s, "tflops": tflops}
        if self.peak:
            out |= {"mfu": tflops / self.peak, "peak_tflops": self.peak}
        return out

    def describe(self, times: list[float]) -> str:
        step_s = statistics.median(times)
        bytes_s = self.bytes_per_step / step_s
        tflops = bytes_s * self.flops_per_byte / 1e12
        text = f"{step_s * 1e3:7.1f} ms/step  {bytes_s / 1e6:6.3f} MB/s  {tflops:7.2f} TFLOP/s"
        return text + (f"  MFU {tflops / self.peak:6.1%}" if self.peak else "")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    device = get_device()
    train_ids, train_e = corpus_entropies("train", args.cache_dir, device)
    val_ids, val_e = corpus_entropies("val", args.cache_dir, device)
    test_ids, test_e = corpus_entropies("test", args.cache_dir, device)
    threshold, mean_patch, most_patches = calibrate(
        train_ids, train_e, args.patch_size, args.seq_len, args.seed
    )
    patcher = Patcher("entropy", threshold=threshold)
    print(f"threshold {threshold:.4f} nats -> mean patch size {mean_patch:.2f} bytes")

    config = blt_config(args)
    train_cfg = TrainConfig(
        steps=args.steps,
        lr=args.lr,
        warmup=args.warmup,
        min_lr_ratio=0.1,
        batch_size=args.batch_size,
        eval_every=args.eval_every or max(1, args.steps // 10),
        eval_batches=4,
        compile=args.compile,
        progress=sys.stderr.isatty(),  # a bar on a terminal; logs get the throughput lines only
        ckpt_dir=args.ckpt_dir,
        ckpt_every=250 if args.ckpt_dir else 0,
    )

    compiled = args.compile if args.compile is not None else device.type == "cuda"  # as the Trainer decides

    def get_batch(split: str, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(args.seed * 1_000_003 + 2 * step + (split == "val"))
        ids, e = (train_ids, train_e) if split == "train" else (val_ids, val_e)
        x, lengths, y = patched_windows(ids, patcher, args.batch_size, args.seq_len, g, entropies=e)
        if compiled:
            # A margin over the most patches seen in calibration: one compiled shape for nearly all batches.
            lengths = pad_patches(lengths, int(most_patches * 1.1), config.patch_capacity)
        return x, lengths, y

    torch.manual_seed(args.seed)
    model = BLT(config)
    flops_per_byte = model.flops_per_byte(mean_patch, args.seq_len)["total"]
    print(
        f"BLT: {model.num_params() / 1e6:.1f}M parameters ({model.num_params(exclude_hash=True) / 1e6:.1f}M "
        f"without the hash tables), {flops_per_byte / 1e6:.2f} MFLOP per byte forward "
        f"({3 * flops_per_byte / 1e6:.1f} training)"
    )
    on_cuda = device.type == "cuda"
    peak = args.peak_tflops if on_cuda else None
    if on_cuda:
        print(f"{torch.cuda.get_device_name(device)}; MFU against {args.peak_tflops:g} TFLOP/s (dense bf16)")
    meter = Throughput(args.batch_size * args.seq_len, training_flops(flops_per_byte), peak, args.log_every)
    trainer = Trainer(model, train_cfg, get_batch, callback=meter, device=device)
    if args.resume:
        if not args.ckpt_dir:
            raise SystemExit("--resume needs --ckpt-dir, the folder of the checkpoint to continue from")
        trainer.resume(args.ckpt_dir)
    start = time.perf_counter()
    history = trainer.train()
    train_s = time.perf_counter() - start
    if not is_main_process():
        return  # under torchrun, rank 0 evaluates and writes the model
    throughput = meter.summary()
    if throughput:
        print(f"training: {train_s:.0f} s (compilation included); median step {meter.describe(meter.all)}")
    model.eval()
    test_bpb = bits_per_byte(model, test_ids, patcher, test_e, seq_len=args.seq_len)
    print(f"held-out bits per byte (Austen test): {test_bpb:.4f}")

    argv = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--resume"]
    card = {
        "data": f"Austen train split ({len(train_ids)} bytes); patches from the shipped entropy model",
        "command": ("python scripts/train_blt.py " + shlex.join(argv)).strip(),
        "preset": args.preset,
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
        "flops_per_byte": round(flops_per_byte),
        "device": torch.cuda.get_device_name(device) if on_cuda else "CPU",
        "compiled": trainer.compiled,
        "bf16": trainer.amp,
        "throughput": {k: round(v, 4) for k, v in throughput.items()},
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
    where = f"CPU with {card['threads']} thread(s)"
    if card.get("device", "CPU") != "CPU":
        mode = ("bf16, " if card["bf16"] else "") + ("compiled" if card["compiled"] else "eager")
        where = f"{card['device']} ({mode})"
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
  {train["lr"]} (warmup {train["warmup"]}, cosine to {train["min_lr_ratio"]}x), {seconds} on {where}
  (torch {card["torch"]}). Final validation loss (Austen val split):
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
