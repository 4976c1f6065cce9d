"""Exercise checks: run a learner's function on cases and explain the first failure.

Each lesson has a module here whose functions take the learner's function, e.g.
``checks.bpe.get_stats(get_stats)`` after ``from bltlib import checks``. A check prints a one-line
pass message, or raises :class:`CheckFailed` whose message shows a short summary of the input, the
expected and the actual value, and a hint that names the idea that is wrong (diagnosed by comparing the
answer with known mistakes). ``more=True`` (``checks.bpe.get_stats(get_stats, more=True)``) adds a
longer explanation with a worked example and the verdict on every case; no level shows the solution's
code. In a notebook the message renders alone, not as a traceback. The machinery is in
:mod:`bltlib.checks.core`.

>>> from bltlib import checks
>>> checks.bpe.__name__  # lesson modules load on first use
'bltlib.checks.bpe'
"""

import importlib
from types import ModuleType

from bltlib.checks.core import Case, CheckFailed, CheckResult, Idea, Mistake, run_cases, summary

__all__ = ["Case", "CheckFailed", "CheckResult", "Idea", "Mistake", "run_cases", "summary"]
LESSONS = ("bpe", "rope", "entropy", "blt", "chars")


def __getattr__(name: str) -> ModuleType:
    # Lazy: `checks.bpe` imports only lesson 1's checks (and bltlib.bpe), not every lesson's models.
    if name in LESSONS:
        return importlib.import_module(f"bltlib.checks.{name}")
    raise AttributeError(f"module 'bltlib.checks' has no attribute {name!r}; lessons: {', '.join(LESSONS)}")
