"""Noise functions (seeded, per Unicode character) and scoring (normalisation, exact match, the Wilson
interval, the majority baseline)."""

import itertools
import math
import random

import pytest

from bltlib.tasks import (
    NOISES,
    accuracy,
    antspeak,
    apply_noise,
    drop,
    exact_match,
    majority_baseline,
    normalise_answer,
    random_case,
    repeat,
    task_items,
    uppercase,
    wilson_interval,
)

TEXT = "It is a truth universally acknowledged, that a single man in possession of a good fortune " * 5
RANDOM_NOISES = ["drop", "random_case", "repeat"]


def test_noise_names_and_uniform_signature():
    assert set(NOISES) == {"antspeak", "drop", "random_case", "repeat", "uppercase"}
    for name, f in NOISES.items():
        out = f("Emma", random.Random(0))
        assert isinstance(out, str)
        assert apply_noise(name, TEXT, seed=3) == f(TEXT, random.Random(3))


@pytest.mark.parametrize("name", RANDOM_NOISES)
def test_random_noise_is_reproducible_and_depends_on_the_seed(name):
    assert apply_noise(name, TEXT, seed=0) == apply_noise(name, TEXT, seed=0)
    assert apply_noise(name, TEXT, seed=0) != apply_noise(name, TEXT, seed=1)
    assert apply_noise(name, TEXT, seed=0) != TEXT


def test_antspeak_and_uppercase_exact():
    assert antspeak("Hi there!") == "H I   T H E R E !"
    assert antspeak("café") == "C A F É"
    assert antspeak("") == ""
    assert uppercase("Mr. Darcy, née") == "MR. DARCY, NÉE"
    assert apply_noise("antspeak", "ok", seed=0) == apply_noise("antspeak", "ok", seed=99) == "O K"


def test_drop_extremes_and_rate():
    assert drop(TEXT, random.Random(0), p=0.0) == TEXT
    assert drop(TEXT, random.Random(0), p=1.0) == ""
    out = drop(TEXT, random.Random(0), p=0.1)
    assert 0.05 < 1 - len(out) / len(TEXT) < 0.15
    it = iter(TEXT)  # what survives is a subsequence of the text
    assert all(c in it for c in out)


def test_repeat_runs_are_two_to_four_and_collapse_back():
    text = "abcdefghij" * 30  # no character next to itself, so runs are the repeats
    out = repeat(text, random.Random(0), p=1.0)
    runs = [(c, len(list(g))) for c, g in itertools.groupby(out)]
    assert "".join(c for c, _ in runs) == text
    assert {n for _, n in runs} == {2, 3, 4}
    assert repeat(text, random.Random(0), p=0.0) == text
    some = [n for _, n in ((c, len(list(g))) for c, g in itertools.groupby(repeat(text, random.Random(1))))]
    assert 0.1 < sum(n > 1 for n in some) / len(text) < 0.3


def test_random_case_only_changes_case():
    out = random_case(TEXT, random.Random(0))
    assert out.lower() == TEXT.lower() and out != TEXT
    assert random_case(TEXT, random.Random(0), p=0.0) == TEXT.lower()
    assert random_case(TEXT, random.Random(0), p=1.0) == TEXT.upper()
    letters = [c for c in out if c.isalpha()]
    assert 0.4 < sum(c.isupper() for c in letters) / len(letters) < 0.6


def test_noise_works_on_characters_not_bytes():
    text = "日本語のテキスト 😀 Ünïcödé" * 20
    for name in NOISES:
        out = apply_noise(name, text, seed=0)
        out.encode("utf-8")  # valid text, no cut characters
        assert set(out) - set(" ") <= set(text.upper() + text.lower()) - set(" ")
    dropped = drop(text, random.Random(0), p=0.5)
    assert set(dropped) <= set(text)
    assert "😀😀" in repeat(text, random.Random(0), p=1.0)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: drop(TEXT, random.Random(0), p=-0.1), ValueError, r"p must be a probability in \[0, 1\]"),
        (lambda: repeat(TEXT, random.Random(0), p=1.5), ValueError, "probability"),
        (lambda: random_case(TEXT, random.Random(0), p="0.5"), ValueError, "probability"),
        (lambda: drop(b"bytes", random.Random(0)), TypeError, "text must be a str"),
        (lambda: antspeak(None), TypeError, "text must be a str"),
        (lambda: drop(TEXT, 0), TypeError, "random.Random"),
        (lambda: apply_noise("whisper", TEXT, 0), ValueError, "unknown noise 'whisper'"),
        (lambda: apply_noise("drop", TEXT, 0.5), TypeError, "seed must be an int"),
    ],
)
def test_noise_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_normalise_answer():
    assert normalise_answer(" h o u s e\nSpell the word: cat") == "h o u s e"
    assert normalise_answer("  Yes  ") == "Yes"
    assert normalise_answer("\nYes") == ""
    assert normalise_answer("2\r\n3") == "2"
    with pytest.raises(TypeError, match="text must be a str"):
        normalise_answer(3)


def test_exact_match_and_accuracy():
    preds = [" esuoh\nReverse", "Yes", " no\n", "3 "]
    answers = ["esuoh", "Yes", "No", "4"]
    assert exact_match(preds, answers) == [True, True, False, False]
    assert accuracy(preds, answers) == 0.5
    with pytest.raises(ValueError, match="3 predictions for 4 answers"):
        exact_match(preds[:3], answers)
    with pytest.raises(TypeError, match="sequence of str"):
        exact_match("Yes", "Yes")
    with pytest.raises(TypeError, match="int at index 1"):
        exact_match(["1", 2], ["1", "2"])
    with pytest.raises(ValueError, match="no predictions"):
        accuracy([], [])


def wilson_by_quadratic(k: int, n: int, z: float) -> tuple[float, float]:
    """The p with (k/n - p)^2 = z^2 p (1 - p) / n: roots of a quadratic in p."""
    ph = k / n
    a = 1 + z * z / n
    b = -(2 * ph + z * z / n)
    c = ph * ph
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


@pytest.mark.parametrize(("k", "n"), [(8, 10), (0, 10), (10, 10), (1, 3), (37, 100), (500, 1000), (1, 1)])
@pytest.mark.parametrize("z", [1.0, 1.96, 2.576])
def test_wilson_interval_against_the_quadratic(k, n, z):
    lo, hi = wilson_interval(k, n, z)
    want_lo, want_hi = wilson_by_quadratic(k, n, z)
    assert lo == pytest.approx(max(0.0, want_lo), abs=1e-12)
    assert hi == pytest.approx(min(1.0, want_hi), abs=1e-12)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_interval_known_values_and_errors():
    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 3), round(hi, 3)) == (0.490, 0.943)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    narrow, wide = wilson_interval(500, 1000), wilson_interval(5, 10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    with pytest.raises(ValueError, match="n must be positive"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match=r"successes must be in \[0, n\]"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="successes must be"):
        wilson_interval(-1, 10)
    with pytest.raises(TypeError, match="successes must be an int"):
        wilson_interval(0.8, 1)
    with pytest.raises(ValueError, match="z must be a positive"):
        wilson_interval(1, 2, z=0)


def test_majority_baseline():
    assert majority_baseline(["Yes", "No", "Yes"]) == pytest.approx(2 / 3)
    assert majority_baseline([" 1\n", "1", "2", "3"]) == 0.5
    contains = task_items("contains_char", ["house", "cat", "dog", "zebra", "quiet"], 2000, random.Random(0))
    assert 0.5 <= majority_baseline([it.answer for it in contains]) < 0.55
    with pytest.raises(ValueError, match="empty"):
        majority_baseline([])
