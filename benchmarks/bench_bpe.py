"""Benchmark bltlib.bpe against the references: HF tokenizers (training), tiktoken (encoding), the naive
trainer, and peak memory. Prints one markdown table.

    python benchmarks/bench_bpe.py           # 10 MB of prose + code, vocab 4096 and 32768 (about 3 minutes)
    python benchmarks/bench_bpe.py --quick   # 1 MB, vocab 1024 and 4096 (about 30 seconds)

Timings are best-of-``--repeat`` wall-clock seconds in this process; ours and the reference alternate,
so both see the same machine load. Memory is the peak RSS of a fresh subprocess that only trains.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import regex
import tiktoken
import tokenizers
from tokenizers import Regex, models, pre_tokenizers, trainers

from bltlib.bpe import GPT4_SPLIT_PATTERN, RegexTokenizer

UDHR_REPEAT = 10  # the UDHR in all its languages is ~330 kB: repeated, it is a few MB


def alternate(
    repeat: int, ours: Callable[[], object], ref: Callable[[], object]
) -> tuple[float, float, object]:
    """Best wall time of ``ours`` and of ``ref`` over ``repeat`` alternating runs (so both see the same
    machine load), and the last result of ``ours``."""
    ours_s, ref_s, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = ours()
        ours_s = min(ours_s, time.perf_counter() - start)
        start = time.perf_counter()
        ref()
        ref_s = min(ref_s, time.perf_counter() - start)
    return ours_s, ref_s, result


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def hf_train(pieces: list[str], vocab_size: int) -> tokenizers.Tokenizer:
    """HF tokenizers' BPE over the same chunks: the GPT-4 regex split, then byte-level (no second split)."""
    hf = tokenizers.Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(GPT4_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=0,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes, as HF spells them
    )
    hf.train_from_iterator(pieces, trainer=trainer)
    return hf


def hf_pieces(text: str, size: int = 1 << 16) -> list[str]:
    """The text in ~64 kB pieces cut where the GPT-4 split always cuts (a newline before a non-space), so
    HF sees the same chunks as we do and can use both cores, as it would on a real corpus of documents."""
    lines = regex.split(r"(?<=\n)(?=\S)", text)
    pieces, current, length = [], [], 0
    for line in lines:
        current.append(line)
        length += len(line)
        if length >= size:
            pieces.append("".join(current))
            current, length = [], 0
    return pieces + ["".join(current)] if current else pieces


def ours_train(text: str, vocab_size: int, fast: bool = True) -> RegexTokenizer:
    tokenizer = RegexTokenizer()
    tokenizer.train(text, vocab_size, fast=fast)
    return tokenizer


PEAK_SCRIPT = """
import sys
path, vocab_size, which = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = open(path, encoding="utf-8").read()
if which == "ours":
    from bltlib.bpe import RegexTokenizer
    RegexTokenizer().train(text, vocab_size)
else:
    sys.path.insert(0, sys.argv[4])
    from bench_bpe import hf_pieces, hf_train
    hf_train(hf_pieces(text), vocab_size)
# VmHWM: this process's peak RSS (ru_maxrss would include the parent's peak from before exec)
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]))  # KiB
"""


def peak_rss_mb(text: str, vocab_size: int, which: str) -> float:
    """Peak RSS (MB) of a fresh Python that reads ``text`` from a file and trains on it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "text.txt"
        path.write_text(text, encoding="utf-8")
        here = str(Path(__file__).resolve().parent)
        args = [sys.executable, "-c", PEAK_SCRIPT, str(path), str(vocab_size), which, here]
        env = {**os.environ, "PYTHONPATH": str(Path(here).parent)}
        out = subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout
    return int(out.split()[-1]) / 1024


def mbps(n_bytes: int, seconds: float) -> float:
    return n_bytes / 1e6 / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 MB and small vocabularies")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs (default 2)")
    parser.add_argument("--naive-merges", type=int, default=3, help="merges timed for the naive trainer")
    parser.add_argument(
        "--output",
        type=Path,
        help="also write the table here (default: benchmarks/results/bench_bpe.md, "
        "or bench_bpe_quick.md with --quick; lesson 1 shows it)",
    )
    args = parser.parse_args()
    from bltlib.data import load_text, load_udhr_all, mixed_text  # imports torch: keep it out of PEAK_SCRIPT

    n_bytes = 1_000_000 if args.quick else 10_000_000
    vocab_sizes = (1024, 4096) if args.quick else (4096, 32768)
    udhr_repeat = 1 if args.quick else UDHR_REPEAT
    repeat = args.repeat

    text = mixed_text(n_bytes)
    pieces = hf_pieces(text)
    assert "".join(pieces) == text
    udhr = "".join(load_udhr_all().values()) * udhr_repeat
    held_out = "".join(load_text(name, split=s) for s in ("val", "test") for name in ("austen", "code"))
    rows: list[str] = []

    def row(metric: str, ours: str, ref: str, ratio: str, target: str, met: bool) -> None:
        rows.append(f"| {metric} | {ours} | {ref} | {ratio} | {target} | {'yes' if met else 'NO'} |")
        print(rows[-1], flush=True)

    header = (
        f"bltlib.bpe benchmark: {len(text.encode()) / 1e6:.1f} MB `mixed_text` (prose + code), GPT-4 split; "
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"tokenizers {tokenizers.__version__}, tiktoken {tiktoken.__version__}; best of {repeat}; "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}"
    )
    print(header, flush=True)

    # training speed vs HF tokenizers
    train_s, trained = {}, {}
    for v in vocab_sizes:
        train_s[v], hf_s, trained[v] = alternate(
            repeat, lambda v=v: ours_train(text, v), lambda v=v: hf_train(pieces, v)
        )
        ratio = train_s[v] / hf_s
        row(
            f"train {n_bytes / 1e6:g} MB, vocab {v} (s)",
            f"{train_s[v]:.2f}",
            f"{hf_s:.2f} (HF)",
            f"{ratio:.2f}x time",
            "<= 1.0x",
            ratio <= 1.0,
        )

    # multilingual training vs HF
    v = vocab_sizes[0]
    ours_s, hf_s, _ = alternate(repeat, lambda: ours_train(udhr, v), lambda: hf_train(hf_pieces(udhr), v))
    row(
        f"train UDHR x{udhr_repeat} ({len(udhr.encode()) / 1e6:.1f} MB, 19 langs), vocab {v} (s)",
        f"{ours_s:.2f}",
        f"{hf_s:.2f} (HF)",
        f"{ours_s / hf_s:.2f}x time",
        "<= 2.0x",
        ours_s / hf_s <= 2.0,
    )

    # the naive trainer, extrapolated from its first few merges (its setup, the split, timed apart)
    n = args.naive_merges
    setup_s = timed(lambda: ours_train(text, 256, fast=False))
    per_merge = max(timed(lambda: ours_train(text, 256 + n, fast=False)) - setup_s, 0.0) / n
    for v in vocab_sizes:
        naive_s = setup_s + per_merge * (v - 256)
        row(
            f"train vocab {v} vs naive trainer (s)",
            f"{train_s[v]:.2f}",
            f"{naive_s:,.0f} (naive, extrapolated from {n} merges)",
            f"{naive_s / train_s[v]:,.0f}x faster",
            ">= 300x",
            naive_s / train_s[v] >= 300,
        )

    # encoding throughput vs tiktoken, identical tokens
    tokenizer = trained[vocab_sizes[-1]]
    encoding = tokenizer.to_tiktoken()
    for name, sample in (("held-out val+test", held_out), ("training text", text)):
        assert tokenizer.encode_ordinary(sample) == encoding.encode_ordinary(sample), (
            "tokens differ from tiktoken's"
        )
        size = len(sample.encode())
        # each encode_ordinary call starts with an empty chunk cache
        ours_s, ref_s, _ = alternate(
            repeat,
            lambda s=sample: tokenizer.encode_ordinary(s),
            lambda s=sample: encoding.encode_ordinary(s),
        )
        ratio = ref_s / ours_s
        row(
            f"encode {name} ({size / 1e6:.1f} MB), vocab {vocab_sizes[-1]} (MB/s)",
            f"{mbps(size, ours_s):.2f}",
            f"{mbps(size, ref_s):.2f} (tiktoken)",
            f"{ratio:.2f}x speed",
            ">= 0.5x",
            ratio >= 0.5,
        )

    # peak memory
    ours_mb = peak_rss_mb(text, vocab_sizes[-1], "ours")
    hf_mb = peak_rss_mb(text, vocab_sizes[-1], "hf")
    row(
        f"peak RSS, train {n_bytes / 1e6:g} MB vocab {vocab_sizes[-1]} (MB)",
        f"{ours_mb:.0f}",
        f"{hf_mb:.0f} (HF)",
        f"{ours_mb / hf_mb:.2f}x",
        "< 300 MB",
        ours_mb < 300,
    )

    table = "\n".join(
        [header, "", "| metric | ours | reference | ratio | target | met? |", "|---|---|---|---|---|---|"]
    )
    table += "\n" + "\n".join(rows) + "\n"
    print("\n" + table)
    output = (
        args.output or Path(__file__).parent / "results" / f"bench_bpe{'_quick' if args.quick else ''}.md"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(table, encoding="utf-8")
    print(f"written to {output}")


if __name__ == "__main__":
    main()
