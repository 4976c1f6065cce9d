"""The patch viewer: type text, pick a patching scheme, move a threshold, see where the patches fall.

Everything the widget shows comes from plain functions that tests call directly:

- :func:`patch_text` cuts the text's bytes into patches with one of the schemes of ``bltlib.patching``;
- :func:`patch_stats` counts bytes, patches, average patch size (and BPE tokens, given a tokenizer);
- :func:`entropy_figure` draws per-byte entropy, the threshold line and the patch starts;
- :func:`patch_viewer` wires them to sliders. The entropy model runs once per text; a slider move
  only re-patches (NumPy) and redraws, which keeps it interactive on a CPU.

Positions. The entropy model sees ``[BOS] + bytes``; ``entropies[i]`` is its uncertainty about token
``i + 1``, i.e. about byte ``i``. The viewer drops the ``[BOS]`` patch, so a byte ``j >= 1`` starts a
patch under the global rule exactly when its own bar in the figure rises above the threshold.

>>> patch_text("ab cd", "space").patches
[b'ab ', b'cd']
>>> patch_text("abcdefg", "static", patch_size=3).patches
[b'abc', b'def', b'g']
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bltlib import patching
from bltlib.data import BYTE_VOCAB, encode_bytes
from bltlib.viz.bpe_stepper import token_spans_html

if TYPE_CHECKING:
    import ipywidgets
    import plotly.graph_objects as go

    from bltlib.transformer import TransformerLM

SCHEMES = ("static", "space", "entropy", "monotonic", "bpe")
MAX_ENTROPY = round(math.log(BYTE_VOCAB) + 0.01, 2)


@dataclass
class Patches:
    """A text cut into patches: the byte strings, and for entropy schemes the threshold used."""

    data: bytes
    lengths: list[int]
    scheme: str
    threshold: float | None = None
    patches: list[bytes] = field(init=False)

    def __post_init__(self) -> None:
        ends = np.cumsum(self.lengths).tolist()
        self.patches = [self.data[end - n : end] for n, end in zip(self.lengths, ends, strict=True)]

    @property
    def starts(self) -> list[int]:
        """Byte offsets where the patches start."""
        return [0, *np.cumsum(self.lengths)[:-1].tolist()]


def _drop_bos(lengths: list[int]) -> list[int]:
    # The patchers work on [BOS] + bytes and give BOS a patch of its own; the viewer shows bytes only.
    if lengths[0] != 1:
        raise AssertionError(f"the first patch should be [BOS] alone, got length {lengths[0]}")
    return lengths[1:]


def patch_text(
    text: str,
    scheme: str,
    *,
    entropies: np.ndarray | None = None,
    threshold: float | None = None,
    patch_size: int = 4,
    tokenizer: patching.BytesTokenizer | None = None,
    max_patch_length: int | None = None,
) -> Patches:
    """Cut ``text``'s UTF-8 bytes into patches with ``scheme`` (one of :data:`SCHEMES`).

    ``entropy`` and ``monotonic`` need ``entropies`` (``len(bytes) + 1`` values, as
    ``bltlib.entropy.entropies(model, text)`` returns) and a ``threshold``; ``bpe`` needs a tokenizer;
    ``static`` uses ``patch_size``.

    >>> e = np.array([0.5, 2.0, 0.1, 0.1, 1.5, 0.2])  # [BOS] + 5 bytes
    >>> patch_text("hello", "entropy", entropies=e, threshold=1.0).patches  # bytes 1 and 4 are unsure
    [b'h', b'ell', b'o']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty: type something to patch")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    data = text.encode("utf-8")
    if scheme == "static":
        lengths = patching.static_patch_lengths(len(data), patch_size)
    elif scheme == "space":
        lengths = _drop_bos(patching.space_patch_lengths(encode_bytes(data)))
    elif scheme == "bpe":
        if tokenizer is None:
            raise ValueError("the bpe scheme needs a tokenizer (e.g. lesson 1's RegexTokenizer)")
        lengths = patching.bpe_patch_lengths(text, tokenizer)
    else:
        if entropies is None or threshold is None:
            raise ValueError(f"the {scheme} scheme needs entropies and a threshold")
        if len(entropies) != len(data) + 1:
            raise ValueError(
                f"expected {len(data) + 1} entropies ([BOS] + {len(data)} bytes), got {len(entropies)}"
            )
        lengths = _drop_bos(
            patching.entropy_patch_lengths(entropies, threshold, monotonic=scheme == "monotonic")
        )
    if max_patch_length is not None:
        lengths = patching.split_long_patches(lengths, max_patch_length)
    uses_threshold = scheme in ("entropy", "monotonic")
    return Patches(data, lengths, scheme, threshold if uses_threshold else None)


def patch_stats(patches: Patches, tokenizer: patching.BytesTokenizer | None = None) -> dict[str, float]:
    """Bytes, patches, average patch size, and the BPE token count of the same text if a tokenizer is given.

    >>> patch_stats(patch_text("ab cd", "space"))
    {'bytes': 5, 'patches': 2, 'bytes per patch': 2.5}
    """
    stats: dict[str, float] = {
        "bytes": len(patches.data),
        "patches": len(patches.lengths),
        "bytes per patch": round(len(patches.data) / len(patches.lengths), 2),
    }
    if tokenizer is not None:
        stats["BPE tokens"] = len(tokenizer.encode_ordinary(patches.data.decode("utf-8")))
    return stats


def stats_html(stats: dict[str, float]) -> str:
    """The stats as one line of HTML."""
    return " · ".join(f"<b>{html.escape(k)}</b> {v:g}" for k, v in stats.items())


def entropy_figure(data: bytes, entropies: np.ndarray, patches: Patches, widget: bool = False) -> go.Figure:
    """Per-byte entropy bars (byte ``j`` gets ``entropies[j]``, the uncertainty before seeing it),
    the threshold line, and a marker on every patch start. ``widget=True`` returns a FigureWidget."""
    import plotly.graph_objects as go

    figure = (go.FigureWidget if widget else go.Figure)(
        data=[
            go.Bar(name="entropy (nats)", marker_color="#9ecae1"),
            go.Scatter(mode="markers", name="patch start", marker=dict(color="#d62728", size=8)),
        ],
        layout=dict(
            height=300,
            margin=dict(l=50, r=10, t=40, b=40),
            xaxis_title="byte",
            yaxis_title="next-byte entropy (nats)",
            legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"),
        ),
    )
    set_entropy_bars(figure, data, entropies)
    update_entropy_figure(figure, entropies, patches)
    return figure


def set_entropy_bars(figure: go.Figure, data: bytes, entropies: np.ndarray) -> None:
    """Draw a (new) text's per-byte entropies as the figure's bars."""
    figure.data[0].y = np.asarray(entropies[: len(data)], dtype=float).round(4)
    figure.data[0].hovertext = [_byte_label(b) for b in data]


def update_entropy_figure(figure: go.Figure, entropies: np.ndarray, patches: Patches) -> None:
    """Move the patch-start markers and the threshold line to ``patches`` (the bars stay)."""
    starts = patches.starts
    threshold = patches.threshold
    with figure.batch_update():
        figure.data[1].x = starts
        figure.data[1].y = [round(float(entropies[s]), 4) for s in starts]
        # The monotonic rule thresholds the rise e[j] - e[j-1], not e[j]: no line to draw against the bars.
        line = dict(type="line", xref="paper", x0=0, x1=1, y0=threshold, y1=threshold, line=dict(dash="dash"))
        figure.layout.shapes = [] if threshold is None or patches.scheme == "monotonic" else [line]
        title = f"{patches.scheme}: {len(starts)} patches"
        figure.layout.title = title + (f", threshold {threshold:.3f}" if threshold is not None else "")


def _byte_label(b: int) -> str:
    return repr(chr(b)) if b < 0x80 else f"0x{b:02x}"


def patch_viewer(
    model: TransformerLM,
    text: str,
    tokenizer: patching.BytesTokenizer | None = None,
    samples: dict[str, str] | None = None,
    threshold: float = 1.5,
) -> ipywidgets.VBox:
    """The interactive viewer: text box, sample picker, scheme buttons, threshold and target-size
    sliders, the entropy chart, the text as coloured patches and the stats.

    The target-size slider calibrates the threshold (``bltlib.patching.calibrate_threshold``) on this
    text and moves the threshold slider, so the two stay in step. The controls are attributes of the
    returned box: ``text``, ``sample``, ``scheme``, ``threshold``, ``target``, ``figure``, ``spans``,
    ``stats``.
    """
    import ipywidgets as widgets

    from bltlib.entropy import entropies as compute_entropies

    samples = samples or {}
    box = widgets.VBox()
    box.text = widgets.Textarea(value=text, layout=widgets.Layout(width="98%", height="90px"))
    box.sample = widgets.Dropdown(options=["(your text)", *samples], description="sample")
    box.scheme = widgets.ToggleButtons(
        options=[s for s in SCHEMES if s != "bpe" or tokenizer is not None], value="entropy"
    )
    box.threshold = widgets.FloatSlider(
        # Entropy over 260 byte ids is at most ln 260 = 5.56 nats.
        value=threshold,
        min=0.0,
        max=MAX_ENTROPY,
        step=0.01,
        description="threshold",
        readout_format=".2f",
    )
    box.target = widgets.FloatSlider(value=4.0, min=1.0, max=12.0, step=0.5, description="target size")
    box.spans, box.stats = widgets.HTML(), widgets.HTML()
    state: dict = {}

    def current_patches() -> Patches:
        return patch_text(
            box.text.value, box.scheme.value, entropies=state["entropies"], threshold=box.threshold.value,
            tokenizer=tokenizer,
        )  # fmt: skip

    def redraw(*_: object) -> None:
        if not box.text.value:
            box.spans.value, box.stats.value = "<i>type some text</i>", ""
            return
        patches = current_patches()
        box.spans.value = token_spans_html(patches.patches)
        box.stats.value = stats_html(patch_stats(patches, tokenizer))
        update_entropy_figure(box.figure, state["entropies"], patches)

    def load(value: str) -> None:
        # The only expensive step (a forward pass), done once per text, not per slider move.
        state["entropies"] = compute_entropies(model, value).numpy() if value else None
        if value:
            set_entropy_bars(box.figure, value.encode("utf-8"), state["entropies"])
        redraw()

    def on_sample(change: dict) -> None:
        if change["new"] in samples:
            box.text.value = samples[change["new"]]

    def on_target(change: dict) -> None:
        if state.get("entropies") is not None:
            monotonic = box.scheme.value == "monotonic"
            box.threshold.value = patching.calibrate_threshold(state["entropies"], change["new"], monotonic)

    state["entropies"] = compute_entropies(model, text).numpy()
    box.figure = entropy_figure(text.encode("utf-8"), state["entropies"], current_patches(), widget=True)
    box.text.observe(lambda change: load(change["new"]), names="value")
    box.sample.observe(on_sample, names="value")
    box.scheme.observe(redraw, names="value")
    box.threshold.observe(redraw, names="value")
    box.target.observe(on_target, names="value")
    redraw()
    box.children = [
        box.text,
        box.sample,
        box.scheme,
        box.threshold,
        box.target,
        box.figure,
        box.spans,
        box.stats,
    ]
    return box
