"""Scoring answers: exact match after one normalisation, accuracy with a confidence interval, and the
baseline a model must beat.

A model continues a prompt ending in ``Answer:`` with ``" " + answer + "\\n"`` (see
``bltlib.tasks.chars``); :func:`normalise_answer` turns whatever a greedy decode produced into the
answer it gave.

>>> preds = [" h o u s e\\nSpell the", " Yes\\n", "No"]
>>> exact_match(preds, ["h o u s e", "Yes", "Yes"])
[True, True, False]
>>> lo, hi = wilson_interval(2, 3)
>>> f"{accuracy(preds, ['h o u s e', 'Yes', 'Yes']):.3f} in [{lo:.3f}, {hi:.3f}]"
'0.667 in [0.208, 0.939]'
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def normalise_answer(text: str) -> str:
    """The answer in a decoded continuation: everything before the first newline, whitespace stripped.

    The cut comes first: the format ends an answer with a newline, so a continuation that starts with
    one gave an empty answer.

    >>> normalise_answer(" esuoh\\nReverse the word:"), normalise_answer("\\t2  "), normalise_answer("\\nYes")
    ('esuoh', '2', '')
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return text.split("\n", 1)[0].strip()


def exact_match(predictions: Sequence[str], answers: Sequence[str]) -> list[bool]:
    """Per item, whether the normalised prediction equals the normalised answer (case-sensitive).

    >>> exact_match(["Yes\\n", " no"], ["Yes", "No"])
    [True, False]
    >>> exact_match(["Yes"], ["Yes", "No"])
    Traceback (most recent call last):
    ...
    ValueError: 1 predictions for 2 answers: they must pair up one to one
    """
    _check_strings("predictions", predictions)
    _check_strings("answers", answers)
    if len(predictions) != len(answers):
        raise ValueError(
            f"{len(predictions)} predictions for {len(answers)} answers: they must pair up one to one"
        )
    return [normalise_answer(p) == normalise_answer(a) for p, a in zip(predictions, answers, strict=True)]


def accuracy(predictions: Sequence[str], answers: Sequence[str]) -> float:
    """Fraction of :func:`exact_match` hits.

    >>> accuracy([" 3\\n", "4", "5"], ["3", "4", "4"])
    0.6666666666666666
    """
    hits = exact_match(predictions, answers)
    if not hits:
        raise ValueError("no predictions to score")
    return sum(hits) / len(hits)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a success rate of ``successes`` out of ``n`` (z = 1.96: 95%).

    Unlike the normal approximation p +- z sqrt(p(1-p)/n), it stays inside [0, 1] and does not shrink
    to a point at 0 or n successes, which matters on the small evaluation sets of a course.

    >>> lo, hi = wilson_interval(8, 10)
    >>> round(lo, 3), round(hi, 3)
    (0.49, 0.943)
    >>> wilson_interval(0, 0)
    Traceback (most recent call last):
    ...
    ValueError: n must be positive (no trials, no interval), got 0
    """
    for name, value in (("successes", successes), ("n", n)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if n <= 0:
        raise ValueError(f"n must be positive (no trials, no interval), got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n] = [0, {n}], got {successes}")
    if isinstance(z, bool) or not isinstance(z, (int, float)) or not z > 0:
        raise ValueError(f"z must be a positive number, got {z!r}")
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z2n / (4 * n))
    # At 0 (n) successes the lower (upper) bound is exactly 0 (1); rounding would leave it a hair off.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def majority_baseline(answers: Sequence[str]) -> float:
    """Accuracy of always giving the most common (normalised) answer: the score that shows no skill.

    >>> majority_baseline(["Yes", "No", "Yes", "Yes"])
    0.75
    """
    _check_strings("answers", answers)
    if not answers:
        raise ValueError("no answers: the majority baseline of an empty set is undefined")
    counts = Counter(normalise_answer(a) for a in answers)
    return counts.most_common(1)[0][1] / len(answers)


def _check_strings(name: str, values: Sequence[str]) -> None:
    # A str is a Sequence of characters; scoring it would silently compare letters.
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of str (one per item), got {type(values).__name__}")
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise TypeError(
                f"{name} must hold only str, found {type(value).__name__} at index {i}: {value!r}"
            )
