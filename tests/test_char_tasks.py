"""Character tasks: every answer right (checked by a separate computation), balanced labels, the
word splits that keep inflections together, and clear errors."""

import random
import re
from collections import Counter

import pytest

from bltlib.data import load_text
from bltlib.tasks import (
    CHAR_TASKS,
    CharItem,
    char_item,
    item_text,
    lemma_key,
    random_strings,
    split_words,
    task_applies,
    task_items,
    words_from_text,
)


@pytest.fixture(scope="module")
def austen_words():
    return words_from_text(load_text("austen", "train"))


# One pattern per task: the prompt's parts, read back independently of bltlib's templates code.
PROMPTS = {
    "spell": r"Spell the word: (?P<word>[a-z]+)",
    "spell_inverse": r"Join the letters into a word: (?P<spaced>[a-z]( [a-z])*)",
    "contains_char": r"Does the letter '(?P<x>[a-z])' appear in: (?P<word>[a-z]+)",
    "ins_char": r"Add '(?P<x>[a-z])' after every '(?P<y>[a-z])' in: (?P<word>[a-z]+)",
    "del_char": r"Delete every '(?P<y>[a-z])' in: (?P<word>[a-z]+)",
    "sub_char": r"Replace every '(?P<y>[a-z])' with '(?P<x>[a-z])' in: (?P<word>[a-z]+)",
    "swap_char": r"Swap the letters '(?P<x>[a-z])' and '(?P<y>[a-z])' in: (?P<word>[a-z]+)",
    "reverse": r"Reverse the word: (?P<word>[a-z]+)",
    "count_char": r"How many times does the letter '(?P<x>[a-z])' appear in: (?P<word>[a-z]+)",
    "index_char": r"At which position \(from 0\) does the letter '(?P<x>[a-z])' first appear in: "
    r"(?P<word>[a-z]+)",
}


def expected_answer(task: str, m: re.Match) -> str:
    """The answer computed letter by letter, without str.replace/translate/index."""
    g = m.groupdict()
    word, x, y = g.get("word"), g.get("x"), g.get("y")
    if task == "spell":
        return "".join(c + " " for c in word)[:-1]
    if task == "spell_inverse":
        return g["spaced"][::2]
    if task == "contains_char":
        return "Yes" if any(c == x for c in word) else "No"
    if task == "ins_char":
        assert x != y and y in word
        return "".join(c + x if c == y else c for c in word)
    if task == "del_char":
        assert y in word
        return "".join(c for c in word if c != y)
    if task == "sub_char":
        assert x != y and y in word
        return "".join(x if c == y else c for c in word)
    if task == "swap_char":
        assert x != y and word.count(x) == 1 and word.count(y) == 1
        letters = list(word)
        i, j = letters.index(x), letters.index(y)
        letters[i], letters[j] = letters[j], letters[i]
        return "".join(letters)
    if task == "reverse":
        return "".join(word[i] for i in range(len(word) - 1, -1, -1))
    if task == "count_char":
        return str(sum(c == x for c in word))
    assert task == "index_char" and x in word
    return str(next(i for i, c in enumerate(word) if c == x))


@pytest.mark.parametrize("task", CHAR_TASKS)
def test_every_answer_is_right(task, austen_words):
    words = austen_words + random_strings(200, random.Random(1)) + ["noon", "aaa", "level", "ab"]
    for item in task_items(task, words, 400, random.Random(task)):
        question, cue = item.prompt.rsplit("\n", 1)
        assert cue == "Answer:"
        m = re.fullmatch(PROMPTS[task], question)
        assert m, item.prompt
        assert item.answer == expected_answer(task, m), item
        assert item_text(item) == f"{item.prompt} {item.answer}\n"
        assert item.answer and "\n" not in item.answer and item.answer == item.answer.strip()


def test_edits_give_a_nonempty_answer_that_differs_from_the_word(austen_words):
    for task in ("ins_char", "del_char", "sub_char", "swap_char", "reverse"):
        for item in task_items(task, austen_words, 300, random.Random(0)):
            word = item.prompt.rsplit(": ", 1)[1].split("\n")[0]
            assert item.answer and item.answer != word, (task, item)


def test_contains_char_labels_balanced_and_letter_alone_uninformative(austen_words):
    items = task_items("contains_char", austen_words, 2000, random.Random(0))
    letters = [re.search(r"'([a-z])'", it.prompt).group(1) for it in items]
    labels = [it.answer for it in items]
    assert set(labels) == {"Yes", "No"}
    assert 0.45 <= labels.count("Yes") / len(labels) <= 0.55
    # Fit "majority label per letter" on one half, score it on the other: no better than chance.
    fit = {}
    for letter, label in zip(letters[:1000], labels[:1000], strict=True):
        fit.setdefault(letter, Counter())[label] += 1
    guesses = [fit[x].most_common(1)[0][0] if x in fit else "Yes" for x in letters[1000:]]
    letter_only = sum(g == a for g, a in zip(guesses, labels[1000:], strict=True)) / 1000
    assert letter_only < 0.56
    # Per word, char_item still balances the label (the letter is drawn after it).
    one_word = [char_item("contains_char", "house", random.Random(s)).answer for s in range(400)]
    assert 0.4 <= one_word.count("Yes") / 400 <= 0.6


def test_count_char_answers_are_spread(austen_words):
    counts = Counter(it.answer for it in task_items("count_char", austen_words, 2000, random.Random(0)))
    assert len(counts) >= 3
    assert max(counts.values()) / 2000 <= 0.7


def test_reverse_never_uses_palindromes(austen_words):
    palindromes = ["level", "noon", "civic", "anna", "deed", "refer"]
    items = task_items("reverse", palindromes + austen_words[:50], 500, random.Random(0))
    words = [it.prompt.split(": ")[1].split("\n")[0] for it in items]
    assert all(w != w[::-1] for w in words)
    for p in palindromes:
        assert not task_applies("reverse", p)
        with pytest.raises(ValueError, match="palindrome"):
            char_item("reverse", p, random.Random(0))


def test_task_applies_matches_whether_char_item_succeeds(austen_words):
    rng = random.Random(0)
    for task in CHAR_TASKS:
        for word in [*austen_words[:300], "noon", "aaa", "abba", "ab", "a", "abcdefghijklmnopqrstuvwxyz"]:
            if task_applies(task, word):
                assert isinstance(char_item(task, word, rng), CharItem)
            else:
                with pytest.raises(ValueError, match="does not apply"):
                    char_item(task, word, rng)


def test_swap_and_del_refuse_words_they_cannot_use():
    with pytest.raises(ValueError, match="fewer than two letters that occur exactly once"):
        char_item("swap_char", "aabb", random.Random(0))
    with pytest.raises(ValueError, match="leaves nothing"):
        char_item("del_char", "zzz", random.Random(0))
    assert task_applies("swap_char", "abba") is False and task_applies("swap_char", "abca") is True


def test_items_are_reproducible(austen_words):
    for task in CHAR_TASKS:
        a = task_items(task, austen_words, 50, random.Random(7))
        assert a == task_items(task, austen_words, 50, random.Random(7))
        assert a != task_items(task, austen_words, 50, random.Random(8))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: char_item("rhyme", "cat", random.Random(0)), ValueError, "unknown task 'rhyme'"),
        (lambda: char_item("spell", "Cat", random.Random(0)), ValueError, "lowercase letters a-z"),
        (lambda: char_item("spell", "", random.Random(0)), ValueError, "lowercase letters a-z"),
        (lambda: char_item("spell", b"cat", random.Random(0)), TypeError, "word must be a str"),
        (lambda: char_item("spell", "cat", 0), TypeError, "random.Random"),
        (lambda: task_items("spell", "cat", 3, random.Random(0)), TypeError, "sequence of str"),
        (lambda: task_items("spell", ["cat"], -1, random.Random(0)), ValueError, "non-negative int"),
        (lambda: task_items("swap_char", ["noon"], 1, random.Random(0)), ValueError, "applies to none"),
        (lambda: task_items("spell", ["cat", "Dog"], 1, random.Random(0)), ValueError, "'Dog'"),
        (lambda: item_text(("p", "a")), TypeError, "CharItem"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_words_from_text_by_frequency_then_alphabet():
    text = "Bob saw a cat. The cat saw the dog; the DOG ran. Don't stop, naïve x99 over_the_top!"
    words = words_from_text(text)
    counts = Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text))
    assert words == ["the", "cat", "dog", "saw", "bob", "over", "ran", "stop", "top"]
    assert [counts[w] for w in words] == sorted((counts[w] for w in words), reverse=True)
    assert words_from_text(text, min_len=4, max_len=4) == ["over", "stop"]
    with pytest.raises(ValueError, match="max_len"):
        words_from_text(text, min_len=5, max_len=4)
    with pytest.raises(TypeError, match="text must be a str"):
        words_from_text(b"cat")


def test_words_from_austen(austen_words):
    assert austen_words[:3] == ["the", "and", "her"]
    assert len(austen_words) > 5000
    assert all(re.fullmatch(r"[a-z]{3,12}", w) for w in austen_words)
    assert len(set(austen_words)) == len(austen_words)
    assert {"elinor", "house", "houses", "sensibility"} <= set(austen_words)


@pytest.mark.parametrize(
    "family",
    [
        ["house", "houses", "housed"],
        ["walk", "walks", "walked", "walking", "walker", "walkers"],
        ["happy", "happily", "happier", "happiest"],
        ["study", "studies", "studied", "studying"],
        ["quick", "quickly", "quicker", "quickest"],
        ["big", "bigger", "biggest"],
        ["run", "runs", "running"],
        ["hope", "hopes", "hoped", "hoping"],
        ["box", "boxes"],
        ["miss", "misses", "missed"],
        ["agree", "agreed", "agrees"],
        ["call", "calls", "called", "calling"],
    ],
)
def test_lemma_key_groups_inflections(family):
    assert len({lemma_key(w) for w in family}) == 1, {w: lemma_key(w) for w in family}


def test_lemma_key_keeps_different_words_apart():
    words = ["house", "horse", "walk", "talk", "cat", "cart", "this", "miss", "famous", "bus"]
    assert len({lemma_key(w) for w in words}) == len(words)
    with pytest.raises(ValueError, match="lowercase"):
        lemma_key("Houses")


@pytest.mark.parametrize("fraction", [0.2, 0.5])
def test_split_keeps_lemma_groups_together(austen_words, fraction):
    split = split_words(austen_words, held_out=fraction, seed=0)
    assert sorted(split.train + split.held_out) == sorted(austen_words)
    assert not set(split.train) & set(split.held_out)
    train_keys = {lemma_key(w) for w in split.train}
    assert not train_keys & {lemma_key(w) for w in split.held_out}
    assert abs(len(split.held_out) / len(austen_words) - fraction) < 0.01
    # Input order (frequency) is kept on both sides.
    rank = {w: i for i, w in enumerate(austen_words)}
    assert [rank[w] for w in split.held_out] == sorted(rank[w] for w in split.held_out)
    assert split == split_words(austen_words, held_out=fraction, seed=0)
    assert split.held_out != split_words(austen_words, held_out=fraction, seed=1).held_out


def test_split_edge_cases():
    words = ["cat", "cats", "dog"]
    assert split_words(words, held_out=0.0).held_out == []
    assert split_words(words, held_out=1.0).train == []
    assert split_words(["cat", "cat", "dog"], held_out=0.0).train == ["cat", "dog"]
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        split_words(words, held_out=1.5)
    with pytest.raises(TypeError, match="single str"):
        split_words("cat")


def test_random_strings_are_vowel_free_distinct_and_exclusions_hold():
    strings = random_strings(500, random.Random(0), min_len=3, max_len=6)
    assert len(strings) == len(set(strings)) == 500
    assert all(re.fullmatch(r"[b-df-hj-np-tv-xz]{3,6}", s) for s in strings)
    assert not any(set(s) & set("aeiouy") for s in strings)
    assert {len(s) for s in strings} == {3, 4, 5, 6}
    assert strings == random_strings(500, random.Random(0), min_len=3, max_len=6)
    excluded = set(strings[:100])
    again = random_strings(500, random.Random(0), min_len=3, max_len=6, exclude=excluded)
    assert not excluded & set(again)
    with pytest.raises(ValueError, match="min_len"):
        random_strings(3, random.Random(0), min_len=5, max_len=4)
    with pytest.raises(ValueError, match="too many"):
        random_strings(300, random.Random(0), min_len=1, max_len=1)
