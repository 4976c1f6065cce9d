"""Lesson 5's views: how each model sees a word, single-token words against vocabulary size, and the
answers widget, driven without a browser, with fake models (no training) and one tiny real model."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bltlib.bpe import RegexTokenizer
from bltlib.charaware import BOS_TOKEN, CharAwareConfig, CharAwareLM, StudyModel, tokenizer_bytes
from bltlib.config import seed_everything
from bltlib.data import load_text
from bltlib.entropy import entropies, entropy_model_config
from bltlib.patching import Patcher
from bltlib.tasks import CHAR_TASKS, char_item, task_applies, words_from_text
from bltlib.transformer import TransformerLM
from bltlib.viz.char_views import (
    ANSWER_SLACK,
    CONTEXT,
    KINDS,
    STUDY_VOCAB,
    VocabPoint,
    answer_table,
    answers_html,
    answers_widget,
    check_word,
    examples_html,
    single_token_share,
    task_item,
    views_figure,
    vocab_figure,
    vocab_points,
    vocab_prefix,
    vocab_slider,
    word_tokens,
    word_views,
)
from bltlib.viz.patch_viewer import patch_text

WORDS = ["house", "strawberry", "elizabeth", "whereupon", "zxqv"]


@pytest.fixture(scope="module")
def text() -> str:
    return load_text("austen", "val")[:60_000]


@pytest.fixture(scope="module")
def tokenizer(text) -> RegexTokenizer:
    tok = RegexTokenizer()
    tok.train(text, 700)
    return tok


@pytest.fixture(scope="module")
def entropy_patcher() -> Patcher:
    seed_everything(0)
    model = TransformerLM(entropy_model_config(dim=16, n_layers=1, n_heads=2, max_seq_len=128)).eval()
    sentence = CONTEXT[0] + " strawberry" + CONTEXT[1]
    threshold = float(np.median(entropies(model, sentence).numpy()))  # about half the bytes start a patch
    return Patcher("entropy", threshold, entropy_model=model)


# ----------------------------------------------------------------------------- how each model sees a word


def test_word_views_give_the_tokens_and_bytes_of_the_word_after_a_space(tokenizer):
    for word in WORDS:
        view = word_views(word, tokenizer)
        assert view["text"] == " " + word and view["word"] == word
        assert view["token_ids"] == tokenizer.encode_ordinary(" " + word)
        assert "".join(view["tokens"]) == " " + word
        assert view["token_lengths"] == [len(t.encode()) for t in view["tokens"]]
        assert view["bytes"] == list((" " + word).encode()) and view["byte_labels"] == ["·", *word]
        assert view["patches"] is None and view["patch_lengths"] is None and view["context"] is None
    accented = word_views("née", tokenizer)  # not a task word, but any word can be looked at
    assert accented["byte_labels"] == ["·", "n", "é", "◦", "e"] and len(accented["bytes"]) == 5


def test_space_patches_are_cut_at_the_word_in_its_sentence(tokenizer):
    view = word_views("house", tokenizer, Patcher("space"))
    # In "…the word house in her letter." the space patches are "word " and "house ": the space before
    # the word closes the context's patch, the word's own patch is cut at its end.
    assert view["patches"] == [" ", "house"] and view["patch_lengths"] == [1, 5]
    assert view["patch_continues"]
    assert view["context"] == "She wrote the word house in her letter."
    # A model with a patcher (as load_blt() gives) does as well as the patcher itself.
    assert word_views("house", tokenizer, SimpleNamespace(patcher=Patcher("space"))) == view


def test_entropy_patches_follow_the_patchers_rule_in_context(tokenizer, entropy_patcher):
    for word in WORDS:
        view = word_views(word, tokenizer, entropy_patcher)
        sentence = CONTEXT[0] + " " + word + CONTEXT[1]
        e = entropies(entropy_patcher.entropy_model, sentence).numpy()
        whole = patch_text(sentence, "entropy", entropies=e, threshold=entropy_patcher.threshold)
        first, end = len(CONTEXT[0]), len(CONTEXT[0]) + 1 + len(word)
        starts_inside = [s for s in whole.starts if first < s < end]
        assert [first + sum(view["patch_lengths"][:i]) for i in range(1, len(view["patch_lengths"]))] == (
            starts_inside
        )
        assert "".join(view["patches"]) == " " + word and sum(view["patch_lengths"]) == len(word) + 1
        assert view["patch_continues"] == (first not in whole.starts)
    assert any(len(word_views(w, tokenizer, entropy_patcher)["patches"]) > 1 for w in WORDS)


def test_a_patcher_that_cannot_cut_is_explained(tokenizer):
    with pytest.raises(ValueError, match="needs its entropy model"):
        word_views("house", tokenizer, Patcher("entropy", 1.0))
    with pytest.raises(TypeError, match="must be a bltlib.patching.Patcher"):
        word_views("house", tokenizer, "entropy")
    for bad in ("", " house", 3):
        with pytest.raises(ValueError, match="non-empty str"):
            word_views(bad, tokenizer)


def test_views_figure_draws_a_box_per_piece_aligned_on_the_bytes(tokenizer, entropy_patcher):
    figure = views_figure([*WORDS, "house"], tokenizer, entropy_patcher)  # a repeated word is drawn once
    assert [t.name for t in figure.data] == list(KINDS)
    lanes = list(figure.layout.yaxis.categoryarray)
    assert len(lanes) == 3 * len(WORDS) and figure.layout.yaxis.autorange == "reversed"
    views = {w: word_views(w, tokenizer, entropy_patcher) for w in WORDS}
    for trace, kind in zip(figure.data, KINDS, strict=True):
        assert trace.orientation == "h"
        for word, view in views.items():
            mine = [i for i, y in enumerate(trace.y) if y.startswith(word + " · ")]
            widths = [trace.x[i] for i in mine]
            bases = [trace.base[i] for i in mine]
            assert sum(widths) == len(view["bytes"]) and bases == list(np.cumsum([0, *widths[:-1]]))
            if kind == "BPE tokens":
                assert widths == view["token_lengths"]
                assert [trace.text[i] for i in mine] == [t.replace(" ", "·") for t in view["tokens"]]
            elif kind == "bytes":
                assert [trace.text[i] for i in mine] == view["byte_labels"]
            else:
                assert widths == view["patch_lengths"]
                assert trace.text[mine[0]].startswith("…") == view["patch_continues"]
    n_tokens = len(views["strawberry"]["tokens"])
    assert f"strawberry · {n_tokens} token{'s' * (n_tokens != 1)}" in lanes
    assert "strawberry · 11 bytes" in lanes
    assert len(figure.layout.shapes) == len(WORDS) - 1  # a dotted line between words
    # Without a patcher: two rows per word, no patch trace; taller with more words.
    plain = views_figure(WORDS[:3], tokenizer)
    assert [t.name for t in plain.data] == list(KINDS[:2]) and len(plain.layout.yaxis.categoryarray) == 6
    assert figure.layout.height > plain.layout.height
    with pytest.raises(TypeError, match="not a single str"):
        views_figure("house", tokenizer)


# ----------------------------------------------------------------------------- vocabulary size


def test_a_smaller_bpe_vocabulary_is_a_prefix_of_a_larger_ones_merges(text, tokenizer):
    # The claim single_token_share rests on: training at 400 gives the first 144 merges of training at 700.
    direct = RegexTokenizer()
    direct.train(text, 400)
    sliced = vocab_prefix(tokenizer, 400)
    assert sliced.merges == direct.merges and sliced.vocab == direct.vocab
    unseen = load_text("austen", "test")[:20_000]
    assert sliced.encode_ordinary(unseen) == direct.encode_ordinary(unseen)
    assert tokenizer.encode_ordinary(unseen) != direct.encode_ordinary(unseen)  # the larger one differs
    assert len(tokenizer.merges) == 444  # the original is left as it was
    assert vocab_prefix(tokenizer, 256).encode_ordinary("abc") == [97, 98, 99]
    assert vocab_prefix(tokenizer, 700).merges == tokenizer.merges
    tokenizer.register_special_tokens({BOS_TOKEN: 700})
    try:
        assert vocab_prefix(tokenizer, 500).special_tokens == {}  # special ids lie beyond a smaller vocab
    finally:
        tokenizer.register_special_tokens({})
    with pytest.raises(ValueError, match="between 256 and 700"):
        vocab_prefix(tokenizer, 701)


def test_single_token_share_equals_training_at_each_size(text):
    words = words_from_text(text)[:300]
    sizes = [256, 300, 450, 600]
    shares = single_token_share(words, list(reversed(sizes)), text)
    assert [v for v, _ in shares] == sizes and shares[0][1] == 0.0
    for size, share in shares:
        direct = RegexTokenizer()
        direct.train(text, size)
        ones = sum(len(direct.encode_ordinary(" " + w)) == 1 for w in words)
        assert share == ones / len(words)
    assert all(a[1] <= b[1] for a, b in zip(shares, shares[1:], strict=False)) and shares[-1][1] > 0.2


def test_single_token_share_reuses_a_trained_tokenizer(text, tokenizer):
    words = words_from_text(text)[:200]
    assert single_token_share(words, [400, 700], tokenizer=tokenizer) == single_token_share(
        words, [400, 700], text
    )
    with pytest.raises(ValueError, match="fewer than the largest size"):
        single_token_share(words, [800], tokenizer=tokenizer)
    with pytest.raises(ValueError, match="give the text"):
        single_token_share(words, [400])
    with pytest.raises(ValueError, match="too short for a vocabulary of 2000"):
        single_token_share(words, [2000], "a short text, a short text")
    with pytest.raises(ValueError, match="int >= 256"):
        single_token_share(words, [100], text)
    with pytest.raises(ValueError, match="not a single str"):
        single_token_share("house", [300], text)


def test_vocab_figure_marks_the_study_vocabulary():
    points = [(256, 0.0), (1024, 0.1), (4096, 0.55), (8192, 0.8)]
    figure = vocab_figure(points)
    assert [t.name for t in figure.data] == ["share", "current", "the study's vocabulary (4096)"]
    assert list(figure.data[0].x) == [256, 1024, 4096, 8192] and list(figure.data[0].y) == [0, 10, 55, 80]
    assert list(figure.data[2].x) == [STUDY_VOCAB, STUDY_VOCAB] and figure.data[1].x == ()
    assert figure.layout.xaxis.type == "log"
    marked = vocab_figure(points, marks={1024: "small", 8192: "big"}, current=1024)
    assert [t.name for t in marked.data][2:] == ["small", "big"]
    assert list(marked.data[1].x) == [1024] and list(marked.data[1].y) == [10]
    with pytest.raises(ValueError, match="not one of the sizes"):
        vocab_figure(points, current=512)
    with pytest.raises(ValueError, match="no points"):
        vocab_figure([])


def test_vocab_slider_moves_its_marker_and_shows_the_examples(text, tokenizer):
    words = words_from_text(text)[:200]
    box = vocab_slider(words, [256, 400, 700], tokenizer=tokenizer, examples=["the", "house", "strawberry"])
    assert box.slider.options == (256, 400, 700) and box.slider.value == 700  # no 4096 here: the largest
    figure = box.figure
    current = figure.data[1]
    shares = dict(single_token_share(words, [256, 400, 700], tokenizer=tokenizer))
    assert list(current.x) == [700] and list(current.y) == [round(100 * shares[700], 2)]
    assert f"{100 * shares[700]:.1f}% of the 200 words" in box.summary.value
    box.slider.value = 256
    assert box.figure is figure and list(figure.data[1].x) == [256] and list(figure.data[1].y) == [0.0]
    assert "0 of these 3 examples" in box.summary.value
    assert "·|t|h|e" in box.examples.value  # every word in bytes at 256
    box.slider.value = 700
    assert ("·the</span>" in box.examples.value) == (len(word_tokens(["the"], tokenizer)["the"]) == 1)
    default = vocab_slider(words, [256, STUDY_VOCAB], text=text)  # trained here, starts at the study's size
    assert default.slider.value == STUDY_VOCAB and len(default.points[0].examples) == 12


def test_examples_html_colours_single_tokens_and_escapes():
    point = VocabPoint(300, 0.5, {"house": [" house"], "x<y": [" x", "<", "y"]})
    out = examples_html(point)
    assert out.count("#1a7f37") == 2 and "·house" in out  # green border and text for the single token
    assert "·x|&lt;|y" in out and "<y" not in out
    assert vocab_points(["ab"], [256, 257], "ab ab", examples=["ab"])[1].examples == {"ab": [" ", "ab"]}


# ----------------------------------------------------------------------------- each model's answers


class Reverser:
    """Reverses the word of any prompt: right on ``reverse`` (and by chance on nothing else)."""

    name = "reverser"

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], object]] = []

    def answer(self, prompts, max_new=None):
        self.calls.append((list(prompts), max_new))
        return [" " + p.split("\n")[0].rsplit(" ", 1)[-1][::-1] + "\nmore" for p in prompts]


class Speller:
    """Spells and reverses correctly; answers nothing to any other question."""

    name = "speller"

    def answer(self, prompts, max_new=None):
        out = []
        for p in prompts:
            word = p.split("\n")[0].rsplit(" ", 1)[-1]
            out.append(
                " " + " ".join(word) if p.startswith("Spell") else word[::-1] if "Reverse" in p else ""
            )
        return out


class AlwaysYes:
    name = "yes"

    def answer(self, prompts, max_new=None):
        return ["Yes"] * len(prompts)


def test_answer_table_asks_every_task_that_applies_and_marks_the_answers():
    reverser = Reverser()
    rows = answer_table([reverser, Speller(), AlwaysYes()], "house")
    assert [r["task"] for r in rows] == list(CHAR_TASKS)  # every task applies to house
    assert len(reverser.calls) == 1  # one call per model, all prompts at once
    prompts, caps = reverser.calls[0]
    assert prompts == [r["prompt"] for r in rows]
    assert caps == [len(r["answer"].encode()) + ANSWER_SLACK for r in rows]
    by_task = {r["task"]: r for r in rows}
    reverse, spell = by_task["reverse"], by_task["spell"]
    assert reverse["question"] == "Reverse the word: house" and reverse["answer"] == "esuoh"
    assert reverse["answers"] == {"reverser": "esuoh", "speller": "esuoh", "yes": "Yes"}  # normalised
    assert reverse["correct"] == {"reverser": True, "speller": True, "yes": False}
    assert spell["correct"] == {"reverser": False, "speller": True, "yes": False}
    assert by_task["count_char"]["answers"]["speller"] == ""
    contains = by_task["contains_char"]
    assert contains["correct"]["yes"] == (contains["answer"] == "Yes")
    for row in rows:
        assert row["prompt"] == row["question"] + "\nAnswer:"
        assert char_item(row["task"], "house", random.Random(f"0:{row['task']}")).answer == row["answer"]
    # A palindrome with repeated letters: no reverse and no swap question.
    level = answer_table([AlwaysYes()], "level")
    assert [r["task"] for r in level] == [t for t in CHAR_TASKS if task_applies(t, "level")]
    assert "reverse" not in [r["task"] for r in level] and "swap_char" not in [r["task"] for r in level]


def test_the_questions_are_stable_per_task_and_seed():
    full = {r["task"]: r["prompt"] for r in answer_table([], "strawberry")}
    some = answer_table([], "strawberry", tasks=["index_char", "sub_char"])
    assert [r["prompt"] for r in some] == [full["index_char"], full["sub_char"]]
    assert answer_table([], "strawberry") == answer_table([], "strawberry")
    assert task_item("sub_char", "strawberry", 0) == task_item("sub_char", "strawberry", 0)
    other = {r["task"]: r["prompt"] for r in answer_table([], "strawberry", seed=1)}
    letters = ("contains_char", "ins_char", "del_char", "sub_char", "swap_char", "count_char", "index_char")
    assert any(other[t] != full[t] for t in letters)


def test_answer_table_checks_its_input():
    with pytest.raises(ValueError, match="try 'house'"):
        answer_table([AlwaysYes()], "House")
    with pytest.raises(ValueError, match="names must differ"):
        answer_table([AlwaysYes(), AlwaysYes()], "house")
    with pytest.raises(TypeError, match="needs a .name"):
        answer_table([object()], "house")
    with pytest.raises(TypeError, match="not a single str"):
        answer_table([AlwaysYes()], "house", tasks="spell")
    with pytest.raises(ValueError, match="unknown task"):
        answer_table([AlwaysYes()], "house", tasks=["rhyme"])
    short = SimpleNamespace(name="short", answer=lambda prompts, max_new=None: ["x"])
    with pytest.raises(ValueError, match="gave 1 answers to 10 prompts"):
        answer_table([short], "house")
    # The dict load_models() returns works as well as a list.
    assert answer_table({"yes": AlwaysYes()}, "cat", tasks=["spell"])[0]["answers"] == {"yes": "Yes"}


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("House", "try 'house'"),
        ("two words", "lowercase letters a-z, got 'two words'"),
        ("née", "lowercase letters a-z"),
        ("x99", "lowercase letters a-z"),
        ("   ", "type a word first"),
        ("a" * 25, "at most 24"),
    ],
)
def test_check_word_says_what_to_type(typed, message):
    with pytest.raises(ValueError, match=message):
        check_word(typed)


def test_check_word_strips_spaces():
    assert check_word(" strawberry\n") == "strawberry"


def test_answers_html_marks_right_and_wrong_and_counts():
    evil = SimpleNamespace(name="<b>evil</b>", answer=lambda prompts, max_new=None: ["<i>"] * len(prompts))
    rows = answer_table([Speller(), evil], "cat", tasks=["spell", "reverse", "index_char"])
    out = answers_html(rows)
    assert out.count("✓") == 2 and out.count("✗") == 4  # the speller is wrong on index_char only
    assert "&lt;b&gt;evil&lt;/b&gt;" in out and "<b>evil</b>" not in out and "&lt;i&gt;" in out
    assert "<b>2/3</b>" in out and "<b>0/3</b>" in out
    assert "(nothing)" in out  # the speller's empty answer to index_char
    assert answers_html([]).count("<tr>") == 2


def test_the_widget_answers_a_typed_word_and_explains_a_bad_one():
    reverser = Reverser()
    box = answers_widget([reverser, Speller(), AlwaysYes()])
    assert box.table.value == "" and "type a word" in box.status.value
    box.text.value = "strawberry"  # what Enter sends
    assert len(reverser.calls) == 1
    assert "yrrebwarts" in box.table.value and "Spell the word: strawberry" in box.table.value
    assert box.table.value == answers_html(box.rows, ["reverser", "speller", "yes"])
    assert "<b>strawberry</b>: 10 questions" in box.status.value and "speller 2/10" in box.status.value
    box.button.click()  # the same word again: answered already, the models are not asked twice
    assert len(reverser.calls) == 1
    box.text.value = "Strawberry"
    assert box.table.value == "" and box.rows == []
    assert "lowercase letters a-z" in box.status.value and "try &#x27;strawberry&#x27;" in box.status.value
    box.text.value = "strawberry"  # back to a good word: asked again
    assert len(reverser.calls) == 2 and "yrrebwarts" in box.table.value


def test_the_button_asks_for_the_word_in_the_box():
    box = answers_widget({"yes": AlwaysYes()}, tasks=["contains_char", "spell"], word="cat")
    assert [r["task"] for r in box.rows] == ["contains_char", "spell"] and "cat" in box.status.value
    box.text.unobserve_all()  # as if the value had not been sent yet: only the click asks
    box.text.value = "dog"
    assert "Spell the word: cat" in box.table.value
    box.button.click()
    assert "Spell the word: dog" in box.table.value and not box.button.disabled


def test_the_widget_reports_a_model_that_fails():
    def broken(prompts, max_new=None):
        raise ValueError("prompt 0 is 300 ids long; the model reads at most 256")

    box = answers_widget([SimpleNamespace(name="small", answer=broken)], word="house")
    assert "reads at most 256" in box.status.value and box.table.value == "" and not box.button.disabled


def test_real_tiny_models_answer_through_study_model(text):
    """The plumbing with real (random-weight) models: a BPE char-aware model and a byte model."""
    tok = RegexTokenizer()
    tok.train(text[:20_000], 300)
    tok.register_special_tokens({BOS_TOKEN: 300})
    torch.manual_seed(0)
    small = dict(dim=16, n_layers=1, n_heads=2, max_seq_len=192, char_dim=4, char_hidden=8)
    bpe = CharAwareLM(CharAwareConfig(vocab_size=301, extra="char", **small), tokenizer_bytes(tok, 301))
    byte_model = CharAwareLM(CharAwareConfig(vocab_size=260, **small))
    models = [StudyModel("bpe_char", bpe, tok, {}), StudyModel("bytes", byte_model, None, {})]
    rows = answer_table(models, "strawberry")
    assert len(rows) == len(CHAR_TASKS)
    for row in rows:
        assert set(row["answers"]) == {"bpe_char", "bytes"}
        for name, said in row["answers"].items():
            assert isinstance(said, str) and "\n" not in said
            assert len(said.encode()) <= len(row["answer"].encode()) + ANSWER_SLACK
            assert row["correct"][name] == (said == row["answer"])
    box = answers_widget(models, tasks=["reverse", "spell"], word="house")
    assert "Reverse the word: house" in box.table.value and box.table.value.count("<tr>") == 4
