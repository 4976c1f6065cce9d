"""Benchmark the entropy model and the patch viewer on CPU. Prints one markdown table with targets.

    python benchmarks/bench_entropy.py                 # the shipped model, 1 MB of text, 2 threads
    python benchmarks/bench_entropy.py --bytes 200000  # a quicker run (the 1 MB time is extrapolated)

Measured, in this process:

- entropies of 1 MB of prose + code (``bltlib.entropy.entropies``), one run; target < 60 s;
- entropies of one paragraph, the median of ``--repeat`` runs after a warm-up; target < 0.2 s;
- the patch viewer's response to a slider move on a paragraph: re-patch and update the figure with the
  plain functions (``patch_text`` + ``update_entropy_figure``), and the same through the widget object
  (setting ``viewer.threshold.value`` runs its observers, which re-patch and redraw); medians; target
  < 0.1 s, well under a second. The widget numbers exclude the browser's own rendering.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from bltlib.data import mixed_text
from bltlib.entropy import entropies, load_entropy_model
from bltlib.viz.patch_viewer import entropy_figure, patch_text, patch_viewer, update_entropy_figure

PARAGRAPH = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be "
    "in want of a wife. However little known the feelings or views of such a man may be on his first "
    "entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families, that "
    "he is considered as the rightful property of some one or other of their daughters."
)


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls of ``fn``, after one warm-up call.

    >>> median_time(lambda: None, 3) < 0.01
    True
    """
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def slider_values(n: int) -> list[float]:
    """Thresholds a user might drag through, alternating so every move changes the patches.

    >>> slider_values(4)
    [1.0, 2.5, 1.5, 2.0]
    """
    low, high = [1.0 + 0.5 * i for i in range((n + 1) // 2)], [2.5 - 0.5 * i for i in range(n // 2)]
    return [v for pair in zip(low, high, strict=False) for v in pair] + low[len(high) :]


def row(name: str, seconds: float, target: float, note: str = "") -> str:
    """One markdown table row: measurement, time, target and whether it is met.

    >>> row("x", 0.05, 0.2)
    '| x | 0.050 s | < 0.2 s | yes |'
    """
    met = "yes" if seconds < target else "NO"
    return f"| {name}{note} | {seconds:.3f} s | < {target:g} s | {met} |"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--weights", type=Path, default=None, help="an entropy model file (default: the shipped one)"
    )
    p.add_argument("--bytes", type=int, default=1_000_000, help="size of the long text")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64], help="windows per forward pass")
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).parent / "results" / "bench_entropy.md",
        help="also write the table here (default: benchmarks/results/bench_entropy.md)",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_entropy_model(args.weights)

    text = mixed_text(args.bytes)  # speed only: which text does not matter
    n_bytes = len(text.encode("utf-8"))
    long_seconds = {}
    for batch_size in args.batch_sizes:
        start = time.perf_counter()
        entropies(model, text, batch_size=batch_size, progress=False)
        long_seconds[batch_size] = (time.perf_counter() - start) * 1_000_000 / n_bytes  # scaled to 1 MB

    paragraph_seconds = median_time(lambda: entropies(model, PARAGRAPH, progress=False), args.repeat)

    e = entropies(model, PARAGRAPH, progress=False).numpy()
    figure = entropy_figure(
        PARAGRAPH.encode("utf-8"), e, patch_text(PARAGRAPH, "entropy", entropies=e, threshold=1.5)
    )
    values = iter(slider_values(10 * (args.repeat + 1)))

    def plain_move() -> None:
        patches = patch_text(PARAGRAPH, "entropy", entropies=e, threshold=next(values))
        update_entropy_figure(figure, e, patches)

    plain_seconds = median_time(plain_move, args.repeat)
    viewer = patch_viewer(model, PARAGRAPH, threshold=1.5)

    def widget_move() -> None:
        viewer.threshold.value = next(values)

    widget_seconds = median_time(widget_move, args.repeat)
    targets = iter([3.0, 6.0] * (args.repeat + 1))

    def target_move() -> None:
        viewer.target.value = next(targets)  # calibrates, then moves the threshold slider

    target_seconds = median_time(target_move, args.repeat)

    c = model.config
    extrapolated = "" if n_bytes >= 1_000_000 else f" (measured on {n_bytes:,} bytes, scaled)"
    lines = [
        f"Entropy model: {model.num_params():,} parameters (dim {c.dim}, {c.n_layers} layers, context "
        f"{c.max_seq_len}, window {c.sliding_window}); {args.threads} threads, torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, load average {os.getloadavg()[0]:.1f}",
        "",
        "| measurement | time | target | met? |",
        "|---|---|---|---|",
        *(
            row(f"entropies of 1 MB of text, batch_size={batch_size}", seconds, 60, extrapolated)
            for batch_size, seconds in long_seconds.items()
        ),
        row(f"entropies of one paragraph ({len(PARAGRAPH)} bytes), median", paragraph_seconds, 0.2),
        row("slider move: re-patch + figure update (plain functions), median", plain_seconds, 0.1),
        row("slider move: threshold slider of the widget, median", widget_seconds, 0.1),
        row("slider move: target-size slider (calibrate + redraw), median", target_seconds, 0.1),
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table, encoding="utf-8")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
