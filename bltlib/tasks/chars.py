"""CUTE-style character tasks: questions about the letters inside a word.

A subword model sees ``house`` as one token and has to *learn* that it is spelled h-o-u-s-e; a byte
model reads the letters directly. These tasks (after CUTE, Edman et al., 2024) ask for exactly that
knowledge: spell a word, put it back together, find, count, insert, delete, substitute, swap letters,
reverse it.

One format for fine-tuning and evaluation. Every prompt is one line of plain English followed by a
line ``Answer:``; the model is asked to continue it with a space, the answer and a newline, which is
what :func:`item_text` writes. ``prompt`` and ``answer`` stay separate so callers can tokenise them
separately (and mask the prompt out of the loss); the answer carries no leading space.

Prompts (each followed by ``\\nAnswer:``) and answers, for ``house`` (``balloon`` for counting):

- ``spell``: ``Spell the word: house`` -> ``h o u s e``
- ``spell_inverse``: ``Join the letters into a word: h o u s e`` -> ``house``
- ``contains_char``: ``Does the letter 'e' appear in: house`` -> ``Yes`` (or ``No``)
- ``ins_char``: ``Add 'x' after every 'o' in: house`` -> ``hoxuse``
- ``del_char``: ``Delete every 'o' in: house`` -> ``huse``
- ``sub_char``: ``Replace every 'o' with 'x' in: house`` -> ``hxuse``
- ``swap_char``: ``Swap the letters 'h' and 's' in: house`` -> ``souhe``
- ``reverse``: ``Reverse the word: house`` -> ``esuoh``
- ``count_char``: ``How many times does the letter 'o' appear in: balloon`` -> ``2``
- ``index_char``: ``At which position (from 0) does the letter 'u' first appear in: house`` -> ``2``

Where a letter is asked about, it comes before the word: a causal model reads the word already
knowing what to look for. Words are lowercase a-z; :func:`task_applies` says which words a task can use.

>>> item = char_item("spell", "house", random.Random(0))
>>> item
CharItem(prompt='Spell the word: house\\nAnswer:', answer='h o u s e')
>>> item_text(item)
'Spell the word: house\\nAnswer: h o u s e\\n'
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

CHAR_TASKS: tuple[str, ...] = (
    "spell",
    "spell_inverse",
    "contains_char",
    "ins_char",
    "del_char",
    "sub_char",
    "swap_char",
    "reverse",
    "count_char",
    "index_char",
)
LETTERS = "abcdefghijklmnopqrstuvwxyz"
CONSONANTS = "bcdfghjklmnpqrstvwxz"  # no y: it is a vowel in "rhythm"
ANSWER_CUE = "\nAnswer:"

_WORD = re.compile(r"[a-z]+")
# Runs of letters and digits (any script) with inner apostrophes, so "don't" and "x99" stay whole (and
# are then dropped as not pure a-z) instead of leaving fragments "t" and "x"; underscores (Gutenberg's
# italics) separate words.
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


@dataclass(frozen=True)
class CharItem:
    """One question: ``prompt`` ends with ``"Answer:"``; the model should continue ``" " + answer``."""

    prompt: str
    answer: str


@dataclass(frozen=True)
class WordSplit:
    """Words for fine-tuning (``train``) and words kept out of it (``held_out``), no lemma in both."""

    train: list[str]
    held_out: list[str]


def item_text(item: CharItem) -> str:
    """The full training text of an item: prompt, a space, the answer, a newline.

    >>> item_text(CharItem("Reverse the word: cat\\nAnswer:", "tac"))
    'Reverse the word: cat\\nAnswer: tac\\n'
    """
    if not isinstance(item, CharItem):
        raise TypeError(f"item must be a CharItem, got {type(item).__name__}")
    return f"{item.prompt} {item.answer}\n"


def task_applies(task: str, word: str) -> bool:
    """Whether ``char_item(task, word, rng)`` can make a sensible question of ``word``.

    ``del_char`` needs two different letters (the result must not be empty), ``swap_char`` two letters
    that occur once each (so the swap is unambiguous), ``reverse`` a word that is not a palindrome,
    ``contains_char`` a letter of a-z absent from the word (for its No questions).

    >>> [task_applies(t, "level") for t in ("spell", "reverse", "swap_char", "del_char")]
    [True, False, False, True]
    >>> task_applies("swap_char", "noon"), task_applies("del_char", "aaa")
    (False, False)
    """
    _check_task(task)
    _check_word(word)
    counts = Counter(word)
    if task == "del_char":
        return len(counts) >= 2
    if task == "swap_char":
        return sum(c == 1 for c in counts.values()) >= 2
    if task == "reverse":
        return word != word[::-1]
    if task == "contains_char":
        return len(counts) < len(LETTERS)
    return True


def char_item(task: str, word: str, rng: random.Random) -> CharItem:
    """One question of ``task`` about ``word``, its letters drawn from ``rng``.

    - ``contains_char``: the label is drawn first (Yes with probability 1/2), then a letter that is
      (Yes) or is not (No) in the word, so labels are balanced whatever the word. For a fixed word the
      letter then hints at the label (rare letters are mostly absent); :func:`task_items` removes that
      hint over a word list by drawing the letter before the word.
    - ``count_char``: the target count is drawn uniformly among 0 and the counts present in the word,
      then a letter with that count, so answers are not almost always 1.
    - ``ins_char``/``sub_char``: ``y`` is a letter of the word, ``x`` any other letter of a-z.
    - ``index_char``: a letter of the word, answered by its first 0-based position.

    >>> rng = random.Random(1)
    >>> [char_item(t, "house", rng).answer for t in ("spell_inverse", "reverse", "index_char")]
    ['house', 'esuoh', '0']
    >>> char_item("sub_char", "balloon", random.Random(5))
    CharItem(prompt="Replace every 'o' with 'i' in: balloon\\nAnswer:", answer='balliin')
    >>> char_item("reverse", "level", rng)
    Traceback (most recent call last):
    ...
    ValueError: task 'reverse' does not apply to 'level': it is a palindrome (see task_applies)
    """
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
    if not task_applies(task, word):
        raise ValueError(
            f"task {task!r} does not apply to {word!r}: {_why_not(task, word)} (see task_applies)"
        )
    present = sorted(set(word))  # sorted: set order changes with PYTHONHASHSEED, the draws must not
    if task == "spell":
        return _item(f"Spell the word: {word}", " ".join(word))
    if task == "spell_inverse":
        return _item(f"Join the letters into a word: {' '.join(word)}", word)
    if task == "contains_char":
        label = rng.random() < 0.5
        return _contains_item(rng.choice(present if label else _absent(word)), word)
    if task == "ins_char":
        y = rng.choice(present)
        x = rng.choice(LETTERS.replace(y, ""))
        return _item(f"Add '{x}' after every '{y}' in: {word}", word.replace(y, y + x))
    if task == "del_char":
        y = rng.choice(present)  # task_applies guarantees another letter survives
        return _item(f"Delete every '{y}' in: {word}", word.replace(y, ""))
    if task == "sub_char":
        y = rng.choice(present)
        x = rng.choice(LETTERS.replace(y, ""))
        return _item(f"Replace every '{y}' with '{x}' in: {word}", word.replace(y, x))
    if task == "swap_char":
        once = [c for c in present if word.count(c) == 1]
        a, b = rng.sample(once, 2)
        swapped = word.translate(str.maketrans({a: b, b: a}))
        return _item(f"Swap the letters '{a}' and '{b}' in: {word}", swapped)
    if task == "reverse":
        return _item(f"Reverse the word: {word}", word[::-1])
    if task == "count_char":
        counts = Counter(word)
        options = sorted(set(counts.values()) | ({0} if _absent(word) else set()))
        target = rng.choice(options)
        letter = rng.choice(_absent(word) if target == 0 else [c for c in present if counts[c] == target])
        return _item(f"How many times does the letter '{letter}' appear in: {word}", str(target))
    # index_char
    letter = rng.choice(present)
    prompt = f"At which position (from 0) does the letter '{letter}' first appear in: {word}"
    return _item(prompt, str(word.index(letter)))


def task_items(task: str, words: Sequence[str], n: int, rng: random.Random) -> list[CharItem]:
    """``n`` items of ``task``, each about a word drawn (with replacement) from the ``words`` it applies to.

    For ``contains_char`` the label (p = 1/2) and then the letter are drawn *before* the word: the
    letter is uniform over the letters that some words contain and others lack, and the word is drawn
    among those with (Yes) or without (No) it. Labels are balanced and the letter alone says nothing
    about the label.

    >>> items = task_items("reverse", ["noon", "cat", "level"], 3, random.Random(0))
    >>> [item.answer for item in items]
    ['tac', 'tac', 'tac']
    >>> task_items("reverse", ["noon", "level"], 1, random.Random(0))
    Traceback (most recent call last):
    ...
    ValueError: task 'reverse' applies to none of the 2 words given
    """
    _check_task(task)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise TypeError(f"words must be a sequence of str (a list of words), got {type(words).__name__}")
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
    pool = [w for w in words if task_applies(task, w)]
    if not pool:
        raise ValueError(f"task {task!r} applies to none of the {len(words)} words given")
    if task != "contains_char":
        return [char_item(task, rng.choice(pool), rng) for _ in range(n)]
    with_letter = {c: [w for w in pool if c in w] for c in LETTERS}
    without = {c: [w for w in pool if c not in w] for c in LETTERS}
    letters = [c for c in LETTERS if with_letter[c] and without[c]]
    if not letters:
        raise ValueError(
            "contains_char needs words that differ in their letters; every word has the same set"
        )
    items = []
    for _ in range(n):
        label = rng.random() < 0.5
        letter = rng.choice(letters)
        items.append(_contains_item(letter, rng.choice(with_letter[letter] if label else without[letter])))
    return items


def words_from_text(text: str, min_len: int = 3, max_len: int = 12) -> list[str]:
    """The distinct lowercase a-z words of ``text`` with ``min_len`` to ``max_len`` letters, most frequent
    first (ties alphabetically).

    Words are lowercased; a word with an apostrophe, a digit or a letter outside a-z (``don't``,
    ``née``) is dropped rather than cut into pieces.

    >>> words_from_text("The cat saw the _other_ cat. The end, don't go, née, x99!")
    ['the', 'cat', 'end', 'other', 'saw']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    for name, value in (("min_len", min_len), ("max_len", max_len)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if max_len < min_len:
        raise ValueError(f"max_len ({max_len}) must be at least min_len ({min_len})")
    counts = Counter(t.lower() for t in _TOKEN.findall(text))
    kept = [(w, c) for w, c in counts.items() if min_len <= len(w) <= max_len and _WORD.fullmatch(w)]
    return [w for w, _ in sorted(kept, key=lambda wc: (-wc[1], wc[0]))]


# Suffix -> replacement, longest first; a suffix is stripped only if at least 3 letters stay before it.
_SUFFIXES = (
    ("iest", "y"),
    ("ies", "y"),
    ("ied", "y"),
    ("ier", "y"),
    ("ily", "y"),
    ("ing", ""),
    ("est", ""),
    ("es", ""),
    ("ed", ""),
    ("er", ""),
    ("ly", ""),
    ("s", ""),
)
_VOWELS = set("aeiou")


def lemma_key(word: str) -> str:
    """A crude stem, shared by a word's regular inflections: plural -s/-es/-ies, -ed, -ing, -ly, -er/-est.

    Up to two suffixes are stripped (``walkers`` -> ``walk``), then every final ``e`` (``house`` and
    ``houses`` -> ``hous``) and a final doubled consonant (``running`` -> ``run``, ``call`` -> ``cal``).
    It only has to put inflections of one word in one group for :func:`split_words`, so merging too
    much is harmless (``hop`` and ``hope`` share ``hop``, ``never`` becomes ``nev``) while merging too
    little would leak. Limits: irregular forms keep their own keys (``go``/``went``, ``good``/``better``,
    ``see``/``seen``, ``child``/``children``), as do derivations other than those suffixes
    (``happiness``, ``kindness``, ``agreement``).

    >>> [lemma_key(w) for w in ("house", "houses", "walk", "walked", "walking", "walks")]
    ['hous', 'hous', 'walk', 'walk', 'walk', 'walk']
    >>> [lemma_key(w) for w in ("happy", "happily", "happier", "happiest", "studies", "bigger")]
    ['happy', 'happy', 'happy', 'happy', 'study', 'big']
    """
    _check_word(word)
    for _ in range(2):
        for suffix, replacement in _SUFFIXES:
            stem = word[: -len(suffix)]
            # "s" after s/u/i is not a plural: miss, famous, this.
            if word.endswith(suffix) and len(stem) >= 3 and not (suffix == "s" and stem[-1] in "sui"):
                word = stem + replacement
                break
        else:
            break
    while len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in _VOWELS:
        word = word[:-1]
    return word


def split_words(words: Iterable[str], held_out: float = 0.2, seed: int = 0) -> WordSplit:
    """Split ``words`` into train and held-out by lemma group (:func:`lemma_key`), about ``held_out`` of
    the words held out; no group straddles the split, so no held-out word is seen in fine-tuning, not
    even inflected.

    Groups are shuffled with ``seed`` and each goes to whichever side keeps the held-out count nearest
    its target. Both lists keep the input order; duplicates are dropped.

    >>> s = split_words(["walk", "walked", "house", "houses", "cat", "cats", "dog", "dogs"], 0.5)
    >>> s.train, s.held_out
    (['walk', 'walked', 'dog', 'dogs'], ['house', 'houses', 'cat', 'cats'])
    """
    if isinstance(words, str):
        raise TypeError("words must be an iterable of words, not a single str")
    if isinstance(held_out, bool) or not isinstance(held_out, (int, float)) or not 0.0 <= held_out <= 1.0:
        raise ValueError(f"held_out must be a fraction in [0, 1], got {held_out!r}")
    unique = list(dict.fromkeys(words))
    groups: dict[str, list[str]] = {}
    for w in unique:
        groups.setdefault(lemma_key(w), []).append(w)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    target = held_out * len(unique)
    held: set[str] = set()
    for key in keys:
        grown = len(held) + len(groups[key])
        if abs(grown - target) < abs(len(held) - target):
            held.update(groups[key])
    return WordSplit([w for w in unique if w not in held], [w for w in unique if w in held])


def random_strings(
    n: int, rng: random.Random, min_len: int = 4, max_len: int = 8, exclude: Collection[str] = ()
) -> list[str]:
    """``n`` distinct random strings of consonants (no vowels, no y): words no model has seen, a control.

    Strings in ``exclude`` (say, a vocabulary of real words such as ``hmm`` or ``psst``) are skipped.

    >>> random_strings(3, random.Random(0))
    ['rclvtqm', 'pxjvgmg', 'zlwz']
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
    if not (isinstance(min_len, int) and isinstance(max_len, int)) or not 1 <= min_len <= max_len:
        raise ValueError(f"need ints 1 <= min_len <= max_len, got min_len={min_len!r}, max_len={max_len!r}")
    possible = sum(len(CONSONANTS) ** k for k in range(min_len, max_len + 1))
    if n > possible // 2:  # draws would mostly repeat long before n distinct strings
        raise ValueError(f"n={n} is too many distinct strings of {min_len} to {max_len} consonants")
    out: dict[str, None] = {}
    while len(out) < n:
        s = "".join(rng.choice(CONSONANTS) for _ in range(rng.randint(min_len, max_len)))
        if s not in exclude:
            out[s] = None
    return list(out)


def _item(question: str, answer: str) -> CharItem:
    return CharItem(question + ANSWER_CUE, answer)


def _contains_item(letter: str, word: str) -> CharItem:
    return _item(f"Does the letter '{letter}' appear in: {word}", "Yes" if letter in word else "No")


def _absent(word: str) -> list[str]:
    return [c for c in LETTERS if c not in word]


def _why_not(task: str, word: str) -> str:
    return {
        "del_char": "it has a single distinct letter, so deleting it leaves nothing",
        "swap_char": "it has fewer than two letters that occur exactly once",
        "reverse": "it is a palindrome",
        "contains_char": "it contains every letter a-z",
    }[task]


def _check_task(task: str) -> None:
    if task not in CHAR_TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(CHAR_TASKS)}")


def _check_word(word: str) -> None:
    if not isinstance(word, str):
        raise TypeError(f"word must be a str, got {type(word).__name__}")
    if not _WORD.fullmatch(word):
        raise ValueError(f"word must be one or more lowercase letters a-z, got {word!r}")
