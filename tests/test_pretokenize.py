"""The fast splitter gives exactly the chunks of the `regex` module, on any text."""

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from bltlib.data import load_udhr_all, mixed_text
from bltlib.pretokenize import GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN, Splitter, ascii_twin, stretches

PATTERNS = [GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN]
# ASCII letters, digits, every kind of whitespace, apostrophes for contractions, punctuation, and
# non-ASCII letters, digits and spaces (the long s matches 's' case-insensitively in Unicode only).
ALPHABET = list("aAsStTdDlLvVrReEmM09 \t\n\r\x0b\x0c\x1c'.,;(){}_-+=#é中ſ²٣\u00a0\u3000\x85\u2028")


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=80))
@pytest.mark.parametrize("pattern", PATTERNS, ids=["gpt2", "gpt4"])
def test_same_chunks_as_the_regex_module(pattern, text):
    assert Splitter(pattern).findall(text) == regex.findall(pattern, text)


@pytest.mark.parametrize("pattern", PATTERNS, ids=["gpt2", "gpt4"])
def test_same_chunks_on_the_corpora(pattern):
    splitter = Splitter(pattern)
    for text in [mixed_text(300_000), *load_udhr_all().values()]:
        assert splitter.findall(text) == regex.findall(pattern, text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=80))
def test_stretches_cover_the_text_and_alternate(text):
    pieces = stretches(text)
    assert "".join(piece for piece, _ in pieces) == text
    assert all(piece for piece, _ in pieces)
    assert all(piece.isascii() for piece, is_ascii in pieces if is_ascii)
    kinds = [is_ascii for _, is_ascii in pieces]
    assert all(a != b for a, b in zip(kinds, kinds[1:], strict=False))


def test_only_named_patterns_get_an_ascii_twin():
    assert ascii_twin(r"\w+|\s") is None
    assert Splitter(r"\w+|\s").findall("héllo wörld") == ["héllo", " ", "wörld"]
