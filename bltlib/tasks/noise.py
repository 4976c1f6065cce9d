"""Noise on text, as in the BLT paper's noised benchmarks: does a model still read the words?

Every function works on Unicode characters (``str``), not on bytes, so a noised text is always valid
UTF-8. The random ones take a ``random.Random`` and draw once per character, so the same seed gives
the same noise. :data:`NOISES` maps names to one signature ``f(text, rng)``; :func:`noise` applies one
by name with a seed.

>>> antspeak("Hi there")
'H I   T H E R E'
>>> apply_noise("drop", "It is a truth universally acknowledged", seed=1)
'It is a uthuniveally cknowleded'
>>> apply_noise("repeat", "It is a truth universally acknowledged", seed=1)
'IIt is aa truth unnniiveeersally acknowleddddgeddd'
"""

from __future__ import annotations

import random
from collections.abc import Callable


def antspeak(text: str) -> str:
    """Upper-case, every character separated by one space (a space becomes three spaces).

    >>> antspeak("Cat. ")
    'C A T .  '
    """
    _check_text(text)
    return " ".join(text.upper())


def uppercase(text: str) -> str:
    """The whole text in upper case.

    >>> uppercase("Mr. Darcy")
    'MR. DARCY'
    """
    _check_text(text)
    return text.upper()


def drop(text: str, rng: random.Random, p: float = 0.1) -> str:
    """Each character deleted with probability ``p``.

    >>> drop("pride", random.Random(0), p=0.0), drop("pride", random.Random(0), p=1.0)
    ('pride', '')
    """
    _check(text, rng, p)
    return "".join(c for c in text if rng.random() >= p)


def random_case(text: str, rng: random.Random, p: float = 0.5) -> str:
    """Each character upper-cased with probability ``p``, lower-cased otherwise (``p=0.5``: a coin each).

    >>> random_case("Emma Woodhouse", random.Random(1))
    'EmmA WooDHoUsE'
    """
    _check(text, rng, p)
    return "".join(c.upper() if rng.random() < p else c.lower() for c in text)


def repeat(text: str, rng: random.Random, p: float = 0.2) -> str:
    """Each character, with probability ``p``, written 2 to 4 times in all (uniformly).

    >>> repeat("novel", random.Random(3), p=0.5)
    'nnnnoooovvvveel'
    """
    _check(text, rng, p)
    return "".join(c * rng.randint(2, 4) if rng.random() < p else c for c in text)


NOISES: dict[str, Callable[[str, random.Random], str]] = {
    "antspeak": lambda text, rng: antspeak(text),
    "drop": drop,
    "random_case": random_case,
    "repeat": repeat,
    "uppercase": lambda text, rng: uppercase(text),
}


def apply_noise(name: str, text: str, seed: int) -> str:
    """``NOISES[name]`` applied to ``text`` with ``random.Random(seed)`` and its default strength.

    >>> apply_noise("uppercase", "sense", seed=0)
    'SENSE'
    >>> apply_noise("shout", "sense", seed=0)
    Traceback (most recent call last):
    ...
    ValueError: unknown noise 'shout'; valid names: antspeak, drop, random_case, repeat, uppercase
    """
    if name not in NOISES:
        raise ValueError(f"unknown noise {name!r}; valid names: {', '.join(NOISES)}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    return NOISES[name](text, random.Random(seed))


def _check_text(text: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__} (decode bytes first)")


def _check(text: str, rng: random.Random, p: float) -> None:
    _check_text(text)
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
