"""Pre-tokenization: split text into the chunks BPE merges may not cross, fast.

The GPT-2 and GPT-4 split patterns need the ``regex`` module for ``\\p{L}`` (letters) and ``\\p{N}``
(numbers). On ASCII text those classes are just ``[A-Za-z]`` and ``[0-9]``, and Python's own ``re``
(3.11+, which has possessive quantifiers) runs that *ASCII twin* of the pattern 2-3x faster. So a
:class:`Splitter` cuts the text into stretches no chunk crosses, runs the twin on the ASCII stretches
and the real pattern on the rest. The chunks are identical; only the time changes.

Where no chunk crosses: at a space with non-whitespace on both sides (``"a b"``). No GPT-2/GPT-4
chunk holds a space after a non-space character, so a chunk ends right before such a space, and
matching restarts there exactly as it would have inside the whole text.

>>> splitter = Splitter(GPT4_SPLIT_PATTERN)
>>> splitter.findall("Hello world, naïve café 123456!")
['Hello', ' world', ',', ' naïve', ' café', ' ', '123', '456', '!']
>>> stretches("it is naïve to say so")
[('it is', True), (' naïve', False), (' to say so', True)]
"""

from __future__ import annotations

import re
import sys

import regex

# The split regexes of tiktoken's "gpt2" (r50k_base) and "cl100k_base" (GPT-4) encodings, verbatim.
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
NAMED_PATTERNS = {"gpt2": GPT2_SPLIT_PATTERN, "gpt4": GPT4_SPLIT_PATTERN}

# Unicode classes and their ASCII equivalents, negated classes first (they contain the plain ones).
_ASCII_CLASSES = (
    (r"[^\r\n\p{L}\p{N}]", r"[^\r\nA-Za-z0-9]"),
    (r"[^\s\p{L}\p{N}]", r"[^\sA-Za-z0-9]"),
    (r"\p{L}", "[A-Za-z]"),
    (r"\p{N}", "[0-9]"),
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_WHITESPACE = regex.compile(r"\s")  # the same whitespace as the split patterns


def ascii_twin(pattern: str) -> re.Pattern | None:
    """The stdlib-``re`` version of a named split pattern for ASCII text, or None (another pattern,
    or Python < 3.11 whose ``re`` lacks possessive quantifiers).

    >>> ascii_twin(GPT2_SPLIT_PATTERN).pattern
    "'(?:[sdmt]|ll|ve|re)| ?[A-Za-z]++| ?[0-9]++| ?[^\\\\sA-Za-z0-9]++|\\\\s++$|\\\\s+(?!\\\\S)|\\\\s"
    """
    if pattern not in NAMED_PATTERNS.values() or sys.version_info < (3, 11):
        return None
    for unicode_class, ascii_class in _ASCII_CLASSES:
        pattern = pattern.replace(unicode_class, ascii_class)
    return re.compile(pattern, re.ASCII)


def _is_cut(text: str, p: int) -> bool:
    """A space at ``p`` with non-whitespace on both sides: no chunk crosses the point before it."""
    return (
        0 < p < len(text) - 1
        and text[p] == " "
        and not _WHITESPACE.match(text[p - 1])
        and not _WHITESPACE.match(text[p + 1])
    )


def _cut_before(text: str, i: int, floor: int) -> int:
    """The last cut point in ``(floor, i]``, else ``floor``."""
    p = text.rfind(" ", floor + 1, i + 1)
    while p > floor and not _is_cut(text, p):
        p = text.rfind(" ", floor + 1, p)
    return max(p, floor)


def _cut_after(text: str, i: int) -> int:
    """The first cut point at or after ``i``, else ``len(text)``."""
    p = text.find(" ", i)
    while p != -1 and not _is_cut(text, p):
        p = text.find(" ", p + 1)
    return len(text) if p == -1 else p


def stretches(text: str) -> list[tuple[str, bool]]:
    """Cut ``text`` at points no chunk crosses into ``(stretch, is_ascii)`` pieces, alternating kinds;
    each non-ASCII character lies in a non-ASCII stretch widened to the nearest cut points."""
    if text.isascii():
        return [(text, True)] if text else []
    bounds: list[tuple[int, int]] = []  # the non-ASCII stretches, merged when they touch
    for run in _NON_ASCII.finditer(text):
        floor = bounds[-1][1] if bounds else 0
        if run.start() < floor:
            continue  # already inside the previous stretch
        start, end = _cut_before(text, run.start(), floor), _cut_after(text, run.end())
        if bounds and start == floor:
            bounds[-1] = (bounds[-1][0], end)
        else:
            bounds.append((start, end))
    pieces, pos = [], 0
    for start, end in bounds:
        if start > pos:
            pieces.append((text[pos:start], True))
        pieces.append((text[start:end], False))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], True))
    return pieces


class Splitter:
    """``findall(text)``: the chunks of a split pattern, with the ASCII fast path where it is exact."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.compiled = regex.compile(pattern)
        self.ascii = ascii_twin(pattern)

    def findall(self, text: str) -> list[str]:
        if self.ascii is None:
            return self.compiled.findall(text)
        chunks: list[str] = []
        for piece, is_ascii in stretches(text):
            chunks += (self.ascii if is_ascii else self.compiled).findall(piece)
        return chunks
