"""The machinery shared by every lesson's checks: run the learner's function on cases, diagnose the first
wrong answer, and explain it in two levels of help, never with the solution's code.

A check is a list of :class:`Case` (the simplest first, each isolating one idea) and a list of known
:class:`Mistake` (a function that computes a typical wrong answer, and the :class:`Idea` it gets
wrong). At the first wrong case, the learner's answer is compared with each mistake's answer on the same
input; the matching mistake names the idea (if several match, the one that agrees with the learner on the
most cases wins). If none matches, the case's own idea is shown.

- **Level 1** (the default) shows the case, a short :func:`summary` of the input, the expected and the
  actual value, and a hint that names the idea that is wrong; its last line says how to get level 2.
- **Level 2** (``more=True``, e.g. ``checks.bpe.merge(merge, more=True)``) re-runs every case and adds a
  longer explanation of the idea with a worked example (in words and numbers, no code), and the verdict
  on every case, so that the pattern of what passes and what fails shows.

>>> def double(x):
...     return 2 * x
>>> run_cases("double", double, [Case((2,), 4), Case((5,), 10)]).passed
✓ double: all 2 cases pass
True
>>> result = run_cases("double", lambda x: x + 2, [Case((2,), 4), Case((5,), 10)], raise_on_fail=False)
>>> result.passed, result.case_index
(False, 1)
>>> times = Idea("multiply", "doubling is x times 2, not x plus 2", more="2 -> 4 and 5 -> 10; 5 + 2 is 7.")
>>> plus_two = Mistake(lambda x: x + 2, times)
>>> print(run_cases("double", lambda x: x + 2, [Case((2,), 4), Case((5,), 10)],
...                 mistakes=[plus_two], raise_on_fail=False, more=True).message)
✗ double: case 2 of 2
  call:     double(5)
  expected: 10
  got:      7
  hint:     multiply: doubling is x times 2, not x plus 2
  more:     2 -> 4 and 5 -> 10; 5 + 2 is 7.
  cases:    ✓ 1
            ✗ 2 -> multiply
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import re
import sys
import sysconfig
import textwrap
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_REPR = 300
WIDTH = 100  # hint lines wrap at this width
INDENT = " " * 12  # the width of core's "  hint:     " prefix


def short_repr(value: Any, limit: int = MAX_REPR) -> str:
    """``repr`` cut to ``limit`` characters, so a long list does not flood the notebook.

    >>> short_repr(list(range(5)))
    '[0, 1, 2, 3, 4]'
    >>> short_repr("x" * 20, limit=10)
    "'xxxxx... (22 chars)"
    """
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]}... ({len(text)} chars)"


# ----------------------------------------------------------------------------- summaries


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:.4g}"


def _nested(value: Any, bits: bool = False, width: int = 6) -> str:
    """A nested list, at most ``width`` items per level; bool rows as strings of 0/1 (``[101, 010]``)."""
    if isinstance(value, list):
        if bits and value and not isinstance(value[0], list):
            return "".join("1" if v else "0" for v in value)
        items = [_nested(v, bits) for v in value[:width]] + (["..."] if len(value) > width else [])
        return "[" + ", ".join(items) + "]"
    return _number(value) if isinstance(value, float) else str(value)


def _cut(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _array(dtype: str, shape: list[int], values: Any, floating: bool, boolean: bool) -> str:
    """A tensor or array as ``dtype [shape] values``; a large float array as its range."""
    head = f"{dtype} {shape}"
    size = 1
    for n in shape:
        size *= n
    if size == 0:
        return f"{head} (empty)"
    if floating and size > 24:
        flat = values.flatten()
        lo, hi = float(flat.min()), float(flat.max())
        return f"{head} all {_number(lo)}" if lo == hi else f"{head} from {_number(lo)} to {_number(hi)}"
    width = 12 if len(shape) == 1 else 6  # a single row may show more of itself
    return _cut(f"{head} {_nested(values.tolist(), bits=boolean, width=width)}")


def _items(items: list[str], n: int, open_: str, close: str) -> str:
    """A long sequence as its first items, '...', its last two and its length."""
    shown = items[:6] + ["..."] + items[-2:] if n > 8 else items
    return f"{open_}{', '.join(shown)}{close} ({n} items)"


def type_name(cls: type) -> str:
    """A type's name as a learner would write it: a builtin's bare name, another library's qualified by
    the shortest module path that exports it ('torch.Tensor', 'torch.nn.Linear', not the module where it
    is defined); a class of the notebook itself keeps its bare name.

    >>> import torch
    >>> type_name(int), type_name(torch.Tensor), type_name(torch.nn.Linear)
    ('int', 'torch.Tensor', 'torch.nn.Linear')
    """
    module, name = cls.__module__, cls.__qualname__
    if module in ("builtins", "__main__") or not module or "<locals>" in name:
        return cls.__name__
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        if getattr(sys.modules.get(prefix), name, None) is cls:
            return f"{prefix}.{name}"
    return f"{module}.{name}"


def a_type(value: Any) -> str:
    """The type of ``value`` with its article, for hints: 'a list', 'an int', 'a numpy.bool'; None is
    just 'None' (its type, NoneType, is no word a learner uses).

    >>> import numpy as np
    >>> a_type(1), a_type([]), a_type(None), a_type(AssertionError()), a_type(np.float64(1.5))
    ('an int', 'a list', 'None', 'an AssertionError', 'a numpy.float64')
    """
    if value is None:
        return "None"
    name = type_name(type(value))
    return ("an " if name[0] in "aeiouAEIOU" else "a ") + name


def bool_form(actual: Any, expected: bool) -> Idea | None:
    """The ``form`` hint of a check whose answer is a Python bool (None when it is one).

    >>> import numpy as np
    >>> bool_form(1, True).hint
    'True or False, not an int'
    >>> bool_form(np.bool_(True), True).hint  # numpy's bool prints as True but is another type
    'True or False, not a numpy.bool (bool(...) turns it into one)'
    """
    if isinstance(actual, bool):
        return None
    if type(actual).__name__ == "Tensor" and actual.numel() == 1:  # torch need not be imported here
        return Idea("return a Python bool", "call bool(...) or .item() on the one-element tensor")
    if type(actual).__module__ == "numpy" and getattr(actual, "size", 0) == 1:  # a numpy scalar
        return Idea(
            "return a Python bool", f"True or False, not {a_type(actual)} (bool(...) turns it into one)"
        )
    return Idea("return a Python bool", f"True or False, not {a_type(actual)}")


def summary(x: Any) -> str:
    """A short readable view of a check's input or answer: a tensor's dtype, shape and a few values, a
    long list's ends and length, a dict's first and last items.

    >>> import torch
    >>> summary(torch.tensor([[1, 2, 3]]))
    'int64 [1, 3] [[1, 2, 3]]'
    >>> summary(torch.tensor([[True, False], [False, True]]))
    'bool [2, 2] [10, 01]'
    >>> summary(torch.zeros(2, 4, 260))
    'float32 [2, 4, 260] all 0'
    >>> summary(8.02237)
    '8.0224'
    >>> summary([9, 1]), summary(list(range(100)))
    ('[9, 1]', '[0, 1, 2, 3, 4, 5, ..., 98, 99] (100 items)')
    >>> summary({i: bytes([i]) for i in range(256)})
    "{0: b'\\\\x00', 1: b'\\\\x01', 2: b'\\\\x02', ..., 254: b'\\\\xfe', 255: b'\\\\xff'} (256 items)"
    >>> summary("the cat sat on the mat; the hat sat on the cat. " * 3)
    "'the cat sat on the mat; the hat sat on t...' (144 chars)"
    """
    torch, np = sys.modules.get("torch"), sys.modules.get("numpy")
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dim() == 0:
            value = x.item()
            return f"tensor({value:.4f})" if isinstance(value, float) else f"tensor({value})"
        dtype = str(x.dtype).removeprefix("torch.")
        return _array(dtype, list(x.shape), x, x.is_floating_point(), x.dtype == torch.bool)
    if np is not None and isinstance(x, np.ndarray):
        if x.ndim == 0:
            return summary(x.item())
        floating = np.issubdtype(x.dtype, np.floating)
        return _array(str(x.dtype), list(x.shape), x, floating, x.dtype == np.bool_)
    if np is not None and isinstance(x, np.generic):
        return summary(x.item())
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, float):
        if x.is_integer() and abs(x) < 1e15:
            return repr(x)
        return f"{x:.4f}" if 1e-3 <= abs(x) < 1e6 else f"{x:.4g}"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, str | bytes):
        text = repr(x)
        return text if len(x) <= 48 else f"{repr(x[:40])[:-1]}...{text[-1]} ({len(x)} chars)"
    if isinstance(x, dict):
        text = repr(x)
        if len(text) <= 100:
            return text
        pairs = [f"{k!r}: {short_repr(v, 24)}" for k, v in x.items()]
        if len(pairs) > 5:
            pairs = pairs[:3] + ["..."] + pairs[-2:]
        return f"{{{', '.join(pairs)}}} ({len(x)} items)"
    if isinstance(x, list | tuple):
        text = repr(x)
        if len(text) <= 100:
            return text
        open_, close = ("[", "]") if isinstance(x, list) else ("(", ")")
        return _items([short_repr(v, 24) for v in x], len(x), open_, close)
    if callable(x) and hasattr(x, "__qualname__"):
        return f"{x.__qualname__} (a function)"
    return short_repr(x, 100)


def difference(actual: Any, expected: Any) -> str | None:
    """Where a long answer first departs from the expected one (None if that is already plain to see).

    >>> difference(list(range(20)), [*range(12), 99, *range(13, 20)])
    'first difference at index 12: expected 99, got 12'
    >>> difference({(1, 2): 256, (3, 4): 257, (5, 6): 258, (7, 8): 259, (9, 9): 260},
    ...            {(1, 2): 256, (3, 4): 257, (5, 6): 258, (7, 8): 259, (9, 1): 260})
    'missing (9, 1): 260; not expected (9, 9): 260'
    """
    np = sys.modules.get("numpy")
    if np is not None and isinstance(actual, np.ndarray) and actual.ndim == 1:
        actual = actual.tolist()
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        if max(len(actual), len(expected)) <= 8:
            return None
        for j, (a, e) in enumerate(zip(actual, expected, strict=False)):
            if type(a) is not type(e) and not (_is_number(a) and _is_number(e)) or a != e:
                return f"first difference at index {j}: expected {summary(e)}, got {summary(a)}"
        if len(actual) != len(expected):
            agree = min(len(actual), len(expected))
            return f"yours has {len(actual)} items, expected {len(expected)} (the first {agree} agree)"
        return None
    if isinstance(expected, dict) and isinstance(actual, dict):
        if max(len(actual), len(expected)) <= 4:
            return None
        missing = [f"missing {k!r}: {summary(v)}" for k, v in expected.items() if k not in actual]
        extra = [f"not expected {k!r}: {summary(v)}" for k, v in actual.items() if k not in expected]
        changed = [
            f"{k!r} is {summary(actual[k])}, expected {summary(v)}"
            for k, v in expected.items()
            if k in actual and actual[k] != v
        ]
        parts = missing[:1] + extra[:1] + changed[:1]
        left = len(missing) + len(extra) + len(changed) - len(parts)
        return "; ".join(parts) + (f" (and {left} more)" if left else "") if parts else None
    if isinstance(expected, str) and isinstance(actual, str) and max(len(actual), len(expected)) > 40:
        j = next((j for j, (a, e) in enumerate(zip(actual, expected, strict=False)) if a != e), None)
        if j is None:
            return f"yours has {len(actual)} characters, expected {len(expected)}"
        return f"first difference at character {j}: expected {expected[j]!r}, got {actual[j]!r}"
    return None


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) or type(x).__module__ == "numpy"


def wrap(text: str) -> str:
    """A hint in lines of at most 100 characters, aligned under the ``  hint:     `` prefix."""
    paragraphs = [
        textwrap.fill(p, WIDTH, initial_indent=INDENT, subsequent_indent=INDENT, break_on_hyphens=False)
        for p in text.split("\n")
    ]
    return "\n".join(paragraphs).lstrip()


# ----------------------------------------------------------------------------- ideas, mistakes, cases


@dataclass(frozen=True)
class Idea:
    """One idea a check tests: its ``name``, a one- or two-sentence ``hint`` (level 1) and a longer
    explanation with a worked example, ``more`` (level 2). None of them shows the solution's code."""

    name: str
    hint: str
    more: str = ""

    def __str__(self) -> str:
        return f"{self.name}: {self.hint}" if self.name else self.hint


def as_idea(hint: str | Idea | None) -> Idea | None:
    """An :class:`Idea` from a hint given as plain text (no name) or as an Idea; None for no hint."""
    if isinstance(hint, Idea):
        return hint
    return Idea("", hint) if hint else None


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``answer`` takes the learner's arguments and returns what the mistake would
    give; ``idea`` is what that mistake gets wrong."""

    answer: Callable[..., Any]
    idea: Idea


@dataclass
class Case:
    """One input for the learner's function, with the expected output and an optional hint.

    ``hint`` (a string or an :class:`Idea`) is the idea this case isolates: it is shown when the answer
    matches no known mistake. ``names`` name the arguments in the failure's call line.
    """

    args: tuple
    expected: Any
    kwargs: dict = field(default_factory=dict)
    hint: str | Idea = ""
    label: str = ""
    names: tuple[str, ...] = ()

    def call_repr(self, name: str) -> str:
        names = self.names or ("",) * len(self.args)
        parts = [f"{k}={summary(v)}" if k else summary(v) for k, v in zip(names, self.args, strict=True)]
        parts += [f"{k}={summary(v)}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(parts)})"


@dataclass
class CheckResult:
    """What a check found: ``passed``, and for a failure which case, why, and the idea diagnosed."""

    name: str
    passed: bool
    n_cases: int
    message: str
    case_index: int | None = None
    idea: Idea | None = None

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
    if isinstance(expected, float) and isinstance(actual, int | float):
        return abs(actual - expected) < 1e-9
    return type(actual) is type(expected) and actual == expected


# ----------------------------------------------------------------------------- running and judging


@dataclass
class _Outcome:
    answer: Any = None
    error: Exception | None = None
    where: str = ""


def _call(fn: Callable, case: Case) -> _Outcome:
    # Copy the inputs: a function that mutates its argument must not change later cases.
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    try:
        return _Outcome(fn(*args, **kwargs))
    except Exception as exc:  # the learner's bug, reported rather than re-raised
        frame = _where(traceback.extract_tb(exc.__traceback__))
        return _Outcome(error=exc, where=f"line {frame.lineno}: {frame.line}")


_LIBRARIES = tuple(
    str(Path(sysconfig.get_paths()[key]).resolve()) for key in ("stdlib", "platstdlib", "purelib", "platlib")
)


def _where(frames: traceback.StackSummary) -> traceback.FrameSummary:
    """The line to show for an exception: the last one in the learner's code, not inside torch or the
    standard library (a learner's call that torch refuses is reported where the learner made it)."""
    called = frames[1:] or frames  # frames[0] is _call's own line
    mine = [f for f in called if not str(Path(f.filename).resolve()).startswith(_LIBRARIES)]
    return (mine or called)[-1]


ErrorTest = type | Callable[[Exception], bool]


def _raised(test: ErrorTest, exc: Exception) -> bool:
    return isinstance(exc, test) if isinstance(test, type) else bool(test(exc))


@dataclass
class _Judge:
    """Runs the learner's function (each case at most once) and says which idea a wrong case gets wrong."""

    fn: Callable
    cases: Sequence[Case]
    compare: Callable[[Any, Any], bool]
    match: Callable[[Any, Any], bool]
    mistakes: Sequence[Mistake]
    form: Callable[[Any, Any], str | Idea | None] | None
    errors: Sequence[tuple[ErrorTest, str | Idea]]
    hint: Idea | None
    _learner: dict = field(default_factory=dict)
    _wrong: dict = field(default_factory=dict)

    def outcome(self, i: int) -> _Outcome:
        if i not in self._learner:
            self._learner[i] = _call(self.fn, self.cases[i])
        return self._learner[i]

    def passes(self, i: int) -> bool:
        out = self.outcome(i)
        return out.error is None and bool(self.compare(out.answer, self.cases[i].expected))

    def _agrees(self, m: int, i: int) -> bool:
        """Does mistake ``m`` give the learner's answer on case ``i``?"""
        out = self.outcome(i)
        if out.error is not None:
            return False
        if (m, i) not in self._wrong:
            self._wrong[m, i] = _call(self.mistakes[m].answer, self.cases[i])
        wrong = self._wrong[m, i]
        if wrong.error is not None:  # a mistake that cannot run on this case is not this case's mistake
            return False
        try:
            return bool(self.match(out.answer, wrong.answer))
        except Exception:
            return False

    def diagnose(self, i: int) -> Idea | None:
        """The idea case ``i`` gets wrong: a known exception's, a known mistake's, the answer's form, or the
        case's own idea."""
        out, case = self.outcome(i), self.cases[i]
        if out.error is not None:
            if isinstance(out.error, NotImplementedError):
                return None
            known = (as_idea(idea) for test, idea in self.errors if _raised(test, out.error))
            return next(known, None) or as_idea(case.hint) or self.hint
        found = [m for m in range(len(self.mistakes)) if self._agrees(m, i)]
        if len(found) > 1:
            # Several mistakes give this answer here: the one that agrees with the learner on most cases.
            found.sort(key=lambda m: -sum(self._agrees(m, j) for j in range(len(self.cases))))
        if found:
            return self.mistakes[found[0]].idea
        shape = self.form(out.answer, case.expected) if self.form else None
        return as_idea(shape) or as_idea(case.hint) or self.hint


def _pointer(lesson: str, name: str, fn: Callable) -> str:
    learner = getattr(fn, "__name__", "")
    learner = learner if learner.isidentifier() else "your_function"
    return f"checks.{lesson}.{name}({learner}, more=True)"


def _failure(name: str, judge: _Judge, i: int, more: bool, lesson: str) -> CheckResult:
    cases, case, out = judge.cases, judge.cases[i], judge.outcome(i)
    lines = [f"✗ {name}: case {i + 1} of {len(cases)}" + (f" ({case.label})" if case.label else "")]
    lines.append(f"  call:     {case.call_repr(name)}")
    if isinstance(out.error, NotImplementedError):
        lines.append("  raised NotImplementedError: replace the YOUR CODE HERE line with your code.")
        return CheckResult(name, False, len(cases), "\n".join(lines), i)
    idea = judge.diagnose(i)
    if out.error is not None:
        error = f"{type(out.error).__name__}: {short_repr(str(out.error), 200)}"
        lines.append(f"  raised:   {error} ({out.where})")
    else:
        lines.append(f"  expected: {summary(case.expected)}")
        lines.append(f"  got:      {summary(out.answer)}")
        got, want = a_type(out.answer), a_type(case.expected)
        if got != want:
            lines.append(f"  types:    got {got}, expected {want}")
        where = difference(out.answer, case.expected)
        if where:
            lines.append(f"  differs:  {where}")
    if idea is not None:
        lines.append(f"  hint:     {wrap(str(idea))}")
    if more:
        explanation = (idea.more if idea else "") or (judge.hint.more if judge.hint else "")
        if explanation:
            lines.append(f"  more:     {wrap(explanation)}")
        verdicts = []
        for j in range(len(cases)):
            label = f" ({cases[j].label})" if cases[j].label else ""
            if judge.passes(j):
                verdicts.append(f"✓ {j + 1}{label}")
            else:
                other = judge.diagnose(j)
                concept = f" -> {other.name}" if other is not None and other.name else ""
                verdicts.append(f"✗ {j + 1}{label}{concept}")
        lines.append("  cases:    " + ("\n" + INDENT).join(verdicts))
    elif lesson:
        lines.append(f"  more help: {_pointer(lesson, name, judge.fn)}")
    return CheckResult(name, False, len(cases), "\n".join(lines), i, idea)


def run_cases(
    name: str,
    fn: Callable,
    cases: Sequence[Case],
    *,
    compare: Callable[[Any, Any], bool] = _equal,
    hint: str | Idea = "",
    mistakes: Sequence[Mistake] = (),
    match: Callable[[Any, Any], bool] | None = None,
    form: Callable[[Any, Any], str | Idea | None] | None = None,
    errors: Sequence[tuple[ErrorTest, str | Idea]] = (),
    more: bool = False,
    lesson: str = "",
    raise_on_fail: bool = True,
) -> CheckResult:
    """Call ``fn`` on each case; stop at the first wrong answer or exception and explain it.

    ``compare(actual, expected)`` decides whether an answer is right (default: same type and equal).
    A wrong answer is diagnosed by ``mistakes`` (compared with ``match``, by default ``compare``), then by
    ``form(actual, expected)`` (a wrong type or shape, as a hint or None), then by the case's own hint,
    then by the general ``hint``. ``errors`` are ``(exception type or test, hint)`` pairs for exceptions.
    ``more=True`` gives the second level of help; ``lesson`` (e.g. ``"bpe"``) lets the first level say
    how to ask for it.
    """
    if not callable(fn):
        message = f"✗ {name}: expected a function, got {a_type(fn)}."
        result = CheckResult(name, False, len(cases), message)
        if raise_on_fail:
            raise CheckFailed(result)
        return result
    judge = _Judge(fn, cases, compare, match or compare, mistakes, form, errors, as_idea(hint))
    for i in range(len(cases)):
        if not judge.passes(i):
            result = _failure(name, judge, i, more, lesson)
            if raise_on_fail:
                raise CheckFailed(result)
            return result
    message = f"✓ {name}: all {len(cases)} cases pass"
    print(message)
    return CheckResult(name, True, len(cases), message)


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


# ----------------------------------------------------------------------------- no code in the help


def _normalise(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("'", '"')


def _plain(node: ast.AST) -> bool:
    return isinstance(node, ast.Name | ast.Attribute | ast.Constant)


def _plain_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and all(
        _plain(a) for a in [*node.args, *(k.value for k in node.keywords)]
    )


def code_fragments(solution: str | Callable, *, line: int = 14, expression: int = 28) -> set[str]:
    """The pieces of a solution that a hint must not show: each line of its body of at least ``line``
    characters and each expression of at least ``expression`` characters, once spaces are dropped and
    quotes made alike. ``solution`` is a function or source text (a notebook's solution cell).

    >>> sorted(code_fragments('''def f(ids):
    ...     return [i for i in ids if i > 0 and i % 2 == 0 and i < 100]'''))
    ['[iforiinidsifi>0andi%2==0andi<100]', 'return[iforiinidsifi>0andi%2==0andi<100]']
    """
    source = textwrap.dedent(inspect.getsource(solution) if callable(solution) else solution)
    tree = ast.parse(source)
    body = tree.body
    if len(body) == 1 and isinstance(body[0], ast.FunctionDef | ast.AsyncFunctionDef):
        body = body[0].body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
    found: set[str] = set()
    for statement in body:
        segment = ast.get_source_segment(source, statement) or ""
        for text in segment.splitlines():
            text = _normalise(text.split("  #")[0])
            if len(text) >= line:
                found.add(text)
        for node in ast.walk(statement):
            # A name, however long, gives nothing away, nor does a call on plain names (it reads like
            # the exercise's own signature); an expression that computes something may.
            if isinstance(node, ast.expr) and not (_plain(node) or _plain_call(node)):
                text = _normalise(ast.get_source_segment(source, node) or "")
                if len(text) >= expression:
                    found.add(text)
    return found


def notebook_solutions(path: str | Path) -> dict[str, str]:
    """The solution cells of a notebook, by the name of the function each defines, with the
    ``### BEGIN/END SOLUTION`` markers taken out (for :func:`code_fragments`)."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    found = {}
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code" or "### BEGIN SOLUTION" not in source:
            continue
        lines = [line for line in source.splitlines() if line.strip() not in _MARKERS]
        name = re.search(r"^def (\w+)", source, re.MULTILINE)
        found[name.group(1) if name else str(len(found))] = "\n".join(lines)
    return found


_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def markdown_cells(path: str | Path) -> list[str]:
    """The text of a notebook's markdown cells."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in cells
        if c["cell_type"] == "markdown"
    ]


def gives_away(text: str, fragments: set[str]) -> list[str]:
    """The ``fragments`` (from :func:`code_fragments`) that ``text`` contains.

    >>> gives_away("merge the MOST frequent pair", code_fragments("pair = min(stats, key=stats.get)"))
    []
    """
    flat = _normalise(text)
    return sorted(f for f in fragments if f in flat)


__all__ = [
    "Case",
    "CheckFailed",
    "CheckResult",
    "Idea",
    "Mistake",
    "a_type",
    "as_idea",
    "bool_form",
    "check",
    "code_fragments",
    "difference",
    "gives_away",
    "markdown_cells",
    "notebook_solutions",
    "run_cases",
    "short_repr",
    "summary",
    "type_name",
    "wrap",
]
