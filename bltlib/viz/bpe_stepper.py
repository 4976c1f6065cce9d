"""The BPE merge stepper: watch a text's tokens grow as a tokenizer's merges are applied one by one.

The widget (:func:`merge_stepper`) is a slider over merge steps; everything it shows comes from the
plain functions below, which the tests call directly:

- :func:`tokens_at_step`: the text's tokens when only the first ``step`` merges exist;
- :func:`token_spans_html`: tokens as coloured HTML spans, whitespace made visible;
- :func:`token_count_curve`: the token count after each of several steps;
- :func:`static_merge_figure`: a few steps stacked, for readers without widgets (e.g. on GitHub).

>>> from bltlib.bpe import BasicTokenizer
>>> tokenizer = BasicTokenizer()
>>> tokenizer.train("aaabdaaabac", 259)
>>> tokens_at_step(tokenizer, "aaabdaaabac", 0)[:4]
[b'a', b'a', b'a', b'b']
>>> tokens_at_step(tokenizer, "aaabdaaabac", 3)
[b'aaab', b'd', b'aaab', b'a', b'c']
>>> token_count_curve(tokenizer, "aaabdaaabac", [0, 1, 2, 3])
[11, 9, 7, 5]
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import regex

from bltlib.bpe import encode_chunk

if TYPE_CHECKING:
    import ipywidgets

Pair = tuple[int, int]

# Light backgrounds that dark text reads well on; neighbours always differ (colour = position % 6).
PALETTE = ("#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6")
# Whitespace drawn as visible marks: a learner must see that " the" and "the" are different tokens.
VISIBLE = {" ": "·", "\t": "→", "\n": "↵\n", "\r": "␍"}


class Tokenizer(Protocol):
    """What the stepper needs: the merges (pair -> new id), every id's bytes, the split regex ("": none)."""

    merges: dict[Pair, int]
    vocab: dict[int, bytes]
    pattern: str


def _chunks(tokenizer: Tokenizer, text: str) -> list[bytes]:
    """The pieces merges may not cross: the split pattern's chunks, or the whole text if none."""
    pieces = regex.findall(tokenizer.pattern, text) if tokenizer.pattern else [text]
    return [piece.encode("utf-8") for piece in pieces if piece]


def _ranks(tokenizer: Tokenizer, step: int) -> dict[bytes, int]:
    """Token bytes -> id for the 256 bytes and the first ``step`` merges (the lower id if two spell
    the same bytes, as the tokenizer itself does)."""
    learned = sorted(tokenizer.merges.values())[:step]
    ids = sorted([*range(256), *learned], reverse=True)
    return {tokenizer.vocab[idx]: idx for idx in ids}


def tokens_at_step(tokenizer: Tokenizer, text: str, step: int) -> list[bytes]:
    """The tokens of ``text`` (as bytes) when only the first ``step`` merges have been learned.

    Step 0 is the raw UTF-8 bytes; step ``len(tokenizer.merges)`` is exactly the tokenizer's own
    ``encode_ordinary`` (special tokens are treated as ordinary text).

    >>> from bltlib.bpe import BasicTokenizer
    >>> tokenizer = BasicTokenizer()
    >>> tokenizer.train("aaabdaaabac", 259)
    >>> tokens_at_step(tokenizer, "daaab", 1)
    [b'd', b'aa', b'a', b'b']
    """
    if not 0 <= step <= len(tokenizer.merges):
        raise ValueError(
            f"step must be between 0 and {len(tokenizer.merges)} (the merges learned), got {step}"
        )
    ranks = _ranks(tokenizer, step)
    # bltlib's own merge routine for one chunk, so the last step matches the tokenizer exactly.
    return [tokenizer.vocab[idx] for chunk in _chunks(tokenizer, text) for idx in encode_chunk(chunk, ranks)]


def _label(token: bytes) -> str:
    """A token as the learner should see it: text with visible whitespace, or hex if not valid UTF-8.

    >>> _label(b" the"), _label(b"\\xe0\\xa4")
    ('·the', '‹e0 a4›')
    """
    try:
        text = token.decode("utf-8")
    except UnicodeDecodeError:
        # A piece of a multi-byte character: show its bytes, not a meaningless replacement mark.
        return "‹" + " ".join(f"{b:02x}" for b in token) + "›"
    return "".join(VISIBLE.get(ch, ch) for ch in text)


def token_spans_html(tokens: Sequence[bytes]) -> str:
    """Tokens as HTML: one coloured ``<span>`` each, HTML-escaped, whitespace visible.

    >>> token_spans_html([b"<b>", b" x"])  # doctest: +NORMALIZE_WHITESPACE
    '<div style="font-family:monospace;white-space:pre-wrap;line-height:1.8"><span
    style="background:#ffd6a5;border-radius:3px;padding:0 1px" title="3 bytes">&lt;b&gt;</span><wbr><span
    style="background:#caffbf;border-radius:3px;padding:0 1px" title="2 bytes">·x</span></div>'
    """
    # <wbr>: a line may break between tokens (spaces are drawn as "·", so there are no other breaks).
    spans = "<wbr>".join(
        f'<span style="background:{PALETTE[i % len(PALETTE)]};border-radius:3px;padding:0 1px" '
        f'title="{len(token)} byte{"s" * (len(token) != 1)}">{html.escape(_label(token))}</span>'
        for i, token in enumerate(tokens)
    )
    return f'<div style="font-family:monospace;white-space:pre-wrap;line-height:1.8">{spans}</div>'


def token_count_curve(tokenizer: Tokenizer, text: str, steps: Iterable[int]) -> list[int]:
    """How many tokens ``text`` takes after each of ``steps`` merges (never more after more merges).

    >>> from bltlib.bpe import BasicTokenizer
    >>> tokenizer = BasicTokenizer()
    >>> tokenizer.train("abababab", 258)
    >>> token_count_curve(tokenizer, "abababab", [0, 1, 2])
    [8, 4, 2]
    """
    return [len(tokens_at_step(tokenizer, text, step)) for step in steps]


def _caption(tokens: Sequence[bytes], step: int, total: int) -> str:
    """``'after 3 of 3 merges: 5 tokens for 11 bytes (2.20 bytes per token)'``."""
    n_bytes = sum(len(t) for t in tokens)
    per_token = n_bytes / len(tokens) if tokens else 0.0
    return (
        f"after {step} of {total} merges: {len(tokens)} tokens for {n_bytes} bytes "
        f"({per_token:.2f} bytes per token)"
    )


def static_merge_figure(tokenizer: Tokenizer, text: str, steps: Sequence[int]) -> str:
    """HTML: the text's tokens after each of ``steps`` merges, one captioned row per step.

    The widget's content at a few fixed steps, for places where widgets do not run.

    >>> from bltlib.bpe import BasicTokenizer
    >>> tokenizer = BasicTokenizer()
    >>> tokenizer.train("aaabdaaabac", 259)
    >>> figure = static_merge_figure(tokenizer, "aaab", [0, 3])
    >>> figure.count("<span"), "after 3 of 3 merges: 1 tokens for 4 bytes" in figure
    (5, True)
    """
    total = len(tokenizer.merges)
    rows = []
    for step in steps:
        tokens = tokens_at_step(tokenizer, text, step)
        caption = html.escape(_caption(tokens, step, total))
        rows.append(f'<div style="margin:0.5em 0"><b>{caption}</b>{token_spans_html(tokens)}</div>')
    return "".join(rows)


def stepper_steps(total: int, n: int = 64) -> list[int]:
    """The steps the stepper's slider stops at: every one of the first few, then spaced evenly on a log
    scale up to ``total``, so the early merges (where the text changes most) get most of the track.

    >>> stepper_steps(3840)[:12], stepper_steps(3840)[-3:]
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [2955, 3369, 3840])
    >>> stepper_steps(5)
    [0, 1, 2, 3, 4, 5]
    """
    if total <= 0:
        return [0]
    steps = {0, total}
    for i in range(n):
        steps.add(round(total ** (i / (n - 1))))
    # The log spacing runs 1, 1, 1, 2, 2, ...: fill the first integers so no early step is skipped.
    first_gap = next((s for s in sorted(steps)[1:] if s > 1 and s - 1 not in steps), total)
    steps |= set(range(min(first_gap, total + 1)))
    return sorted(steps)


def merge_stepper(tokenizer: Tokenizer, text: str, step: int | None = None) -> ipywidgets.VBox:
    """A slider over merge steps (log-spaced: :func:`stepper_steps`) and a box for any exact step, above
    the text drawn as token spans and a token-count caption.

    Children: ``(HBox(slider, step box), caption label, HTML)``; moving the slider or typing a step
    (or setting ``box.slider.value`` / ``box.step.value``) recomputes both from :func:`tokens_at_step`.
    Starts at ``step`` (default: every merge).
    """
    import ipywidgets as widgets  # here, not at import time: the plain functions need no widgets

    total = len(tokenizer.merges)
    start = total if step is None else step
    if not 0 <= start <= total:
        raise ValueError(f"step must be between 0 and {total} (the merges learned), got {start}")
    steps = sorted(set(stepper_steps(total)) | {start})
    slider = widgets.SelectionSlider(
        options=steps,
        value=start,
        description="merges",
        continuous_update=False,  # re-tokenizing on every pixel of a drag is wasted work
        layout=widgets.Layout(width="75%"),
    )
    exact = widgets.BoundedIntText(
        value=start, min=0, max=total, description="step", layout=widgets.Layout(width="180px")
    )
    label = widgets.Label()
    view = widgets.HTML()

    def show(value: int) -> None:
        tokens = tokens_at_step(tokenizer, text, value)
        label.value = _caption(tokens, value, total)
        view.value = token_spans_html(tokens)

    syncing = {"on": False}

    def on_slider(change: dict) -> None:
        if not syncing["on"]:
            exact.value = change["new"]  # the step box redraws

    def on_exact(change: dict) -> None:
        value = change["new"]
        syncing["on"] = True  # park the slider on its nearest stop at or below the step, quietly
        try:
            slider.value = max(s for s in steps if s <= value)
        finally:
            syncing["on"] = False
        show(value)

    slider.observe(on_slider, names="value")
    exact.observe(on_exact, names="value")
    show(start)
    box = widgets.VBox([widgets.HBox([slider, exact]), label, view])
    box.slider, box.step = slider, exact
    return box
