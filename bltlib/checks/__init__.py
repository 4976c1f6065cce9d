"""Exercise checks: run a learner's function on cases and explain the first failure.

Each lesson has a module here (``bltlib.checks.bpe`` ...) whose functions take the learner's
function, e.g. ``checks.bpe.get_stats(get_stats)``. A check prints a one-line pass message, or
raises :class:`CheckFailed` whose message shows the input, the expected and the actual value, and a
hint. In a notebook it renders as that message alone, not as a traceback.
"""

from bltlib.checks.core import Case, CheckFailed, CheckResult, run_cases

__all__ = ["Case", "CheckFailed", "CheckResult", "run_cases"]
