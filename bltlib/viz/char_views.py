"""Lesson 5's views: how each model sees a word, how vocabulary size decides which words are single
tokens, and a box to type a word and see each model's answers to the character tasks.

Everything the figures and widgets show comes from plain functions that tests call directly:

- :func:`word_views` gives the pieces each model reads for ``" " + word``: the BPE tokens, the bytes,
  and, given a :class:`~bltlib.patching.Patcher`, the BLT's patches (cut in a short sentence,
  :data:`CONTEXT`, since entropy patches depend on what came before); :func:`views_figure` draws
  them as rows of boxes, one group of rows per word, aligned on the bytes;
- :func:`vocab_prefix` reads a smaller vocabulary off a trained tokenizer: training is greedy, so a
  BPE tokenizer at vocabulary ``V`` is the first ``V - 256`` merges of a larger one trained on the
  same text; :func:`single_token_share` uses that to train once and measure every size, and
  :func:`vocab_figure` / :func:`vocab_slider` show the share of words that are one token;
- :func:`answer_table` asks each model one question per task about a word and marks its answers;
  :func:`answers_html` draws the table and :func:`answers_widget` wires it to a text box.

Models are duck-typed: anything with a ``name`` and ``answer(prompts, max_new=...) -> list[str]``
(:class:`bltlib.charaware.StudyModel` has both).

>>> class Yes:
...     name = "yes"
...     def answer(self, prompts, max_new=None):
...         return [" Yes"] * len(prompts)
>>> row = answer_table([Yes()], "house", tasks=["contains_char"])[0]
>>> row["question"], row["answer"], row["answers"], row["correct"]
("Does the letter 's' appear in: house", 'Yes', {'yes': 'Yes'}, {'yes': True})
"""

from __future__ import annotations

import copy
import html
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypedDict

from bltlib.config import int_at_least
from bltlib.tasks.chars import ANSWER_CUE, CHAR_TASKS, CharItem, char_item, task_applies
from bltlib.tasks.scoring import exact_match, normalise_answer
from bltlib.viz.blt_explorer import CONTINUATION
from bltlib.viz.bpe_stepper import PALETTE
from bltlib.viz.generation_timeline import byte_chars

if TYPE_CHECKING:
    import ipywidgets
    import plotly.graph_objects as go

    from bltlib.bpe import Tokenizer
    from bltlib.patching import Patcher

# The sentence a word is patched in: entropy patches depend on the bytes before the word.
CONTEXT = ("She wrote the word", " in her letter.")
STUDY_VOCAB = 4096  # the study's BPE vocabulary (scripts/char_study.py)
ANSWER_SLACK = 8  # the study caps an answer at its right answer's bytes + 8
MAX_WORD_LETTERS = 24  # longer words make prompts no study model was trained on
KINDS = ("BPE tokens", "bytes", "BLT patches")  # the rows of views_figure, and its traces, in order
BYTE_SHADES = ("#eeeeee", "#d9d9d9")
PATCH_SHADES = ("#c6dbef", "#fdd0a2")
RIGHT, WRONG = "#1a7f37", "#cf222e"
_WORD = re.compile(r"[a-z]+")


# ----------------------------------------------------------------------------- how each model sees a word


class WordView(TypedDict):
    """What :func:`word_views` returns: the pieces of ``text`` (``" " + word``) each model reads.

    ``tokens``/``patches`` are the pieces as strings (bytes of a cut character decode as U+FFFD),
    ``token_lengths``/``patch_lengths`` their sizes in bytes. ``patches`` is ``None`` without a
    patcher; ``patch_continues`` says whether the first patch began in the context, before the space.
    """

    word: str
    text: str
    tokens: list[str]
    token_ids: list[int]
    token_lengths: list[int]
    bytes: list[int]
    byte_labels: list[str]
    patches: list[str] | None
    patch_lengths: list[int] | None
    patch_continues: bool
    context: str | None


def _pieces(data: bytes, lengths: Sequence[int]) -> list[bytes]:
    out, start = [], 0
    for n in lengths:
        out.append(data[start : start + n])
        start += n
    return out


def _resolve_patcher(patcher: object) -> Patcher:
    """A :class:`~bltlib.patching.Patcher` from itself or from a model that has one (e.g. ``load_blt()``)."""
    from bltlib.patching import Patcher

    found = getattr(patcher, "patcher", patcher)
    if not isinstance(found, Patcher):
        raise TypeError(
            f"patcher must be a bltlib.patching.Patcher or a BLT with one (load_blt()), got "
            f"{type(patcher).__name__}"
        )
    if found.scheme == "entropy" and found.entropy_model is None:
        raise ValueError(
            "an entropy patcher needs its entropy model to cut a word: pass load_blt().patcher, or "
            "Patcher('entropy', threshold, entropy_model=load_entropy_model())"
        )
    return found


def patch_lengths_in_context(
    text: str, patcher: object, context: tuple[str, str] = CONTEXT
) -> tuple[list[int], bool]:
    """The BLT's patches of ``text`` read inside ``context[0] + text + context[1]``, as byte lengths of
    the pieces of ``text`` (a patch that also holds context bytes is cut at ``text``'s edges), and
    whether the first piece continues a patch that began in the context.

    >>> from bltlib.patching import Patcher
    >>> patch_lengths_in_context(" house", Patcher("space"), ("the word", "."))  # "word " | "house."
    ([1, 5], True)
    """
    from bltlib.data import encode_bytes

    patcher = _resolve_patcher(patcher)
    before, after = context
    ids = encode_bytes(before + text + after)  # [BOS] + bytes: byte j sits at position j + 1
    entropies = None
    if patcher.scheme == "entropy":
        from bltlib.entropy import entropies as compute_entropies

        entropies = compute_entropies(patcher.entropy_model, before + text + after)[None]
    starts = patcher.start_mask(ids[None], entropies)[0].tolist()
    first = len(before.encode("utf-8"))
    end = first + len(text.encode("utf-8"))
    cuts = [j for j in range(first + 1, end) if starts[j + 1]]
    bounds = [first, *cuts, end]
    lengths = [b - a for a, b in zip(bounds, bounds[1:], strict=False)]
    return lengths, not starts[first + 1]


def word_views(
    word: str, tokenizer: Tokenizer, patcher: object = None, context: tuple[str, str] = CONTEXT
) -> WordView:
    """How each model reads ``" " + word``: its BPE tokens (``tokenizer``), its bytes, and given a
    ``patcher`` (a :class:`~bltlib.patching.Patcher` with its entropy model, or a BLT such as
    ``load_blt()``) its patches inside the sentence ``context[0] + " " + word + context[1]``.

    >>> from bltlib.bpe import BasicTokenizer
    >>> view = word_views("hi", BasicTokenizer())
    >>> view["tokens"], view["bytes"], view["byte_labels"], view["patches"]
    ([' ', 'h', 'i'], [32, 104, 105], ['·', 'h', 'i'], None)
    """
    if not isinstance(word, str) or not word or word != word.strip():
        raise ValueError(f"word must be a non-empty str without surrounding whitespace, got {word!r}")
    text = " " + word
    data = text.encode("utf-8")
    ids = tokenizer.encode_ordinary(text)
    token_bytes = [tokenizer.decode_bytes([i]) for i in ids]
    view = WordView(
        word=word,
        text=text,
        tokens=[b.decode("utf-8", errors="replace") for b in token_bytes],
        token_ids=list(ids),
        token_lengths=[len(b) for b in token_bytes],
        bytes=list(data),
        byte_labels=byte_chars(data),
        patches=None,
        patch_lengths=None,
        patch_continues=False,
        context=None,
    )
    if patcher is not None:
        lengths, continues = patch_lengths_in_context(text, patcher, context)
        view["patches"] = [p.decode("utf-8", errors="replace") for p in _pieces(data, lengths)]
        view["patch_lengths"] = lengths
        view["patch_continues"] = continues
        view["context"] = context[0] + text + context[1]
    return view


def _piece_label(labels: list[str], start: int, length: int) -> str:
    """A piece's label from the byte labels: its characters, whitespace visible, a continuation mark
    where it holds only the tail of a character."""
    shown = "".join(label for label in labels[start : start + length] if label != CONTINUATION)
    return shown or CONTINUATION


def _lanes(view: WordView) -> list[tuple[str, list[int]]]:
    """(kind, byte lengths) of each row the figure draws for a word."""
    lanes = [("BPE tokens", view["token_lengths"]), ("bytes", [1] * len(view["bytes"]))]
    if view["patch_lengths"] is not None:
        lanes.append(("BLT patches", view["patch_lengths"]))
    return lanes


_UNIT = {"BPE tokens": "token", "bytes": "byte", "BLT patches": "patch"}


def _lane_name(word: str, kind: str, n: int) -> str:
    unit = _UNIT[kind]
    plural = "es" if unit == "patch" else "s"
    return f"{word} · {n} {unit}{plural * (n != 1)}"


def views_figure(
    words: Sequence[str],
    tokenizer: Tokenizer,
    patcher: object = None,
    context: tuple[str, str] = CONTEXT,
) -> go.Figure:
    """One group of rows per word: its BPE tokens, its bytes and (given a ``patcher``) its BLT patches
    as boxes, aligned on the bytes of ``" " + word`` (x axis), a tokenizer visualiser's view. Row
    labels count the pieces (``house · 1 token``). A patch that began in the context before the word
    is labelled with a leading ``…``. Readable for 3 to 8 words; repeated words are drawn once.

    Traces: one horizontal bar trace per kind of :data:`KINDS` present, each box one bar.
    """
    import plotly.graph_objects as go

    if isinstance(words, str) or not isinstance(words, Sequence) or not words:
        raise TypeError("words must be a non-empty list of words, not a single str")
    views = [word_views(w, tokenizer, patcher, context) for w in dict.fromkeys(words)]
    shades = {"BPE tokens": PALETTE, "bytes": BYTE_SHADES, "BLT patches": PATCH_SHADES}
    parts: dict[str, dict[str, list]] = {kind: {k: [] for k in ("y", "x", "base", "text", "hover", "colour")}
                                         for kind in KINDS}  # fmt: skip
    order: list[str] = []
    for view in views:
        labels = view["byte_labels"]
        for kind, lengths in _lanes(view):
            lane = _lane_name(view["word"], kind, len(lengths))
            order.append(lane)
            start = 0
            for i, n in enumerate(lengths):
                label = _piece_label(labels, start, n)
                hover = f"{_UNIT[kind]} {i + 1}: {label!r}, {n} byte{'s' * (n != 1)}"
                if kind == "BPE tokens":
                    hover += f" (id {view['token_ids'][i]})"
                if kind == "bytes":
                    hover = f"byte {i}: {labels[i]} (0x{view['bytes'][i]:02X})"
                if kind == "BLT patches" and i == 0 and view["patch_continues"]:
                    label = "…" + label
                    hover += "; the patch began in the context before the word"
                part = parts[kind]
                part["y"].append(lane)
                part["x"].append(n)
                part["base"].append(start)
                part["text"].append(label)
                part["hover"].append(html.escape(hover))
                part["colour"].append(shades[kind][i % len(shades[kind])])
                start += n
    traces = [
        go.Bar(
            name=kind,
            orientation="h",
            y=part["y"],
            x=part["x"],
            base=part["base"],
            text=part["text"],
            hovertext=part["hover"],
            hovertemplate="%{hovertext}<extra></extra>",
            textposition="inside",
            insidetextanchor="middle",
            textangle=0,
            textfont=dict(family="monospace", size=15, color="#111111"),
            marker=dict(color=part["colour"], line=dict(color="white", width=2)),
            showlegend=False,
        )
        for kind, part in parts.items()
        if part["y"]
    ]
    per_word = len(order) // len(views)
    widest = max(len(v["bytes"]) for v in views)
    separators = [
        dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=k * per_word - 0.5, y1=k * per_word - 0.5,
             line=dict(color="#888888", width=1, dash="dot"))
        for k in range(1, len(views))
    ]  # fmt: skip
    what = "BPE tokens, bytes" + (", BLT patches" if patcher is not None else "")
    subtitle = "x axis: the bytes of ' ' + word"
    if patcher is not None:
        subtitle += f"; patches cut in “{context[0]} … {context[1].strip()}”, … : began before the word"
    return go.Figure(
        data=traces,
        layout=dict(
            title=dict(
                text=f"How each model sees a word: {what}<br><sup>{html.escape(subtitle)}</sup>", x=0.01
            ),
            barmode="overlay",
            bargap=0.25,
            uniformtext=dict(mode="show", minsize=10),
            xaxis=dict(range=[-0.1, widest + 0.1], dtick=1, showgrid=False, zeroline=False, title="byte"),
            yaxis=dict(categoryorder="array", categoryarray=order, autorange="reversed", showgrid=False),
            shapes=separators,
            plot_bgcolor="white",
            height=110 + 34 * len(order),
            width=max(640, min(1100, 220 + 60 * widest)),
            margin=dict(l=170, r=20, t=70, b=45),
        ),
    )


# ----------------------------------------------------------------------------- vocabulary size


def vocab_prefix(tokenizer: Tokenizer, vocab_size: int) -> Tokenizer:
    """The tokenizer with only its first ``vocab_size - 256`` merges (and no special tokens).

    BPE training is greedy: each merge depends only on the merges before it, never on how many will
    follow. So training on the same text with ``vocab_size`` gives exactly this tokenizer; one
    training run at the largest size serves every smaller one.

    >>> from bltlib.bpe import BasicTokenizer
    >>> tok = BasicTokenizer()
    >>> tok.train("aaabdaaabac", 256 + 3)
    >>> vocab_prefix(tok, 257).merges, vocab_prefix(tok, 257).encode_ordinary("aaab")
    ({(97, 97): 256}, [256, 97, 98])
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
    largest = 256 + len(tokenizer.merges)
    if not 256 <= vocab_size <= largest:
        raise ValueError(
            f"vocab_size must be between 256 and {largest} (this tokenizer's vocabulary), got {vocab_size}"
        )
    smaller = copy.copy(tokenizer)
    smaller.merges = {pair: idx for pair, idx in tokenizer.merges.items() if idx < vocab_size}
    smaller.special_tokens = {}
    smaller._build_vocab()  # vocab, ranks and decoder of the kept merges
    return smaller


def _check_sizes(vocab_sizes: Sequence[int]) -> list[int]:
    if isinstance(vocab_sizes, str) or not isinstance(vocab_sizes, Sequence) or not vocab_sizes:
        raise ValueError("vocab_sizes must be a non-empty list of ints")
    for v in vocab_sizes:
        if not int_at_least(v, 256):
            raise ValueError(f"every vocab size must be an int >= 256 (the byte tokens), got {v!r}")
    return sorted(set(vocab_sizes))


def _check_words(words: Sequence[str]) -> list[str]:
    if isinstance(words, str) or not isinstance(words, Sequence) or not words:
        raise ValueError("words must be a non-empty list of words, not a single str")
    for w in words:
        if not isinstance(w, str) or not w:
            raise ValueError(f"every word must be a non-empty str, got {w!r}")
    return list(words)


def largest_tokenizer(
    vocab_sizes: Sequence[int], text: str | None = None, tokenizer: Tokenizer | None = None
) -> Tokenizer:
    """``tokenizer`` if it is large enough for every size, else a ``RegexTokenizer`` (GPT-4 split, as
    the study's) trained once on ``text`` at the largest of ``vocab_sizes``."""
    sizes = _check_sizes(vocab_sizes)
    if tokenizer is not None:
        if 256 + len(tokenizer.merges) < sizes[-1]:
            raise ValueError(
                f"the tokenizer has {256 + len(tokenizer.merges)} tokens, fewer than the largest size asked "
                f"for ({sizes[-1]}): train it at {sizes[-1]} or more"
            )
        return tokenizer
    if not isinstance(text, str) or not text:
        raise ValueError("give the text to train the tokenizer on (text=...) or a trained tokenizer=...")
    from bltlib.bpe import RegexTokenizer

    trained = RegexTokenizer()
    trained.train(text, sizes[-1], fast=True)
    if 256 + len(trained.merges) < sizes[-1]:
        raise ValueError(
            f"the text is too short for a vocabulary of {sizes[-1]}: training ran out of pairs to merge at "
            f"{256 + len(trained.merges)} tokens"
        )
    return trained


def word_tokens(words: Sequence[str], tokenizer: Tokenizer) -> dict[str, list[str]]:
    """Each word's tokens when preceded by a space (a word is a single token when the list has one).

    >>> from bltlib.bpe import BasicTokenizer
    >>> word_tokens(["hi"], BasicTokenizer())
    {'hi': [' ', 'h', 'i']}
    """
    return {
        w: [
            tokenizer.decode_bytes([i]).decode("utf-8", errors="replace")
            for i in tokenizer.encode_ordinary(" " + w)
        ]
        for w in _check_words(words)
    }


@dataclass(frozen=True)
class VocabPoint:
    """The share of ``words`` that are one token at ``vocab_size``, and the tokens of the examples."""

    vocab_size: int
    share: float
    examples: dict[str, list[str]]


def vocab_points(
    words: Sequence[str],
    vocab_sizes: Sequence[int],
    text: str | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    examples: Sequence[str] = (),
) -> list[VocabPoint]:
    """:func:`single_token_share` with the tokens of ``examples`` at each size (for the slider)."""
    words = _check_words(words)
    sizes = _check_sizes(vocab_sizes)
    full = largest_tokenizer(sizes, text, tokenizer)
    points = []
    for size in sizes:
        sliced = vocab_prefix(full, size)
        ones = sum(len(sliced.encode_ordinary(" " + w)) == 1 for w in words)
        shown = word_tokens(examples, sliced) if examples else {}
        points.append(VocabPoint(size, ones / len(words), shown))
    return points


def single_token_share(
    words: Sequence[str],
    vocab_sizes: Sequence[int],
    text: str | None = None,
    *,
    tokenizer: Tokenizer | None = None,
) -> list[tuple[int, float]]:
    """``(vocab_size, share)`` for each size (ascending): the share of ``words`` (repeats count) that
    are a single BPE token when preceded by a space.

    The tokenizer is trained once, on ``text`` at the largest size (or pass a trained ``tokenizer`` at
    least that large), and every smaller vocabulary is read off its merge order (:func:`vocab_prefix`).

    >>> single_token_share(["ab", "abc", "zz"], [256, 259], "ab ab ab abc abc abc")
    [(256, 0.0), (259, 0.6666666666666666)]
    """
    return [(p.vocab_size, p.share) for p in vocab_points(words, vocab_sizes, text, tokenizer=tokenizer)]


def _marks(marks: Mapping[int, str] | Sequence[int]) -> dict[int, str]:
    if isinstance(marks, Mapping):
        return dict(marks)
    return {v: ("the study's vocabulary" if v == STUDY_VOCAB else "vocab") + f" ({v})" for v in marks}


def vocab_figure(
    points: Sequence[tuple[int, float]] | Sequence[VocabPoint],
    marks: Mapping[int, str] | Sequence[int] = (STUDY_VOCAB,),
    current: int | None = None,
    widget: bool = False,
) -> go.Figure:
    """The share of words that are one token (%, y) against the vocabulary size (x, log scale), with a
    dashed vertical line at each of ``marks`` (sizes, or sizes -> labels) and a ringed marker at
    ``current`` (the slider's size). Traces: ``share``, ``current``, then one line per mark.
    ``widget=True`` returns a FigureWidget.
    """
    import plotly.graph_objects as go

    pairs = [(p.vocab_size, p.share) if isinstance(p, VocabPoint) else tuple(p) for p in points]
    if not pairs:
        raise ValueError("no points to draw: give (vocab_size, share) pairs, e.g. from single_token_share")
    sizes = [int(v) for v, _ in pairs]
    shares = [round(100 * s, 2) for _, s in pairs]
    traces = [
        go.Scatter(name="share", x=sizes, y=shares, mode="lines+markers", line=dict(color="#1f77b4"),
                   hovertemplate="vocab %{x}: %{y:.1f}% of the words are one token<extra></extra>",
                   showlegend=False),
        go.Scatter(name="current", x=[], y=[], mode="markers", showlegend=False, hoverinfo="skip",
                   marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(color="#d62728", width=3))),
    ]  # fmt: skip
    for v, label in _marks(marks).items():
        traces.append(
            go.Scatter(name=label, x=[v, v], y=[0, 100], mode="lines", hoverinfo="name",
                       line=dict(color="#555555", dash="dash", width=1.5))
        )  # fmt: skip
    figure = (go.FigureWidget if widget else go.Figure)(
        data=traces,
        layout=dict(
            title=dict(text="Words that are a single BPE token (after a space) vs vocabulary size", x=0.01),
            xaxis=dict(type="log", title="vocabulary size", tickvals=sizes, ticktext=[str(v) for v in sizes]),
            yaxis=dict(title="% of words that are one token", range=[0, 100], gridcolor="#eeeeee"),
            legend=dict(orientation="h", x=0, y=-0.25),
            plot_bgcolor="white",
            height=380,
            width=760,
            margin=dict(l=60, r=20, t=50, b=90),
        ),
    )
    if current is not None:
        set_current(figure, pairs, current)
    return figure


def set_current(figure: go.Figure, pairs: Sequence[tuple[int, float]], size: int) -> None:
    """Move the figure's ``current`` marker to ``size`` (one of the points' sizes)."""
    share = dict(pairs).get(size)
    if share is None:
        raise ValueError(f"{size} is not one of the sizes drawn: {[v for v, _ in pairs]}")
    trace = next(t for t in figure.data if t.name == "current")
    trace.x, trace.y = [size], [round(100 * share, 2)]


def examples_html(point: VocabPoint) -> str:
    """The example words at one size: green if a single token, else their tokens split by ``|``."""
    chips = []
    for tokens in point.examples.values():
        one = len(tokens) == 1
        shown = "|".join(t.replace(" ", "·") for t in tokens)
        colour = RIGHT if one else "#8c8c8c"
        chips.append(
            f'<span style="border:1px solid {colour};color:{colour};border-radius:4px;padding:1px 5px;'
            f'margin:2px;display:inline-block;font-family:monospace" title="{len(tokens)} token'
            f'{"s" * (not one)}">{html.escape(shown)}</span>'
        )
    return "".join(chips)


def summary_html(point: VocabPoint, n_words: int) -> str:
    """One line: the size, the share of words that are one token, and how many examples are."""
    ones = sum(len(t) == 1 for t in point.examples.values())
    line = f"<b>vocab {point.vocab_size}</b>: {100 * point.share:.1f}% of the {n_words} words are one token"
    if point.examples:
        line += f"; {ones} of these {len(point.examples)} examples (green: one token)"
    return line


def vocab_slider(
    words: Sequence[str],
    vocab_sizes: Sequence[int],
    text: str | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    examples: Sequence[str] | None = None,
    marks: Mapping[int, str] | Sequence[int] = (STUDY_VOCAB,),
) -> ipywidgets.VBox:
    """A slider over ``vocab_sizes`` above :func:`vocab_figure` (its ringed marker follows the slider),
    the share of ``words`` that are one token, and the ``examples`` (default: the first 12 words) as
    their tokens at that size. Everything is computed once (one training run); the slider only redraws.

    Attributes of the returned box: ``slider``, ``summary`` and ``examples`` (HTML), ``figure`` (a
    FigureWidget), ``points`` (the :class:`VocabPoint` per size).
    """
    import ipywidgets as widgets

    words = _check_words(words)
    shown = list(dict.fromkeys(words))[:12] if examples is None else list(examples)
    points = vocab_points(words, vocab_sizes, text, tokenizer=tokenizer, examples=shown)
    by_size = {p.vocab_size: p for p in points}
    sizes = list(by_size)
    start = STUDY_VOCAB if STUDY_VOCAB in by_size else sizes[-1]
    box = widgets.VBox()
    box.points = points
    box.slider = widgets.SelectionSlider(
        options=sizes, value=start, description="vocab size", continuous_update=False,
        style={"description_width": "initial"}, layout=widgets.Layout(width="70%"),
    )  # fmt: skip
    box.summary, box.examples = widgets.HTML(), widgets.HTML()
    pairs = [(p.vocab_size, p.share) for p in points]
    box.figure = vocab_figure(points, marks, current=start, widget=True)

    def show(size: int) -> None:
        point = by_size[size]
        with box.figure.batch_update():
            set_current(box.figure, pairs, size)
        box.summary.value = summary_html(point, len(words))
        box.examples.value = examples_html(point)

    box.slider.observe(lambda change: show(change["new"]), names="value")
    show(start)
    box.children = [box.slider, box.summary, box.examples, box.figure]
    return box


# ----------------------------------------------------------------------------- each model's answers


class AnsweringModel(Protocol):
    """What the answers table needs from a model (:class:`bltlib.charaware.StudyModel` has it)."""

    name: str

    def answer(self, prompts: Sequence[str], max_new: int | Sequence[int] | None = None) -> list[str]: ...


def check_word(text: str) -> str:
    """The word typed, stripped of surrounding spaces, or a ValueError that says what to type.

    >>> check_word("  house ")
    'house'
    >>> check_word("House")
    Traceback (most recent call last):
    ...
    ValueError: type one word in lowercase letters a-z, got 'House': try 'house'
    """
    if not isinstance(text, str):
        raise TypeError(f"the word must be a str, got {type(text).__name__}")
    word = text.strip()
    if not word:
        raise ValueError("type a word first (lowercase letters a-z)")
    if not _WORD.fullmatch(word):
        hint = f": try {word.lower()!r}" if _WORD.fullmatch(word.lower()) else ""
        raise ValueError(f"type one word in lowercase letters a-z, got {word!r}{hint}")
    if len(word) > MAX_WORD_LETTERS:
        raise ValueError(
            f"{word!r} has {len(word)} letters; the tasks take words of at most {MAX_WORD_LETTERS}"
        )
    return word


def task_item(task: str, word: str, seed: int = 0) -> CharItem:
    """``char_item(task, word, rng)`` with an rng seeded by ``seed`` and the task alone, so the letters a
    question asks about do not change when other tasks are asked or left out.

    >>> task_item("index_char", "house") == task_item("index_char", "house")
    True
    """
    return char_item(task, word, random.Random(f"{seed}:{task}"))


def _as_models(models: Sequence[AnsweringModel] | Mapping[str, AnsweringModel]) -> list[AnsweringModel]:
    listed = list(models.values()) if isinstance(models, Mapping) else list(models)
    for model in listed:
        if not isinstance(getattr(model, "name", None), str) or not callable(getattr(model, "answer", None)):
            raise TypeError(
                "each model needs a .name (str) and .answer(prompts, max_new=...), got "
                f"{type(model).__name__}"
            )
    names = [m.name for m in listed]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must differ (they head the table's columns), got {names}")
    return listed


def answer_table(
    models: Sequence[AnsweringModel] | Mapping[str, AnsweringModel],
    word: str,
    tasks: Sequence[str] = CHAR_TASKS,
    seed: int = 0,
) -> list[dict]:
    """One row per task of ``tasks`` that applies to ``word`` (:func:`~bltlib.tasks.task_applies`): the
    ``task``, the ``question`` (the prompt without its ``Answer:`` line), the ``prompt``, the right
    ``answer``, each model's normalised answer (``answers``: name -> text) and whether it is right
    (``correct``: name -> bool, :func:`~bltlib.tasks.exact_match`). Each model answers all questions in
    one call, each capped at the right answer's bytes + :data:`ANSWER_SLACK`, as the study scores them.
    ``models`` may be a list or the dict :func:`~bltlib.charaware.load_models` returns.
    """
    word = check_word(word)
    listed = _as_models(models)
    if isinstance(tasks, str) or not isinstance(tasks, Sequence):
        raise TypeError("tasks must be a list of task names, not a single str")
    items = [(task, task_item(task, word, seed)) for task in tasks if task_applies(task, word)]
    prompts = [item.prompt for _, item in items]
    rights = [item.answer for _, item in items]
    caps = [len(a.encode("utf-8")) + ANSWER_SLACK for a in rights]
    rows = [
        {
            "task": task,
            "question": item.prompt.removesuffix(ANSWER_CUE),
            "prompt": item.prompt,
            "answer": item.answer,
            "answers": {},
            "correct": {},
        }
        for task, item in items
    ]
    for model in listed:
        said = model.answer(prompts, max_new=caps) if prompts else []
        if len(said) != len(prompts):
            raise ValueError(f"model {model.name!r} gave {len(said)} answers to {len(prompts)} prompts")
        for row, text, hit in zip(rows, said, exact_match(said, rights), strict=True):
            row["answers"][model.name] = normalise_answer(text)
            row["correct"][model.name] = hit
    return rows


def answers_html(rows: Sequence[dict], names: Sequence[str] | None = None) -> str:
    """The rows of :func:`answer_table` as an HTML table: task, question, right answer, then each
    model's answer marked ✓ (green) or ✗ (red), and a last row counting each model's right answers."""
    names = list(rows[0]["answers"]) if names is None and rows else list(names or [])
    cell = 'style="padding:2px 8px;text-align:left;border-bottom:1px solid #e0e0e0"'
    head = "".join(f"<th {cell}>{html.escape(h)}</th>" for h in ["task", "question", "right answer", *names])
    body = []
    for row in rows:
        cells = [
            html.escape(row["task"]),
            html.escape(row["question"]),
            f"<code>{html.escape(row['answer'])}</code>",
        ]
        for name in names:
            good = row["correct"][name]
            said = row["answers"][name]
            shown = f"<code>{html.escape(said)}</code>" if said else "<i>(nothing)</i>"
            mark = "✓" if good else "✗"
            cells.append(f'<span style="color:{RIGHT if good else WRONG}">{mark}</span> {shown}')
        body.append("<tr>" + "".join(f"<td {cell}>{c}</td>" for c in cells) + "</tr>")
    totals = [f"{sum(row['correct'][n] for row in rows)}/{len(rows)}" for n in names]
    foot = "".join(f"<td {cell}><b>{t}</b></td>" for t in ["right", "", "", *totals])
    return (
        '<table class="bltlib-answers" style="border-collapse:collapse;font-size:13px">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}<tr>{foot}</tr></tbody></table>"
    )


def answers_widget(
    models: Sequence[AnsweringModel] | Mapping[str, AnsweringModel],
    tasks: Sequence[str] = CHAR_TASKS,
    rng_seed: int = 0,
    word: str | None = None,
) -> ipywidgets.VBox:
    """Type a word, press Enter (or the button), and see each model's answer to one question per task.

    The word must be lowercase a-z (:func:`check_word`); anything else gets a message instead of a
    table. The questions come from :func:`task_item` with ``rng_seed``, so a word always gets the same
    questions. ``word`` answers one at once. Attributes of the returned box: ``text``, ``button``,
    ``status`` and ``table`` (HTML), ``rows`` (the last :func:`answer_table`), ``models``.
    """
    import ipywidgets as widgets

    listed = _as_models(models)
    names = [m.name for m in listed]
    box = widgets.VBox()
    box.models, box.rows = listed, []
    box.text = widgets.Text(
        value=word or "", placeholder="a word, e.g. strawberry", description="word",
        continuous_update=False,  # the value arrives on Enter (or leaving the box), not per key
        layout=widgets.Layout(width="320px"),
    )  # fmt: skip
    box.button = widgets.Button(description="ask the models", button_style="primary", icon="question")
    box.status = widgets.HTML("type a word and press Enter")
    box.table = widgets.HTML()
    shown = {"word": None}

    def ask(*_: object) -> None:
        try:
            typed = check_word(box.text.value)
        except ValueError as err:
            shown["word"], box.rows, box.table.value = None, [], ""
            box.status.value = f'<span style="color:{WRONG}">{html.escape(str(err))}</span>'
            return
        if typed == shown["word"]:  # Enter, then a click on the button: answered already
            return
        box.button.disabled = True
        box.status.value = f"asking {len(names)} model{'s' * (len(names) != 1)} about <b>{typed}</b>…"
        try:
            rows = answer_table(listed, typed, tasks, rng_seed)
        except Exception as err:  # a model that cannot read the prompt: say so, keep the widget alive
            box.rows, box.table.value = [], ""
            box.status.value = (
                f'<span style="color:{WRONG}">{html.escape(f"{type(err).__name__}: {err}")}</span>'
            )
            return
        finally:
            box.button.disabled = False
        shown["word"], box.rows = typed, rows
        box.table.value = answers_html(rows, names)
        scores = " · ".join(f"{n} {sum(r['correct'][n] for r in rows)}/{len(rows)}" for n in names)
        box.status.value = f"<b>{typed}</b>: {len(rows)} questions; right: {scores or '(no models)'}"

    box.ask = ask
    box.text.observe(ask, names="value")
    box.button.on_click(ask)
    if word:
        ask()
    box.children = [widgets.HBox([box.text, box.button]), box.status, box.table]
    return box


__all__ = [
    "ANSWER_SLACK",
    "CONTEXT",
    "KINDS",
    "STUDY_VOCAB",
    "AnsweringModel",
    "VocabPoint",
    "WordView",
    "answer_table",
    "answers_html",
    "answers_widget",
    "check_word",
    "examples_html",
    "largest_tokenizer",
    "patch_lengths_in_context",
    "set_current",
    "single_token_share",
    "summary_html",
    "task_item",
    "views_figure",
    "vocab_figure",
    "vocab_points",
    "vocab_prefix",
    "vocab_slider",
    "word_tokens",
    "word_views",
]
