"""Live loss curves while a model trains: a :class:`~bltlib.train.Trainer` callback that redraws a plotly
``FigureWidget`` every few steps.

Everything the widget shows comes from a plain function that tests call directly:

- :func:`loss_curves` turns a training history (the metrics dicts the Trainer records: ``step``,
  ``loss`` and, at evaluation steps, ``val_loss``) into the curves to draw: the raw training loss, a
  smoothed one (an exponential moving average, debiased so that it starts at the first loss) and the
  validation points;
- :func:`loss_figure` draws those curves (a static figure, for readers without widgets);
- :class:`LiveLoss` is the callback: ``Trainer(..., callback=LiveLoss(total_steps=...))`` records every
  step and redraws its ``figure`` (a ``FigureWidget``) every ``every`` steps and at every evaluation.

>>> history = [{"step": 1, "loss": 4.0}, {"step": 2, "loss": 2.0, "val_loss": 3.0}]
>>> curves = loss_curves(history, smooth=0.5)
>>> curves.steps, curves.loss, curves.smoothed  # (0.5 * 4 + 2) / 1.5 = 2.667: debiased
([1, 2], [4.0, 2.0], [4.0, 2.6666666666666665])
>>> curves.val_steps, curves.val_loss
([2], [3.0])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import plotly.graph_objects as go

TRACES = ("train", "train (smoothed)", "validation")  # the figure's traces, in order


@dataclass
class LossCurves:
    """What a loss plot shows: per training step the loss and its smoothed value; the validation
    losses at the steps that have one. ``unit`` names the loss's unit (``nats`` or ``bits``)."""

    steps: list[int]
    loss: list[float]
    smoothed: list[float]
    val_steps: list[int]
    val_loss: list[float]
    unit: str = "nats"


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number, got {value!r}")
    return float(value)


def loss_curves(history: Iterable[Mapping], smooth: float = 0.9, bits: bool = False) -> LossCurves:
    """The curves of a training history: a list of metrics dicts with ``step`` and ``loss`` (in nats,
    as the Trainer records them) and, where evaluated, ``val_loss``.

    ``smooth`` in ``[0, 1)`` is the weight of the past in the moving average (0: no smoothing); the
    average is divided by ``1 - smooth ** n`` after ``n`` steps, so it does not start at zero.
    ``bits=True`` converts nats to bits (divides by ln 2): for a byte model, bits per byte.

    >>> loss_curves([{"step": 1, "loss": math.log(2)}], bits=True).loss
    [1.0]
    """
    if isinstance(smooth, bool) or not isinstance(smooth, int | float) or not 0 <= smooth < 1:
        raise ValueError(f"smooth must be a number in [0, 1), got {smooth!r}")
    scale = 1 / math.log(2) if bits else 1.0
    curves = LossCurves([], [], [], [], [], unit="bits" if bits else "nats")
    average = 0.0
    for i, metrics in enumerate(history):
        if not isinstance(metrics, Mapping) or "step" not in metrics or "loss" not in metrics:
            raise ValueError(
                f"history entry {i} must be a dict with 'step' and 'loss' (a Trainer metrics dict), "
                f"got {metrics!r:.80}"
            )
        step = metrics["step"]
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"history entry {i}: step must be an int, got {step!r}")
        loss = _number(metrics["loss"], f"history entry {i}: loss") * scale
        average = smooth * average + (1 - smooth) * loss
        curves.steps.append(step)
        curves.loss.append(loss)
        curves.smoothed.append(average / (1 - smooth ** len(curves.steps)))
        if metrics.get("val_loss") is not None:
            curves.val_steps.append(step)
            curves.val_loss.append(_number(metrics["val_loss"], f"history entry {i}: val_loss") * scale)
    return curves


def _axis_title(unit: str) -> str:
    return "loss (bits per byte)" if unit == "bits" else "loss (nats per target)"


def loss_figure(
    history: Iterable[Mapping] | LossCurves,
    title: str = "Training loss",
    total_steps: int | None = None,
    smooth: float = 0.9,
    bits: bool = False,
    widget: bool = False,
) -> go.Figure:
    """The training loss (faint), its moving average and the validation loss (markers) against the
    step; ``total_steps`` fixes the x range so that a live plot does not rescale as it grows.
    ``widget=True`` returns a FigureWidget. The traces are :data:`TRACES`, in that order.
    """
    import plotly.graph_objects as go

    curves = history if isinstance(history, LossCurves) else loss_curves(history, smooth, bits)
    data = [
        go.Scatter(
            name=TRACES[0], x=curves.steps, y=curves.loss, mode="lines", line=dict(width=1, color="#9ecae1")
        ),
        go.Scatter(
            name=TRACES[1],
            x=curves.steps,
            y=curves.smoothed,
            mode="lines",
            line=dict(width=2, color="#1f77b4"),
        ),
        go.Scatter(
            name=TRACES[2],
            x=curves.val_steps,
            y=curves.val_loss,
            mode="lines+markers",
            line=dict(width=2, color="#d62728"),
        ),
    ]
    xaxis = dict(title="step")
    if total_steps is not None:
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive int or None, got {total_steps!r}")
        xaxis["range"] = [0, total_steps]
    layout = dict(
        title=dict(text=title, x=0.01),
        xaxis=xaxis,
        yaxis=dict(title=_axis_title(curves.unit)),
        height=340,
        width=760,
        margin=dict(l=60, r=20, t=50, b=45),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=1, xanchor="right"),
    )
    # The layout goes to the constructor: a FigureWidget shown before its first update keeps it.
    return go.FigureWidget(data=data, layout=layout) if widget else go.Figure(data=data, layout=layout)


class LiveLoss:
    """A Trainer callback that plots the loss while training runs.

    ``live = LiveLoss(total_steps=cfg.steps)``, show ``live`` (or ``live.figure``) in a notebook, then
    ``Trainer(model, cfg, get_batch, callback=live).train()``. Every call records the step's metrics in
    ``live.history``; the figure is redrawn every ``every`` steps, at every step with a validation loss,
    and at ``total_steps``. :meth:`update` redraws it at any time.
    """

    def __init__(
        self,
        total_steps: int | None = None,
        every: int = 10,
        title: str = "Training loss (live)",
        smooth: float = 0.9,
        bits: bool = False,
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive int, got {every!r}")
        loss_curves([], smooth)  # a bad smooth fails here, not at the first step
        self.total_steps, self.every, self.smooth, self.bits = total_steps, every, smooth, bits
        self.history: list[dict] = []
        self.redraws = 0
        self.figure = loss_figure([], title, total_steps, smooth, bits, widget=True)

    def __call__(self, step: int, metrics: Mapping) -> None:
        self.history.append(dict(metrics))
        if (
            step % self.every == 0
            or metrics.get("val_loss") is not None
            or (self.total_steps is not None and step >= self.total_steps)
        ):
            self.update()

    def update(self) -> None:
        """Redraw the figure from the history recorded so far."""
        curves = loss_curves(self.history, self.smooth, self.bits)
        columns = (
            (curves.steps, curves.loss),
            (curves.steps, curves.smoothed),
            (curves.val_steps, curves.val_loss),
        )
        with self.figure.batch_update():
            for trace, (x, y) in zip(self.figure.data, columns, strict=True):
                trace.x, trace.y = x, y
        self.redraws += 1

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.figure)


__all__ = ["TRACES", "LiveLoss", "LossCurves", "loss_curves", "loss_figure"]
