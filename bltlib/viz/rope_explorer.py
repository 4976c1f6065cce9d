"""The RoPE explorer: how one position turns each pair of channels, and what a scaling does to it.

The widget (:func:`rope_explorer`) has sliders for a position, a pair of channels, a method and a
factor; everything it draws comes from the plain functions below, which the tests call directly:

- :func:`pair_angles`: the angle each pair is turned by at a position (radians, not wrapped);
- :func:`score_vs_distance`: the q.k score of a query and a key that are the same all-ones vector,
  as a function of their distance (the "long-term decay" RoFormer shows), scaled to 1 at distance 0;
- :func:`explorer_figure`: the three panels (the pair on the unit circle, per-pair scale factors,
  score against distance), also a static figure for readers without widgets.

>>> [round(a, 3) for a in pair_angles(2, head_dim=4, base=100.0).tolist()]
[2.0, 0.2]
>>> [round(s, 3) for s in score_vs_distance([0, 1], head_dim=4, base=100.0).tolist()]
[1.0, 0.768]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from bltlib.longctx import method_scaling
from bltlib.rope import rescale_factors, rope_parameters

if TYPE_CHECKING:
    import ipywidgets
    import plotly.graph_objects as go

EXPLORER_METHODS = ("none", "pi", "ntk", "dynamic", "yarn")
COLORS = {"trained": "#9e9e9e", "scaled": "#d62728"}


def pair_angles(
    position: int,
    head_dim: int,
    base: float = 10000.0,
    scaling: dict | None = None,
    seq_len: int | None = None,
) -> torch.Tensor:
    """``position * inv_freq``: how far each of the ``head_dim // 2`` pairs turns at ``position``.

    >>> [round(a, 2) for a in pair_angles(100, 4, 100.0, {"rope_type": "linear", "factor": 4.0}).tolist()]
    [25.0, 2.5]
    """
    inv_freq, _ = rope_parameters(head_dim, base, scaling, seq_len)
    return position * inv_freq


def score_vs_distance(
    distances: Sequence[int] | torch.Tensor,
    head_dim: int,
    base: float = 10000.0,
    scaling: dict | None = None,
    seq_len: int | None = None,
) -> torch.Tensor:
    """``q . R(d) k`` for ``q = k = ones``, divided by ``q . k`` of plain RoPE at distance 0.

    Each pair contributes ``2 cos(d * inv_freq)``; fast pairs average out quickly, so the score decays
    (with ripples) as the distance grows. A scaling's ``attention_factor`` multiplies it by its square.

    >>> pi = {"rope_type": "linear", "factor": 10.0}
    >>> [round(s, 3) for s in score_vs_distance([0, 10], 4, 100.0, pi).tolist()]
    [1.0, 0.768]
    """
    inv_freq, attention_factor = rope_parameters(head_dim, base, scaling, seq_len)
    d = torch.as_tensor(distances, dtype=torch.float32)
    return torch.cos(d[:, None] * inv_freq[None, :]).mean(dim=1) * attention_factor**2


def explorer_scaling(method: str, factor: float, original: int) -> dict | None:
    """The scaling the explorer shows: plain RoPE for ``none`` or a factor of 1."""
    if factor == 1:
        return None
    return method_scaling(method, factor, original_max_position_embeddings=original)


def explorer_figure(
    position: int,
    pair: int,
    method: str,
    factor: float,
    *,
    head_dim: int = 32,
    base: float = 10000.0,
    original: int = 256,
    max_distance: int | None = None,
) -> go.Figure:
    """Three panels: pair ``pair`` at ``position`` on the unit circle (trained RoPE in grey, the scaling
    in red, with the largest angle training ever showed as a dashed arc), the per-pair scale factors,
    and the score against distance up to ``max_distance`` (default ``factor * original``)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not 0 <= pair < head_dim // 2:
        raise ValueError(f"pair must be in [0, {head_dim // 2}), got {pair}")
    max_distance = max_distance or int(max(factor, 1) * original)
    scaling = explorer_scaling(method, factor, original)
    seq_len = max(position + 1, max_distance, original)
    # Two panels on top, the score across the bottom: at 1280 px wide with JupyterLab's file browser
    # open, three panels in a row leave no room for their titles.
    fig = make_subplots(
        rows=2,
        cols=2,
        specs=[[{}, {}], [{"colspan": 2}, None]],
        subplot_titles=(
            f"pair {pair} at position {position}",
            "scale factor per pair (1 = as trained)",
            "q·k score vs distance",
        ),
        column_widths=[0.3, 0.7],
        row_heights=[0.55, 0.45],
        horizontal_spacing=0.12,
        vertical_spacing=0.2,
    )
    circle = torch.linspace(0, 2 * math.pi, 121)
    fig.add_trace(
        go.Scatter(
            x=circle.cos().tolist(),
            y=circle.sin().tolist(),
            mode="lines",
            line=dict(color="#dddddd"),
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    # The angles the pair saw in training: 0 .. (original - 1) * inv_freq, wrapped to one turn at most.
    seen = min(float(pair_angles(original - 1, head_dim, base)[pair]), 2 * math.pi)
    arc = torch.linspace(0, seen, 60)
    fig.add_trace(
        go.Scatter(
            x=arc.cos().tolist(),
            y=arc.sin().tolist(),
            mode="lines",
            line=dict(color="#2ca02c", dash="dash"),
            name="seen in training",
        ),
        row=1,
        col=1,
    )
    for name, s in (("trained", None), ("scaled", scaling)):
        angle = float(pair_angles(position, head_dim, base, s, seq_len)[pair])
        fig.add_trace(
            go.Scatter(
                x=[0, math.cos(angle)],
                y=[0, math.sin(angle)],
                mode="lines+markers",
                line=dict(color=COLORS[name], width=3),
                name=f"{name}: {angle:.2f} rad",
            ),
            row=1,
            col=1,
        )
    factors = rescale_factors(head_dim, base, scaling, seq_len)
    fig.add_trace(
        go.Bar(
            x=list(range(head_dim // 2)),
            y=factors.tolist(),
            marker_color=[COLORS["scaled"] if i == pair else "#4c78a8" for i in range(head_dim // 2)],
            name="scale factor",
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    distances = torch.arange(max_distance)
    for name, s in (("trained", None), ("scaled", scaling)):
        fig.add_trace(
            go.Scatter(
                x=distances.tolist(),
                y=score_vs_distance(distances, head_dim, base, s, seq_len).tolist(),
                mode="lines",
                line=dict(color=COLORS[name]),
                name=f"score, {name}",
            ),
            row=2,
            col=1,
        )
    fig.add_vline(x=original, line_dash="dot", line_color="#2ca02c", row=2, col=1)
    fig.update_xaxes(range=[-1.15, 1.15], visible=False, row=1, col=1)
    fig.update_yaxes(range=[-1.15, 1.15], scaleanchor="x", scaleratio=1, visible=False, row=1, col=1)
    fig.update_xaxes(title=dict(text="pair index (fast → slow)", standoff=4), dtick=2, row=1, col=2)
    fig.update_xaxes(title=dict(text="distance (dotted line: the training length)", standoff=4), row=2, col=1)
    fig.update_layout(
        height=520,
        title=dict(text=f"RoPE explorer: {method}, factor {factor:g}", x=0.01),
        margin=dict(l=50, r=20, t=60, b=40),
        legend=dict(orientation="h", x=0, xanchor="left", y=-0.12, yanchor="top"),
    )
    return fig


def rope_explorer(head_dim: int = 32, base: float = 10000.0, original: int = 256) -> ipywidgets.VBox:
    """Sliders (position, pair, method, factor) above :func:`explorer_figure`, redrawn on every change.

    Children: ``(controls, plotly FigureWidget)``; the controls are ``position`` (a full-width row) and an
    ``HBox(pair, method, factor)``.
    """
    import ipywidgets as widgets
    import plotly.graph_objects as go

    wide, narrow = widgets.Layout(width="95%"), widgets.Layout(width="260px")
    position = widgets.IntSlider(
        value=original, min=0, max=16 * original, description="position", layout=wide
    )
    pair = widgets.IntSlider(
        value=head_dim // 4, min=0, max=head_dim // 2 - 1, description="pair", layout=narrow
    )
    method = widgets.Dropdown(options=EXPLORER_METHODS, value="yarn", description="method", layout=narrow)
    factor = widgets.Dropdown(options=[1, 2, 4, 8, 16], value=4, description="factor", layout=narrow)
    controls = [position, pair, method, factor]
    for control in controls:
        control.continuous_update = False  # redraw once a drag ends, not on every pixel

    def figure() -> go.Figure:
        return explorer_figure(
            position.value,
            pair.value,
            method.value,
            factor.value,
            head_dim=head_dim,
            base=base,
            original=original,
        )

    view = go.FigureWidget(figure())

    def show(_change: object = None) -> None:
        fig = figure()
        with view.batch_update():  # same traces in the same order: update them in place
            for old, new in zip(view.data, fig.data, strict=True):
                old.update(new.to_plotly_json())
            view.layout = fig.layout

    for control in controls:
        control.observe(show, names="value")
    # The position slider gets a row of its own: 0 .. 16 L needs a long track.
    return widgets.VBox([widgets.VBox([position, widgets.HBox([pair, method, factor])]), view])
