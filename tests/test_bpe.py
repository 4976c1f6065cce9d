"""bltlib.bpe: merges, fast == naive training, tiktoken-identical encoding, save/load, special tokens."""

from __future__ import annotations

import doctest
import functools
import inspect
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import regex
import tiktoken_ext.openai_public
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bltlib.bpe
import bltlib.bpe_train
from bltlib.bpe import (
    GPT2_SPLIT_PATTERN,
    GPT4_SPLIT_PATTERN,
    BasicTokenizer,
    RegexTokenizer,
    Tokenizer,
    get_stats,
    merge,
    render_token,
)
from bltlib.bpe_train import train_merges, train_merges_naive
from bltlib.data import load_udhr_all, mixed_text

ENGLISH = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be "
    "in want of a wife. However little known the feelings or views of such a man may be on his first "
    "entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families, that "
    "he is considered the rightful property of some one or other of their daughters.\n"
)
CODE = (
    "def merge(ids, pair, idx):\n    out = []\n    i = 0\n    while i < len(ids):\n"
    "        if ids[i] == pair[0] and i + 1 < len(ids) and ids[i + 1] == pair[1]:\n"
    "            out.append(idx)\n            i += 2\n        else:\n            out.append(ids[i])\n"
    "            i += 1\n    return out\n\n\nclass Foo:\n\tx = {'a': 1, \"b\": [2, 3]}  # tabs\r\n"
)
MULTILINGUAL = (
    "Alle Menschen sind frei und gleich an Würde und Rechten geboren. Tous les êtres humains naissent "
    "libres et égaux. Все люди рождаются свободными. 人人生而自由，在尊严和权利上一律平等。"
    "كل الناس يولدون أحرارًا. सभी मनुष्य जन्म से स्वतंत्र हैं। 모든 인간은 태어날 때부터 자유롭다. "
    "Ο άνθρωποι γεννιούνται ελεύθεροι. 🙂🎉👩‍👩‍👧 naïve café 1234567 ½ Ⅻ\u200b\u00a0end\n"
)
TIES = "ab ba ab ba cd dc cd dc aaaa bbbb abab baba xyzxyz zyxzyx " * 3
TEXTS = {"english": ENGLISH, "code": CODE, "multilingual": MULTILINGUAL, "ties": TIES}
TOKENIZERS = {"basic": BasicTokenizer, "gpt4": RegexTokenizer, "gpt2": lambda: RegexTokenizer("gpt2")}


@functools.cache
def trained(kind: str = "gpt4", vocab_size: int = 256 + 400) -> Tokenizer:
    """A tokenizer trained on English and code (from bltlib.data), cached: tests must not change it."""
    tokenizer = TOKENIZERS[kind]()
    tokenizer.train(mixed_text(60_000) if kind != "basic" else ENGLISH + CODE, vocab_size)
    return tokenizer


def held_out_text() -> str:
    """Text the tokenizers never saw: every UDHR language, emoji, odd whitespace and code."""
    udhr = "".join(text[:1500] for text in load_udhr_all().values())
    return udhr + MULTILINGUAL + CODE + "  \n\n   \t trailing   \r\n\r\n  "


# ------------------------------------------------------------------------------ the primitives


def test_doctests() -> None:
    for module in (bltlib.bpe, bltlib.bpe_train):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_get_stats_counts_overlapping_pairs_and_accumulates() -> None:
    assert get_stats([]) == {} and get_stats([5]) == {}
    assert get_stats([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert get_stats([7, 7, 7]) == {(7, 7): 2}
    counts = get_stats([1, 2])
    assert get_stats([1, 2, 1], counts) is counts and counts == {(1, 2): 2, (2, 1): 1}


def test_merge_left_to_right_without_overlap() -> None:
    assert merge([1, 2, 3, 1, 2], (1, 2), 99) == [99, 3, 99]
    assert merge([7, 7, 7], (7, 7), 8) == [8, 7]
    assert merge([7, 7, 7, 7], (7, 7), 8) == [8, 8]
    assert merge([2, 1], (1, 2), 9) == [2, 1]


def test_render_token_escapes_control_characters_and_bad_utf8() -> None:
    assert render_token(b"a\tb") == "a\\u0009b"
    assert render_token("é".encode()[:1]) == "\ufffd"
    assert render_token(b" the") == " the"


def test_patterns_are_tiktoken_verbatim() -> None:
    assert GPT2_SPLIT_PATTERN == tiktoken_ext.openai_public.r50k_pat_str
    # cl100k_base's pattern is a literal inside a function (which would download the ranks)
    assert f'r"""{GPT4_SPLIT_PATTERN}"""' in inspect.getsource(tiktoken_ext.openai_public.cl100k_base)


# ------------------------------------------------------------------------------------ training


def test_wikipedia_example_aaabdaaabac() -> None:
    tokenizer = BasicTokenizer()
    tokenizer.train("aaabdaaabac", 256 + 3)
    # (97, 97) has 4 overlapping occurrences; then (97, 98) and (256, 97) tie at 2: the smaller wins
    assert tokenizer.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    assert tokenizer.vocab[258] == b"aaab"
    assert tokenizer.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert tokenizer.decode(tokenizer.encode("aaabdaaabac")) == "aaabdaaabac"


@pytest.mark.parametrize("kind", TOKENIZERS)
@pytest.mark.parametrize("name", TEXTS)
def test_fast_trainer_equals_naive(kind: str, name: str) -> None:
    fast, naive = TOKENIZERS[kind](), TOKENIZERS[kind]()
    fast.train(TEXTS[name], 256 + 80)
    naive.train(TEXTS[name], 256 + 80, fast=False)
    assert fast.merges == naive.merges
    assert len(fast.merges) > 10


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="ab c\n", min_size=1, max_size=12), min_size=1, max_size=40), st.integers(1, 40)
)
def test_fast_trainer_equals_naive_on_random_chunks(words: list[str], num_merges: int) -> None:
    # a tiny alphabet makes ties and overlaps ("aaa", "abab") the common case
    chunks = [w.encode() for w in words]
    assert train_merges(Counter(chunks), num_merges) == train_merges_naive(chunks, num_merges)


def test_training_stops_when_nothing_is_left_to_merge() -> None:
    tokenizer = BasicTokenizer()
    tokenizer.train("ab", 300)
    assert tokenizer.merges == {(97, 98): 256} and len(tokenizer.vocab) == 257


def test_regex_merges_do_not_cross_chunks() -> None:
    tokenizer = RegexTokenizer()
    tokenizer.train("ab ab ab ab", 256 + 10)
    assert (98, 32) not in tokenizer.merges  # "b" + " " spans two chunks
    assert tokenizer.vocab[max(tokenizer.vocab)] == b" ab"


def test_verbose_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    BasicTokenizer().train("ab", 300, verbose=True)
    assert "stopped early" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ encoding


@pytest.mark.parametrize("kind", ["gpt4", "gpt2", "basic"])
def test_encode_equals_tiktoken_on_held_out_text(kind: str) -> None:
    tokenizer = trained(kind)
    text = held_out_text() if kind != "basic" else MULTILINGUAL + CODE  # tiktoken is O(n^2) on one chunk
    ids = tokenizer.encode(text)
    assert ids == tokenizer.to_tiktoken().encode(text)
    assert max(ids) >= 256  # merges were used
    assert tokenizer.decode(ids) == text


def test_encode_equals_tiktoken_with_special_tokens() -> None:
    tokenizer = RegexTokenizer()
    tokenizer.train(ENGLISH + CODE, 256 + 100)
    specials = {"<|endoftext|>": 1000, "<|fim_middle|>": 1001, "<|end|>": 1002}
    tokenizer.register_special_tokens(specials)
    enc = tokenizer.to_tiktoken()
    text = "<|endoftext|>" + ENGLISH + "<|fim_middle|>  \n" + MULTILINGUAL + "<|endoftext|><|end|>"
    ids = tokenizer.encode(text, allowed_special="all")
    assert ids == enc.encode(text, allowed_special="all")
    assert ids.count(1000) == 2 and ids.count(1001) == 1 and ids[-1] == 1002
    assert tokenizer.decode(ids) == text
    partial = text.replace("<|fim_middle|>", "")
    allowed = {"<|endoftext|>", "<|end|>"}
    assert tokenizer.encode(partial, allowed_special=allowed) == enc.encode(partial, allowed_special=allowed)
    assert tokenizer.encode(text, allowed_special="none") == enc.encode(text, disallowed_special=())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="ab cé\n\t 1é2!?'sllve人🙂\r\u00a0", max_size=60))
def test_encode_equals_tiktoken_on_random_text(text: str) -> None:
    tokenizer = trained("gpt4")
    assert tokenizer.encode(text) == tokenizer.to_tiktoken().encode(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_decode_encode_round_trips_any_str(text: str) -> None:
    for kind in ("gpt4", "basic"):
        tokenizer = trained(kind)
        assert tokenizer.decode(tokenizer.encode(text)) == text


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_decode_bytes_round_trips_any_bytes(data: bytes) -> None:
    tokenizer = trained("gpt4")
    assert tokenizer.decode_bytes(list(data)) == data  # the 256 byte ids alone can spell anything
    # decode of arbitrary bytes never raises: bad UTF-8 becomes U+FFFD
    assert tokenizer.decode(list(data)) == data.decode("utf-8", errors="replace")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 256 + 399), max_size=50))
def test_decode_bytes_of_merged_ids_is_their_vocab_bytes(ids: list[int]) -> None:
    tokenizer = trained("gpt4")
    assert tokenizer.decode_bytes(ids) == b"".join(tokenizer.vocab[i] for i in ids)


def test_equal_ranks_merge_leftmost_first() -> None:
    tokenizer = BasicTokenizer()
    tokenizer.train("aa aa", 257)
    assert tokenizer.merges == {(97, 97): 256}
    for text, expected in (("aaa", [256, 97]), ("aaaaa", [256, 256, 97]), ("a" * 101, [256] * 50 + [97])):
        assert tokenizer.encode(text) == expected == tokenizer.to_tiktoken().encode(text)


def test_long_chunks_match_tiktoken() -> None:
    # a run of spaces is one chunk: long chunks take the heap path
    tokenizer = trained("gpt4")
    text = "x" + " " * 500 + "y" + "\n" * 300 + "z" * 400
    assert tokenizer.encode(text) == tokenizer.to_tiktoken().encode(text)


def test_decode_accepts_numpy_ints_and_rejects_unknown_ids() -> None:
    tokenizer = trained("gpt4")
    ids = tokenizer.encode("hello world")
    assert tokenizer.decode(np.array(ids)) == "hello world"
    assert tokenizer.decode(i for i in ids) == "hello world"
    with pytest.raises(ValueError, match=r"ids\[2\] = 99999"):
        tokenizer.decode(i for i in [*ids[:2], 99999])
    with pytest.raises(ValueError, match=r"ids\[1\] = 99999 is not a token id"):
        tokenizer.decode([104, 99999])
    with pytest.raises(ValueError, match="not a token id"):
        tokenizer.decode([-1])
    with pytest.raises(TypeError, match=r"ids\[0\] is 'a', not an int"):
        tokenizer.decode(["a"])
    with pytest.raises(TypeError, match="sequence of ints"):
        tokenizer.decode("hello")


# ------------------------------------------------------------------------------ special tokens


def make_special_tokenizer() -> RegexTokenizer:
    tokenizer = RegexTokenizer()
    tokenizer.train(ENGLISH, 256 + 20)
    tokenizer.register_special_tokens({"<|endoftext|>": 300, "<|pad|>": 301})
    return tokenizer


def test_disallowed_special_raises_naming_it() -> None:
    tokenizer = make_special_tokenizer()
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>'"):
        tokenizer.encode("hi<|endoftext|>")
    with pytest.raises(ValueError, match=r"'<\|pad\|>'"):
        tokenizer.encode("<|endoftext|> and <|pad|>", allowed_special={"<|endoftext|>"})


def test_allowed_special_modes() -> None:
    tokenizer = make_special_tokenizer()
    text = "hi<|endoftext|>yo<|pad|>"
    assert tokenizer.encode(text, allowed_special="all")[-1] == 301
    assert 300 in tokenizer.encode(text, allowed_special="all")
    ordinary = tokenizer.encode(text, allowed_special="none")
    assert ordinary == tokenizer.encode_ordinary(text) and 300 not in ordinary and 301 not in ordinary
    some = tokenizer.encode(text, allowed_special=frozenset({"<|endoftext|>", "<|pad|>"}))
    assert some == tokenizer.encode(text, allowed_special="all")
    assert tokenizer.encode("plain text") == tokenizer.encode_ordinary("plain text")
    with pytest.raises(ValueError, match="not a registered special token"):
        tokenizer.encode(text, allowed_special={"<|nope|>"})
    with pytest.raises(ValueError, match="allowed_special must be"):
        tokenizer.encode(text, allowed_special="some")
    with pytest.raises(TypeError, match="allowed_special must be"):
        tokenizer.encode(text, allowed_special=300)


def test_register_special_tokens_rejects_collisions_and_bad_types() -> None:
    tokenizer = make_special_tokenizer()
    with pytest.raises(ValueError, match="already uses"):
        tokenizer.register_special_tokens({"<|x|>": 260})  # a merged token's id
    with pytest.raises(ValueError, match="share the id 400"):
        tokenizer.register_special_tokens({"<|x|>": 400, "<|y|>": 400})
    with pytest.raises(TypeError, match="must be an int"):
        tokenizer.register_special_tokens({"<|x|>": "400"})
    with pytest.raises(ValueError, match="must be >= 0"):
        tokenizer.register_special_tokens({"<|x|>": -5})
    with pytest.raises(TypeError, match="non-empty str"):
        tokenizer.register_special_tokens({"": 400})
    with pytest.raises(TypeError, match="dict"):
        tokenizer.register_special_tokens([("<|x|>", 400)])
    assert tokenizer.special_tokens == {"<|endoftext|>": 300, "<|pad|>": 301}  # unchanged by failures
    with pytest.raises(ValueError, match="collide with the ids training creates"):
        tokenizer.train(ENGLISH, 256 + 100)


# ----------------------------------------------------------------------------------- bad input


def test_bad_input_raises_clear_errors() -> None:
    tokenizer = trained("gpt4")
    for call in (tokenizer.encode, tokenizer.encode_ordinary):
        with pytest.raises(TypeError, match="text must be a str, got bytes"):
            call(b"hello")
        with pytest.raises(TypeError, match="got NoneType"):
            call(None)
    with pytest.raises(ValueError, match="at least 256"):
        BasicTokenizer().train("hello", 255)
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        BasicTokenizer().train("hello", 300.0)
    with pytest.raises(TypeError, match="text must be a str"):
        BasicTokenizer().train(["hello"], 300)
    with pytest.raises(TypeError, match="pattern must be a str"):
        RegexTokenizer(42)
    with pytest.raises(ValueError, match="invalid split pattern"):
        RegexTokenizer("[a-")
    with pytest.raises(ValueError, match="capturing groups"):
        RegexTokenizer(r"(\w+)|\s")
    with pytest.raises(ValueError, match="skips some characters"):
        RegexTokenizer(r"\w+").encode("hello world")


def test_named_and_custom_patterns() -> None:
    assert RegexTokenizer().pattern == GPT4_SPLIT_PATTERN
    assert RegexTokenizer("gpt2").pattern == GPT2_SPLIT_PATTERN
    custom = RegexTokenizer(r"\S+|\s+")
    custom.train("aa bb aa bb", 256 + 5)
    assert custom.decode(custom.encode("aa bb cc")) == "aa bb cc"
    assert custom.encode("aa bb") == custom.to_tiktoken().encode("aa bb")


# ----------------------------------------------------------------------------------- save/load


@pytest.mark.parametrize("kind", ["gpt4", "basic"])
def test_save_load_round_trip(tmp_path: Path, kind: str) -> None:
    tokenizer = TOKENIZERS[kind]()
    tokenizer.train(ENGLISH + CODE, 256 + 60)
    tokenizer.register_special_tokens({"<|endoftext|>": 500, 'odd "quoted" \n token': 501})
    tokenizer.save(tmp_path / "tok")
    assert (tmp_path / "tok.model").read_text().startswith("bltlib-bpe v1\n")
    (a, b), last = max(tokenizer.merges.items(), key=lambda item: item[1])
    vocab_lines = (tmp_path / "tok.vocab").read_text(encoding="utf-8").splitlines()
    pieces = (render_token(tokenizer.vocab[i]) for i in (a, b, last))
    assert "[{}][{}] -> [{}] 315".format(*pieces) in vocab_lines
    assert '[odd "quoted" \\u000a token] 501 (special)' in vocab_lines

    loaded = TOKENIZERS[kind]()
    loaded.load(tmp_path / "tok.model")
    again = Tokenizer.from_file(tmp_path / "tok.model")
    assert type(again) is type(tokenizer)
    for other in (loaded, again):
        assert other.merges == tokenizer.merges and other.vocab == tokenizer.vocab
        assert other.special_tokens == tokenizer.special_tokens and other.pattern == tokenizer.pattern
        text = MULTILINGUAL + "<|endoftext|>" + CODE
        assert other.encode(text, allowed_special="all") == tokenizer.encode(text, allowed_special="all")


def test_save_load_keeps_a_custom_pattern(tmp_path: Path) -> None:
    tokenizer = RegexTokenizer(r"""\p{L}+|"[^"]*"|\n|[\s\S]""")
    tokenizer.train('say "hi"\nsay "ho"', 256 + 5)
    tokenizer.save(tmp_path / "custom")
    loaded = RegexTokenizer.from_file(tmp_path / "custom.model")
    assert loaded.pattern == tokenizer.pattern and loaded.merges == tokenizer.merges


def write_model(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.model"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = 'bltlib-bpe v1\npattern ""\nspecial_tokens 1\n"<|eot|>" 300\nmerges 3\n97 97\n97 98\n256 257\n'
CORRUPT = {
    "truncated": (GOOD.rsplit("\n", 3)[0], r"line 7: the file ends where a merge"),
    "empty file": ("", r"line 1: the file ends"),
    "wrong header": (GOOD.replace("v1", "v2"), r"line 1: expected the header"),
    "minbpe file": ("minbpe v1\n\n0\n97 97\n", r"line 1: expected the header"),
    "foreign text": ("Call me Ishmael. Some years ago...\n", r"line 1: .*not a bltlib BPE model"),
    "non-integer merge": (
        GOOD.replace("97 98", "97 x"),
        r"line 7: a merge id must be a non-negative integer",
    ),
    "negative id": (GOOD.replace("97 98", "97 -1"), r"line 7: a merge id must be"),
    "three ids": (GOOD.replace("97 98", "97 98 99"), r"line 7: a merge line is two ids"),
    "unknown id": (GOOD.replace("256 257", "256 258"), r"line 8: merge 256 258 refers to an id not yet"),
    "duplicate merge": (GOOD.replace("97 98", "97 97"), r"line 7: duplicate merge 97 97"),
    "bad count": (GOOD.replace("merges 3", "merges three"), r"line 5: the number of merges"),
    "missing merges line": (
        GOOD.replace("merges 3\n", ""),
        r"line 5: expected a line starting with 'merges'",
    ),
    "trailing text": (GOOD + "1 2\n", r"line 9: unexpected text after the last merge"),
    "pattern not json": (GOOD.replace('pattern ""', "pattern \\w+"), r"line 2: the pattern must be a JSON"),
    "invalid regex": (GOOD.replace('pattern ""', 'pattern "[a-"'), r"line 2: invalid split pattern"),
    "duplicate special": (
        GOOD.replace('special_tokens 1\n"<|eot|>" 300', 'special_tokens 2\n"<|eot|>" 300\n"<|eot|>" 301'),
        r"line 5: duplicate special token '<\|eot\|>'",
    ),
    "special id reused": (
        GOOD.replace('special_tokens 1\n"<|eot|>" 300', 'special_tokens 2\n"<|eot|>" 300\n"<|b|>" 300'),
        r"line 5: special token '<\|b\|>' reuses the id 300",
    ),
    "special collides with a merge": (
        GOOD.replace('"<|eot|>" 300', '"<|eot|>" 257'),
        r"which a byte or merge",
    ),
}


@pytest.mark.parametrize("case", CORRUPT)
def test_load_rejects_corrupt_files_naming_file_and_line(tmp_path: Path, case: str) -> None:
    body, message = CORRUPT[case]
    path = write_model(tmp_path, body)
    with pytest.raises(ValueError, match=message) as info:
        BasicTokenizer().load(path)
    assert str(path) in str(info.value)


def test_load_rejects_binary_and_wrong_kind(tmp_path: Path) -> None:
    binary = tmp_path / "weights.model"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="not UTF-8 text"):
        Tokenizer.from_file(binary)
    path = write_model(tmp_path, GOOD)
    assert isinstance(Tokenizer.from_file(path), BasicTokenizer)
    with pytest.raises(ValueError, match="is a BasicTokenizer model"):
        RegexTokenizer.from_file(path)


def test_good_fixture_loads(tmp_path: Path) -> None:
    # guards CORRUPT: each bad file differs from a good one by the one defect its name says
    tokenizer = BasicTokenizer()
    tokenizer.load(write_model(tmp_path, GOOD))
    assert tokenizer.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    assert tokenizer.special_tokens == {"<|eot|>": 300}
    assert regex.fullmatch(r"BasicTokenizer\(vocab=259, special_tokens=1\)", repr(tokenizer))
