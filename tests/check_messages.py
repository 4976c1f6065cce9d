"""What every lesson's check tests assert of a failure message (``tests/test_checks_*.py``).

A check run on a typical wrong answer must fail on the case that exposes it, with a hint that names the
idea behind the mistake and a pointer to a second level of help, which begins with the first. What
else a lesson's messages must (not) show, each test file asserts itself.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable

import pytest

from bltlib.checks import CheckFailed, CheckResult


def assert_names_the_mistake(
    check: Callable, wrong: Callable, case: str, concept: str, lesson: str, more: bool = True
) -> tuple[str, str, CheckResult]:
    """``check(wrong)`` fails on the case labelled ``case`` and its hint names ``concept``. With ``more``,
    the message must point to ``checks.<lesson>.<check>(wrong, more=True)``, whose longer message starts
    with this one and adds a ``more:`` explanation; without, that holds wherever a pointer is shown.
    Returns the message, the longer one and the check's result."""
    with pytest.raises(CheckFailed) as info:
        check(wrong)
    message = str(info.value)
    first = message.splitlines()[0]
    assert first.startswith(f"✗ {check.__name__}: case ") and case in first, message
    hint = " ".join(message[message.index("hint:") :].split())  # the hint may wrap over lines
    assert concept in hint, message
    longer = check(wrong, raise_on_fail=False, more=True).message
    if more or "more help:" in message:
        assert f"more help: checks.{lesson}.{check.__name__}({wrong.__name__}, more=True)" in message, message
        assert longer.startswith(message.split("  more help:")[0]) and "more help" not in longer, longer
    if more:
        assert "  more:     " in longer, longer
    return message, longer, info.value.result


def code_lines(fn: Callable) -> list[str]:
    """The lines of ``fn``'s body (docstring left out), stripped, that are long enough to give code away."""
    source = textwrap.dedent(inspect.getsource(fn))
    body = ast.parse(source).body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    lines = []
    for statement in body:
        lines += ast.get_source_segment(source, statement).splitlines()
    return [line.strip() for line in lines if len(line.strip()) >= 12]


def without_the_learners_line(message: str) -> str:
    """A message less its ``raised:`` line, which quotes the learner's own line (here: a solution's)."""
    return "\n".join(line for line in message.splitlines() if not line.startswith("  raised:"))
