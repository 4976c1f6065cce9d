"""The merge stepper: its plain functions, and a widget whose slider drives them."""

import re
from itertools import pairwise

import pytest

from bltlib.bpe import BasicTokenizer, RegexTokenizer
from bltlib.viz.bpe_stepper import (
    merge_stepper,
    static_merge_figure,
    stepper_steps,
    token_count_curve,
    token_spans_html,
    tokens_at_step,
)

TRAIN = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be "
    "in want of a wife. However little known the feelings or views of such a man may be on his first "
    "entering a neighbourhood, this truth is so well fixed in the minds of the surrounding families.\n"
    "def fetch(self, key):\n    if key in self.cache:\n        return self.cache[key]\n    return None\n"
) * 2
MERGES = 60
TEXT = "the mat sat; def g(y):\n\treturn y < 2 & 'café' 你好\n"


@pytest.fixture(scope="module")
def regex_tokenizer():
    tokenizer = RegexTokenizer("gpt4")
    tokenizer.train(TRAIN, 256 + MERGES)
    return tokenizer


@pytest.fixture(scope="module")
def basic_tokenizer():
    tokenizer = BasicTokenizer()
    tokenizer.train(TRAIN, 256 + MERGES)
    return tokenizer


@pytest.fixture(params=["regex", "basic"])
def tokenizer(request, regex_tokenizer, basic_tokenizer):
    return regex_tokenizer if request.param == "regex" else basic_tokenizer


def test_step_zero_is_the_raw_bytes(tokenizer):
    assert tokens_at_step(tokenizer, TEXT, 0) == [bytes([b]) for b in TEXT.encode("utf-8")]


def test_the_last_step_is_the_tokenizers_encoding(tokenizer):
    expected = [tokenizer.vocab[i] for i in tokenizer.encode_ordinary(TEXT)]
    assert tokens_at_step(tokenizer, TEXT, len(tokenizer.merges)) == expected


def test_every_step_spells_the_text(tokenizer):
    for step in (0, 1, 7, 30, len(tokenizer.merges)):
        assert b"".join(tokens_at_step(tokenizer, TEXT, step)) == TEXT.encode("utf-8")


def test_a_step_beyond_the_merges_is_an_error(regex_tokenizer):
    with pytest.raises(ValueError, match=f"between 0 and {MERGES}"):
        tokens_at_step(regex_tokenizer, TEXT, MERGES + 1)


def test_the_count_curve_never_rises(tokenizer):
    counts = token_count_curve(tokenizer, TEXT, range(len(tokenizer.merges) + 1))
    assert counts[0] == len(TEXT.encode("utf-8"))
    assert all(later <= earlier for earlier, later in pairwise(counts))
    assert counts[-1] < counts[0]


def test_spans_escape_html_and_show_whitespace():
    html = token_spans_html([b"<script>", b"&", b" x", b"\t", b"\n", b"\xe4\xbd"])
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp;" in html
    assert "·x" in html and "→" in html and "↵" in html
    assert "‹e4 bd›" in html  # half a character is shown as its bytes
    assert html.count("<span") == 6


def test_span_colours_are_deterministic_and_neighbours_differ():
    tokens = [b"a", b"a", b"a"]
    html = token_spans_html(tokens)
    assert html == token_spans_html(tokens)
    colours = [part.split(";")[0] for part in html.split("background:")[1:]]
    assert colours[0] != colours[1] != colours[2]


def test_static_figure_has_one_captioned_row_per_step(regex_tokenizer):
    figure = static_merge_figure(regex_tokenizer, TEXT, [0, 10, MERGES])
    assert figure.count("after ") == 3 and f"after {MERGES} of {MERGES} merges" in figure
    text = re.sub(r"<[^>]*>", "", figure)  # the text between the tags: every "<" in it is escaped
    assert "&lt;" in text and "&amp;" in text and "<" not in text


def test_moving_the_slider_updates_the_text_and_the_count(regex_tokenizer):
    box = merge_stepper(regex_tokenizer, TEXT, step=0)
    controls, label, view = box.children
    slider, exact = controls.children
    n_bytes = len(TEXT.encode("utf-8"))
    assert (slider.options[0], slider.options[-1], slider.value) == (0, MERGES, 0)
    assert f"{n_bytes} tokens" in label.value
    before = view.value
    slider.value = MERGES
    n_tokens = len(regex_tokenizer.encode_ordinary(TEXT))
    assert label.value.startswith(f"after {MERGES} of {MERGES} merges: {n_tokens} tokens")
    assert exact.value == MERGES
    assert view.value != before
    assert view.value == token_spans_html(tokens_at_step(regex_tokenizer, TEXT, MERGES))


def test_the_early_merges_get_most_of_the_slider():
    steps = stepper_steps(3840)  # lesson 1's tokenizer at the laptop preset
    assert steps[:13] == list(range(13)) and steps[-1] == 3840
    assert sum(s <= 250 for s in steps) / len(steps) > 0.5  # the first 6% of merges, most of the track
    assert all(b > a for a, b in pairwise(steps))


def test_any_exact_step_can_be_typed(regex_tokenizer):
    box = merge_stepper(regex_tokenizer, TEXT, step=0)
    steps = box.slider.options
    between = next(s for s in range(MERGES) if s not in steps)  # a step the slider does not stop at
    box.step.value = between
    assert box.children[1].value.startswith(f"after {between} of {MERGES} merges")
    assert box.slider.value == max(s for s in steps if s <= between)
    assert box.children[2].value == token_spans_html(tokens_at_step(regex_tokenizer, TEXT, between))
    with pytest.raises(ValueError, match="between 0 and"):
        merge_stepper(regex_tokenizer, TEXT, step=MERGES + 1)


def test_the_stepper_starts_at_all_merges_by_default(basic_tokenizer):
    box = merge_stepper(basic_tokenizer, TEXT)
    assert box.slider.value == box.step.value == len(basic_tokenizer.merges)
