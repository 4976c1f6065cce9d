"""The patch viewer: type text, pick a patching scheme, move a threshold, see where the patches fall.

Everything the widget shows comes from plain functions that tests call directly:

- :func:`patch_text` cuts the text's bytes into patches with one of the schemes of ``bltlib.patching``;
- :func:`patch_stats` counts bytes, patches, average patch size (and BPE tokens, given a tokenizer);
- :func:`patch_spans_html` draws the patches as coloured spans of *characters*: a patch that starts
  inside a multi-byte character (entropy patches may) gets a red left edge, and the character's bytes
  it holds show as :data:`CONTINUATION` marks, never as hex (``blt_explorer.byte_labels`` names them);
- :func:`entropy_figure` draws per-byte entropy, the threshold line and the patch starts (ringed where
  a start falls inside a character);
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
from bltlib.viz.blt_explorer import CONTINUATION, byte_labels
from bltlib.viz.bpe_stepper import PALETTE

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

    @property
    def cuts_inside_char(self) -> list[int]:
        """Starts that fall on a UTF-8 continuation byte: the patch begins inside a character.

        >>> patch_text("Всё", "static", patch_size=3).cuts_inside_char  # 2 bytes per letter
        [3]
        """
        return [s for s in self.starts if _is_continuation(self.data[s])]


def _is_continuation(byte: int) -> bool:
    return 0x80 <= byte < 0xC0


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
    if patches.cuts_inside_char:
        stats["cuts inside a character"] = len(patches.cuts_inside_char)
    return stats


def patch_spans_html(patches: Patches) -> str:
    """The patches as HTML spans of characters, one colour per patch, whitespace made visible.

    A multi-byte character is drawn in the patch that holds its first byte. A patch that starts inside
    a character begins with one :data:`CONTINUATION` mark per byte of it that it holds, and has a red
    left edge; its tooltip says which character it cuts.

    >>> html = patch_spans_html(patch_text("Всё", "static", patch_size=3))
    >>> [part.rsplit(">", 1)[1] for part in html.split("</span>")[:-1]]
    ['Вс', '◦ё']
    """
    data = patches.data
    labels = byte_labels(data.decode("utf-8"))
    spans = []
    for i, (start, length) in enumerate(zip(patches.starts, patches.lengths, strict=True)):
        shown = []
        for j in range(start, start + length):
            lead = j == start or shown[-1] == CONTINUATION  # still on the bytes of a cut character
            if not _is_continuation(data[j]):
                label = labels[j]
                if label.startswith("◌") and shown:  # a combining mark joins the letter before it
                    label = label[1:]
                shown.append(label + ("\n" if data[j] == 0x0A else ""))  # a newline breaks the line
            elif lead:
                shown.append(CONTINUATION)
        title = f"{length} byte{'s' * (length != 1)}"
        style = f"background:{PALETTE[i % len(PALETTE)]};border-radius:3px;padding:0 1px"
        if _is_continuation(data[start]):
            lead = start
            while _is_continuation(data[lead]):  # back to the character's first byte
                lead -= 1
            char = data[lead:].decode("utf-8", errors="ignore")[:1]
            title += f"; starts inside {char!r}"
            style += ";border-left:3px solid #d62728"
        label = html.escape("".join(shown))
        spans.append(f'<span style="{style}" title="{html.escape(title)}">{label}</span>')
    body = "<wbr>".join(spans)
    return f'<div style="font-family:monospace;white-space:pre-wrap;line-height:1.8">{body}</div>'


def stats_html(stats: dict[str, float]) -> str:
    """The stats as one line of HTML."""
    return " · ".join(f"<b>{html.escape(k)}</b> {v:g}" for k, v in stats.items())


def entropy_figure(data: bytes, entropies: np.ndarray, patches: Patches, widget: bool = False) -> go.Figure:
    """Per-byte entropy bars (byte ``j`` gets ``entropies[j]``, the uncertainty before seeing it),
    the threshold line, a marker on every patch start, and a ring on each start that falls inside a
    character. ``widget=True`` returns a FigureWidget."""
    import plotly.graph_objects as go

    figure = (go.FigureWidget if widget else go.Figure)(
        data=[
            go.Bar(name="entropy (nats)", marker_color="#9ecae1"),
            go.Scatter(mode="markers", name="patch start", marker=dict(color="#d62728", size=8)),
            go.Scatter(
                mode="markers",
                name="start inside a character",
                marker=dict(color="rgba(0,0,0,0)", size=15, line=dict(color="black", width=2)),
            ),
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
    """Draw a (new) text's per-byte entropies as the figure's bars; hovering a bar names its byte."""
    figure.data[0].y = np.asarray(entropies[: len(data)], dtype=float).round(4)
    figure.data[0].hovertext = _hover_labels(data)


def _hover_labels(data: bytes) -> list[str]:
    """What hovering a bar says: the character, and ``(byte 2 of 3)`` for the bytes of a multi-byte one.

    >>> _hover_labels("a é".encode())
    ['a', '·', 'é (byte 1 of 2)', 'é (byte 2 of 2)']
    """
    labels, out = byte_labels(data.decode("utf-8")), []
    lead = size = 0
    for j, label in enumerate(labels):
        if not _is_continuation(data[j]):
            lead, size = j, 1 if data[j] < 0xC0 else 2 if data[j] < 0xE0 else 3 if data[j] < 0xF0 else 4
            out.append(label if size == 1 else f"{label} (byte 1 of {size})")
        else:
            out.append(f"{labels[lead]} (byte {j - lead + 1} of {size})")
    return out


def update_entropy_figure(figure: go.Figure, entropies: np.ndarray, patches: Patches) -> None:
    """Move the patch-start markers and the threshold line to ``patches`` (the bars stay)."""
    starts, inside = patches.starts, patches.cuts_inside_char
    threshold = patches.threshold
    with figure.batch_update():
        figure.data[1].x = starts
        figure.data[1].y = [round(float(entropies[s]), 4) for s in starts]
        figure.data[2].x = inside
        figure.data[2].y = [round(float(entropies[s]), 4) for s in inside]
        figure.data[2].showlegend = bool(inside)
        # The monotonic rule thresholds the rise e[j] - e[j-1], not e[j]: no line to draw against the bars.
        line = dict(type="line", xref="paper", x0=0, x1=1, y0=threshold, y1=threshold, line=dict(dash="dash"))
        figure.layout.shapes = [] if threshold is None or patches.scheme == "monotonic" else [line]
        title = f"{patches.scheme}: {len(starts)} patches"
        figure.layout.title = title + (f", threshold {threshold:.3f}" if threshold is not None else "")


def patch_viewer(
    model: TransformerLM,
    text: str,
    tokenizer: patching.BytesTokenizer | None = None,
    samples: dict[str, str] | None = None,
    threshold: float = 1.5,
) -> ipywidgets.VBox:
    """The interactive viewer: text box, sample picker, scheme buttons, threshold and patch-size
    sliders, the entropy chart, the text as coloured patches and the stats.

    The ``bytes per patch`` slider always shows the average patch size on screen. Moved by hand, it
    asks for a size: for the entropy rules it calibrates the threshold on this text
    (``bltlib.patching.calibrate_threshold``) and moves the threshold slider; for static patches it
    sets the patch size. The threshold slider only applies to the entropy rules, and space and BPE
    patches have a size of their own, so a slider that does not apply is greyed out. The controls are
    attributes of the returned box: ``text``, ``sample``, ``scheme``, ``threshold``, ``target``,
    ``figure``, ``spans``, ``stats``; ``current_patches()`` gives the :class:`Patches` on screen.
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
    slider_layout = widgets.Layout(width="60%")
    box.threshold = widgets.FloatSlider(
        # Entropy over 260 byte ids is at most ln 260 = 5.56 nats.
        value=threshold,
        min=0.0,
        max=MAX_ENTROPY,
        step=0.001,  # fine enough for a calibrated threshold (entropies can be close together)
        description="threshold",
        readout_format=".3f",
        layout=slider_layout,
    )
    box.target = widgets.FloatSlider(
        value=4.0,
        min=1.0,
        max=12.0,
        step=0.01,
        description="bytes per patch",
        readout_format=".2f",
        style={"description_width": "initial"},
        layout=slider_layout,
    )
    box.spans, box.stats = widgets.HTML(), widgets.HTML()
    state: dict = {"patch_size": 4, "asked": False}

    def current_patches() -> Patches:
        return patch_text(
            box.text.value, box.scheme.value, entropies=state["entropies"], threshold=box.threshold.value,
            tokenizer=tokenizer, patch_size=state["patch_size"],
        )  # fmt: skip

    def redraw(*_: object) -> None:
        entropic = box.scheme.value in ("entropy", "monotonic")
        box.threshold.disabled = not entropic
        box.target.disabled = not (entropic or box.scheme.value == "static")
        if not box.text.value:
            box.spans.value, box.stats.value = "<i>type some text</i>", ""
            return
        patches = current_patches()
        box.spans.value = patch_spans_html(patches)
        stats = patch_stats(patches, tokenizer)
        box.stats.value = stats_html(stats)
        update_entropy_figure(box.figure, state["entropies"], patches)
        if not state["asked"]:  # the slider shows the size on screen, unless the learner is moving it
            state["asked"] = True  # (this change is not a request)
            try:
                box.target.value = min(max(stats["bytes per patch"], box.target.min), box.target.max)
            finally:
                state["asked"] = False

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
        if state["asked"] or state.get("entropies") is None:
            return
        state["asked"] = True  # the redraws below keep the size asked for on the slider
        try:
            if box.scheme.value == "static":
                state["patch_size"] = max(1, round(change["new"]))
                redraw()
            elif box.scheme.value in ("entropy", "monotonic"):
                monotonic = box.scheme.value == "monotonic"
                calibrated = patching.calibrate_threshold(state["entropies"], change["new"], monotonic)
                box.threshold.value = calibrated
        finally:
            state["asked"] = False

    box.current_patches = current_patches
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
