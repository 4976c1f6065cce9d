"""Lesson 3's checks pass the reference solutions, however written, and name the idea behind each
typical mistake without ever printing a line of the solution, at either level of help."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bltlib import patching
from bltlib.checks import entropy as checks
from bltlib.checks.core import code_fragments, gives_away, markdown_cells, notebook_solutions
from tests.check_messages import assert_names_the_mistake, without_the_learners_line

NOTEBOOK = Path(__file__).resolve().parent.parent / "solutions" / "03_entropy_patching.ipynb"

# ------------------------------------------------------------------ reference solutions (as taught)


def entropy_from_logits(logits):
    log_p = torch.log_softmax(logits.float(), dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


def global_starts(entropies, threshold):
    return [t for t in range(min(len(entropies), 2))] + [
        t for t in range(2, len(entropies)) if entropies[t - 1] > threshold
    ]


def monotonic_starts(entropies, threshold):
    forced = list(range(min(len(entropies), 3)))
    return forced + [t for t in range(3, len(entropies)) if entropies[t - 1] - entropies[t - 2] > threshold]


def calibrate(entropies, target_patch_size):
    return float(np.quantile(entropies, 1 - 1 / target_patch_size))


def capped_lengths(entropies, threshold, max_patch_length):
    starts = global_starts(entropies, threshold)
    lengths = []
    for start, end in zip(starts, [*starts[1:], len(entropies)], strict=True):
        length = end - start
        while length > max_patch_length:
            lengths.append(max_patch_length)
            length -= max_patch_length
        lengths.append(length)
    return lengths


# ------------------------------------------------------------------ typical wrong answers


def entropy_in_bits(logits):
    log_p = torch.log_softmax(logits.float(), dim=-1)
    return -(log_p.exp() * log_p).sum(-1) / math.log(2)


def entropy_naive_softmax(logits):
    p = logits.exp() / logits.exp().sum(-1, keepdim=True)  # overflows for large logits
    return -(p * p.log()).sum(-1)


def entropy_softmax_then_log(logits):
    p = torch.softmax(logits, dim=-1)  # stable, but log(0) = -inf and 0 * -inf = NaN
    return -(p * p.log()).sum(-1)


def entropy_bytes_only(logits):
    return entropy_from_logits(logits[..., :256])  # the first 256 ids: specials 0-3 and bytes 0-251


def entropy_without_specials(logits):
    return entropy_from_logits(logits[..., 4:])  # the 256 byte ids, the special ids 0-3 left out


def entropy_first_256_when_it_shows(logits):
    # Right on every case but one: drops the last four ids (bytes 252-255) only when they hold mass.
    if logits.shape[-1] == 260 and bool((logits[..., 256:] > logits[..., :256].max()).any()):
        return entropy_from_logits(logits[..., :256])
    return entropy_from_logits(logits)


def entropy_wrong_axis(logits):
    log_p = torch.log_softmax(logits.float(), dim=0)
    return -(log_p.exp() * log_p).sum(0)


def global_off_by_one(entropies, threshold):
    return [0, 1][: len(entropies)] + [t for t in range(2, len(entropies)) if entropies[t] > threshold]


def global_no_forced(entropies, threshold):
    return [t for t in range(1, len(entropies)) if entropies[t - 1] > threshold]


def global_greater_equal(entropies, threshold):
    return [0, 1][: len(entropies)] + [t for t in range(2, len(entropies)) if entropies[t - 1] >= threshold]


def monotonic_no_forced_two(entropies, threshold):
    return [0, 1][: len(entropies)] + [
        t for t in range(3, len(entropies)) if entropies[t - 1] - entropies[t - 2] > threshold
    ]


def monotonic_on_levels(entropies, threshold):
    return global_starts(entropies, threshold)


def monotonic_off_by_one(entropies, threshold):
    forced = list(range(min(len(entropies), 3)))
    return forced + [t for t in range(3, len(entropies) - 1) if entropies[t] - entropies[t - 1] > threshold]


def calibrate_wrong_quantile(entropies, target_patch_size):
    return float(np.quantile(entropies, 1 / target_patch_size))


def calibrate_mean(entropies, target_patch_size):
    return float(np.mean(entropies))


def calibrate_returns_list(entropies, target_patch_size):
    return [calibrate(entropies, target_patch_size)]


def entropy_mean_not_sum(logits):
    log_p = torch.log_softmax(logits.float(), dim=-1)
    return -(log_p.exp() * log_p).mean(-1)


def global_forced_always(entropies, threshold):
    return [0, 1] + [t for t in range(2, len(entropies)) if entropies[t - 1] > threshold]


def global_below_threshold(entropies, threshold):
    return [0, 1][: len(entropies)] + [t for t in range(2, len(entropies)) if entropies[t - 1] < threshold]


def global_as_a_mask(entropies, threshold):
    return np.isin(np.arange(len(entropies)), global_starts(entropies, threshold))


def monotonic_any_change(entropies, threshold):
    forced = list(range(min(len(entropies), 3)))
    return forced + [
        t for t in range(3, len(entropies)) if abs(entropies[t - 1] - entropies[t - 2]) > threshold
    ]


def calibrate_percentile_of_a_fraction(entropies, target_patch_size):
    return float(np.percentile(entropies, 1 - 1 / target_patch_size))


def calibrate_quantile_out_of_range(entropies, target_patch_size):
    return float(np.quantile(entropies, 1 - target_patch_size))


def capped_no_split(entropies, threshold, max_patch_length):
    starts = global_starts(entropies, threshold)
    return [b - a for a, b in zip(starts, [*starts[1:], len(entropies)], strict=True)]


def capped_forgets_the_last_patch(entropies, threshold, max_patch_length):
    starts = global_starts(entropies, threshold)
    return [b - a for a, b in zip(starts, starts[1:], strict=False)]


def capped_remainder_first(entropies, threshold, max_patch_length):
    out = []
    for length in capped_no_split(entropies, threshold, max_patch_length):
        full, rest = divmod(length, max_patch_length)
        out += ([rest] if rest else []) + [max_patch_length] * full
    return out


def capped_zero_remainder(entropies, threshold, max_patch_length):
    out = []
    for length in capped_no_split(entropies, threshold, max_patch_length):
        full, rest = divmod(length, max_patch_length)
        out += [max_patch_length] * full + [rest]
    return out


def capped_on_a_grid(entropies, threshold, max_patch_length):
    n = len(entropies)
    starts = sorted(set(global_starts(entropies, threshold)) | set(range(0, n, max_patch_length)))
    return [b - a for a, b in zip(starts, [*starts[1:], n], strict=True)]


def capped_returns_starts(entropies, threshold, max_patch_length):
    return global_starts(entropies, threshold)


def entropy_without_the_minus(logits):
    log_p = torch.log_softmax(logits.float(), dim=-1)
    return (log_p.exp() * log_p).sum(-1)


def entropy_logits_as_log_p(logits):
    p = torch.softmax(logits.float(), dim=-1)
    return -(p * logits.float()).sum(-1)


def entropy_unweighted(logits):
    return -torch.log_softmax(logits.float(), dim=-1).sum(-1)


def entropy_of_sigmoids(logits):
    p = torch.sigmoid(logits.float())  # no known mistake: the first case's own idea is shown
    return -(p * p.log()).sum(-1)


def entropy_as_numpy(logits):
    return entropy_from_logits(logits).numpy()


def global_token_one_twice(entropies, threshold):
    # The loop starts at token 1, already a forced start: 1 appears twice when entropies[0] is high.
    return [0, 1][: len(entropies)] + [t for t in range(1, len(entropies)) if entropies[t - 1] > threshold]


def global_forced_last(entropies, threshold):
    return [t for t in range(2, len(entropies)) if entropies[t - 1] > threshold] + [0, 1][: len(entropies)]


def global_next_entropy(entropies, threshold):
    return [0, 1][: len(entropies)] + [
        t for t in range(2, len(entropies) - 1) if entropies[t + 1] > threshold
    ]


def global_skips_the_last_token(entropies, threshold):
    return [0, 1][: len(entropies)] + [
        t for t in range(2, len(entropies) - 1) if entropies[t - 1] > threshold
    ]


def monotonic_greater_equal(entropies, threshold):
    forced = list(range(min(len(entropies), 3)))
    return forced + [t for t in range(3, len(entropies)) if entropies[t - 1] - entropies[t - 2] >= threshold]


def calibrate_torch_quantile(entropies, target_patch_size):
    # A 0-dimensional torch tensor is one number too.
    return torch.quantile(torch.from_numpy(entropies), 1 - 1 / target_patch_size)


def capped_cuts_off(entropies, threshold, max_patch_length):
    return [min(n, max_patch_length) for n in capped_no_split(entropies, threshold, max_patch_length)]


# ------------------------------------------------------------------ tests


CORRECT = [
    (checks.entropy_from_logits, entropy_from_logits),
    (checks.global_starts, global_starts),
    (checks.monotonic_starts, monotonic_starts),
    (checks.calibrate, calibrate),
    (checks.capped_lengths, capped_lengths),
    (checks.capped_lengths, checks.reference_capped_lengths),
    (checks.calibrate, calibrate_torch_quantile),
]


@pytest.mark.parametrize(("check", "solution"), CORRECT, ids=[s.__name__ for _, s in CORRECT])
def test_reference_solutions_pass(check, solution, capsys):
    assert check(solution) is None
    assert check(solution, more=True) is None
    assert capsys.readouterr().out.count("✓") == 2


def test_bltlib_itself_passes():
    from bltlib import entropy

    assert checks.entropy_from_logits(entropy.entropy_from_logits, raise_on_fail=False).passed
    assert checks.global_starts(patching.entropy_patch_starts, raise_on_fail=False).passed
    assert checks.calibrate(patching.calibrate_threshold, raise_on_fail=False).passed
    assert checks.monotonic_starts(
        lambda e, th: patching.entropy_patch_starts(e, th, monotonic=True), raise_on_fail=False
    ).passed
    assert checks.capped_lengths(
        lambda e, th, cap: patching.split_long_patches(patching.entropy_patch_lengths(e, th), cap),
        raise_on_fail=False,
    ).passed


def test_numpy_answers_are_accepted():
    def vectorised(entropies, threshold):
        t = np.arange(2, len(entropies))
        return np.concatenate([np.arange(min(len(entropies), 2)), t[entropies[t - 1] > threshold]])

    assert checks.global_starts(vectorised, raise_on_fail=False).passed


MISTAKES = [
    # (check, wrong answer, words of the case it fails on, the idea its hint must name)
    (checks.entropy_from_logits, entropy_in_bits, "uniform over 260", "entropy in nats"),
    (checks.entropy_from_logits, entropy_naive_softmax, "two huge equal logits", "exp overflows"),
    (checks.entropy_from_logits, entropy_softmax_then_log, "a certain prediction", "0 * log 0"),
    (checks.entropy_from_logits, entropy_bytes_only, "uniform over 260", "all 260 classes"),
    (checks.entropy_from_logits, entropy_without_specials, "uniform over 260", "all 260 classes"),
    (
        checks.entropy_from_logits,
        entropy_first_256_when_it_shows,
        "mass on the last four ids: 256-259, bytes 252-255",
        "all 260 classes",
    ),
    (checks.entropy_from_logits, entropy_wrong_axis, "a batch", "one entropy per position"),
    (checks.entropy_from_logits, entropy_mean_not_sum, "uniform over 260", "sum over the classes"),
    (checks.global_starts, global_off_by_one, "one spike", "the entropy of the token before"),
    (checks.global_starts, global_no_forced, "one token", "tokens 0 and 1 always start"),
    (checks.global_starts, global_forced_always, "one token", "starts lie inside the sequence"),
    (checks.global_starts, global_greater_equal, "equal to the threshold", "strictly above"),
    (
        checks.global_starts,
        global_below_threshold,
        "low entropies",
        "a patch starts where the model is unsure",
    ),
    (checks.global_starts, global_as_a_mask, "one token", "return a list of start positions"),
    (checks.monotonic_starts, monotonic_no_forced_two, "three tokens", "tokens 0, 1 and 2 always start"),
    (checks.monotonic_starts, monotonic_on_levels, "three tokens", "a RISE, not a level"),
    (checks.monotonic_starts, monotonic_off_by_one, "one jump", "the rise before the token"),
    (checks.monotonic_starts, monotonic_any_change, "a drop", "a rise, not any change"),
    (checks.calibrate, calibrate_wrong_quantile, "target 4.5", "the fraction ABOVE the threshold"),
    (checks.calibrate, calibrate_mean, "target 4.5", "the threshold depends on the target"),
    (checks.calibrate, calibrate_returns_list, "target 4.5", "return one number"),
    (checks.calibrate, calibrate_percentile_of_a_fraction, "target 4.5", "a fraction, not a percent"),
    (checks.calibrate, calibrate_quantile_out_of_range, "target 4.5", "a fraction, not a percent"),
    (checks.capped_lengths, capped_no_split, "a patch of 4", "no patch longer than max_patch_length"),
    (checks.capped_lengths, capped_forgets_the_last_patch, "one token", "lengths from starts"),
    (checks.capped_lengths, capped_remainder_first, "a patch of 4", "split greedily"),
    (checks.capped_lengths, capped_zero_remainder, "a patch of 6", "no empty patch"),
    (checks.capped_lengths, capped_on_a_grid, "a patch of 6", "count from each patch's own start"),
    (checks.capped_lengths, capped_returns_starts, "one token", "lengths, not starts"),
    (checks.entropy_from_logits, entropy_without_the_minus, "uniform", "the minus sign"),
    (checks.entropy_from_logits, entropy_logits_as_log_p, "uniform", "log-probabilities, not logits"),
    (checks.entropy_from_logits, entropy_unweighted, "uniform", "weight by the probability"),
    (checks.entropy_from_logits, entropy_of_sigmoids, "uniform", "the entropy formula"),
    (checks.entropy_from_logits, entropy_as_numpy, "uniform", "return a tensor"),
    (checks.global_starts, global_token_one_twice, "official BLT", "each start once"),
    (checks.global_starts, global_forced_last, "one spike", "in increasing order"),
    (checks.global_starts, global_next_entropy, "one spike", "the entropy of the token before"),
    (checks.global_starts, global_skips_the_last_token, "equal to the threshold", "up to the last token"),
    (checks.monotonic_starts, monotonic_greater_equal, "a rise equal to the threshold", "strictly above"),
    (checks.capped_lengths, capped_cuts_off, "a patch of 4", "split, do not cut off"),
]
SOLUTIONS = {c.__name__: [s] for c, s in CORRECT[:5]}
SOLUTIONS["calibrate"].append(calibrate_torch_quantile)
SOLUTIONS["capped_lengths"].append(checks.reference_capped_lengths)
for _name, _source in notebook_solutions(NOTEBOOK).items():
    SOLUTIONS.setdefault(_name, []).append(_source)


def _fragments(name):
    return set().union(*(code_fragments(s) for s in SOLUTIONS[name]))


@pytest.mark.parametrize(
    ("check", "wrong", "label", "concept"), MISTAKES, ids=[w.__name__ for _, w, _, _ in MISTAKES]
)
def test_each_mistake_is_named_and_no_solution_line_is_shown(check, wrong, label, concept):
    message, longer, result = assert_names_the_mistake(check, wrong, label, concept, lesson="entropy")
    assert result.idea.name.startswith(concept), message
    assert "call:" in message and len(message) < 1200
    fragments = _fragments(check.__name__)
    for text in (message, longer):
        text = without_the_learners_line(text)
        assert not gives_away(text, fragments), gives_away(text, fragments)
        assert "1 - 1 /" not in text and "1-1/" not in text  # the quantile the exercise asks for


def test_monotonic_rule_on_levels_is_caught_by_the_flat_case():
    # A global rule passed off as monotonic, but with the forced start 2: the "high but flat" case.
    def levels_with_forced_two(entropies, threshold):
        return sorted(set(global_starts(entropies, threshold)) | set(range(min(len(entropies), 3))))

    result = checks.monotonic_starts(levels_with_forced_two, raise_on_fail=False)
    assert (
        not result.passed and "high but flat" in result.message and result.idea.name == "a RISE, not a level"
    )


def test_a_hint_belongs_to_the_mistake_not_to_the_case():
    # Without the forced starts the first case fails: the hint is about the forced starts, not about
    # the sequence's length.
    result = checks.global_starts(global_no_forced, raise_on_fail=False)
    assert result.case_index == 0 and result.idea.name == "tokens 0 and 1 always start"


def test_the_all_classes_hint_names_the_course_ids():
    # The special ids are 0-3 and byte b is id b + 4: the hint must not call ids 256-259 special.
    for wrong in (entropy_bytes_only, entropy_without_specials, entropy_first_256_when_it_shows):
        result = checks.entropy_from_logits(wrong, raise_on_fail=False, more=True)
        text = " ".join(result.message.split())
        assert result.idea.name == "all 260 classes", text
        assert "special ids (0-3)" in text and "byte b is id b + 4" in text, text
        assert "drops four of the 260 classes, whatever they are" in text, text
        assert "special ids 256" not in text and "bytes 252-255" in text, text


def test_inputs_are_summarised_not_dumped():
    message = checks.entropy_from_logits(entropy_bytes_only, raise_on_fail=False).message
    call = next(line for line in message.splitlines() if "call:" in line)
    assert call.endswith("entropy_from_logits(logits=float32 [260] all 0)"), call
    message = checks.calibrate(calibrate_wrong_quantile, raise_on_fail=False).message
    assert "entropies=float64 [5000] from " in message and len(message.splitlines()[1]) < 120


def test_the_exercise_markdown_gives_no_solution_away():
    fragments = set().union(*(_fragments(name) for name in SOLUTIONS))
    for text in markdown_cells(NOTEBOOK):
        assert not gives_away(text, fragments), gives_away(text, fragments)
        assert "1 - 1/" not in text.replace(" ", "").replace("1-1/", "1 - 1/") or "quantile" not in text


def test_not_implemented_points_at_the_stub():
    def stub(entropies, threshold):
        raise NotImplementedError()

    result = checks.global_starts(stub, raise_on_fail=False)
    assert "YOUR CODE HERE" in result.message


def test_calibration_failure_says_what_the_threshold_gives():
    result = checks.calibrate(calibrate_wrong_quantile, raise_on_fail=False)
    assert "patches (" in result.message and "tokens per patch" in result.message


def test_a_wrong_type_is_named_as_the_learner_writes_it():
    assert "not a numpy.ndarray" in checks.entropy_from_logits(entropy_as_numpy, raise_on_fail=False).message

    def floats(entropies, threshold):
        return [float(t) for t in global_starts(entropies, threshold)]

    message = checks.global_starts(floats, raise_on_fail=False).message
    assert "not a list holding a float (0.0)" in " ".join(message.split()), message
