"""Benchmark the Byte Latent Transformer (``bltlib.blt``) on CPU. Prints one markdown table with targets.

    python benchmarks/bench_blt.py           # the full run (a few minutes on 2 cores)
    python benchmarks/bench_blt.py --quick   # a smoke run (seconds): tiny batches, 20 kB of text

Measured, in one run:

1. **Training throughput**: achieved FLOP/s (counted by ``bltlib.flops``: the BLT's
   ``flops_per_byte(patch_size, context)``, a ``TransformerLM``'s ``transformer_flops``, training = 3x
   forward) of full training steps (``Trainer.train_step``: forward, backward, clipping, AdamW) of the BLT
   and of a plain ``TransformerLM`` as wide and deep as the BLT's latent model, on the same Austen windows.
   Timing rounds alternate between the two models (and which goes first), so both see the same machine
   load; warm-up steps are excluded; each model's best round counts. Batches are built beforehand, so
   neither model's data pipeline is timed. Target: the BLT reaches >= 0.7x the plain model's FLOP/s.
2. **Forward vs Hugging Face**: ``transformers.BltForCausalLM`` with the same weights (``BLT.to_hf``), the
   same byte ids and patch lengths, ``torch.no_grad``; the logits must agree (max |difference| < 1e-4);
   medians of alternating runs. Target: ours at least as fast (HF time / ours >= 1).
3. **Bits per byte of held-out text**, in a fresh subprocess (so its memory is its own): Austen's
   val + test splits (all the held-out Austen there is, ~0.4 MB; ``--bytes`` cuts it shorter), patched by
   the shipped entropy model (threshold from the BLT's card, else calibrated to a mean of 4.5 bytes), then
   the BLT (the shipped one if ``bltlib/weights/blt.safetensors`` exists, else a freshly initialised model
   of the same shape). Consecutive, non-overlapping windows of ``max_seq_len`` bytes, each starting from
   BOS (no context carries over), every byte predicted once, as ``bltlib.blt.bits_per_byte`` does. Times
   for the entropies and the BLT pass apart; peak RSS from ``/proc/self/status`` (VmHWM, reset between
   phases), also shown above the RSS once models and text are loaded. Reference: the entropy model's own
   bits per byte on the same bytes (``bltlib.entropy.bits_per_byte``, overlapping windows).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import bltlib
from bltlib.blt import BLT, DEFAULT_WEIGHTS, BLTConfig, blt_card, load_blt, training_throughput
from bltlib.data import encode_bytes, load_bytes
from bltlib.patching import Patcher, calibrate_threshold, patched_windows
from bltlib.train import time_alternately
from bltlib.transformer import TransformerLM

TARGET_PATCH_SIZE = 4.5  # mean bytes per patch when the threshold must be calibrated (the shipped target)
BPB_BATCH = 8  # windows per forward in the bits-per-byte pass
HF_TOLERANCE = 1e-4
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = [time.perf_counter]  # what measurements read; --clock cpu swaps in this process's CPU time


def clock() -> float:
    return _clock[0]()


def default_config() -> BLTConfig:
    """The shipped BLT's shape if its weights exist, else ``scripts/train_blt.py``'s defaults."""
    if DEFAULT_WEIGHTS.is_file():
        return load_blt().config
    return BLTConfig(
        local_dim=64,
        local_heads=4,
        encoder_layers=1,
        decoder_layers=2,
        local_window=128,
        latent_dim=128,
        latent_layers=3,
        latent_heads=4,
        cross_attn_k=2,
        hash_vocab=512,
        max_seq_len=512,
    )


def make_patcher(spec: str) -> Patcher:
    """``space`` or ``static:N``.

    >>> make_patcher("static:5").patch_size
    5
    """
    if spec == "space":
        return Patcher("space")
    if spec.startswith("static:"):
        return Patcher("static", patch_size=int(spec.split(":", 1)[1]))
    raise ValueError(f"--patcher must be 'space' or 'static:N', got {spec!r}")


# ----------------------------------------------------------------------------- 1. training throughput


def bench_training(config: BLTConfig, args: argparse.Namespace) -> dict:
    t = config.max_seq_len
    ids = encode_bytes(load_bytes("austen", "train")[:2_000_000])
    g = torch.Generator().manual_seed(0)
    patcher = make_patcher(args.patcher)
    batches = [patched_windows(ids, patcher, args.batch_size, t, g) for _ in range(4)]
    torch.manual_seed(0)
    run = training_throughput(
        config, batches, rounds=args.rounds, calls=args.steps, warmup=args.warmup, clock=clock, device="cpu"
    )
    blt, lm = run["BLT"], run["byte transformer"]
    positions = args.batch_size * t
    return {
        "patch_size": run["patch_size"],
        "blt_step_s": min(blt["seconds"]),
        "lm_step_s": min(lm["seconds"]),
        "blt_median_s": statistics.median(blt["seconds"]),
        "lm_median_s": statistics.median(lm["seconds"]),
        "blt_gflops": blt["flops_per_step"] / min(blt["seconds"]) / 1e9,
        "lm_gflops": lm["flops_per_step"] / min(lm["seconds"]) / 1e9,
        "blt_flops_per_byte": blt["flops_per_step"] / positions,
        "lm_flops_per_byte": lm["flops_per_step"] / positions,
    }


# ----------------------------------------------------------------------------- 2. forward vs HF


def bench_hf(config: BLTConfig, args: argparse.Namespace) -> dict:
    import transformers

    torch.manual_seed(0)
    model = BLT(config).eval()
    hf_config, state = model.to_hf()
    hf = transformers.BltForCausalLM(transformers.BltConfig.from_dict(hf_config)).eval()
    hf.load_state_dict(state)
    ids = encode_bytes(load_bytes("austen", "test"))
    g = torch.Generator().manual_seed(1)
    x, lengths, _ = patched_windows(ids, make_patcher(args.patcher), args.hf_batch, config.max_seq_len, g)

    def ours() -> torch.Tensor:
        with torch.no_grad():
            return model(x, lengths)[0]

    def theirs() -> torch.Tensor:
        with torch.no_grad():
            return hf(input_ids=x, patch_lengths=lengths, use_cache=False).logits

    diff = (ours() - theirs()).abs().max().item()
    assert diff < HF_TOLERANCE, f"logits differ from HF's by {diff:.2e}"
    ours_s, hf_s = time_alternately([ours, theirs], args.hf_reps, clock=clock)
    return {
        "diff": diff,
        "ours_s": statistics.median(ours_s),
        "hf_s": statistics.median(hf_s),
        "shape": tuple(x.shape),
        "patches": lengths.shape[1],
        "hf_attn": getattr(hf.config, "_attn_implementation", "?"),
        "transformers": transformers.__version__,
    }


# ----------------------------------------------------------------------------- 3. bits per byte


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{key}:\s+(\d+)", f.read(), re.M).group(1))


def _reset_peak() -> None:
    """Reset VmHWM (peak RSS) to the current RSS (Linux >= 4.0); harmless where it is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def bpb_worker(n_bytes: int, threads: int) -> dict:
    """The bits-per-byte measurement; meant for a fresh process (see :func:`bench_bpb`)."""
    from bltlib.entropy import bits_per_byte as entropy_bpb
    from bltlib.entropy import entropies, load_entropy_model

    torch.set_num_threads(threads)
    shipped = DEFAULT_WEIGHTS.is_file()
    if shipped:
        model = load_blt()
    else:
        torch.manual_seed(0)
        model = BLT(default_config()).eval()
    card = blt_card() if shipped else {}
    entropy_model = load_entropy_model()
    data = (load_bytes("austen", "val") + load_bytes("austen", "test"))[:n_bytes]
    ids = encode_bytes(data)  # BOS first
    t = model.config.max_seq_len
    baseline_kib = _status_kib("VmRSS")

    _reset_peak()
    start = clock()
    e = entropies(entropy_model, ids, batch_size=32, progress=False)
    entropy_s = clock() - start
    entropy_peak_kib = _status_kib("VmHWM")

    windows = [(s, min(t, len(ids) - s)) for s in range(1, len(ids), t)]  # (start, targets)
    full = [s for s, n in windows if n == t]
    batches = [(full[i : i + BPB_BATCH], t) for i in range(0, len(full), BPB_BATCH)]
    batches += [([s], n) for s, n in windows if n < t]  # the short tail alone
    threshold = (card.get("patcher") or {}).get("threshold")
    if threshold is None:  # calibrate on the windows' rows, as they will be patched
        rows = [e[s - 1 : s + n - 1] for s, n in windows]
        threshold = calibrate_threshold(rows, TARGET_PATCH_SIZE)
    patcher = Patcher("entropy", threshold=float(threshold))

    _reset_peak()
    start = clock()
    total, n_patches, patch_s = 0.0, 0, 0.0
    with torch.no_grad():
        for starts, n in batches:
            x = torch.stack([torch.cat([ids[:1], ids[s : s + n - 1]]) for s in starts])
            y = torch.stack([ids[s : s + n] for s in starts])
            tick = clock()
            lengths = patcher.lengths(x, torch.stack([e[s - 1 : s + n - 1] for s in starts]))
            patch_s += clock() - tick
            n_patches += int((lengths > 0).sum())
            logits, _ = model(x, lengths)
            total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
    blt_s = clock() - start
    blt_peak_kib = _status_kib("VmHWM")
    bpb = total / (len(ids) - 1) / math.log(2)

    _reset_peak()
    start = clock()
    ref_bpb = entropy_bpb(entropy_model, ids, batch_size=32, progress=False)
    ref_s = clock() - start
    ref_peak_kib = _status_kib("VmHWM")
    return {
        "shipped": shipped,
        "n_bytes": len(data),
        "windows": len(windows),
        "threshold": float(threshold),
        "threshold_from_card": "threshold" in (card.get("patcher") or {}),
        "patch_size": (len(ids) - 1 + len(windows)) / n_patches,  # positions + next byte per window
        "bpb": bpb,
        "entropy_s": entropy_s,
        "blt_s": blt_s,
        "patch_s": patch_s,
        "ref_bpb": ref_bpb,
        "ref_s": ref_s,
        "baseline_mb": baseline_kib / 1024,
        "entropy_peak_mb": entropy_peak_kib / 1024,
        "blt_peak_mb": blt_peak_kib / 1024,
        "ref_peak_mb": ref_peak_kib / 1024,
    }


def bench_bpb(args: argparse.Namespace) -> dict:
    """Run :func:`bpb_worker` in a fresh Python, so its peak memory is its own."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--bpb-worker"]
    cmd += ["--bytes", str(args.bytes), "--threads", str(args.threads), "--clock", args.clock]
    here = str(Path(bltlib.__file__).resolve().parent.parent)  # the bltlib this process uses
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- the table


def row(metric: str, ours: str, ref: str, ratio: str, target: str, met: bool | None) -> str:
    """One markdown row; ``met=None`` for a measurement without a target.

    >>> row("x", "1", "2", "0.5x", ">= 0.4x", True)
    '| x | 1 | 2 | 0.5x | >= 0.4x | yes |'
    """
    flag = "—" if met is None else ("yes" if met else "NO")
    return f"| {metric} | {ours} | {ref} | {ratio} | {target} | {flag} |"


def add(rows: list[str], notes: list[str], more_rows: list[str], note: str) -> None:
    rows.extend(more_rows)
    notes.append(note)


def train_rows(train: dict, c: BLTConfig, args: argparse.Namespace) -> tuple[list[str], str]:
    ratio = train["blt_gflops"] / train["lm_gflops"]
    rows = [
        row(
            f"training throughput, batch {args.batch_size} x {c.max_seq_len} bytes (GFLOP/s counted; "
            "ms per step)",
            f"{train['blt_gflops']:.2f} ({train['blt_step_s'] * 1e3:.0f} ms)",
            f"{train['lm_gflops']:.2f} ({train['lm_step_s'] * 1e3:.0f} ms, TransformerLM)",
            f"{ratio:.2f}x FLOP/s",
            ">= 0.7x",
            ratio >= 0.7,
        )
    ]
    note = (
        f"- Training: `{args.patcher}` patches of Austen train windows, mean {train['patch_size']:.2f} bytes "
        f"per patch (BOS and next-byte patches included); counted training FLOPs per byte: BLT "
        f"{train['blt_flops_per_byte'] / 1e6:.2f} M, reference {train['lm_flops_per_byte'] / 1e6:.2f} M. "
        f"Best of {args.rounds} alternating rounds of {args.steps} steps after {args.warmup} warm-up steps; "
        f"medians {train['blt_median_s'] * 1e3:.0f} ms and {train['lm_median_s'] * 1e3:.0f} ms per step."
    )
    return rows, note


def hf_rows(hf: dict, args: argparse.Namespace) -> tuple[list[str], str]:
    ratio = hf["hf_s"] / hf["ours_s"]
    b, t = hf["shape"]
    rows = [
        row(
            f"forward, {b} x {t} bytes, {hf['patches']} patches, no_grad (ms, median of {args.hf_reps})",
            f"{hf['ours_s'] * 1e3:.1f}",
            f"{hf['hf_s'] * 1e3:.1f} (HF BltForCausalLM)",
            f"{ratio:.2f}x speed",
            ">= 1.0x",
            ratio >= 1.0,
        ),
        row(
            "max abs logit difference vs HF (same weights and input)",
            f"{hf['diff']:.1e}",
            "0",
            "—",
            f"< {HF_TOLERANCE:g}",
            hf["diff"] < HF_TOLERANCE,
        ),
    ]
    note = (
        f"- HF: transformers {hf['transformers']}, random weights (std 0.02), HF attention "
        f"`{hf['hf_attn']}`, patches `{args.patcher}`, alternating runs."
    )
    return rows, note


def bpb_rows(bpb: dict, c: BLTConfig, args: argparse.Namespace) -> tuple[list[str], str]:
    kb, base = bpb["n_bytes"] / 1e3, bpb["baseline_mb"]
    which = "shipped BLT" if bpb["shipped"] else "untrained BLT (no shipped weights yet)"
    total_s = bpb["entropy_s"] + bpb["blt_s"]
    rows = [
        row(
            f"bits per byte, {kb:.0f} kB held-out Austen (val + test), {which}",
            f"{bpb['bpb']:.3f}",
            f"{bpb['ref_bpb']:.3f} (entropy model)",
            f"{bpb['bpb'] / bpb['ref_bpb']:.2f}x",
            "—",
            None,
        ),
        row(
            f"  entropies of the {kb:.0f} kB (s; shipped entropy model)",
            f"{bpb['entropy_s']:.1f}",
            "—",
            "—",
            "—",
            None,
        ),
        row(
            f"  BLT pass: patching + forward of {bpb['windows']} windows (s)",
            f"{bpb['blt_s']:.1f} (patching {bpb['patch_s']:.2f})",
            f"{bpb['ref_s']:.1f} (entropy model's bits_per_byte)",
            f"{bpb['blt_s'] / bpb['ref_s']:.2f}x time",
            "—",
            None,
        ),
        row(
            "  bytes/s, entropies + BLT pass (BLT pass alone)",
            f"{bpb['n_bytes'] / total_s:,.0f} ({bpb['n_bytes'] / bpb['blt_s']:,.0f})",
            f"{bpb['n_bytes'] / bpb['ref_s']:,.0f}",
            "—",
            "—",
            None,
        ),
        row(
            "  peak RSS: entropies / BLT pass (MB; above the loaded baseline)",
            f"{bpb['entropy_peak_mb']:.0f} / {bpb['blt_peak_mb']:.0f} "
            f"(+{bpb['entropy_peak_mb'] - base:.0f} / +{bpb['blt_peak_mb'] - base:.0f})",
            f"{bpb['ref_peak_mb']:.0f} (+{bpb['ref_peak_mb'] - base:.0f})",
            "—",
            "—",
            None,
        ),
    ]
    short = bpb["n_bytes"] < args.bytes
    note = (
        f"- Bits per byte: {bpb['n_bytes']:,} bytes of Austen's val + test splits"
        + (f" (short of the {args.bytes:,} asked for: that is all the held-out Austen)" if short else "")
        + f"; entropy threshold {bpb['threshold']:.4f} nats ("
        + (
            "from the BLT's card"
            if bpb["threshold_from_card"]
            else f"calibrated to {TARGET_PATCH_SIZE} bytes"
        )
        + f"), measured mean patch size {bpb['patch_size']:.2f} bytes; {bpb['windows']} non-overlapping "
        f"windows of {c.max_seq_len} bytes, each from BOS, batches of {BPB_BATCH}. Peak RSS is VmHWM of a "
        f"fresh process, reset before each phase; baseline (imports, models, text loaded) {base:.0f} MB."
    )
    return rows, note


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: tiny batches, few steps, 20 kB")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--batch-size", type=int, default=None, help="training windows per step (default 16)")
    p.add_argument("--patcher", default="static:5", help="training/HF patches: 'space' or 'static:N'")
    p.add_argument("--rounds", type=int, default=None, help="alternating timing rounds (default 5)")
    p.add_argument("--steps", type=int, default=None, help="training steps per round (default 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps per model (default 2)")
    p.add_argument("--hf-batch", type=int, default=None, help="windows per forward vs HF (default 4)")
    p.add_argument("--hf-reps", type=int, default=None, help="timed forwards each (default 10)")
    p.add_argument("--bytes", type=int, default=None, help="held-out bytes (default 1 MB: all there is)")
    p.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall-clock time (default), or this process's CPU time: with --threads 1, a busy machine's "
        "other processes then barely change the numbers",
    )
    p.add_argument(
        "--parts", default="train,hf,bpb", help="comma-separated subset of train,hf,bpb to measure"
    )
    p.add_argument("--output", type=Path, default=None)
    p.add_argument("--bpb-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    for name, full, small in (
        ("batch_size", 16, 2),
        ("rounds", 5, 2),
        ("steps", 3, 1),
        ("warmup", 2, 1),
        ("hf_batch", 4, 1),
        ("hf_reps", 10, 2),
        ("bytes", 1_000_000, 20_000),
    ):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    torch.set_num_threads(args.threads)
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu needs --threads 1 (CPU time adds up the threads, waiting ones included)")
    _clock[0] = CLOCKS[args.clock]
    if args.bpb_worker:
        print(json.dumps(bpb_worker(args.bytes, args.threads)))
        return

    parts = set(args.parts.split(","))
    if not parts or parts - {"train", "hf", "bpb"}:
        p.error(f"--parts must be a comma-separated subset of train,hf,bpb, got {args.parts!r}")
    began, load_start = time.perf_counter(), os.getloadavg()
    config = default_config()
    rows, notes = [], []
    if "train" in parts:
        add(rows, notes, *train_rows(bench_training(config, args), config, args))
    if "hf" in parts:
        add(rows, notes, *hf_rows(bench_hf(config, args), args))
    if "bpb" in parts:
        add(rows, notes, *bpb_rows(bench_bpb(args), config, args))
    load_end = os.getloadavg()

    import transformers

    c, ref_cfg = config, config.byte_lm_stack()
    cpu = platform.processor() or platform.machine()
    timing = "wall-clock" if args.clock == "wall" else "CPU time of the process"
    header = (
        f"BLT: {BLT(c).num_params(exclude_hash=True):,} parameters without hash tables (local "
        f"{c.local_dim} wide, {c.local_heads} heads, {c.encoder_layers}+{c.decoder_layers} layers, window "
        f"{c.local_window}; latent {c.latent_dim} wide, {c.latent_layers} layers; k={c.cross_attn_k}; "
        f"{len(c.ngram_sizes)} hash tables x {c.hash_vocab}; max_seq_len {c.max_seq_len}). "
        f"Reference LM: TransformerLM dim {ref_cfg.dim} (= the latent width), {ref_cfg.n_layers} layers, "
        f"{ref_cfg.n_heads} heads, context {ref_cfg.max_seq_len}, "
        f"{TransformerLM(ref_cfg).num_params(exclude_embeddings=True):,} parameters without embeddings.\n"
        f"Torch {torch.__version__}, transformers {transformers.__version__}, {args.threads} threads, "
        f"{timing}, {cpu}, {os.cpu_count()} cores; load average {load_start[0]:.1f} at start, "
        f"{load_end[0]:.1f} at end; {time.strftime('%Y-%m-%d', time.gmtime())}"
        f"{'; --quick' if quick else ''}"
    )
    notes.append(f"- Whole run: {time.perf_counter() - began:.0f} s.")
    if max(load_start[0], load_end[0]) > (os.cpu_count() or 1):
        notes.append(
            f"- The machine was busy (load average above its {os.cpu_count()} cores): multi-threaded "
            "wall-clock timings suffer most, the BLT's (more, smaller kernels) more than the reference's; "
            "rerun when quiet, or with `--threads 1 --clock cpu`."
        )
    table = "\n".join(
        [header, "", "| metric | ours | reference | ratio | target | met? |", "|---|---|---|---|---|---|"]
        + rows
        + [""]
        + notes
    )
    print(table)
    output = args.output or Path(__file__).parent / "results" / f"bench_blt{'_quick' if quick else ''}.md"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(table + "\n", encoding="utf-8")
    print(f"written to {output}")


if __name__ == "__main__":
    main()
