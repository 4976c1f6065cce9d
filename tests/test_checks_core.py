"""The check machinery: pass messages, failures that explain themselves, the diagnosis by known mistakes,
the two levels of help, short summaries, and the test that no help shows a solution's code."""

import json

import pytest

from bltlib.checks import Case, CheckFailed, Idea, Mistake, run_cases, summary
from bltlib.checks.core import a_type, bool_form, code_fragments, difference, gives_away

CASES = [Case((2,), 4, label="small"), Case((5,), 10, hint="multiply, don't add")]


def double(x):
    return 2 * x


def test_a_correct_function_passes(capsys):
    result = run_cases("double", double, CASES)
    assert result.passed and result.n_cases == 2
    assert "all 2 cases pass" in capsys.readouterr().out


def test_a_wrong_answer_names_input_expected_actual_and_hint():
    with pytest.raises(CheckFailed) as info:
        run_cases("double", lambda x: x + 2, CASES)
    message = str(info.value)
    assert "case 2 of 2" in message
    assert "double(5)" in message and "expected: 10" in message and "got:      7" in message
    assert "multiply, don't add" in message
    assert info.value.result.case_index == 1


def test_an_exception_in_the_learners_code_is_reported_not_raised():
    def broken(x):
        return [][x]

    result = run_cases("double", broken, CASES, raise_on_fail=False)
    assert not result.passed
    assert "IndexError" in result.message and "return [][x]" in result.message


def test_an_exception_raised_inside_a_library_points_at_the_learners_line():
    # json (like torch) raises deep inside itself: the line to show is the learner's call, not json's.
    def parse(x):
        return json.loads("{" * x)

    result = run_cases("parse", parse, [Case((2,), {})], raise_on_fail=False)
    raised = next(line for line in result.message.splitlines() if line.startswith("  raised:"))
    assert 'return json.loads("{" * x))' in raised, raised


def test_a_stub_says_to_write_code():
    def stub(x):
        raise NotImplementedError()

    result = run_cases("double", stub, CASES, raise_on_fail=False)
    assert "YOUR CODE HERE" in result.message


def test_a_wrong_type_is_pointed_out():
    result = run_cases("double", lambda x: float(2 * x), CASES, raise_on_fail=False)
    assert "types:    got a float, expected an int" in result.message


def test_the_types_line_names_none_and_exceptions_as_a_learner_writes_them():
    # A function that forgot its return gives None, not "a NoneType"; an exception object is "an ...".
    result = run_cases("double", lambda x: None, CASES, raise_on_fail=False)
    assert "types:    got None, expected an int" in result.message
    result = run_cases("double", lambda x: AssertionError(), CASES, raise_on_fail=False)
    assert "types:    got an AssertionError, expected an int" in result.message


def test_types_from_other_libraries_are_qualified():
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    assert a_type(None) == "None" and a_type(3) == "an int" and a_type([]) == "a list"
    assert a_type(np.bool_(True)) in ("a numpy.bool", "a numpy.bool_")  # numpy 2 / numpy 1
    assert a_type(np.zeros(2)) == "a numpy.ndarray" and a_type(torch.zeros(2)) == "a torch.Tensor"
    assert a_type(torch.nn.Linear(2, 2)) == "a torch.nn.Linear"  # where it is exported, not defined
    # numpy's bool equals True and prints as True: the types line must still tell it from Python's.
    result = run_cases("is_even", lambda x: np.bool_(x % 2 == 0), [Case((2,), True)], raise_on_fail=False)
    assert "types:    got a numpy.bool" in result.message and "expected a bool" in result.message


def test_bool_form_says_which_bool_it_got():
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    hint = bool_form(np.bool_(True), True).hint
    assert hint.startswith("True or False, not a numpy.bool") and "bool(...)" in hint
    assert bool_form(torch.tensor(True), True).hint == "call bool(...) or .item() on the one-element tensor"
    assert bool_form(torch.tensor([True, False]), True).hint == "True or False, not a torch.Tensor"
    assert bool_form(None, True).hint == "True or False, not None"
    assert bool_form(False, True) is None


def test_not_a_function():
    result = run_cases("double", 42, CASES, raise_on_fail=False)
    assert not result.passed and "expected a function, got an int" in result.message
    assert "expected a function, got None." in run_cases("double", None, CASES, raise_on_fail=False).message


def test_inputs_are_copied_so_mutation_cannot_leak_between_cases():
    def pops(xs):
        xs.pop()
        return len(xs)

    shared = [1, 2, 3]
    assert run_cases("pops", pops, [Case((shared,), 2), Case((shared,), 2)]).passed
    assert shared == [1, 2, 3]


def test_notebooks_render_a_failure_without_a_traceback():
    with pytest.raises(CheckFailed) as info:
        run_cases("double", lambda x: x, CASES)
    rendered = info.value._render_traceback_()
    assert "case 1 of 2" in rendered[0] and not any("Traceback" in line for line in rendered)


# ------------------------------------------------------------------ diagnosing by known mistakes


TIMES = Idea("multiply", "doubling is x times 2", more="5 doubled is 10; 5 + 2 is 7.")
SQUARE = Idea("not a square", "doubling is not squaring", more="2 * 2 = 4 = 2 ** 2, but 3 * 2 = 6, not 9.")
KNOWN = [Mistake(lambda x: x + 2, TIMES), Mistake(lambda x: x**2, SQUARE)]
DOUBLE = [Case((2,), 4, label="two", hint="double it"), Case((3,), 6, label="three"), Case((5,), 10)]


def test_a_known_mistake_names_its_idea_whatever_the_case_says():
    result = run_cases("double", lambda x: x**2, DOUBLE, mistakes=KNOWN, raise_on_fail=False)
    assert result.case_index == 1 and result.idea is SQUARE
    assert "hint:     not a square: doubling is not squaring" in result.message


def test_when_several_mistakes_fit_the_one_that_fits_most_cases_wins():
    # On case 1 (x = 2) both x + 2 and x ** 2 give 4, which is right; a learner adding 2 first fails on
    # x = 3, where only x + 2 fits.
    both = [Mistake(lambda x: 5 if x == 3 else x**2, SQUARE), Mistake(lambda x: x + 2, TIMES)]
    result = run_cases("double", lambda x: x + 2, DOUBLE, mistakes=both, raise_on_fail=False)
    assert result.idea is TIMES


def test_an_unknown_wrong_answer_gets_the_cases_own_hint():
    result = run_cases("double", lambda x: 0, DOUBLE, mistakes=KNOWN, raise_on_fail=False)
    assert result.case_index == 0 and "hint:     double it" in result.message and result.idea.name == ""


def test_known_exceptions_and_forms_have_their_ideas():
    crash = Idea("no strings", "x is a number")
    result = run_cases(
        "double", lambda x: x + "", DOUBLE, errors=[(TypeError, crash)], raise_on_fail=False, lesson="demo"
    )
    assert result.idea is crash and "raised:   TypeError" in result.message
    shape = Idea("a number", "return an int")
    result = run_cases("double", lambda x: [x, x], DOUBLE, form=lambda a, e: shape, raise_on_fail=False)
    assert result.idea is shape and "types:    got a list, expected an int" in result.message


def test_the_second_level_adds_the_explanation_and_every_verdict_and_the_first_points_to_it():
    def plus_two(x):
        return x + 2

    first = run_cases("double", plus_two, DOUBLE, mistakes=KNOWN, raise_on_fail=False, lesson="demo")
    assert first.message.endswith("  more help: checks.demo.double(plus_two, more=True)")
    second = run_cases("double", plus_two, DOUBLE, mistakes=KNOWN, raise_on_fail=False, more=True)
    assert second.message.startswith(first.message.split("  more help:")[0])
    assert "  more:     5 doubled is 10; 5 + 2 is 7." in second.message
    assert "✓ 1 (two)" in second.message and "✗ 2 (three) -> multiply" in second.message
    assert "more help" not in second.message


def test_summaries_are_short_and_readable():
    assert summary(list(range(1000))) == "[0, 1, 2, 3, 4, 5, ..., 998, 999] (1000 items)"
    assert summary({i: bytes([i]) for i in range(300 % 256)}).endswith("(44 items)")
    assert summary("x" * 500).endswith("(500 chars)") and len(summary("x" * 500)) < 70
    assert summary(sum) == "sum (a function)"
    assert summary(2.0) == "2.0" and summary(0.123456) == "0.1235"
    np = pytest.importorskip("numpy")
    assert summary(np.array([0.5, 1.0, 2.0])) == "float64 [3] [0.5, 1, 2]"
    assert summary(np.zeros(1000)) == "float64 [1000] all 0"


def test_a_long_answer_says_where_it_differs():
    assert difference([1, 2], [1, 3]) is None  # short: plain to see
    assert (
        difference(list(range(10)), list(range(12))) == "yours has 10 items, expected 12 (the first 10 agree)"
    )
    assert difference("a" * 50, "a" * 49 + "b") == "first difference at character 49: expected 'b', got 'a'"


def test_code_fragments_find_a_solution_in_a_hint():
    def solution(stats):
        return min(stats, key=lambda p: (-stats[p], p))

    fragments = code_fragments(solution)
    assert gives_away("try min(stats, key=lambda p: (-stats[p], p)) here", fragments)
    assert gives_away("try min(stats,key=lambda p:(-stats[p],p))", fragments)  # spaces do not hide it
    assert not gives_away("merge the MOST frequent pair; ties go to the smaller pair", fragments)
