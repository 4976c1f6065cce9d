"""The live loss plot: its plain function, its static figure, and the callback driven by a real Trainer,
without a browser."""

import math

import plotly.graph_objects as go
import pytest
import torch
from torch import nn

from bltlib.train import TrainConfig, Trainer
from bltlib.viz.live_loss import TRACES, LiveLoss, LossCurves, loss_curves, loss_figure


def _history(n, val_every=5):
    out = []
    for step in range(1, n + 1):
        metrics = {"step": step, "loss": 5.0 / step, "lr": 1e-3, "grad_norm": 1.0}
        if step % val_every == 0:
            metrics["val_loss"] = 6.0 / step
        out.append(metrics)
    return out


def test_curves_keep_every_step_and_only_the_evaluated_ones_for_validation():
    curves = loss_curves(_history(12))
    assert curves.steps == list(range(1, 13))
    assert curves.loss == [5.0 / s for s in range(1, 13)]
    assert curves.val_steps == [5, 10] and curves.val_loss == [6.0 / 5, 6.0 / 10]
    assert curves.unit == "nats"
    # A val_loss of None (not evaluated) is no point.
    assert loss_curves([{"step": 1, "loss": 1.0, "val_loss": None}]).val_steps == []


def test_smoothing_is_a_debiased_moving_average():
    constant = loss_curves([{"step": s, "loss": 3.0} for s in range(1, 20)], smooth=0.9)
    assert all(math.isclose(v, 3.0) for v in constant.smoothed)  # debiased: no ramp up from zero
    curves = loss_curves(_history(30), smooth=0.8)
    average, expected = 0.0, []
    for n, loss in enumerate(curves.loss, start=1):
        average = 0.8 * average + 0.2 * loss
        expected.append(average / (1 - 0.8**n))
    assert curves.smoothed == pytest.approx(expected)
    assert curves.smoothed[0] == curves.loss[0]
    # A falling loss: the average lags behind it, but it falls too.
    assert all(s >= raw for s, raw in zip(curves.smoothed, curves.loss, strict=True))
    assert curves.smoothed[-1] < curves.smoothed[0]
    assert loss_curves(_history(5), smooth=0).smoothed == loss_curves(_history(5)).loss


def test_bits_divide_by_ln2():
    nats, bits = loss_curves(_history(10)), loss_curves(_history(10), bits=True)
    assert bits.unit == "bits"
    assert bits.loss == pytest.approx([v / math.log(2) for v in nats.loss])
    assert bits.val_loss == pytest.approx([v / math.log(2) for v in nats.val_loss])
    assert bits.smoothed == pytest.approx([v / math.log(2) for v in nats.smoothed])


@pytest.mark.parametrize(
    "history, error, message",
    [
        ([{"loss": 1.0}], ValueError, "'step' and 'loss'"),
        ([{"step": 1}], ValueError, "'step' and 'loss'"),
        ([3.0], ValueError, "entry 0"),
        ([{"step": 1.5, "loss": 1.0}], TypeError, "step must be an int"),
        ([{"step": 1, "loss": "high"}], TypeError, "loss must be a number"),
        (
            [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 1.0, "val_loss": "x"}],
            TypeError,
            "entry 1: val_loss",
        ),
    ],
)
def test_bad_histories_are_explained(history, error, message):
    with pytest.raises(error, match=message):
        loss_curves(history)


@pytest.mark.parametrize("smooth", [-0.1, 1.0, 2, True, "0.9"])
def test_bad_smoothing_is_refused(smooth):
    with pytest.raises(ValueError, match="smooth must be"):
        loss_curves([], smooth)
    with pytest.raises(ValueError, match="smooth must be"):
        LiveLoss(smooth=smooth)


def test_figure_draws_the_curves():
    history = _history(20)
    fig = loss_figure(history, title="my run", total_steps=40, bits=True)
    assert isinstance(fig, go.Figure) and not isinstance(fig, go.FigureWidget)
    curves = loss_curves(history, bits=True)
    assert [t.name for t in fig.data] == list(TRACES)
    assert list(fig.data[0].x) == curves.steps and list(fig.data[0].y) == curves.loss
    assert list(fig.data[1].y) == pytest.approx(curves.smoothed)
    assert list(fig.data[2].x) == curves.val_steps and list(fig.data[2].y) == curves.val_loss
    assert fig.layout.title.text == "my run"
    assert list(fig.layout.xaxis.range) == [0, 40]
    assert "bits per byte" in fig.layout.yaxis.title.text
    # Curves computed once can be drawn as they are; no total: the x range is automatic.
    again = loss_figure(curves)
    assert list(again.data[1].y) == list(fig.data[1].y) and again.layout.xaxis.range is None
    assert isinstance(loss_figure([], widget=True), go.FigureWidget)
    with pytest.raises(ValueError, match="total_steps"):
        loss_figure(history, total_steps=0)
    assert isinstance(curves, LossCurves)


def test_callback_records_every_step_and_redraws_every_few():
    live = LiveLoss(total_steps=23, every=10)
    assert isinstance(live.figure, go.FigureWidget)
    assert [len(t.x or ()) for t in live.figure.data] == [0, 0, 0]
    redrawn_at = []
    for metrics in _history(23, val_every=7):
        before = live.redraws
        live(metrics["step"], metrics)
        if live.redraws > before:
            redrawn_at.append(metrics["step"])
        # Between redraws the figure lags behind the history: it shows the steps up to the last redraw.
        assert len(live.figure.data[0].x or ()) == (redrawn_at[-1] if redrawn_at else 0)
    assert redrawn_at == [7, 10, 14, 20, 21, 23]  # every 10, every evaluation, and the last step
    assert len(live.history) == 23
    # The figure shows the whole history after the last step.
    curves = loss_curves(live.history)
    train, smoothed, val = live.figure.data
    assert list(train.x) == curves.steps and list(train.y) == curves.loss
    assert list(smoothed.y) == pytest.approx(curves.smoothed)
    assert list(val.x) == [7, 14, 21] and list(val.y) == curves.val_loss
    assert list(live.figure.layout.xaxis.range) == [0, 23]
    # update() redraws at any time.
    live.history.append({"step": 24, "loss": 0.1})
    live.update()
    assert len(live.figure.data[0].x) == 24 and live.redraws == len(redrawn_at) + 1


def test_callback_copies_the_metrics():
    live = LiveLoss(every=1)
    metrics = {"step": 1, "loss": 2.0}
    live(1, metrics)
    metrics["loss"] = 99.0
    assert live.history == [{"step": 1, "loss": 2.0}]


@pytest.mark.parametrize("every", [0, -1, 2.5, True])
def test_bad_every_is_refused(every):
    with pytest.raises(ValueError, match="every must be"):
        LiveLoss(every=every)


class Regression(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Linear(1, 1)

    def forward(self, x, targets):
        pred = self.f(x)
        return pred, ((pred - targets) ** 2).mean()


def test_a_trainer_drives_it():
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 32)[:, None]
    cfg = TrainConfig(steps=30, lr=0.1, warmup=3, eval_every=10, progress=False)
    live = LiveLoss(total_steps=cfg.steps, every=4)
    trainer = Trainer(Regression(), cfg, lambda split, step: (x, 3 * x + 1), callback=live, device="cpu")
    history = trainer.train()
    assert live.history == history
    train, _, val = live.figure.data
    assert list(train.x) == list(range(1, 31))
    assert list(val.x) == [10, 20, 30]
    assert list(val.y) == [h["val_loss"] for h in history if "val_loss" in h]
    assert val.y[-1] < val.y[0]  # it learned


def test_it_displays_as_its_figure(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    live = LiveLoss()
    live._ipython_display_()
    assert shown == [live.figure]
