"""Checks for lesson 5 (characters, tokens and bytes): the task generators, the char LSTM embedding, exact
match scoring, two noise functions and the Wilson interval, each compared with :mod:`bltlib.tasks` or
:mod:`bltlib.charaware` on a handful of cases, the simplest first.

In a notebook: ``checks.chars.spell_item(spell_item)`` prints a pass line, or stops at the first wrong
case with a short summary of the input, the expected and the actual value, and a hint. The hint names
the idea that is wrong: on a failure the learner's answer is compared with the answers of known mistakes
(no spaces between the letters, a missing ``Answer:`` cue, a palindrome let through, the LSTM read at the
padding or over characters instead of bytes, no strip or a strip at one end, the normal interval instead
of Wilson's...) and the matching one is explained; a right answer under a prompt worded otherwise is told
where the wording departs, and bounds within 0.005 of Wilson's that they are rounded.
``more=True`` adds a worked example of that idea and the verdict on every case; no message shows the
solution's code. The machinery is :mod:`bltlib.checks.core`'s.

>>> print(spell_item(lambda word: CharItem(f"Spell the word: {word}\\nAnswer:", word),
...                  raise_on_fail=False).message)
✗ spell_item: case 1 of 4 (a short word)
  call:     spell_item(word='cat')
  expected: CharItem(prompt='Spell the word: cat\\nAnswer:', answer='c a t')
  got:      CharItem(prompt='Spell the word: cat\\nAnswer:', answer='cat')
  hint:     letters separated by spaces: the answer spells the word out, one letter at a time, with
            a single space between two letters ('c a t'), so that a token model writes one letter
            per token.
  more help: checks.chars.spell_item(your_function, more=True)
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bltlib.charaware import CharLSTMEmbedding
from bltlib.checks.core import Case, CheckResult, Idea, Mistake, a_type, bool_form, check
from bltlib.tasks import CharItem, char_item, wilson_interval
from bltlib.tasks import antspeak as _antspeak
from bltlib.tasks import drop as _drop
from bltlib.tasks.scoring import normalise_answer

LESSON = "chars"


class SeededRandom(random.Random):
    """A :class:`random.Random` that shows its seed, so that a failing case can say which generator it got.

    >>> import copy
    >>> rng = SeededRandom(3)
    >>> rng, copy.deepcopy(rng).random() == rng.random()
    (random.Random(3), True)
    """

    def __init__(self, seed: int = 0) -> None:
        self._seed_shown = seed
        super().__init__(seed)

    def __repr__(self) -> str:
        return f"random.Random({self._seed_shown})"

    def __reduce__(self) -> tuple:
        return type(self), (self._seed_shown,), self.getstate()


def _first_departure(actual: str, expected: str) -> str:
    """Where ``actual`` first departs from ``expected``, with the expected text just before that point.

    >>> _first_departure("Spell the word cat", "Spell the word: cat")
    "at character 14, after 'Spell the word': expected ':', got ' '"
    >>> _first_departure("ab", "abc")
    "at character 2, after 'ab': expected 'c', got the end of the prompt"
    >>> _first_departure("x", "y")
    "at its start: expected 'y', got 'x'"
    """
    j = next((j for j, (a, e) in enumerate(zip(actual, expected, strict=False)) if a != e), None)
    j = min(len(actual), len(expected)) if j is None else j
    where = f"at character {j}, after {expected[max(0, j - 16) : j]!r}" if j else "at its start"
    want, got = (repr(text[j]) if j < len(text) else "the end of the prompt" for text in (expected, actual))
    return f"{where}: expected {want}, got {got}"


def _item_form(actual: Any, expected: Any) -> Idea | None:
    if isinstance(expected, CharItem) and not isinstance(actual, CharItem):
        return Idea(
            "return a CharItem",
            f"build CharItem(prompt, answer) (from bltlib.tasks), not {a_type(actual)}: fine-tuning "
            "and scoring read its two fields",
        )
    if (
        isinstance(expected, CharItem)
        and actual.answer == expected.answer
        and isinstance(actual.prompt, str)
        and actual.prompt != expected.prompt
    ):
        return Idea(
            "the prompt's exact wording",
            "the answer is right, but the prompt departs from the wording in the exercise's instructions "
            f"{_first_departure(actual.prompt, expected.prompt)}.",
            more="The prompt is compared character for character: every word, capital, colon, space and the "
            "newline count, because a model learns (and is asked) exactly that text. " + _FORMAT_EXAMPLE,
        )
    return None


# ----------------------------------------------------------------------------- 1. task generators

_FORMAT_EXAMPLE = (
    "For 'cat' the item is CharItem(prompt='Spell the word: cat\\nAnswer:', answer='c a t'). The prompt is "
    "the question, a newline and 'Answer:' with nothing after it; the answer has no leading space and no "
    "newline. item_text joins them as prompt + ' ' + answer + '\\n': 'Spell the word: cat\\nAnswer: c a "
    "t\\n', the same text in fine-tuning and in evaluation."
)
_SPACED = Idea(
    "letters separated by spaces",
    "the answer spells the word out, one letter at a time, with a single space between two letters "
    "('c a t'), so that a token model writes one letter per token.",
    more="'house' is spelled 'h o u s e': 5 letters and 4 single spaces, nothing before the first letter "
    "and nothing after the last. 'a' is spelled 'a'.",
)
_BETWEEN = Idea(
    "single spaces BETWEEN letters",
    "one space between two letters, none after the last one: 'c a t', not 'c a t '.",
    more=_SPACED.more,
)
_CUE = Idea(
    "the answer cue",
    "every prompt ends with a newline and 'Answer:' (bltlib.tasks.chars.ANSWER_CUE): the model learns to "
    "answer right after it.",
    more=_FORMAT_EXAMPLE,
)
_CUE_LINE = Idea(
    "the cue on its own line",
    "a NEWLINE, then 'Answer:': the question is one line, the cue the next.",
    more=_FORMAT_EXAMPLE,
)
_NO_SPACE_AFTER_CUE = Idea(
    "the prompt ends with 'Answer:'",
    "nothing after the colon: the space before the answer is written by item_text, as the first character "
    "of what the model continues with.",
    more=_FORMAT_EXAMPLE,
)
_LEADING = Idea(
    "no leading space in the answer",
    "the answer is the bare answer; item_text writes the space between 'Answer:' and it (and a scorer "
    "compares the bare answers).",
    more=_FORMAT_EXAMPLE,
)
_NO_NEWLINE = Idea(
    "no newline in the answer",
    "item_text ends the item with the newline; the answer itself is only the letters.",
    more=_FORMAT_EXAMPLE,
)


def _spelled(word: str, sep: str = " ", end: str = "") -> str:
    return sep.join(word) + end


def _format_mistakes(task: Callable[[str], CharItem]) -> tuple[Mistake, ...]:
    """The format mistakes of any generator, built on ``task`` (a correct generator)."""

    def prompt(word: str, cue: str) -> CharItem:
        item = task(word)
        return CharItem(item.prompt.removesuffix("\nAnswer:") + cue, item.answer)

    def answer(word: str, before: str = "", after: str = "") -> CharItem:
        item = task(word)
        return CharItem(item.prompt, before + item.answer + after)

    return (
        Mistake(lambda w: prompt(w, ""), _CUE),
        Mistake(lambda w: prompt(w, "\n"), _CUE),
        Mistake(lambda w: prompt(w, " Answer:"), _CUE_LINE),
        Mistake(lambda w: prompt(w, "Answer:"), _CUE_LINE),
        Mistake(lambda w: prompt(w, "\nAnswer: "), _NO_SPACE_AFTER_CUE),
        Mistake(lambda w: answer(w, before=" "), _LEADING),
        Mistake(lambda w: answer(w, after="\n"), _NO_NEWLINE),
        Mistake(lambda w: answer(w, before=" ", after="\n"), _LEADING),
    )


def reference_spell_item(word: str) -> CharItem:
    """The ``spell`` item of :func:`bltlib.tasks.char_item`.

    >>> reference_spell_item("cat")
    CharItem(prompt='Spell the word: cat\\nAnswer:', answer='c a t')
    """
    return char_item("spell", word, random.Random(0))


_SPELL_MISTAKES = (
    Mistake(lambda w: CharItem(reference_spell_item(w).prompt, w), _SPACED),
    Mistake(lambda w: CharItem(reference_spell_item(w).prompt, _spelled(w, end=" ")), _BETWEEN),
    Mistake(lambda w: CharItem(reference_spell_item(w).prompt, _spelled(w, sep="  ")), _BETWEEN),
    Mistake(lambda w: CharItem(reference_spell_item(w).prompt, _spelled(w, sep="-")), _SPACED),
    Mistake(lambda w: CharItem(reference_spell_item(w).prompt, _spelled(w, sep=", ")), _SPACED),
    *_format_mistakes(reference_spell_item),
)


def spell_item(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(word) -> CharItem``: the ``spell`` question about ``word``, in the tasks' format.

    The prompt is ``"Spell the word: " + word`` followed by ``"\\nAnswer:"``; the answer is the word's
    letters separated by single spaces, with no space or newline around it (:func:`bltlib.tasks.item_text`
    adds them). ``more=True`` explains a failure at length, with a worked example and the verdict on
    every case.

    >>> spell_item(reference_spell_item)
    ✓ spell_item: all 4 cases pass
    """

    def case(word: str, label: str, hint: Idea = _SPACED) -> Case:
        return Case((word,), reference_spell_item(word), label=label, hint=hint, names=("word",))

    cases = [
        case("cat", "a short word"),
        case("a", "one letter: no space at all", _BETWEEN),
        case("balloon", "doubled letters"),
        case("strawberry", "a longer word"),
    ]
    return check(
        "spell_item",
        fn,
        cases,
        hint=_SPACED,
        mistakes=_SPELL_MISTAKES,
        form=_item_form,
        more=more,
        lesson=LESSON,
        raise_on_fail=raise_on_fail,
    )


def _is_palindrome(word: str) -> bool:
    return word == word[::-1]


def reference_reverse_item(word: str) -> CharItem:
    """The ``reverse`` item of :func:`bltlib.tasks.char_item`: a ``ValueError`` for a palindrome.

    >>> reference_reverse_item("stressed")
    CharItem(prompt='Reverse the word: stressed\\nAnswer:', answer='desserts')
    """
    return char_item("reverse", word, random.Random(0))


def _reverse_outcome(fn: Callable[[str], Any], word: str) -> Any:
    """``fn(word)``, or the ValueError it raised (for a palindrome, whatever exception it raised): what
    the function does with the word, as a value the check can compare."""
    try:
        return fn(word)
    except NotImplementedError:
        raise
    except ValueError as exc:
        return exc
    except Exception as exc:
        if _is_palindrome(word):
            return exc
        raise


REFUSED = ValueError("a palindrome makes no question")


def _reverse_with(
    refuse: Callable[[str], bool], answer: Callable[[str], str] = lambda w: w[::-1]
) -> Callable:
    """A reverse generator that refuses the words ``refuse`` picks (with a ValueError)."""

    def generate(word: str) -> Any:
        if refuse(word):
            return REFUSED
        return CharItem(f"Reverse the word: {word}\nAnswer:", answer(word))

    return generate


_PALINDROME_EXAMPLE = (
    "'level' backwards is 'level': a model could answer by copying the word from the prompt, so the item "
    "would not test reversing at all. char_item refuses it with a ValueError (task_applies('reverse', "
    "'level') is False). 'that' starts and ends with a t but reads 'taht' backwards: it is a fine question. "
    "A one-letter word is a palindrome too."
)
_PALINDROME = Idea(
    "no palindromes",
    "a word that reads the same backwards ('level', 'noon') makes no question (the answer is a copy of "
    "the word): raise a ValueError for it, as char_item does.",
    more=_PALINDROME_EXAMPLE,
)
_REVERSE_MISTAKES = (
    Mistake(_reverse_with(lambda w: False), _PALINDROME),
    Mistake(
        _reverse_with(lambda w: w[0] == w[-1]),
        Idea(
            "a palindrome, every letter",
            "a palindrome reads the same backwards letter for letter: 'that' starts and ends with t but "
            "reverses to 'taht', so it is a fine question.",
            more=_PALINDROME_EXAMPLE,
        ),
    ),
    Mistake(
        _reverse_with(lambda w: len(w) > 1 and _is_palindrome(w)),
        Idea(
            "one letter is a palindrome",
            "'a' reads the same backwards, so its answer is a copy of the word: refuse it too.",
            more=_PALINDROME_EXAMPLE,
        ),
    ),
    Mistake(
        lambda w: None if _is_palindrome(w) else reference_reverse_item(w),
        Idea(
            "raise a ValueError",
            "refuse a palindrome by raising ValueError, as char_item does: a None would slip quietly into "
            "a list of items.",
            more=_PALINDROME_EXAMPLE,
        ),
    ),
    Mistake(
        _reverse_with(_is_palindrome, lambda w: " ".join(w[::-1])),
        Idea(
            "the reversed WORD",
            "the answer is the reversed word, its letters joined ('tac'), not spelled out with spaces.",
            more="'stressed' reverses to 'desserts'.",
        ),
    ),
    *_format_mistakes(lambda w: CharItem(f"Reverse the word: {w}\nAnswer:", w[::-1])),
)


def _same_outcome(actual: Any, expected: Any) -> bool:
    """The same CharItem, or an exception of the same type (its message is free)."""
    if isinstance(expected, Exception):
        return isinstance(actual, type(expected))
    return type(actual) is type(expected) and actual == expected


def _raises_form(actual: Any, expected: Any) -> Idea | None:
    if isinstance(expected, Exception) and isinstance(actual, Exception):
        return Idea(
            "raise a ValueError",
            f"char_item refuses a palindrome with a ValueError, not {type(actual).__name__} (an assert can "
            "be switched off, and says nothing about what was wrong)",
            more=_PALINDROME_EXAMPLE,
        )
    if isinstance(expected, Exception):
        return _PALINDROME
    if isinstance(actual, Exception):
        return Idea(
            "only palindromes are refused",
            "this word reads differently backwards: return its item",
            more=_PALINDROME_EXAMPLE,
        )
    return _item_form(actual, expected)


def reverse_item(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(word) -> CharItem``: the ``reverse`` question, which a palindrome refuses.

    The prompt is ``"Reverse the word: " + word`` followed by ``"\\nAnswer:"``, the answer the word
    backwards. A palindrome (a word that reads the same backwards, one letter included) raises a
    ``ValueError``. ``more=True`` explains a failure at length.

    >>> reverse_item(reference_reverse_item)
    ✓ reverse_item: all 6 cases pass
    """
    if not callable(fn):
        return check("reverse_item", fn, [], raise_on_fail=raise_on_fail)

    @functools.wraps(fn)
    def learner(word: str) -> Any:
        return _reverse_outcome(fn, word)

    def case(word: str, label: str, hint: Idea = _PALINDROME) -> Case:
        expected = REFUSED if _is_palindrome(word) else reference_reverse_item(word)
        return Case((word,), expected, label=label, hint=hint, names=("word",))

    reversing = Idea(
        "reverse the word",
        "the answer is the word's letters in the opposite order",
        more="'stressed' gives CharItem(prompt='Reverse the word: stressed\\nAnswer:', answer='desserts'); "
        "a palindrome such as 'level' raises a ValueError.",
    )
    cases = [
        case("cat", "a short word", reversing),
        case("stressed", "a longer word", reversing),
        case("level", "a palindrome"),
        case("that", "the same first and last letter, not a palindrome", _REVERSE_MISTAKES[1].idea),
        case("a", "one letter", _REVERSE_MISTAKES[2].idea),
        case("noon", "a palindrome of even length"),
    ]
    return check(
        "reverse_item",
        learner,
        cases,
        compare=_same_outcome,
        hint=reversing,
        mistakes=_REVERSE_MISTAKES,
        form=_raises_form,
        more=more,
        lesson=LESSON,
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 2. the char embedding


def reference_char_embedding(
    tokens: list[bytes], byte_emb: nn.Embedding, lstm: nn.LSTM, proj: nn.Linear
) -> torch.Tensor:
    """The char embeddings ``[N, dim]`` of ``tokens`` by :class:`bltlib.charaware.CharLSTMEmbedding`, with
    the given weights.

    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> parts = nn.Embedding(257, 3, padding_idx=0), nn.LSTM(3, 5, batch_first=True), nn.Linear(5, 4)
    >>> out = reference_char_embedding([b"the", b""], *parts)
    >>> tuple(out.shape), out[1].equal(parts[2].bias.detach())  # a token with no bytes: proj of zeros
    ((2, 4), True)
    """
    with torch.random.fork_rng():  # its own initial weights, replaced below, draw from a forked generator
        module = CharLSTMEmbedding(
            tokens, dim=proj.out_features, char_dim=byte_emb.embedding_dim, hidden=lstm.hidden_size
        )
    module.byte_emb.load_state_dict(byte_emb.state_dict())
    module.lstm.load_state_dict(lstm.state_dict())
    module.proj = proj
    with torch.no_grad():
        return module(torch.arange(len(tokens))[None])[0]


def _char_states(
    tokens: list[bytes],
    byte_emb: nn.Embedding,
    lstm: nn.LSTM,
    *,
    offset: int = 1,
    read: str = "last",
    empty_zero: bool = True,
    reverse: bool = False,
    characters: bool = False,
) -> torch.Tensor:
    """The LSTM's state per token ``[N, hidden]``, with switches for the usual mistakes (``characters``:
    the code points of the decoded text instead of the bytes)."""
    spelled = [[ord(ch) for ch in t.decode()] if characters else list(t) for t in tokens]
    spelled = [values[::-1] if reverse else values for values in spelled]
    lengths = torch.tensor([len(values) for values in spelled])
    width = max(1, int(lengths.max()))
    table = torch.zeros(len(tokens), width, dtype=torch.long)
    for i, values in enumerate(spelled):
        table[i, : len(values)] = torch.tensor(values, dtype=torch.long) + offset
    with torch.no_grad():
        out, (h, c) = lstm(byte_emb(table))
    rows = torch.arange(len(tokens))
    real = (torch.arange(width)[None] < lengths[:, None]).unsqueeze(-1)
    if read == "padded":
        state = out[:, -1]
    elif read == "cell":
        cells = []
        for values in spelled:  # the cell state after the token's last byte: each token on its own bytes
            ids = torch.tensor(values or [-offset], dtype=torch.long) + offset
            with torch.no_grad():
                _, (_, cell) = lstm(byte_emb(ids)[None])
            cells.append(cell[-1, 0])
        state = torch.stack(cells)
    elif read == "mean":
        state = (out * real).sum(1) / lengths.clamp(min=1)[:, None]
    elif read == "sum":
        state = (out * real).sum(1)
    elif read == "mean_all":
        state = out.mean(1)
    elif read == "first":
        state = out[:, 0]
    else:
        state = out[rows, (lengths - 1).clamp(min=0)]
    if empty_zero:
        state = state * (lengths > 0)[:, None]
    return state


def _char_mistake(proj: bool = True, **options: Any) -> Callable:
    def embed(tokens: list[bytes], byte_emb: nn.Embedding, lstm: nn.LSTM, lin: nn.Linear) -> torch.Tensor:
        state = _char_states(tokens, byte_emb, lstm, **options)
        with torch.no_grad():
            return lin(state) if proj else state

    return embed


_LSTM_EXAMPLE = (
    "For the tokens [b'a', b'the'] the byte table is [[98, 0, 0], [117, 105, 102]] (byte b is row b + 1 "
    "of the byte embedding, 0 pads). The LSTM reads each row left to right; token 'a' ends after 1 step, "
    "so its state is the output at step 0, token 'the' ends at step 2. Each of those states (hidden "
    "size) goes through the projection to the model width. A token with no bytes (a special token) "
    "gets a zero vector."
)
_LAST_BYTE = Idea(
    "the state at the token's LAST BYTE",
    "at the padded batch's last step a short token's LSTM has read padding too; read each token's "
    "output at its own last byte (step length - 1).",
    more=_LSTM_EXAMPLE,
)
_FINAL_STATE = Idea(
    "the FINAL state",
    "the char embedding is the LSTM's hidden state after the last byte (it has read the whole token), "
    "not a sum or an average of its outputs over the steps.",
    more=_LSTM_EXAMPLE,
)
_OFFSET = Idea(
    "byte b is row b + 1",
    "row 0 of the byte embedding is padding, so byte b looks up row b + 1 (257 rows for 256 bytes).",
    more=_LSTM_EXAMPLE,
)
_PROJECT = Idea(
    "project to the model width",
    "the LSTM's state has the hidden size; the char embedding is that state through proj, so that it "
    "can be added to the token embedding.",
    more=_LSTM_EXAMPLE,
)
_EMPTY = Idea(
    "a token with no bytes",
    "a special token spells no text: its char embedding is a zero vector (the LSTM reads nothing).",
    more=_LSTM_EXAMPLE,
)
_CHAR_MISTAKES = (
    Mistake(_char_mistake(offset=0), _OFFSET),
    Mistake(_char_mistake(proj=False), _PROJECT),
    Mistake(
        _char_mistake(read="cell"),
        Idea(
            "the HIDDEN state",
            "nn.LSTM returns out, (h, c): the embedding is the hidden state h (the output at the last "
            "byte), not the cell state c.",
            more=_LSTM_EXAMPLE,
        ),
    ),
    Mistake(
        _char_mistake(reverse=True),
        Idea(
            "the bytes in order",
            "the LSTM reads a token's bytes first to last, as they are spelled.",
            more=_LSTM_EXAMPLE,
        ),
    ),
    Mistake(_char_mistake(read="padded"), _LAST_BYTE),
    Mistake(_char_mistake(read="mean"), _FINAL_STATE),
    Mistake(_char_mistake(read="sum"), _FINAL_STATE),
    Mistake(_char_mistake(read="mean_all"), _FINAL_STATE),
    Mistake(
        _char_mistake(read="first"),
        Idea(
            "the state at the LAST byte",
            "after the first byte the LSTM has read one letter; after the last it has read them all.",
            more=_LSTM_EXAMPLE,
        ),
    ),
    Mistake(_char_mistake(empty_zero=False), _EMPTY),
    Mistake(
        _char_mistake(characters=True),
        Idea(
            "bytes, not characters",
            "the LSTM reads the token's bytes (UTF-8), so a 2-byte character ('é') is two steps.",
            more="' café' is 5 characters but 6 bytes: ' ', 'c', 'a', 'f' are one byte each (32, 99, 97, "
            "102) and 'é' is two, 195 and 169. A token is already bytes; the LSTM takes 6 steps over it, "
            "with rows 33, 100, 98, 103, 196 and 170, and never decodes it (a token may end in the middle "
            "of a character). " + _LSTM_EXAMPLE,
        ),
    ),
)


def _same_floats(actual: Any, expected: torch.Tensor) -> bool:
    return (
        isinstance(actual, torch.Tensor)
        and actual.is_floating_point()
        and actual.shape == expected.shape
        and torch.allclose(actual.detach().double(), expected.double(), atol=1e-5, rtol=1e-4)
    )


def _embedding_form(actual: Any, expected: torch.Tensor) -> str | None:
    if not isinstance(actual, torch.Tensor):
        return f"return a torch tensor [N, dim], one row per token, not {a_type(actual)}"
    if actual.shape != expected.shape:
        return (
            f"the answer has shape {list(actual.shape)}, expected {list(expected.shape)}: one row per token, "
            "the model width (proj's out_features) wide"
        )
    return None


class _Linear(nn.Linear):
    """An ``nn.Linear`` whose repr fits a failure's call line: ``Linear(5, 4, bias=False)``."""

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"

    def _get_name(self) -> str:
        return "Linear"


def char_embedding(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(tokens, byte_emb, lstm, proj) -> Tensor [N, dim]``: the char embedding of each token.

    ``tokens`` is a list of ``bytes`` (one per token, ``b""`` for a special token), ``byte_emb`` an
    ``nn.Embedding(257, char_dim, padding_idx=0)`` (byte ``b`` is row ``b + 1``), ``lstm`` an
    ``nn.LSTM(char_dim, hidden, batch_first=True)`` and ``proj`` an ``nn.Linear(hidden, dim)``. Row ``i``
    of the answer is ``proj`` of the LSTM's hidden state after the last byte of token ``i`` (zeros for a
    token with no bytes), as in :class:`bltlib.charaware.CharLSTMEmbedding`. ``more=True`` explains a
    failure at length.

    >>> char_embedding(reference_char_embedding)
    ✓ char_embedding: all 6 cases pass
    """
    with torch.random.fork_rng():  # seeded weights, and the learner's own random state left alone
        torch.manual_seed(5)
        byte_emb = nn.Embedding(257, 3, padding_idx=0)
        lstm = nn.LSTM(3, 5, batch_first=True)
        proj = _Linear(5, 4, bias=False)
        nn.init.normal_(proj.weight, std=0.5)  # large enough that the values show in a summary
    names = ("tokens", "byte_emb", "lstm", "proj")

    def case(tokens: list[bytes], label: str, hint: Idea = _FINAL_STATE) -> Case:
        args = (tokens, byte_emb, lstm, proj)
        return Case(args, reference_char_embedding(*args), label=label, hint=hint, names=names)

    cases = [
        case([b"a"], "one token of one byte", _OFFSET),
        case([b"the"], "one token of 3 bytes"),
        case([b"th", b"he"], "two tokens of the same length"),
        case([b"a", b" the", b"cat"], "different lengths: padding", _LAST_BYTE),
        case([b"the", b"", b"x"], "a token with no bytes", _EMPTY),
        case([b" straw", b"!", " café".encode()], "a batch with a 2-byte character"),
    ]
    return check(
        "char_embedding",
        fn,
        cases,
        compare=_same_floats,
        hint=_FINAL_STATE,
        mistakes=_CHAR_MISTAKES,
        form=_embedding_form,
        more=more,
        lesson=LESSON,
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 3. exact match


def reference_exact_match(prediction: str, answer: str) -> bool:
    """Does a decoded ``prediction`` give ``answer``? Both cut at their first newline and stripped
    (:func:`bltlib.tasks.scoring.normalise_answer`), then compared exactly.

    >>> reference_exact_match(" esuoh\\nReverse the word:", "esuoh"), reference_exact_match("\\nYes", "Yes")
    (True, False)
    """
    return normalise_answer(prediction) == normalise_answer(answer)


def _em(prediction: str, answer: str, *, strip: str = "both", cut: bool = True, order: str = "cut") -> bool:
    """Exact match with switches for the usual mistakes (``strip``: "both", "left" or "none")."""

    def stripped(text: str) -> str:
        return {"both": text.strip(), "left": text.lstrip(), "none": text}[strip]

    def norm(text: str) -> str:
        if order == "strip":
            text = stripped(text)
        if cut:
            text = text.split("\n", 1)[0]
        if order == "cut":
            text = stripped(text)
        return text

    return norm(prediction) == norm(answer)


_EM_EXAMPLE = (
    "A model asked 'Reverse the word: house\\nAnswer:' continues with ' esuoh\\nReverse the word: ...' and "
    "greedy decoding stops a few bytes later. Its answer is the text before the first newline, stripped "
    "of the spaces around it: 'esuoh'. '\\nYes' starts with a newline: the model ended its answer before "
    "writing anything, so its answer is '' (wrong, even though 'Yes' follows). The comparison is then "
    "exact: 'Esuoh' is not 'esuoh', 'house' is not 'h o u s e', 'Yes, it does' is not 'Yes'."
)
_STRIP = Idea(
    "strip the answer",
    "a model continues 'Answer:' with a space before its answer: strip the whitespace around it before "
    "comparing.",
    more=_EM_EXAMPLE,
)
_CUT = Idea(
    "cut at the first newline",
    "the newline ends the answer; what a model writes after it (the next question, say) is not part of "
    "the answer.",
    more=_EM_EXAMPLE,
)
_CUT_FIRST = Idea(
    "cut first, then strip",
    "a continuation that starts with a newline gave an EMPTY answer; stripping first would remove that "
    "newline and score the text after it.",
    more=_EM_EXAMPLE,
)
_EXACT = Idea(
    "exact match",
    "after the cut and the strip the two strings must be equal: character for character, case included.",
    more=_EM_EXAMPLE,
)
_STRIP_BOTH = Idea(
    "strip both ends",
    "the model's answer often ends with a space (before the newline, or where decoding stopped): "
    "remove the whitespace after the answer as well as before it.",
    more="' esuoh \\nReverse' cut at the newline is ' esuoh ': stripped of the spaces on both sides "
    "it is 'esuoh', the answer; with only the space before it removed it is still 'esuoh ', which "
    "is not. " + _EM_EXAMPLE,
)
_EM_MISTAKES = (
    Mistake(lambda p, a: p == a, _STRIP),
    Mistake(lambda p, a: _em(p, a, strip="none"), _STRIP),
    Mistake(lambda p, a: _em(p, a, cut=False), _CUT),
    Mistake(lambda p, a: _em(p, a, order="strip"), _CUT_FIRST),
    Mistake(
        lambda p, a: normalise_answer(p).lower() == normalise_answer(a).lower(),
        Idea(
            "case matters",
            "'Esuoh' is not the reverse of 'house': compare case-sensitively (the tasks' answers are "
            "lowercase words, 'Yes' and 'No', digits).",
            more=_EM_EXAMPLE,
        ),
    ),
    Mistake(
        lambda p, a: "".join(normalise_answer(p).split()) == "".join(normalise_answer(a).split()),
        Idea(
            "strip only the ENDS",
            "the spaces inside an answer are part of it: 'house' does not answer a spell question whose "
            "answer is 'h o u s e'.",
            more=_EM_EXAMPLE,
        ),
    ),
    Mistake(
        lambda p, a: (p.split() or [""])[0] == a.strip(),
        Idea(
            "the whole line, not the first word",
            "the answer is everything before the newline ('h o u s e'), not the text up to the first space.",
            more=_EM_EXAMPLE,
        ),
    ),
    Mistake(
        lambda p, a: normalise_answer(a) in normalise_answer(p),
        Idea(
            "exact, not contained",
            "the answer must equal the expected one, not merely contain it: 'Yes, it does' is not 'Yes', "
            "and '12' is not '1'.",
            more=_EM_EXAMPLE,
        ),
    ),
    Mistake(
        lambda p, a: normalise_answer(p) == a,
        Idea(
            "the same rule for both",
            "normalise the expected answer the way you normalise the prediction (cut, then strip), so that "
            "'2\\n' and ' 2' are the same answer.",
            more=_EM_EXAMPLE,
        ),
    ),
    Mistake(lambda p, a: _em(p, a, strip="left"), _STRIP_BOTH),
)


def exact_match(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(prediction, answer) -> bool``: is a decoded continuation the right answer?

    Both strings are cut at their first newline, then stripped of surrounding whitespace, then compared
    exactly (case-sensitively), as :func:`bltlib.tasks.scoring.exact_match` does for each item.
    ``more=True`` explains a failure at length.

    >>> exact_match(reference_exact_match)
    ✓ exact_match: all 11 cases pass
    """
    names = ("prediction", "answer")

    def case(prediction: str, answer: str, label: str, hint: Idea) -> Case:
        expected = reference_exact_match(prediction, answer)
        return Case((prediction, answer), expected, label=label, hint=hint, names=names)

    cases = [
        case("esuoh", "esuoh", "the very answer", _EXACT),
        case(" esuoh", "esuoh", "a space before the answer", _STRIP),
        case(" esuoh ", "esuoh", "a space after the answer too", _STRIP_BOTH),
        case(" esuoh\nReverse the word:", "esuoh", "the model went on after the newline", _CUT),
        case(" Esuoh\n", "esuoh", "an upper-case letter", _EM_MISTAKES[4].idea),
        case(" h o u s e\n", "h o u s e", "spaces inside the answer", _EM_MISTAKES[6].idea),
        case(" house\n", "h o u s e", "the letters without their spaces", _EM_MISTAKES[5].idea),
        case("\nYes", "Yes", "a newline first: an empty answer", _CUT_FIRST),
        case(" Yes, it does\n", "Yes", "more than the answer", _EM_MISTAKES[7].idea),
        case(" 12\nHow many", "1", "a longer number", _EM_MISTAKES[7].idea),
        case(" 2\n", "2 \n", "the expected answer, normalised too", _EM_MISTAKES[8].idea),
    ]
    return check(
        "exact_match",
        fn,
        cases,
        compare=lambda actual, expected: isinstance(actual, bool) and actual == expected,
        hint=_EXACT,
        mistakes=_EM_MISTAKES,
        form=bool_form,
        more=more,
        lesson=LESSON,
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 4. noise


def reference_antspeak(text: str) -> str:
    """:func:`bltlib.tasks.antspeak`: upper case, every character separated by one space.

    >>> reference_antspeak("Hi there")
    'H I   T H E R E'
    """
    return _antspeak(text)


_ANT_EXAMPLE = (
    "'Hi there' has 8 characters: H, i, a space, t, h, e, r, e. Upper-cased and joined by single "
    "spaces: 'H I   T H E R E'; the space between the words sits between two single spaces, so three "
    "spaces show. 'a\\nb' becomes 'A \\n B'. Nothing comes before the first character or after the last."
)
_ANT_STRIPPED = Idea(
    "the text's own whitespace",
    "strip removes characters that are part of the text; a space or newline at either end is a character "
    "like any other, kept between single spaces ('Hi\\n' becomes 'H I \\n').",
    more=_ANT_EXAMPLE,
)
_ANT_MISTAKES = (
    Mistake(
        lambda t: " ".join(t),
        Idea(
            "upper case",
            "antspeak is ALL CAPS as well as spaced out: upper-case the text.",
            more=_ANT_EXAMPLE,
        ),
    ),
    Mistake(
        lambda t: " ".join(t.upper().replace(" ", "")),
        Idea(
            "a space is a character too",
            "it is written with a single space on each side, so a space in the text becomes three.",
            more=_ANT_EXAMPLE,
        ),
    ),
    Mistake(
        lambda t: " ".join(" ".join(w) for w in t.upper().split()),
        Idea(
            "a space is a character too",
            "don't drop the spaces between words: each becomes three.",
            more=_ANT_EXAMPLE,
        ),
    ),
    Mistake(
        lambda t: "   ".join(" ".join(w) for w in t.upper().split()),
        Idea(
            "every character, one by one",
            "don't split the text into words: runs of spaces and newlines are characters, each gets its own "
            "place between single spaces.",
            more=_ANT_EXAMPLE,
        ),
    ),
    Mistake(
        lambda t: "".join(c + " " for c in t.upper()),
        Idea(
            "spaces BETWEEN characters",
            "one space between two characters, none after the last one.",
            more=_ANT_EXAMPLE,
        ),
    ),
    Mistake(
        lambda t: " ".join(t.title()),
        Idea("upper case", "EVERY letter in upper case, not only the first of each word.", more=_ANT_EXAMPLE),
    ),
    Mistake(lambda t: " ".join(t.upper()).strip(), _ANT_STRIPPED),
)


def _str_form(actual: Any, expected: str) -> Idea | None:
    if isinstance(actual, str):
        return None
    join = " (join the characters)" if isinstance(actual, list) else ""
    return Idea("return a str", f"one string, not {a_type(actual)}{join}")


def _antspeak_form(actual: Any, expected: str) -> Idea | None:
    """A str with the text's own whitespace stripped from an end (by rstrip, strip(' ')...), or
    :func:`_str_form`."""
    if isinstance(actual, str) and len(actual) < len(expected) and actual.strip() == expected.strip():
        return _ANT_STRIPPED
    return _str_form(actual, expected)


def antspeak(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(text) -> str``: antspeak, the text upper-cased with every character separated by one
    space (:func:`bltlib.tasks.antspeak`). ``more=True`` explains a failure at length.

    >>> antspeak(reference_antspeak)
    ✓ antspeak: all 5 cases pass
    """
    spaced = Idea(
        "every character, spaced",
        "upper-case the text and put a single space between every two characters",
        more=_ANT_EXAMPLE,
    )

    def case(text: str, label: str, hint: Idea = spaced) -> Case:
        return Case((text,), reference_antspeak(text), label=label, hint=hint, names=("text",))

    cases = [
        case("cat", "one word"),
        case("Hi there", "two words", _ANT_MISTAKES[1].idea),
        case("Mr. Darcy!", "punctuation"),
        case("It is\n\na  truth", "newlines and two spaces in a row", _ANT_MISTAKES[3].idea),
        case(" Yes.\n", "a space first and a newline at the end", _ANT_STRIPPED),
    ]
    return check(
        "antspeak",
        fn,
        cases,
        hint=spaced,
        mistakes=_ANT_MISTAKES,
        form=_antspeak_form,
        more=more,
        lesson=LESSON,
        raise_on_fail=raise_on_fail,
    )


def reference_drop(text: str, rng: random.Random, p: float) -> str:
    """:func:`bltlib.tasks.drop`: one ``rng.random()`` per character, in order; a draw below ``p`` deletes it.

    >>> reference_drop("pride", random.Random(0), 0.5)
    'pre'
    """
    return _drop(text, rng, p)


def _drop_mistake(rule: str) -> Callable:
    def noisy(text: str, rng: random.Random, p: float) -> str:
        if rule == "keep_below":
            return "".join(c for c in text if rng.random() < p)
        if rule == "keep_below_1mp":
            return "".join(c for c in text if rng.random() < 1 - p)
        if rule == "skip_spaces":
            return "".join(c for c in text if c.isspace() or rng.random() >= p)
        if rule == "fixed_count":
            gone = set(rng.sample(range(len(text)), round(p * len(text))))
            return "".join(c for i, c in enumerate(text) if i not in gone)
        raise ValueError(rule)

    return noisy


_DROP_EXAMPLE = (
    "random.Random(0)'s first five draws are 0.84, 0.76, 0.42, 0.26, 0.51. For 'pride' with p = 0.5: p's "
    "draw 0.84 is not below 0.5, so p stays; r (0.76) stays; i (0.42) goes; d (0.26) goes; e (0.51) stays: "
    "'pre'. Every character takes one draw, in order, whether it is deleted or not, so the same seed "
    "always gives the same noise."
)
_DROP_RULE = Idea(
    "a draw BELOW p deletes",
    "each character is deleted with probability p: draw rng.random() and delete it when the draw is below "
    "p (at p = 0 nothing goes, at p = 1 everything).",
    more=_DROP_EXAMPLE,
)
_DROP_MISTAKES = (
    Mistake(_drop_mistake("keep_below"), _DROP_RULE),
    Mistake(
        _drop_mistake("keep_below_1mp"),
        Idea(
            "a draw BELOW p deletes",
            "keeping a character when its draw is below 1 - p has the same odds, but deletes other "
            "characters for the same seed: delete when the draw is below p.",
            more=_DROP_EXAMPLE,
        ),
    ),
    Mistake(
        _drop_mistake("skip_spaces"),
        Idea(
            "one draw for EVERY character",
            "spaces and punctuation are characters too: each takes its draw and may be deleted.",
            more=_DROP_EXAMPLE,
        ),
    ),
    Mistake(
        _drop_mistake("fixed_count"),
        Idea(
            "each character on its own",
            "every character is deleted independently, with probability p: the number deleted varies; "
            "don't pick a fixed number of positions.",
            more=_DROP_EXAMPLE,
        ),
    ),
)


def drop(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(text, rng, p) -> str``: each character deleted with probability ``p``.

    ``rng`` is a :class:`random.Random`; the rule, so that a seed gives exactly bltlib's noise: one
    ``rng.random()`` per character, first to last, and the character is deleted when its draw is below
    ``p`` (:func:`bltlib.tasks.drop`). ``more=True`` explains a failure at length.

    >>> drop(reference_drop)
    ✓ drop: all 5 cases pass
    """
    names = ("text", "rng", "p")
    own_rng = Idea(
        "the rng you are given",
        "draw from rng (rng.random()), once per character, in order, not from the random module: the same "
        "seed must give the same noise",
        more=_DROP_EXAMPLE,
    )

    def case(text: str, seed: int, p: float, label: str, hint: Idea = own_rng) -> Case:
        expected = reference_drop(text, SeededRandom(seed), p)  # its own generator: the case's stays fresh
        return Case((text, SeededRandom(seed), p), expected, label=label, hint=hint, names=names)

    cases = [
        case("pride", 0, 0.0, "p = 0: nothing goes", _DROP_RULE),
        case("pride", 0, 1.0, "p = 1: everything goes", _DROP_RULE),
        case("pride", 0, 0.5, "p = 0.5"),
        case("It is a truth universally acknowledged", 1, 0.1, "spaces", _DROP_MISTAKES[2].idea),
        case("Emma Woodhouse, handsome, clever, and rich", 7, 0.3, "p = 0.3, punctuation"),
    ]
    return check(
        "drop",
        fn,
        cases,
        hint=own_rng,
        mistakes=_DROP_MISTAKES,
        form=_str_form,
        more=more,
        lesson=LESSON,
        raise_on_fail=raise_on_fail,
    )


# ----------------------------------------------------------------------------- 5. the Wilson interval


def reference_wilson(successes: int, n: int) -> tuple[float, float]:
    """:func:`bltlib.tasks.wilson_interval` at z = 1.96 (95%).

    >>> [round(x, 3) for x in reference_wilson(8, 10)]
    [0.49, 0.943]
    """
    return wilson_interval(successes, n)


def _interval(
    k: int, n: int, *, z: float = 1.96, kind: str = "wilson", clip: bool = False, denominator: bool = True
) -> tuple[float, float]:
    """An interval with switches for the usual mistakes (no exact 0 and 1 at the ends)."""
    p = k / n
    if kind == "wald":
        half = z * math.sqrt(p * (1 - p) / n)
        lo, hi = p - half, p + half
    else:
        d = 1 + z * z / n if denominator else 1.0
        centre = (p + z * z / (2 * n)) / d
        spread = p * (1 - p) / n + (z * z / (4 * n * n) if kind == "wilson" else 0.0)
        half = z / d * math.sqrt(spread)
        lo, hi = centre - half, centre + half
    return (max(0.0, lo), min(1.0, hi)) if clip else (lo, hi)


def _close_pair(actual: Any, expected: tuple[float, float], tol: float = 1e-9) -> bool:
    return (
        isinstance(actual, tuple | list)
        and len(actual) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in actual)
        and all(abs(a - e) < tol for a, e in zip(actual, expected, strict=True))
    )


def _same_interval(actual: Any, expected: tuple[float, float]) -> bool:
    """A tuple of two floats within 1e-9 of Wilson's, exactly 0 (1) where the reference is."""
    if not (isinstance(actual, tuple) and _close_pair(actual, expected)):
        return False
    return (expected[0] != 0.0 or actual[0] == 0.0) and (expected[1] != 1.0 or actual[1] == 1.0)


_WILSON_EXAMPLE = (
    "8 successes in 10: p = 0.8, z = 1.96, z^2/n = 0.384. Centre (0.8 + 0.192) / 1.384 = 0.717; half-width "
    "1.96 / 1.384 * sqrt(0.8 * 0.2 / 10 + 0.384 / 40) = 0.226; the interval is (0.490, 0.943), pulled "
    "towards 1/2 and not symmetric around 0.8. The normal interval 0.8 +- 0.248 = (0.552, 1.048) pokes "
    "past 1."
)
_WILSON_MISTAKES = (
    Mistake(
        lambda k, n: _interval(k, n, kind="wald"),
        Idea(
            "Wilson, not the normal interval",
            "p +- z sqrt(p(1-p)/n) is the normal (Wald) interval: it leaves [0, 1] and shrinks to a point at "
            "0 or n successes. Wilson's centre is pulled towards 1/2 and its width has a z^2/(4n^2) term.",
            more=_WILSON_EXAMPLE,
        ),
    ),
    Mistake(
        lambda k, n: _interval(k, n, kind="wald", clip=True),
        Idea(
            "Wilson, not the normal interval",
            "clipping p +- z sqrt(p(1-p)/n) to [0, 1] hides the overflow but keeps the normal interval's "
            "errors (a zero-width interval at 0 or n successes).",
            more=_WILSON_EXAMPLE,
        ),
    ),
    Mistake(
        lambda k, n: _interval(k, n, z=1.645),
        Idea(
            "z = 1.96 for 95%",
            "95% of a normal distribution lies within 1.96 standard deviations; 1.645 gives a 90% interval.",
            more=_WILSON_EXAMPLE,
        ),
    ),
    Mistake(
        lambda k, n: _interval(k, n, z=2.0),
        Idea("z = 1.96 for 95%", "use 1.96, not the rounded 2.", more=_WILSON_EXAMPLE),
    ),
    Mistake(
        lambda k, n: _interval(k, n, denominator=False),
        Idea(
            "the denominator 1 + z^2/n",
            "both the centre and the half-width are divided by 1 + z^2/n.",
            more=_WILSON_EXAMPLE,
        ),
    ),
    Mistake(
        lambda k, n: _interval(k, n, kind="no_correction"),
        Idea(
            "the z^2/(4n^2) term",
            "under the square root: p(1-p)/n + z^2/(4n^2). Without it the interval shrinks to a point at 0 "
            "or n successes, as the normal one does.",
            more=_WILSON_EXAMPLE,
        ),
    ),
    Mistake(
        lambda k, n: _interval(k, n),
        Idea(
            "exactly 0 and 1 at the ends",
            "at 0 successes the lower bound is exactly 0 (at n, the upper bound exactly 1), but the formula "
            "gives it only up to rounding (-2e-17, 0.9999999999999999): set those bounds exactly.",
            more=_WILSON_EXAMPLE,
        ),
    ),
)


_FULL_PRECISION = Idea(
    "full precision",
    "do not round; the exercise's (0.490, 0.943) shows 3 decimals for reading, but the check compares "
    "each bound to 1e-9 (yours are within 0.005). Keep z^2 and every step unrounded too.",
    more="8 of 10 gives (0.4901568..., 0.9433191...): printed to 3 decimals (0.490, 0.943), compared in "
    "full. Round only where you print, as the lesson's tables do. " + _WILSON_EXAMPLE,
)


def _interval_form(actual: Any, expected: tuple[float, float]) -> Idea | None:
    if isinstance(actual, tuple) and len(actual) == 2:
        if _close_pair(actual, expected, tol=5e-3):
            # Close, yet not within 1e-9 (or the ends' exact 0 and 1 would be the case's own hint).
            return None if _close_pair(actual, expected) else _FULL_PRECISION
        return None
    if isinstance(actual, list) and len(actual) == 2:
        return Idea("return a tuple", "(lo, hi), a tuple of two floats, not a list")
    return Idea("return a tuple", f"(lo, hi), a tuple of two floats, not {a_type(actual)}")


def wilson(fn: Callable, *, raise_on_fail: bool = True, more: bool = False) -> CheckResult | None:
    """Check ``fn(successes, n) -> (lo, hi)``: the Wilson 95% interval (z = 1.96) of a success rate.

    The bounds are floats within 1e-9 of :func:`bltlib.tasks.wilson_interval`'s (full precision: a bound
    rounded for reading fails), and exactly 0 (1) at 0 (``n``) successes. ``more=True`` explains a failure
    at length.

    >>> wilson(reference_wilson)
    ✓ wilson: all 6 cases pass
    """
    names = ("successes", "n")
    formula = Idea(
        "Wilson's interval",
        "centre (p + z^2/2n) / (1 + z^2/n), half-width z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/(4n^2)), "
        "with p = successes / n and z = 1.96",
        more=_WILSON_EXAMPLE,
    )

    def case(k: int, n: int, label: str, hint: Idea = formula) -> Case:
        return Case((k, n), reference_wilson(k, n), label=label, hint=hint, names=names)

    cases = [
        case(8, 10, "8 of 10"),
        case(5, 10, "half right: symmetric around 0.5"),
        case(1, 10, "1 of 10: the normal interval goes below 0", _WILSON_MISTAKES[0].idea),
        case(0, 10, "no success: the lower bound is 0", _WILSON_MISTAKES[-1].idea),
        case(5, 5, "all right: the upper bound is 1", _WILSON_MISTAKES[-1].idea),
        case(42, 200, "a larger sample"),
    ]
    return check(
        "wilson",
        fn,
        cases,
        compare=_same_interval,
        match=lambda actual, wrong: isinstance(actual, tuple) and _close_pair(actual, wrong),
        hint=formula,
        mistakes=_WILSON_MISTAKES,
        form=_interval_form,
        more=more,
        lesson=LESSON,
        raise_on_fail=raise_on_fail,
    )


__all__ = [
    "REFUSED",
    "SeededRandom",
    "antspeak",
    "char_embedding",
    "drop",
    "exact_match",
    "reference_antspeak",
    "reference_char_embedding",
    "reference_drop",
    "reference_exact_match",
    "reference_reverse_item",
    "reference_spell_item",
    "reference_wilson",
    "reverse_item",
    "spell_item",
    "wilson",
]
