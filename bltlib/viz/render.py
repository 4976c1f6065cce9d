"""A static PNG beside every plotly figure, so that a lesson read without running it shows its charts.

Plotly's notebook output is ``application/vnd.plotly.v1+json``, which JupyterLab draws but GitHub's
notebook view and nbviewer do not: read there, every chart would be blank. When the lessons are executed
for committing (``scripts/execute_notebooks.py`` calls :func:`enable_static_images` in each kernel before
the first cell), every ``fig.show()`` puts a PNG into the same output bundle as the plotly JSON.
JupyterLab still draws the interactive JSON; the PNG is for readers that cannot, and nbval never compares
images (``image/png`` is in its skip list), so CI and learners need no browser for it.

The PNG comes from plotly's own image export (``kaleido``), which drives an installed Chrome or Chromium
(Debian's ``chromium``); nothing is downloaded. Without a browser, or without kaleido, a figure keeps its
plotly JSON alone and :func:`missing_images` says how many went without: the notebook still runs.

>>> bundle_without_browser = StaticPngRenderer(lambda *args, **kwargs: 1 / 0).to_mimebundle({"data": []})
>>> bundle_without_browser
{}
"""

from __future__ import annotations

import atexit
import base64
import warnings
from collections.abc import Callable

RENDERER = "bltlib_png"
# The PNG's size when a figure does not set its own: about the width of GitHub's notebook view.
DEFAULT_WIDTH, DEFAULT_HEIGHT = 900, 450
_state = {"missing": 0, "made": 0, "server": False}


def _plotly_to_image(fig_dict: dict, **kwargs: object) -> bytes:
    import plotly.io as pio

    with warnings.catch_warnings():  # no warning may reach the cell's output (nbval would see it)
        warnings.simplefilter("ignore")
        return pio.to_image(fig_dict, validate=False, **kwargs)


class StaticPngRenderer:
    """A plotly mimetype renderer that adds ``image/png`` to the bundle, or nothing if it cannot."""

    def __init__(self, to_image: Callable[..., bytes] = _plotly_to_image) -> None:
        self.to_image = to_image

    def activate(self) -> None:  # plotly calls it before the first figure
        pass

    def to_mimebundle(self, fig_dict: dict) -> dict[str, str]:
        layout = fig_dict.get("layout", {})
        try:
            png = self.to_image(
                fig_dict,
                format="png",
                width=layout.get("width") or DEFAULT_WIDTH,
                height=layout.get("height") or DEFAULT_HEIGHT,
            )
        except Exception:  # no kaleido, no browser, a browser that crashed: keep the JSON alone
            _state["missing"] += 1
            return {}
        _state["made"] += 1
        return {"image/png": base64.b64encode(png).decode("ascii")}


def _start_image_server() -> None:
    """Keep one headless browser for all the figures (about 0.2 s a figure instead of 4 s)."""
    try:
        import kaleido

        kaleido.start_sync_server(silence_warnings=True)
    except Exception:
        return
    _state["server"] = True
    atexit.register(_stop_image_server)


def _stop_image_server() -> None:
    if _state["server"]:
        import kaleido

        kaleido.stop_sync_server(silence_warnings=True)
        _state["server"] = False


def enable_static_images() -> None:
    """Make every plotly figure shown from now on carry a PNG beside its plotly JSON."""
    import plotly.io as pio
    from plotly.io._base_renderers import MimetypeRenderer

    # plotly merges the bundles of the renderers joined by "+" into one output.
    renderer = type("BltlibStaticPng", (StaticPngRenderer, MimetypeRenderer), {})()
    pio.renderers[RENDERER] = renderer
    pio.renderers.default = f"plotly_mimetype+{RENDERER}"
    _start_image_server()


def missing_images() -> int:
    """How many figures were shown without a PNG since :func:`enable_static_images`."""
    return _state["missing"]


def images_made() -> int:
    """How many figures got a PNG since :func:`enable_static_images`."""
    return _state["made"]
