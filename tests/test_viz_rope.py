"""The RoPE explorer: its plain functions, the figure, and a widget whose controls drive them."""

import math

import pytest
import torch

from bltlib import rope
from bltlib.viz.rope_explorer import (
    EXPLORER_METHODS,
    explorer_figure,
    explorer_scaling,
    pair_angles,
    rope_explorer,
    score_vs_distance,
)


def test_angles_are_position_times_frequency_and_pi_divides_them():
    angles = pair_angles(10, 8, 100.0)
    assert torch.allclose(angles, 10 * rope.default_inv_freq(8, 100.0))
    pi = pair_angles(10, 8, 100.0, {"rope_type": "linear", "factor": 4.0})
    assert torch.allclose(pi * 4, angles)
    assert torch.equal(pair_angles(0, 8), torch.zeros(4))


def test_score_is_one_at_zero_and_decays_on_average():
    scores = score_vs_distance(torch.arange(2000), 32, 10000.0)
    assert math.isclose(scores[0].item(), 1.0, rel_tol=1e-6)
    assert scores[:50].mean() > scores[500:1000].mean() > scores[1000:].mean() - 0.1
    # YaRN's temperature scales every score by attention_factor squared.
    yarn = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 256}
    _, a = rope.rope_parameters(32, 10000.0, yarn)
    assert math.isclose(score_vs_distance([0], 32, 10000.0, yarn)[0].item(), a**2, rel_tol=1e-6)


def test_score_depends_on_distance_like_real_rotated_vectors():
    # The closed form equals <R_m q, R_n k> for q = k = ones, for any m with n - m = distance.
    d, ones = 16, torch.ones(1, 16)
    inv = rope.default_inv_freq(d)
    for distance in (0, 3, 40):
        qm = rope.apply_rotary(ones, *rope.rope_cos_sin(inv, torch.tensor([7])))
        kn = rope.apply_rotary(ones, *rope.rope_cos_sin(inv, torch.tensor([7 + distance])))
        assert math.isclose((qm @ kn.T).item() / d, score_vs_distance([distance], d)[0].item(), abs_tol=1e-5)


def test_explorer_scaling():
    assert explorer_scaling("yarn", 1, 256) is None
    assert explorer_scaling("none", 4, 256) is None
    assert explorer_scaling("pi", 4, 256) == {"rope_type": "linear", "factor": 4}


@pytest.mark.parametrize("method", EXPLORER_METHODS)
def test_figure_has_the_three_panels(method):
    fig = explorer_figure(700, 9, method, 4.0)
    names = [t.name for t in fig.data]
    assert any(n and n.startswith("trained:") for n in names) and any(
        n and n.startswith("scaled:") for n in names
    )
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 1 and len(bars[0].y) == 16
    expected = rope.rescale_factors(32, 10000.0, explorer_scaling(method, 4.0, 256), seq_len=1024)
    assert torch.allclose(torch.tensor(bars[0].y), expected)
    curves = [t for t in fig.data if t.name and t.name.startswith("score")]
    assert len(curves) == 2 and len(curves[0].x) == 1024
    with pytest.raises(ValueError, match="pair"):
        explorer_figure(10, 16, method, 4.0)


def test_widget_controls_redraw_the_figure():
    widget = rope_explorer(head_dim=16, base=10000.0, original=128)
    controls, view = widget.children
    position, row = controls.children
    pair, method, factor = row.children
    assert position.layout.width == "95%"  # 0 .. 16 L: the position slider gets a row of its own
    assert pair.max == 7 and set(method.options) == set(EXPLORER_METHODS)
    assert (position.value, pair.value, method.value, factor.value) == (128, 4, "yarn", 4)

    def bar_y():
        return [t for t in view.data if t.type == "bar"][0].y

    assert list(bar_y()) == list(explorer_figure(128, 4, "yarn", 4, head_dim=16, original=128).data[4].y)
    method.value, factor.value, pair.value, position.value = "pi", 8, 7, 1000
    expected = explorer_figure(1000, 7, "pi", 8, head_dim=16, original=128)
    assert list(bar_y()) == [8.0] * 8 == list(expected.data[4].y)
    assert view.layout.title.text == "RoPE explorer: pi, factor 8"
    assert [t.name for t in view.data] == [t.name for t in expected.data]


def test_panels_do_not_share_a_row_with_titles_that_would_overprint():
    fig = explorer_figure(700, 9, "yarn", 4.0)
    titles = {
        a.text: (a.x, a.y) for a in fig.layout.annotations if a.text and "pair" in a.text or "score" in a.text
    }
    top = [t for t, (_, y) in titles.items() if y > 0.5]
    assert len(top) == 2 and len(titles) == 3  # two panels on top, the score curve across the bottom
    # Each top title fits over its own panel at 800 px of plot width (about 8 px a character at size 16).
    for name in ("xaxis", "xaxis2"):
        domain = fig.layout[name].domain
        title = next(t for t, (x, y) in titles.items() if y > 0.5 and domain[0] <= x <= domain[1])
        assert len(title) * 8 <= (domain[1] - domain[0] + 0.12) * 800, title
    assert fig.layout.legend.orientation == "h"
