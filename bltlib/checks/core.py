"""The machinery shared by every lesson's checks.

>>> def double(x):
...     return 2 * x
>>> run_cases("double", double, [Case((2,), 4), Case((5,), 10)]).passed
✓ double: all 2 cases pass
True
>>> result = run_cases("double", lambda x: x + 2, [Case((2,), 4), Case((5,), 10)], raise_on_fail=False)
>>> result.passed, result.case_index
(False, 1)
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_REPR = 300


def short_repr(value: Any, limit: int = MAX_REPR) -> str:
    """``repr`` cut to ``limit`` characters, so a long list does not flood the notebook.

    >>> short_repr(list(range(5)))
    '[0, 1, 2, 3, 4]'
    >>> short_repr("x" * 20, limit=10)
    "'xxxxx... (22 chars)"
    """
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]}... ({len(text)} chars)"


@dataclass
class Case:
    """One input for the learner's function, with the expected output and an optional hint."""

    args: tuple
    expected: Any
    kwargs: dict = field(default_factory=dict)
    hint: str = ""
    label: str = ""

    def call_repr(self, name: str) -> str:
        parts = [short_repr(a, 120) for a in self.args]
        parts += [f"{k}={short_repr(v, 120)}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(parts)})"


@dataclass
class CheckResult:
    """What a check found: ``passed``, and for a failure which case and why."""

    name: str
    passed: bool
    n_cases: int
    message: str
    case_index: int | None = None

    def __bool__(self) -> bool:
        return self.passed


class CheckFailed(AssertionError):
    """A check's failure, shown in notebooks as its message with no traceback."""

    def __init__(self, result: CheckResult):
        super().__init__(result.message)
        self.result = result

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: the learner sees only the explanation.
        first, *rest = self.result.message.splitlines()
        return ["\x1b[31m" + first + "\x1b[0m", *rest]


def _equal(actual: Any, expected: Any) -> bool:
    """Same type and equal; floats within 1e-9 (an int answer to a float question is fine)."""
    if isinstance(expected, float) and isinstance(actual, (int, float)):
        return abs(actual - expected) < 1e-9
    return type(actual) is type(expected) and actual == expected


def run_cases(
    name: str,
    fn: Callable,
    cases: Sequence[Case],
    *,
    compare: Callable[[Any, Any], bool] = _equal,
    hint: str = "",
    raise_on_fail: bool = True,
) -> CheckResult:
    """Call ``fn`` on each case; stop at the first wrong answer or exception and explain it.

    ``compare(actual, expected)`` decides equality (default: same type and equal). The case's own
    hint is shown if it has one, else the check's general ``hint``.
    """
    if not callable(fn):
        message = f"✗ {name}: expected a function, got {type(fn).__name__}."
        result = CheckResult(name, False, len(cases), message)
        if raise_on_fail:
            raise CheckFailed(result)
        return result
    for i, case in enumerate(cases):
        # Copy the inputs: a function that mutates its argument must not change later cases.
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
        lines = [f"✗ {name}: case {i + 1} of {len(cases)}" + (f" ({case.label})" if case.label else "")]
        lines.append(f"  call:     {case.call_repr(name)}")
        try:
            actual = fn(*args, **kwargs)
        except NotImplementedError:
            lines.append("  raised NotImplementedError: replace the YOUR CODE HERE line with your code.")
            return _fail(name, i, cases, lines, raise_on_fail, "")
        except Exception as exc:  # the learner's bug, reported rather than re-raised
            where = traceback.extract_tb(exc.__traceback__)[-1]
            lines.append(f"  raised:   {type(exc).__name__}: {exc} (line {where.lineno}: {where.line})")
            return _fail(name, i, cases, lines, raise_on_fail, case.hint or hint)
        if not compare(actual, case.expected):
            lines.append(f"  expected: {short_repr(case.expected)}")
            lines.append(f"  got:      {short_repr(actual)}")
            got, want = type(actual).__name__, type(case.expected).__name__
            if got != want:
                lines.append(f"  types:    got a {got}, expected a {want}")
            return _fail(name, i, cases, lines, raise_on_fail, case.hint or hint)
    message = f"✓ {name}: all {len(cases)} cases pass"
    print(message)
    return CheckResult(name, True, len(cases), message)


def _fail(name: str, index: int, cases: Sequence[Case], lines: list[str], raise_on_fail: bool, hint: str):
    if hint:
        lines.append(f"  hint:     {hint}")
    result = CheckResult(name, False, len(cases), "\n".join(lines), index)
    if raise_on_fail:
        raise CheckFailed(result)
    return result


def check(
    name: str, fn: Callable, cases: Sequence[Case], *, raise_on_fail: bool = True, **options: Any
) -> CheckResult | None:
    """:func:`run_cases` in the form a notebook check cell wants: on success it prints the pass line and
    returns None, so the cell shows that line alone (a returned result would be displayed under it,
    and nbval does not honour a trailing ``;``). ``raise_on_fail=False`` returns the result instead.

    >>> check("double", lambda x: 2 * x, [Case((2,), 4)])
    ✓ double: all 1 cases pass
    """
    result = run_cases(name, fn, cases, raise_on_fail=raise_on_fail, **options)
    return None if raise_on_fail else result
