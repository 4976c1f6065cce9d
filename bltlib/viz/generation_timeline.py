"""A timeline of patch-aware BLT generation: byte by byte, where patches close and the latent model runs.

:meth:`bltlib.blt.BLT.generate` runs the small models (entropy model, local encoder, local decoder) once
per byte and the big latent model only when a patch closes: after a position whose next byte the entropy
model finds uncertain (entropy above the threshold). The timeline replays a :class:`~bltlib.blt.Generation`
one new byte at a time: the entropy curve against the threshold, the patches shaded, a marker at every
latent step, and counters of what each model has done so far.

Everything the widget shows comes from plain functions that tests call directly:

- :func:`byte_chars` names each byte of a byte string (the character on its first byte,
  :data:`~bltlib.viz.blt_explorer.CONTINUATION` on the others, :data:`INVALID` for bytes of no valid
  character, e.g. a character cut in half);
- :func:`timeline_data` lays a generation out per position (a :class:`TimelineData`) and counts the
  work done after each new byte (a :class:`Counters` per step);
- :func:`timeline_figure` draws it up to a step (a static figure, for readers without widgets);
- :func:`generation_timeline` wires the figure to a ``Play`` button and a slider.

Positions count in ``[BOS] + prompt + new bytes``, as in :class:`~bltlib.blt.Generation`. The entropy at
position ``p`` is ``g.entropies[p]``, the entropy model's uncertainty about byte ``p + 1``: it decides
whether the patch closes after ``p`` (and so whether the latent model runs there). ``[BOS]`` is a patch
of its own: the latent model always runs after position 0.

How the work adds up (as the cached, patch-aware generation does it): the prompt is read at once (every
prompt position through the entropy model, the encoder and the decoder, one latent step per patch it
closes), and that pass predicts new byte 1. Each later new byte ``k`` costs one step of each small model
on byte ``k - 1``, plus a latent step if that byte closed a patch. So after ``k >= 1`` new bytes, each
small model has processed ``prompt positions + k - 1`` positions; the last byte's own step comes with the
next byte (a generation that ended at ``max_new_bytes`` never takes it).

>>> from bltlib.blt import Generation
>>> g = Generation(
...     prompt=b"ab", bytes=b"cd", patch_lengths=[1, 2, 2], entropies=[3.0, 0.5, 2.5, 0.1],
...     latent_positions=[0, 2], counts={}, seconds=[0.1, 0.1],
... )
>>> data = timeline_data(g, threshold=2.0)
>>> data.chars, data.latent_after, data.patch_index
(['BOS', 'a', 'b', 'c', 'd'], [True, False, True, False, False], [0, 1, 1, 2, 2])
>>> [(c.positions, c.latent_steps) for c in data.counters]  # after 0, 1 and 2 new bytes
[(3, 2), (3, 2), (4, 2)]
"""

from __future__ import annotations

import dataclasses
import html
import math
from typing import TYPE_CHECKING

from bltlib.config import int_at_least
from bltlib.viz.blt_explorer import byte_labels

if TYPE_CHECKING:
    import ipywidgets
    import plotly.graph_objects as go

    from bltlib.blt import Generation

INVALID = "�"  # a byte that is part of no valid UTF-8 character (U+FFFD, as Generation.text shows it)
TRACES = ("patches", "threshold", "entropy", "latent step", "bytes")  # the figure's traces, in order
# Alternating patch shades: greys over the prompt, colours over the new bytes.
PROMPT_SHADES = ("#f2f2f2", "#dedede")
NEW_SHADES = ("#deebf7", "#fde3c8")
ENTROPY_COLOUR, CLOSE_COLOUR, THRESHOLD_COLOUR = "#1f77b4", "#d62728", "#555555"
FLOOR = -1.2  # the figure's y axis starts here: the bytes are written below the entropy curve


def _utf8_length(lead: int) -> int:
    """Bytes in the UTF-8 character that starts with byte ``lead``; 0 if no character starts with it."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0  # a continuation byte, or a lead byte UTF-8 never uses


def byte_chars(data: bytes) -> list[str]:
    """One label per byte: the character on its first byte (whitespace made visible, as in the BLT
    explorer), :data:`~bltlib.viz.blt_explorer.CONTINUATION` on its other bytes, :data:`INVALID` on a
    byte that belongs to no valid character (e.g. the start of a character cut off at the end).

    >>> byte_chars("a 人".encode())
    ['a', '·', '人', '◦', '◦']
    >>> byte_chars("é".encode()[:1] + b"\\n")  # a character cut in half, then a newline
    ['�', '↵']
    """
    labels: list[str] = []
    i = 0
    while i < len(data):
        n = _utf8_length(data[i])
        try:
            ch = data[i : i + n].decode("utf-8") if n and i + n <= len(data) else None
        except UnicodeDecodeError:
            ch = None
        if ch is None:
            labels.append(INVALID)
            i += 1
        else:
            labels += byte_labels(ch)
            i += n
    return labels


def resolve_threshold(threshold: object) -> float | None:
    """A threshold in nats from a number, a :class:`~bltlib.patching.Patcher`, or a model with a
    ``patcher`` (e.g. ``load_blt()``); ``None`` stays ``None``, as does a patcher without a threshold.

    >>> resolve_threshold(2)
    2.0
    """
    if threshold is None:
        return None
    source = threshold
    if not isinstance(threshold, int | float):
        threshold = getattr(getattr(threshold, "patcher", threshold), "threshold", source)
        if threshold is None:
            return None
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise TypeError(
            "threshold must be a number (nats), a Patcher, or a model with a patcher "
            f"(e.g. load_blt()), got {type(source).__name__}"
        )
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number of nats, got {threshold!r}")
    return float(threshold)


@dataclasses.dataclass(frozen=True)
class Counters:
    """The work done once ``new_bytes`` new bytes exist (see the module's docstring): ``positions``
    processed by each of the entropy model, the encoder and the decoder, ``latent_steps`` taken by the
    latent model (both counting the prompt's pass), and ``seconds`` spent predicting the new bytes."""

    new_bytes: int
    positions: int
    latent_steps: int
    seconds: float


@dataclasses.dataclass
class TimelineData:
    """A generation laid out per shown position (the last prompt bytes, then every new byte), and the
    work counted after each new byte. The per-position lists are parallel; ``counters[k]`` holds the
    totals once ``k`` new bytes exist (``counters[0]``: the prompt's pass alone)."""

    positions: list[int]  # position in [BOS] + prompt + new bytes
    chars: list[str]  # "BOS", or the byte's label (see byte_chars)
    byte_values: list[int | None]  # the byte (None for BOS)
    entropies: list[float | None]  # uncertainty about the next byte; None where never computed
    latent_after: list[bool]  # whether a patch closed after the position (and the latent model ran)
    patch_index: list[int]  # the patch holding the position (0 is [BOS]'s)
    generated: list[bool]  # a new byte (True) or [BOS] / a prompt byte (False)
    threshold: float | None  # nats; None if not given
    prompt_positions: int  # [BOS] + every prompt byte (shown or not)
    new_bytes: int
    counters: list[Counters]  # one per step 0 .. new_bytes

    @property
    def hidden_prompt_bytes(self) -> int:
        """Prompt bytes before the first one shown."""
        return self.positions[0] - 1 if self.positions[0] > 0 else 0

    def shown(self, upto: int) -> int:
        """How many of the shown positions exist after ``upto`` new bytes (the prompt's, then new ones)."""
        return len(self.positions) - (self.new_bytes - check_upto(upto, self.new_bytes))

    def summary(self, upto: int) -> str:
        """The counters after ``upto`` new bytes, in words (the figure's title).

        >>> from bltlib.blt import Generation
        >>> g = Generation(b"ab", b"cde", [1, 2, 3], [3.0, 0.5, 2.5, 0.1, 0.2], [0, 2], {}, [0.1] * 3)
        >>> timeline_data(g).summary(3)
        'after 3 of 3 new bytes: 2 entropy/encoder/decoder steps, 0 latent steps'
        >>> timeline_data(g).summary(0)
        'the prompt, read at once: 3 positions, 2 latent steps'
        """
        first, now = self.counters[0], self.counters[check_upto(upto, self.new_bytes)]
        if upto == 0:
            return f"the prompt, read at once: {first.positions} positions, {first.latent_steps} latent steps"
        models = (
            "entropy/encoder/decoder" if any(e is not None for e in self.entropies) else "encoder/decoder"
        )
        return (
            f"after {upto} of {self.new_bytes} new bytes: {now.positions - first.positions} {models} steps, "
            f"{now.latent_steps - first.latent_steps} latent steps"
        )


def check_upto(upto: object, new_bytes: int) -> int:
    """``upto`` if it is a step of a generation of ``new_bytes`` bytes (0 .. new_bytes), else an error."""
    if isinstance(upto, bool) or not isinstance(upto, int):
        raise TypeError(f"upto must be an int (a count of new bytes), got {type(upto).__name__}")
    if not 0 <= upto <= new_bytes:
        raise ValueError(
            f"upto must be in [0, {new_bytes}] (the generation has {new_bytes} new bytes), got {upto}"
        )
    return upto


def _check_generation(g: Generation) -> int:
    """The number of positions of ``g``, after checking that its fields agree with each other."""
    n = 1 + len(g.prompt) + len(g.bytes)
    if sum(g.patch_lengths) != n or any(length < 1 for length in g.patch_lengths):
        raise ValueError(
            f"patch_lengths {g.patch_lengths} must be positive and sum to 1 + {len(g.prompt)} prompt bytes "
            f"+ {len(g.bytes)} new bytes = {n}"
        )
    if len(g.entropies) not in (0, n - 1):
        raise ValueError(
            f"expected {n - 1} entropies (one per position but the last) or none, got {len(g.entropies)}"
        )
    if any(not 0 <= p < n - 1 for p in g.latent_positions):
        raise ValueError(f"latent_positions must lie in [0, {n - 1}), got {g.latent_positions}")
    if len(g.seconds) < len(g.bytes):
        raise ValueError(f"expected a time per new byte ({len(g.bytes)}), got {len(g.seconds)}")
    return n


def timeline_data(g: Generation, show_prompt_bytes: int = 24, threshold: object = None) -> TimelineData:
    """Lay out ``g`` for the timeline: the last ``show_prompt_bytes`` prompt bytes (and ``[BOS]`` when the
    whole prompt is shown), then every new byte (at least one position: the last prompt byte if there
    is nothing else); and the :class:`Counters` after each new byte.

    ``threshold`` (nats, a Patcher, or a model with one) is only recorded: the latent steps come from
    ``g.latent_positions``, the patches from ``g.patch_lengths``.
    """
    if not int_at_least(show_prompt_bytes, 0):
        raise ValueError(f"show_prompt_bytes must be a non-negative int, got {show_prompt_bytes!r}")
    n = _check_generation(g)
    n_prompt = 1 + len(g.prompt)
    data = g.prompt + g.bytes
    chars = ["BOS", *byte_chars(data)]
    patch_of: list[int] = []
    for j, length in enumerate(g.patch_lengths):
        patch_of += [j] * length
    latent = set(g.latent_positions)
    first = 0 if show_prompt_bytes >= len(g.prompt) else n_prompt - show_prompt_bytes
    first = min(first, n - 1)  # no new bytes and no prompt bytes asked for: the last prompt byte
    positions = list(range(first, n))

    counters, seconds = [], 0.0
    for k in range(len(g.bytes) + 1):
        seconds += g.seconds[k - 1] if k else 0.0
        done = n_prompt + max(k - 1, 0)  # positions processed: the prompt's pass, then one per new byte
        counters.append(Counters(k, done, sum(p < done for p in latent), seconds))

    return TimelineData(
        positions=positions,
        chars=[chars[p] for p in positions],
        byte_values=[data[p - 1] if p else None for p in positions],
        entropies=[g.entropies[p] if p < len(g.entropies) else None for p in positions],
        latent_after=[p in latent for p in positions],
        patch_index=[patch_of[p] for p in positions],
        generated=[p >= n_prompt for p in positions],
        threshold=resolve_threshold(threshold),
        prompt_positions=n_prompt,
        new_bytes=len(g.bytes),
        counters=counters,
    )


# ----------------------------------------------------------------------------- the figure


def _hover(data: TimelineData, i: int) -> str:
    """What a position is, its patch, its entropy and whether the latent model ran after it."""
    p, value = data.positions[i], data.byte_values[i]
    if value is None:
        what = "BOS, the start"
    else:
        kind = f"new byte {p - data.prompt_positions + 1}" if data.generated[i] else f"prompt byte {p}"
        what = f"{kind}: {html.escape(data.chars[i])} (0x{value:02X})"
    lines = [f"position {p}, {what}", f"patch {data.patch_index[i]}"]
    e = data.entropies[i]
    if e is not None:
        lines.append(f"entropy of the next byte: {e:.2f} nats")
    if data.latent_after[i]:
        lines.append("a patch closes after it: latent step")
    return "<br>".join(lines)


def _top(data: TimelineData) -> float:
    """The top of the y axis: room above the highest entropy (and the threshold) for the marker row."""
    values = [e for e in data.entropies if e is not None]
    if data.threshold is not None:
        values.append(data.threshold)
    return max([1.0, *values]) + 1.0


def frame(data: TimelineData, upto: int) -> dict[str, dict]:
    """The data of each trace of :data:`TRACES` after ``upto`` new bytes: the bytes that exist then, the
    entropies computed by then (all positions processed, see :class:`Counters`) and their latent steps."""
    shown = data.shown(upto)
    done = data.counters[upto].positions
    top = _top(data)
    idx = range(shown)
    computed = [i for i in idx if data.positions[i] < done]
    with_entropy = [i for i in computed if data.entropies[i] is not None]
    closed = [i for i in computed if data.latent_after[i]]
    shades = [(NEW_SHADES if data.generated[i] else PROMPT_SHADES)[data.patch_index[i] % 2] for i in idx]
    return {
        "patches": dict(
            x=[data.positions[i] for i in idx],
            y=[top - FLOOR] * shown,
            marker=dict(color=shades),
            hovertext=[_hover(data, i) for i in idx],
        ),
        "threshold": dict(
            x=[data.positions[0] - 0.5, data.positions[-1] + 0.5] if data.threshold is not None else [],
            y=[data.threshold] * 2 if data.threshold is not None else [],
        ),
        "entropy": dict(
            x=[data.positions[i] for i in with_entropy],
            y=[data.entropies[i] for i in with_entropy],
            marker=dict(
                color=[CLOSE_COLOUR if data.latent_after[i] else ENTROPY_COLOUR for i in with_entropy]
            ),
            hovertext=[_hover(data, i) for i in with_entropy],
        ),
        "latent step": dict(
            x=[data.positions[i] + 0.5 for i in closed],
            y=[top - 0.45] * len(closed),
            hovertext=[
                f"latent step after position {data.positions[i]} (patch {data.patch_index[i]} closes)"
                for i in closed
            ],
        ),
        "bytes": dict(
            x=[data.positions[i] for i in idx],
            y=[FLOOR / 2] * shown,
            text=[data.chars[i] for i in idx],
            textfont=dict(color=["#111111" if data.generated[i] else "#8c8c8c" for i in idx]),
            hovertext=[_hover(data, i) for i in idx],
        ),
    }


def figure_title(data: TimelineData, upto: int) -> str:
    """The figure's title: the counters after ``upto`` new bytes, and a legend line under it."""
    first = data.counters[0]
    legend = [
        f"steps after the prompt's pass ({first.positions} positions, {first.latent_steps} latent steps)",
        "▼ latent step: a patch closes",
        "shading: patches (grey: prompt)",
    ]
    if data.threshold is not None:
        legend.insert(1, f"dashed: threshold {data.threshold:.2f} nats, red above it")
    return f"BLT generation, {data.summary(upto)}<br><sup>{' · '.join(legend)}</sup>"


def _need_threshold(data: TimelineData) -> None:
    if data.threshold is None and any(e is not None for e in data.entropies):
        raise ValueError(
            "the timeline needs the entropy threshold the generation used: pass threshold=model "
            "(or model.patcher.threshold)"
        )


def timeline_figure(
    g: Generation | TimelineData,
    threshold: object = None,
    upto: int | None = None,
    show_prompt_bytes: int = 24,
    widget: bool = False,
) -> go.Figure:
    """The timeline after ``upto`` new bytes (default: all of them): the entropy of each processed
    position (line and markers, red where a patch closes) against the dashed ``threshold`` (nats, a
    Patcher, or the model), the bytes written under the curve (grey: the prompt's last
    ``show_prompt_bytes``), the patches shaded alternately, a ▼ row above the curve at each latent step,
    and the counters in the title. Later new bytes are hidden, but the axes stay those of the whole
    generation, so that stepping through it does not rescale them. ``widget=True`` returns a
    FigureWidget. The traces are :data:`TRACES`, in that order.
    """
    import plotly.graph_objects as go

    if not isinstance(g, TimelineData):
        data = timeline_data(g, show_prompt_bytes, threshold)
    elif threshold is not None:
        data = dataclasses.replace(g, threshold=resolve_threshold(threshold))
    else:
        data = g
    _need_threshold(data)
    upto = data.new_bytes if upto is None else check_upto(upto, data.new_bytes)
    parts = frame(data, upto)
    top, n_shown = _top(data), len(data.positions)
    width = max(760, min(1400, 110 + 11 * n_shown))
    common = dict(showlegend=False, hovertemplate="%{hovertext}<extra></extra>")
    text_size = 12 if width / n_shown >= 11 else 10
    traces = [
        go.Bar(name="patches", base=FLOOR, width=1, marker_line_width=0, **common, **parts["patches"]),
        go.Scatter(
            name="threshold",
            mode="lines",
            line=dict(color=THRESHOLD_COLOUR, dash="dash", width=1.5),
            showlegend=False,
            hoverinfo="skip",
            **parts["threshold"],
        ),
        go.Scatter(
            name="entropy",
            mode="lines+markers",
            line=dict(color=ENTROPY_COLOUR, width=1.5),
            **common,
            **parts["entropy"],
        ),
        go.Scatter(
            name="latent step",
            mode="markers",
            marker=dict(symbol="triangle-down", size=10, color=CLOSE_COLOUR),
            **common,
            **parts["latent step"],
        ),
        go.Scatter(name="bytes", mode="text", textfont_size=text_size, **common, **parts["bytes"]),
    ]
    start = data.prompt_positions - 0.5  # the first new byte's left edge
    layout = dict(
        title=dict(text=figure_title(data, upto), x=0.01, font=dict(size=15)),
        xaxis=dict(
            title=dict(text="position in [BOS] + prompt + new bytes", standoff=4),
            range=[data.positions[0] - 0.5, data.positions[-1] + 0.5],
            showgrid=False,
            zeroline=False,
        ),
        yaxis=dict(
            title="entropy of the next byte (nats)",
            range=[FLOOR, top],
            tickvals=list(range(math.floor(top) + 1)),
            zeroline=False,
        ),
        shapes=[
            dict(type="line", xref="x", yref="y", x0=start, x1=start, y0=FLOOR, y1=top,
                 line=dict(color="black", width=1.5, dash="dot"))
        ] if data.new_bytes and start > data.positions[0] else [],
        bargap=0,
        hovermode="closest",
        plot_bgcolor="white",
        height=380,
        width=width,
        margin=dict(l=60, r=20, t=70, b=45),
    )  # fmt: skip
    # The layout goes to the constructor: a FigureWidget shown before its first update keeps it.
    return go.FigureWidget(data=traces, layout=layout) if widget else go.Figure(data=traces, layout=layout)


def counters_html(data: TimelineData, upto: int) -> str:
    """The widget's counters line after ``upto`` new bytes.

    >>> from bltlib.blt import Generation
    >>> g = Generation(b"ab", b"cde", [1, 2, 3], [3.0, 0.5, 2.5, 0.1, 0.2], [0, 2], {}, [0.25] * 3)
    >>> print(*counters_html(timeline_data(g), 2).split(" · "), sep="\\n")
    <b>after 2 of 3 new bytes</b>: entropy model, encoder, decoder: 3 prompt positions + 1 step each
    latent model: 2 + 0 steps
    0.50 s
    """
    first, now = data.counters[0], data.counters[check_upto(upto, data.new_bytes)]
    models = (
        "entropy model, encoder, decoder"
        if any(e is not None for e in data.entropies)
        else "encoder, decoder"
    )
    steps = now.positions - first.positions
    return (
        f"<b>after {upto} of {data.new_bytes} new bytes</b>: {models}: {first.positions} prompt positions + "
        f"{steps} step{'s' * (steps != 1)} each · latent model: {first.latent_steps} + "
        f"{now.latent_steps - first.latent_steps} steps · {now.seconds:.2f} s"
    )


# ----------------------------------------------------------------------------- the widget


def generation_timeline(
    g: Generation, threshold: object = None, show_prompt_bytes: int = 24, interval_ms: int = 300
) -> ipywidgets.VBox:
    """A ``Play`` button and a slider over the new bytes (0 .. all), above the counters line and
    :func:`timeline_figure`. ``threshold`` is the one the generation used: nats, its Patcher, or the
    model itself (``generation_timeline(g, model)`` reads ``model.patcher.threshold``); a generation with
    entropies needs one. Each step updates the figure's traces in place (one batch update, no new figure).

    The controls are attributes of the returned box: ``play``, ``slider``, ``counters`` (HTML) and
    ``figure`` (a plotly FigureWidget); ``box.data`` is the :class:`TimelineData`. It starts on the whole
    generation; Play starts over from the prompt.
    """
    import ipywidgets as widgets

    data = timeline_data(g, show_prompt_bytes, threshold)
    _need_threshold(data)
    n = data.new_bytes
    box = widgets.VBox()
    box.data = data
    box.play = widgets.Play(value=n, min=0, max=n, step=1, interval=interval_ms, description="play")
    box.slider = widgets.IntSlider(
        value=n, min=0, max=n, description="new bytes", layout=widgets.Layout(width="500px")
    )
    widgets.jslink((box.play, "value"), (box.slider, "value"))
    box.counters = widgets.HTML(counters_html(data, n))
    box.figure = timeline_figure(data, upto=n, widget=True)

    def redraw(change: dict) -> None:
        k = change["new"]
        parts = frame(data, k)
        with box.figure.batch_update():  # the same traces, new data: updated in place
            for trace in box.figure.data:
                trace.update(parts[trace.name])
            box.figure.layout.title.text = figure_title(data, k)
        box.counters.value = counters_html(data, k)

    box.slider.observe(redraw, names="value")
    box.children = [widgets.HBox([box.play, box.slider]), box.counters, box.figure]
    return box


__all__ = [
    "INVALID",
    "TRACES",
    "Counters",
    "TimelineData",
    "byte_chars",
    "check_upto",
    "counters_html",
    "figure_title",
    "frame",
    "generation_timeline",
    "resolve_threshold",
    "timeline_data",
    "timeline_figure",
]
