"""The BLT explorer: how a text's bytes become patches, and which bytes and patches each step reads.

Type a text, pick a patching scheme and a threshold (or a patch size); the explorer shows

- the patches over the text (one colour per patch; a red cut where a patch starts inside a character);
- the **encoder** cross-attention mask ``[P * k, T]``: query slot ``s`` (``k`` per patch) reads the bytes
  of its own patch ``s // k``;
- the **decoder** cross-attention mask ``[T, P * k]``: position ``t`` reads the ``k`` latent slots of patch
  ``j``, where ``j + 1`` is the patch of byte ``t + 1``, the byte it predicts (the one-patch shift). The
  figure draws it with the bytes along x, under the encoder's, so the shift is visible: each red block
  sits one patch up and one byte left of the bytes' own patch (grey);
- the hash n-gram buckets of one chosen position, for each ``n``.

Everything the widget shows comes from plain functions that tests call directly:

- :func:`explore` computes it all (a :class:`BLTView`) with ``bltlib.patching.Patcher`` and the mask and
  hash functions of ``bltlib.blt``;
- :func:`byte_labels` names each byte: a multi-byte UTF-8 character is shown as the character on its
  first byte and :data:`CONTINUATION` on the others, never as hex;
- :func:`explorer_figure` draws a :class:`BLTView` (a static figure for readers without widgets);
- :func:`blt_explorer` wires them to a text box, a scheme menu and sliders.

Positions are those of the byte ids ``[BOS] + bytes`` (BOS is position 0, the text's byte ``i`` is at
``i + 1``), as the model sees them. Only the first :data:`MAX_BYTES` bytes are shown (cut at a character
boundary), so that every byte keeps a readable column.

>>> view = explore("hi, there", scheme="space")
>>> view.labels
['BOS', 'h', 'i', ',', '·', 't', 'h', 'e', 'r', 'e']
>>> view.lengths  # [BOS] | "hi," | " there" + the next, unseen byte
[1, 3, 7]
>>> view.patch_strings
['BOS', 'hi,', '·there?']
>>> tuple(view.encoder_mask.shape), tuple(view.decoder_mask.shape)  # k = 2 slots per patch
((6, 10), (10, 6))
>>> byte_labels("Всё")  # two bytes per Cyrillic letter
['В', '◦', 'с', '◦', 'ё', '◦']
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from bltlib import blt, patching
from bltlib.config import int_at_least
from bltlib.data import BYTE_VOCAB, encode_bytes
from bltlib.viz.bpe_stepper import PALETTE

if TYPE_CHECKING:
    import ipywidgets
    import plotly.graph_objects as go

    from bltlib.transformer import TransformerLM

SCHEMES = ("entropy", "monotonic", "space", "static")
MAX_BYTES = 48  # ~16 px a byte in a notebook at 1280 px wide, with the file browser open
# Entropy over 260 byte ids is at most ln 260 = 5.56 nats: a threshold above it keeps one patch of bytes.
MAX_THRESHOLD = round(math.log(BYTE_VOCAB) + 0.01, 2)
TARGET_PATCH_SIZE = 4.5  # BLT's default average patch size: what the default threshold aims at
CONTINUATION = "◦"  # label of a UTF-8 continuation byte (the character is shown on its first byte)
PAD = "∅"  # the zero padding before the first byte, in an n-gram
NEXT = "?"  # the next, unseen byte that the last patch holds
# Whitespace made visible, as the BPE stepper shows it.
VISIBLE = {" ": "·", "\t": "→", "\n": "↵", "\r": "␍"}
READ, OWN = "#d62728", "#d9d9d9"


def _char_label(ch: str) -> str:
    """A character as a readable label: whitespace visible, control characters as their symbols,
    combining marks on a dotted circle, invisible format characters as ``U+XXXX``."""
    if ch in VISIBLE:
        return VISIBLE[ch]
    code, category = ord(ch), unicodedata.category(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ .. ␟
    if code == 0x7F:
        return "␡"
    if category in ("Mn", "Me"):
        return "◌" + ch
    if category == "Zs":
        return "·"
    if category in ("Cc", "Cf", "Co", "Cn", "Zl", "Zp"):
        return f"U+{code:04X}"
    return ch


def byte_labels(text: str) -> list[str]:
    """One label per UTF-8 byte of ``text``: the character on its first byte, :data:`CONTINUATION` on
    the others.

    >>> byte_labels("a 人")
    ['a', '·', '人', '◦', '◦']
    """
    labels: list[str] = []
    for ch in text:
        labels += [_char_label(ch)] + [CONTINUATION] * (len(ch.encode("utf-8")) - 1)
    return labels


def _char_of_byte(text: str) -> list[tuple[str, int, int]]:
    """For each byte: (its character, its index among the character's bytes, the character's length)."""
    out = []
    for ch in text:
        n = len(ch.encode("utf-8"))
        out += [(ch, i, n) for i in range(n)]
    return out


def shown_text(text: str, max_bytes: int = MAX_BYTES) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` UTF-8 bytes (whole characters only).

    >>> shown_text("人人生", 7)
    '人人'
    """
    out, size = [], 0
    for ch in text:
        size += len(ch.encode("utf-8"))
        if size > max_bytes:
            break
        out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=1)
def default_entropy_model() -> TransformerLM:
    """The shipped entropy model (``bltlib.entropy.load_entropy_model()``), loaded once."""
    from bltlib.entropy import load_entropy_model

    return load_entropy_model()


def text_entropies(text: str, entropy_model: TransformerLM | None = None) -> torch.Tensor:
    """Next-byte entropies of ``[BOS] + text`` (``len(bytes) + 1`` values) from ``entropy_model``
    (default: the shipped one)."""
    from bltlib.entropy import entropies

    return entropies(entropy_model or default_entropy_model(), text, progress=False)


def default_threshold(entropies: torch.Tensor, monotonic: bool = False) -> float:
    """The threshold that gives :data:`TARGET_PATCH_SIZE` bytes per patch on this text, rounded to the
    0.01 step of the explorer's slider (so the slider shows exactly the threshold in use)."""
    return round(patching.calibrate_threshold(entropies, TARGET_PATCH_SIZE, monotonic=monotonic), 2)


@dataclass
class HashBucket:
    """The hash bucket of the ``n``-gram ending at a position: its ids (0 = padding before the first
    byte), its bytes as labels, and its bucket ``hash_ngram_ids(ids, n, vocab, func)[t]``."""

    n: int
    ngram_ids: list[int]
    ngram: str
    bucket: int


@dataclass(eq=False)  # it holds tensors: compare its fields
class BLTView:
    """What the explorer shows for one text, scheme and threshold (see :func:`explore`).

    Masks and ids are those of ``bltlib.blt`` for one row, without the batch axis: ``T`` positions
    (BOS first), ``P`` patches (their lengths sum to ``T + 1``: the last patch holds the next byte),
    ``k`` query slots per patch.
    """

    text: str  # the text shown (the first MAX_BYTES bytes at most, whole characters)
    total_bytes: int  # the UTF-8 length of the text given
    scheme: str
    threshold: float | None  # entropy schemes only
    patch_size: int | None  # the static scheme only
    k: int
    ids: torch.Tensor  # [T] byte ids, BOS first
    labels: list[str]  # [T] "BOS", then each byte's label
    hover: list[str]  # [T] a longer description of each position
    entropies: torch.Tensor | None  # [T] next-byte entropies (entropy schemes)
    lengths: list[int]  # [P] patch lengths, summing to T + 1
    patch_ids: torch.Tensor  # [T] patch of each position
    decoder_ids: torch.Tensor  # [T] latent output each position reads (the one-patch shift)
    encoder_mask: torch.Tensor  # [P * k, T] bool
    decoder_mask: torch.Tensor  # [T, P * k] bool
    cuts_inside_char: list[int]  # positions that start a patch but are not a character's first byte
    position: int  # the position whose n-gram hashes are shown
    hashes: list[HashBucket]
    hash_vocab: int

    @property
    def n_positions(self) -> int:
        return len(self.labels)

    @property
    def n_patches(self) -> int:
        return len(self.lengths)

    @property
    def truncated(self) -> bool:
        return len(self.text.encode("utf-8")) < self.total_bytes

    @property
    def starts(self) -> list[int]:
        """Position where each patch starts (the last may be ``T``: a patch of the next byte alone)."""
        return [0, *torch.tensor(self.lengths).cumsum(0)[:-1].tolist()]

    @property
    def patch_strings(self) -> list[str]:
        """Each patch's bytes as labels (the next, unseen byte as :data:`NEXT`)."""
        labels = [*self.labels, NEXT]
        return ["".join(labels[s : s + n]) for s, n in zip(self.starts, self.lengths, strict=True)]

    def reads(self, t: int) -> str:
        """The one-patch shift in words, for position ``t``."""
        own, j = int(self.patch_ids[t]), int(self.decoder_ids[t])
        return (
            f"position {t} ({self.labels[t]}) is in patch {own}; it predicts byte {t + 1}, in patch "
            f"{j + 1}, so it reads the latent output of patch {j}"
        )


def explore(
    text: str,
    scheme: str = "entropy",
    threshold: float | None = None,
    patch_size: int = 4,
    k: int = 2,
    position: int | None = None,
    ngram_sizes: Sequence[int] = blt.BLTConfig.ngram_sizes,
    hash_vocab: int = blt.BLTConfig.hash_vocab,
    hash_function: int = 0,
    max_bytes: int = MAX_BYTES,
    entropy_model: TransformerLM | None = None,
    entropies: torch.Tensor | None = None,
) -> BLTView:
    """Patch the first ``max_bytes`` bytes of ``text`` as a BLT would and compute what each part reads.

    ``scheme``: ``entropy`` (global rule) or ``monotonic`` (needs entropies: given, or computed with
    ``entropy_model``, by default the shipped one; ``threshold`` in nats, by default the one that gives
    4.5 bytes per patch on this text), ``space``, or ``static`` (``patch_size`` bytes per patch after
    ``[BOS]``). ``k`` query slots per patch. ``position`` (default: the middle one) picks the position
    whose n-gram hash buckets are listed, for each of ``ngram_sizes``, in a table of ``hash_vocab``
    rows (hash function ``hash_function``). ``entropies`` may be longer than the shown text (e.g. the
    whole text's): the model is causal, so the first values are the same.

    >>> view = explore("abcdefg", scheme="static", patch_size=3, k=1, position=4, ngram_sizes=(3,))
    >>> view.lengths, view.decoder_ids.tolist()
    ([1, 3, 3, 2], [0, 0, 0, 1, 1, 1, 2, 2])
    >>> view.hashes[0].ngram
    'bcd'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    if not int_at_least(k, 1):
        raise ValueError(f"k (query slots per patch) must be a positive int, got {k!r}")
    shown = shown_text(text, max_bytes)
    if not shown:
        raise ValueError("text is empty: type something to patch")
    ids = encode_bytes(shown)  # [T], BOS first
    t_len = len(ids)
    chars = _char_of_byte(shown)

    e = None
    patcher_threshold = None
    monotonic = scheme == "monotonic"
    if scheme in ("entropy", "monotonic"):
        if entropies is None:
            entropies = text_entropies(shown, entropy_model)
        e = torch.as_tensor(entropies, dtype=torch.float32).flatten()
        if len(e) < t_len:
            raise ValueError(f"expected at least {t_len} entropies ([BOS] + {t_len - 1} bytes), got {len(e)}")
        e = e[:t_len]
        threshold = default_threshold(e, monotonic) if threshold is None else float(threshold)
        patcher_threshold = threshold
    else:
        threshold = None
    patcher = patching.Patcher(
        "entropy" if monotonic else scheme,
        threshold=patcher_threshold,
        patch_size=patch_size if scheme == "static" else None,
        monotonic=monotonic,
    )
    lengths = patcher.lengths(ids[None], None if e is None else e[None])  # [1, P], sums to T + 1
    n_patches = lengths.shape[1]
    pids = blt.patch_ids(lengths, t_len)
    dec_ids = blt.decoder_patch_ids(lengths, t_len)
    encoder_mask = blt.encoder_cross_mask(pids, n_patches, k)[0]
    decoder_mask = blt.decoder_cross_mask(dec_ids, n_patches, k)[0]

    labels = ["BOS", *byte_labels(shown)]
    starts = set(torch.cat([torch.zeros(1, dtype=torch.long), lengths[0].cumsum(0)[:-1]]).tolist())
    cuts = [t for t in range(1, t_len) if t in starts and chars[t - 1][1] > 0]
    hover = ["BOS: the start of the text"]
    for t, (ch, i, n) in enumerate(chars, start=1):
        what = f"{labels[t]!s}" if n == 1 else f"byte {i + 1} of {n} of {_char_label(ch)}"
        hover.append(f"position {t}: {what} (byte 0x{int(ids[t]) - 4:02X})")

    if position is None:
        position = t_len // 2
    if not int_at_least(position, 0) or position >= t_len:
        raise ValueError(f"position must be an int in [0, {t_len}) (0 is BOS), got {position!r}")
    hashes = []
    for n in ngram_sizes:
        window = [int(ids[t]) if t >= 0 else 0 for t in range(position - n + 1, position + 1)]
        ngram = "".join(labels[t] if t >= 0 else PAD for t in range(position - n + 1, position + 1))
        bucket = int(blt.hash_ngram_ids(ids[None], n, hash_vocab, hash_function)[0, position])
        hashes.append(HashBucket(n, window, ngram, bucket))

    return BLTView(
        text=shown,
        total_bytes=len(text.encode("utf-8")),
        scheme=scheme,
        threshold=threshold,
        patch_size=patch_size if scheme == "static" else None,
        k=k,
        ids=ids,
        labels=labels,
        hover=hover,
        entropies=e,
        lengths=lengths[0].tolist(),
        patch_ids=pids[0],
        decoder_ids=dec_ids[0],
        encoder_mask=encoder_mask,
        decoder_mask=decoder_mask,
        cuts_inside_char=cuts,
        position=position,
        hashes=hashes,
        hash_vocab=hash_vocab,
    )


# ----------------------------------------------------------------------------- the figure


def title(view: BLTView) -> str:
    """One line: scheme, threshold or size, patches, and how much of the text is shown."""
    if view.scheme == "static":
        how = f"static, {view.patch_size} bytes per patch"
    elif view.scheme == "space":
        how = "space"
    else:
        how = f"{view.scheme}, threshold {view.threshold:.2f}"
    shown = len(view.text.encode("utf-8"))
    cut = f" (first {shown} of {view.total_bytes} bytes shown)" if view.truncated else ""
    return f"BLT explorer: {how}: {view.n_patches} patches over {shown} bytes, k={view.k}{cut}"


def _slot_ticks(view: BLTView) -> tuple[list[float], list[str]]:
    """Y ticks of the masks: one per patch at the middle of its k slots, at most ~16 of them."""
    every = max(1, -(-view.n_patches // 16))
    patches = range(0, view.n_patches, every)
    return [j * view.k + (view.k - 1) / 2 for j in patches], [f"p{j}" for j in patches]


def explorer_figure(view: BLTView, widget: bool = False) -> go.Figure:
    """Patches over the text, the encoder and decoder cross-attention masks with the bytes along x, and
    the chosen position's hash buckets. ``widget=True`` returns a FigureWidget.

    The traces, in order: ``patches`` (heatmap), ``selected`` (marker), ``encoder`` (heatmap),
    ``encoder selected``, ``decoder`` (heatmap, 0 = not read, 1 = the byte's own patch, not read, 2 and
    3 = read), ``decoder selected``, ``hash buckets`` (table).
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    t_len, k, t = view.n_positions, view.k, view.position
    own, reads = int(view.patch_ids[t]), int(view.decoder_ids[t])
    fig = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=False,
        row_heights=[0.08, 0.37, 0.37, 0.18],
        vertical_spacing=0.1,
        specs=[[{"type": "xy"}], [{"type": "xy"}], [{"type": "xy"}], [{"type": "table"}]],
        subplot_titles=(
            "patches over the text (red: a cut inside a character; ? = the next, unseen byte)",
            f"encoder cross-attention: query slot ({k} per patch) × byte it reads",
            "decoder cross-attention: byte × latent patch output it reads (red; grey: its own patch)",
            f"hash buckets of the n-grams ending at position {t} ({view.labels[t]}), "
            f"{view.hash_vocab} buckets each",
        ),
    )
    x_all = list(range(t_len + 1))
    patch_of = [*view.patch_ids.tolist(), view.n_patches - 1]  # the next byte is in the last patch
    fig.add_trace(
        go.Heatmap(
            name="patches",
            x=x_all,
            y=[0],
            z=[[j % len(PALETTE) for j in patch_of]],
            text=[["", *view.labels[1:], NEXT]],  # BOS is written across its cell (below)
            texttemplate="%{text}",
            textfont=dict(size=12),
            customdata=[
                [f"{h}, patch {j}" for h, j in zip([*view.hover, "the next byte"], patch_of, strict=True)]
            ],
            hovertemplate="%{customdata}<extra></extra>",
            colorscale=[[i / (len(PALETTE) - 1), c] for i, c in enumerate(PALETTE)],
            zmin=0,
            zmax=len(PALETTE) - 1,
            showscale=False,
            xgap=1,
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            name="selected",
            x=[t],
            y=[0],
            mode="markers",
            marker=dict(symbol="square-open", size=22, color="black", line=dict(width=2)),
            hoverinfo="skip",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    ygap = 1 if view.n_patches * k <= 48 else 0
    slot_patch = [s // k for s in range(view.n_patches * k)]

    def add_mask(
        row: int, name: str, z: list, colorscale: list, zmax: int, say: Callable, patch: int
    ) -> None:
        """A [slot, byte] mask as a heatmap (hover: ``say(slot, patch, byte, value)``), and a ring
        around the chosen byte in the slots of ``patch``."""
        hover = [
            [say(s, p, h, value) for h, value in zip(view.hover, values, strict=True)]
            for s, (p, values) in enumerate(zip(slot_patch, z, strict=True))
        ]
        fig.add_trace(
            go.Heatmap(
                name=name, z=z, x=list(range(t_len)), colorscale=colorscale, zmin=0, zmax=zmax,
                showscale=False, xgap=1, ygap=ygap, customdata=hover,
                hovertemplate="%{customdata}<extra></extra>",
            ),
            row=row,
            col=1,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                name=f"{name} selected", x=[t], y=[patch * k + (k - 1) / 2], mode="markers",
                marker=dict(symbol="circle-open", size=14, color="black", line=dict(width=2)),
                hoverinfo="skip", showlegend=False,
            ),
            row=row,
            col=1,
        )  # fmt: skip

    add_mask(
        2, "encoder", view.encoder_mask.int().tolist(), [[0, "white"], [1, "#4c78a8"]], 1,
        lambda s, p, h, m: f"slot {s} (patch {p}) {'reads' if m else 'does not read'} {h}", own,
    )  # fmt: skip
    decoder = 2 * view.decoder_mask.int() + view.encoder_mask.int().T  # [T, P * k]
    add_mask(
        3, "decoder", decoder.T.tolist(),  # drawn with the bytes along x, like the encoder's
        [[0, "white"], [0.25, "white"], [0.25, OWN], [0.5, OWN], [0.5, READ], [1, READ]], 3,
        lambda s, p, h, z: f"{h} {'reads' if z >= 2 else 'does not read'} slot {s} of patch {p}", reads,
    )  # fmt: skip
    fig.add_trace(
        go.Table(
            name="hash buckets",
            header=dict(values=["n", *[str(h.n) for h in view.hashes]], align="center", height=24),
            cells=dict(
                values=[
                    ["n-gram", "bucket"],
                    *[[h.ngram, h.bucket] for h in view.hashes],
                ],
                align="center",
                height=24,
                font=dict(size=13),
            ),
            columnwidth=[1.2] + [2] * len(view.hashes),
        ),
        row=4,
        col=1,
    )

    # Patch boundaries: black in the text strip (red inside a character), light in the masks.
    shapes = []
    for s in view.starts[1:]:
        inside = s in view.cuts_inside_char
        shapes.append(
            dict(type="line", xref="x", yref="y domain", x0=s - 0.5, x1=s - 0.5, y0=0, y1=1,
                 line=dict(color=READ if inside else "black", width=3 if inside else 2))
        )  # fmt: skip
        for axis in ("x2", "x3"):
            shapes.append(
                dict(type="line", xref=axis, yref=f"y{axis[1]} domain", x0=s - 0.5, x1=s - 0.5, y0=0, y1=1,
                     line=dict(color="#bbbbbb", width=1))
            )  # fmt: skip
    fig.update_layout(shapes=shapes)

    tickvals, ticktext = _slot_ticks(view)
    x_range = [-0.5, t_len + 0.5]
    every = 1 if t_len <= 40 else 2 if t_len <= 80 else 4
    fig.update_xaxes(range=x_range, showticklabels=False, showgrid=False, zeroline=False, row=1, col=1)
    fig.update_yaxes(visible=False, range=[-0.5, 0.5], row=1, col=1)
    for row in (2, 3):
        fig.update_xaxes(range=x_range, dtick=every, tick0=0, showgrid=False, zeroline=False, row=row, col=1)
        fig.update_yaxes(
            range=[view.n_patches * k - 0.5, -0.5],  # slot 0 on top, as a matrix
            tickvals=tickvals,
            ticktext=ticktext,
            showgrid=False,
            zeroline=False,
            row=row,
            col=1,
        )
    # The one-patch shift in words, for the chosen position.
    shift = f"position (0 = BOS). The shift: {view.reads(t)}"
    fig.update_xaxes(title=dict(text=shift, standoff=4, font=dict(size=13)), row=3, col=1)
    fig.update_layout(
        title=dict(text=title(view), x=0.01, font=dict(size=15)),
        height=700,
        width=850,  # fits a notebook at 1280x800 with the file browser open (plotly's default is 700)
        margin=dict(l=50, r=20, t=70, b=10),
        showlegend=False,
        plot_bgcolor="white",
    )
    fig.add_annotation(
        text="BOS", x=0, y=0, xref="x", yref="y", textangle=-90, showarrow=False, font=dict(size=10)
    )
    return go.FigureWidget(fig) if widget else fig


def status_html(view: BLTView) -> str:
    """The widget's status line: patches, the masks' shapes, and where cuts fall inside a character.

    >>> status_html(explore("ab", scheme="static", patch_size=1, k=1))
    '<b>4 patches</b>: encoder mask 4 × 3 (query slots × bytes), decoder mask 3 × 4 (bytes × patch outputs)'
    """
    slots, t_len = view.encoder_mask.shape
    shapes = (
        f"encoder mask {slots} × {t_len} (query slots × bytes), "
        f"decoder mask {t_len} × {slots} (bytes × patch outputs)"
    )
    cuts = [str(t) for t in view.cuts_inside_char[:8]] + ["…"] * (len(view.cuts_inside_char) > 8)
    inside = f"; cuts inside a character at {', '.join(cuts)}" if cuts else ""
    return f"<b>{view.n_patches} patches</b>: {shapes}{inside}"


# ----------------------------------------------------------------------------- the widget


def blt_explorer(
    text: str,
    scheme: str = "entropy",
    threshold: float | None = None,
    patch_size: int = 4,
    k: int = 2,
    position: int | None = None,
    entropy_model: TransformerLM | None = None,
    max_bytes: int = MAX_BYTES,
    ngram_sizes: Sequence[int] = blt.BLTConfig.ngram_sizes,
    hash_vocab: int = blt.BLTConfig.hash_vocab,
) -> ipywidgets.VBox:
    """Text box, scheme menu, threshold / patch-size / position sliders above :func:`explorer_figure`.

    The entropy model runs once per text; a slider move only re-patches and redraws. The threshold
    slider starts at the threshold in use (the calibrated default, rounded to its 0.01 step, if none is
    given). The controls are attributes of the returned box: ``text``, ``scheme``, ``threshold``,
    ``patch_size``, ``position``, ``status`` (an HTML line) and ``figure`` (a plotly FigureWidget);
    ``box.explored`` is the :class:`BLTView` on display.
    """
    import ipywidgets as widgets

    state: dict = {}

    def entropies_of(value: str) -> torch.Tensor:
        shown = shown_text(value, max_bytes)
        if state.get("text") != shown:
            state["text"], state["entropies"] = shown, text_entropies(shown, entropy_model) if shown else None
        return state["entropies"]

    hashing = dict(ngram_sizes=ngram_sizes, hash_vocab=hash_vocab)  # a model's: e.g. load_blt().config's
    first = explore(
        text, scheme, threshold, patch_size, k, position, max_bytes=max_bytes, **hashing,
        entropies=entropies_of(text) if scheme in ("entropy", "monotonic") or threshold is None else None,
    )  # fmt: skip
    if first.threshold is None:  # a static or space start: the slider still needs a meaningful value
        first_threshold = threshold if threshold is not None else default_threshold(entropies_of(text))
    else:
        first_threshold = first.threshold

    box = widgets.VBox()
    box.text = widgets.Textarea(value=text, layout=widgets.Layout(width="98%", height="56px"))
    box.scheme = widgets.Dropdown(options=SCHEMES, value=scheme, description="scheme")
    box.threshold = widgets.FloatSlider(
        value=first_threshold, min=0.0, max=MAX_THRESHOLD, step=0.01, description="threshold",
        readout_format=".2f", continuous_update=False,
    )  # fmt: skip
    box.patch_size = widgets.IntSlider(
        value=patch_size, min=1, max=16, description="patch size", continuous_update=False
    )
    box.position = widgets.IntSlider(
        value=first.position, min=0, max=first.n_positions - 1, description="position",
        continuous_update=False,
    )  # fmt: skip
    for control in (box.scheme, box.threshold, box.patch_size, box.position):
        control.layout = widgets.Layout(width="250px")
    box.status = widgets.HTML()
    box.figure = explorer_figure(first, widget=True)

    def current() -> BLTView:
        value = box.text.value
        uses_entropy = box.scheme.value in ("entropy", "monotonic")
        return explore(
            value,
            box.scheme.value,
            # The front end may echo a slider value back with float noise (2.0 -> 1.9999999999999998).
            round(box.threshold.value, 2),
            box.patch_size.value,
            k,
            min(box.position.value, len(shown_text(value, max_bytes).encode("utf-8"))),
            max_bytes=max_bytes,
            entropies=entropies_of(value) if uses_entropy and value else None,
            **hashing,
        )

    def show(view: BLTView) -> None:
        box.threshold.disabled = view.threshold is None
        box.patch_size.disabled = view.patch_size is None
        box.explored = view
        box.status.value = status_html(view)

    def redraw(_change: object = None) -> None:
        if not shown_text(box.text.value, max_bytes):
            box.status.value = "<i>type some text</i>"
            return
        view = current()
        if box.position.max != view.n_positions - 1:
            box.position.max = view.n_positions - 1  # clamps the value, which redraws through observe
        show(view)
        fig = explorer_figure(view)
        with box.figure.batch_update():  # the same traces in the same order: update them in place
            for old, new in zip(box.figure.data, fig.data, strict=True):
                old.update(new.to_plotly_json())
            box.figure.layout = fig.layout

    show(first)
    for control in (box.text, box.scheme, box.threshold, box.patch_size, box.position):
        control.observe(redraw, names="value")
    box.children = [
        box.text,
        widgets.HBox([box.scheme, box.threshold, box.patch_size, box.position]),
        box.status,
        box.figure,
    ]
    return box


__all__ = [
    "BLTView",
    "CONTINUATION",
    "HashBucket",
    "MAX_BYTES",
    "MAX_THRESHOLD",
    "NEXT",
    "PAD",
    "SCHEMES",
    "blt_explorer",
    "byte_labels",
    "default_threshold",
    "explore",
    "explorer_figure",
    "shown_text",
    "status_html",
    "text_entropies",
    "title",
]
