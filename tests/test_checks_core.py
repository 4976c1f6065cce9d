"""The check machinery: pass messages, and failures that explain themselves."""

import pytest

from bltlib.checks import Case, CheckFailed, run_cases

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


def test_a_stub_says_to_write_code():
    def stub(x):
        raise NotImplementedError()

    result = run_cases("double", stub, CASES, raise_on_fail=False)
    assert "YOUR CODE HERE" in result.message


def test_a_wrong_type_is_pointed_out():
    result = run_cases("double", lambda x: float(2 * x), CASES, raise_on_fail=False)
    assert "got a float, expected a int" in result.message


def test_not_a_function():
    result = run_cases("double", 42, CASES, raise_on_fail=False)
    assert not result.passed and "expected a function, got int" in result.message


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
