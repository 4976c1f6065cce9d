"""Lesson 5's checks pass correct answers, however written, and name the idea behind each typical mistake
without ever printing a line of the solution."""

import math
import random
from pathlib import Path

import pytest
import torch

from bltlib.charaware import CharLSTMEmbedding
from bltlib.checks import chars as checks
from bltlib.checks.core import code_fragments, gives_away, markdown_cells, notebook_solutions
from bltlib.tasks import CharItem, scoring
from tests.check_messages import assert_names_the_mistake, code_lines

NOTEBOOK = Path(__file__).resolve().parent.parent / "solutions" / "05_char_awareness.ipynb"

# ------------------------------------------------------------------ correct answers, as a learner writes them


def spell_loop(word):
    answer = ""
    for i, letter in enumerate(word):
        if i > 0:
            answer += " "
        answer += letter
    return CharItem("Spell the word: " + word + "\nAnswer:", answer)


def reverse_loop(word):
    backwards = ""
    for letter in word:
        backwards = letter + backwards
    if backwards == word:
        raise ValueError(f"{word!r} is a palindrome")
    return CharItem(f"Reverse the word: {word}\nAnswer:", backwards)


def char_embedding_loop(tokens, byte_emb, lstm, proj):
    # One token at a time, on its own bytes: the LSTM's last hidden state, h_n.
    rows = []
    for token in tokens:
        if not token:
            rows.append(torch.zeros(proj.out_features))
            continue
        ids = torch.tensor([b + 1 for b in token])
        _, (h, _) = lstm(byte_emb(ids)[None])
        rows.append(proj(h[-1, 0]))
    return torch.stack(rows)


def char_embedding_packed(tokens, byte_emb, lstm, proj):
    # Padded batch, packed so that h_n is each token's state after its own last byte.
    lengths = torch.tensor([len(t) for t in tokens])
    table = torch.nn.utils.rnn.pad_sequence(
        [torch.tensor([b + 1 for b in t] or [0]) for t in tokens], batch_first=True
    )
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        byte_emb(table), lengths.clamp(min=1), batch_first=True, enforce_sorted=False
    )
    _, (h, _) = lstm(packed)
    return proj(h[-1] * (lengths > 0)[:, None])


def exact_match_loop(prediction, answer):
    def answer_in(text):
        line = ""
        for c in text:
            if c == "\n":
                break
            line += c
        return line.strip()

    return answer_in(prediction) == answer_in(answer)


def exact_match_partition(prediction, answer):
    return prediction.partition("\n")[0].strip() == answer.partition("\n")[0].strip()


def antspeak_loop(text):
    out = ""
    for i, c in enumerate(text.upper()):
        out += (" " if i else "") + c
    return out


def drop_loop(text, rng, p):
    kept = []
    for c in text:
        draw = rng.random()
        if not draw < p:
            kept.append(c)
    return "".join(kept)


def drop_draws_first(text, rng, p):
    draws = [rng.random() for _ in text]
    return "".join(c for c, d in zip(text, draws, strict=True) if d >= p)


def wilson_formula(successes, n):
    z = 1.96
    p = successes / n
    d = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / d
    half = z / d * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return max(0.0, centre - half) if successes else 0.0, min(1.0, centre + half) if successes < n else 1.0


def wilson_quadratic(successes, n):
    # The roots of (p - x)^2 = z^2 x (1 - x) / n, the interval's definition.
    z2 = 1.96**2
    p = successes / n
    a, b, c = 1 + z2 / n, -(2 * p + z2 / n), p * p
    root = math.sqrt(b * b - 4 * a * c)
    lo, hi = (-b - root) / (2 * a), (-b + root) / (2 * a)
    return (0.0 if successes == 0 else lo, 1.0 if successes == n else hi)


# ------------------------------------------------------------------ typical wrong answers


def spell_unspaced(word):
    return CharItem(f"Spell the word: {word}\nAnswer:", word)


def spell_trailing_space(word):
    return CharItem(f"Spell the word: {word}\nAnswer:", "".join(c + " " for c in word))


def spell_double_spaces(word):
    return CharItem(f"Spell the word: {word}\nAnswer:", "  ".join(word))


def spell_dashes(word):
    return CharItem(f"Spell the word: {word}\nAnswer:", "-".join(word))


def spell_no_cue(word):
    return CharItem(f"Spell the word: {word}", " ".join(word))


def spell_cue_same_line(word):
    return CharItem(f"Spell the word: {word} Answer:", " ".join(word))


def spell_space_after_cue(word):
    return CharItem(f"Spell the word: {word}\nAnswer: ", " ".join(word))


def spell_leading_space(word):
    return CharItem(f"Spell the word: {word}\nAnswer:", " " + " ".join(word))


def spell_newline_answer(word):
    return CharItem(f"Spell the word: {word}\nAnswer:", " ".join(word) + "\n")


def spell_tuple(word):
    return f"Spell the word: {word}\nAnswer:", " ".join(word)


def spell_prompt_no_colon(word):
    return CharItem(f"Spell the word {word}\nAnswer:", " ".join(word))


def spell_cue_no_colon(word):
    return CharItem(f"Spell the word: {word}\nAnswer", " ".join(word))


def reverse_palindromes_allowed(word):
    return CharItem(f"Reverse the word: {word}\nAnswer:", word[::-1])


def reverse_ends_only(word):
    if word[0] == word[-1]:
        raise ValueError("palindrome")
    return reverse_palindromes_allowed(word)


def reverse_one_letter_allowed(word):
    if len(word) > 1 and word == word[::-1]:
        raise ValueError("palindrome")
    return reverse_palindromes_allowed(word)


def reverse_returns_none(word):
    if word == word[::-1]:
        return None
    return reverse_palindromes_allowed(word)


def reverse_asserts(word):
    assert word != word[::-1], "palindrome"
    return reverse_palindromes_allowed(word)


def reverse_spelled(word):
    if word == word[::-1]:
        raise ValueError("palindrome")
    return CharItem(f"Reverse the word: {word}\nAnswer:", " ".join(reversed(word)))


def reverse_no_cue(word):
    if word == word[::-1]:
        raise ValueError("palindrome")
    return CharItem(f"Reverse the word: {word}", word[::-1])


def reverse_refuses_everything(word):
    raise ValueError("no")


def reverse_prompt_lowercase(word):
    if word == word[::-1]:
        raise ValueError("palindrome")
    return CharItem(f"reverse the word: {word}\nAnswer:", word[::-1])


def _table(tokens, offset=1):
    lengths = torch.tensor([len(t) for t in tokens])
    table = torch.zeros(len(tokens), max(1, int(lengths.max())), dtype=torch.long)
    for i, t in enumerate(tokens):
        table[i, : len(t)] = torch.tensor(list(t), dtype=torch.long) + offset
    return table, lengths


def char_embedding_padded_step(tokens, byte_emb, lstm, proj):
    table, lengths = _table(tokens)
    out, _ = lstm(byte_emb(table))
    return proj(out[:, -1] * (lengths > 0)[:, None])


def char_embedding_h_n_of_padded(tokens, byte_emb, lstm, proj):
    table, lengths = _table(tokens)
    _, (h, _) = lstm(byte_emb(table))
    return proj(h[-1] * (lengths > 0)[:, None])


def char_embedding_mean(tokens, byte_emb, lstm, proj):
    table, lengths = _table(tokens)
    out, _ = lstm(byte_emb(table))
    real = (table > 0)[..., None]
    return proj((out * real).sum(1) / lengths.clamp(min=1)[:, None])


def char_embedding_sum(tokens, byte_emb, lstm, proj):
    table, _ = _table(tokens)
    out, _ = lstm(byte_emb(table))
    return proj((out * (table > 0)[..., None]).sum(1))


def char_embedding_no_offset(tokens, byte_emb, lstm, proj):
    rows = []
    for token in tokens:
        if not token:
            rows.append(torch.zeros(proj.out_features))
            continue
        _, (h, _) = lstm(byte_emb(torch.tensor(list(token)))[None])
        rows.append(proj(h[-1, 0]))
    return torch.stack(rows)


def char_embedding_no_proj(tokens, byte_emb, lstm, proj):
    table, lengths = _table(tokens)
    out, _ = lstm(byte_emb(table))
    return out[torch.arange(len(tokens)), (lengths - 1).clamp(min=0)] * (lengths > 0)[:, None]


def char_embedding_cell_state(tokens, byte_emb, lstm, proj):
    rows = []
    for token in tokens:
        if not token:
            rows.append(torch.zeros(proj.out_features))
            continue
        _, (_, c) = lstm(byte_emb(torch.tensor([b + 1 for b in token]))[None])
        rows.append(proj(c[-1, 0]))
    return torch.stack(rows)


def char_embedding_reversed(tokens, byte_emb, lstm, proj):
    return char_embedding_loop([t[::-1] for t in tokens], byte_emb, lstm, proj)


def char_embedding_empty_not_zero(tokens, byte_emb, lstm, proj):
    table, lengths = _table(tokens)
    out, _ = lstm(byte_emb(table))
    return proj(out[torch.arange(len(tokens)), (lengths - 1).clamp(min=0)])


def char_embedding_characters(tokens, byte_emb, lstm, proj):
    # The code points of the decoded text (ord(ch) for ch in token.decode()), one step per character.
    return char_embedding_loop([[ord(ch) for ch in t.decode()] for t in tokens], byte_emb, lstm, proj)


def char_embedding_list(tokens, byte_emb, lstm, proj):
    return list(char_embedding_loop(tokens, byte_emb, lstm, proj))


def exact_match_plain(prediction, answer):
    return prediction == answer


def exact_match_no_strip(prediction, answer):
    return prediction.split("\n")[0] == answer


def exact_match_no_cut(prediction, answer):
    return prediction.strip() == answer.strip()


def exact_match_strip_then_cut(prediction, answer):
    return prediction.strip().split("\n")[0] == answer.strip().split("\n")[0]


def exact_match_any_case(prediction, answer):
    return prediction.split("\n")[0].strip().lower() == answer.strip().lower()


def exact_match_no_spaces(prediction, answer):
    return prediction.split("\n")[0].replace(" ", "") == answer.replace(" ", "")


def exact_match_first_word(prediction, answer):
    return prediction.split()[0] == answer


def exact_match_contains(prediction, answer):
    return answer in prediction.split("\n")[0]


def exact_match_prefix(prediction, answer):
    return prediction.split("\n")[0].strip().startswith(answer)


def exact_match_answer_raw(prediction, answer):
    return prediction.split("\n")[0].strip() == answer


def exact_match_lstrip(prediction, answer):
    return prediction.split("\n")[0].lstrip() == answer.split("\n")[0].lstrip()


def exact_match_int(prediction, answer):
    return int(prediction.split("\n")[0].strip() == answer.strip())


def antspeak_lower(text):
    return " ".join(text)


def antspeak_no_spaces(text):
    return " ".join(text.upper().replace(" ", ""))


def antspeak_words(text):
    return "   ".join(" ".join(word) for word in text.upper().split())


def antspeak_trailing(text):
    return "".join(c + " " for c in text.upper())


def antspeak_title(text):
    return " ".join(text.title())


def antspeak_stripped(text):
    return text.upper().replace("", " ").strip()


def antspeak_rstripped(text):
    return " ".join(text.upper()).rstrip()


def antspeak_list(text):
    return list(" ".join(text.upper()))


def drop_inverted(text, rng, p):
    return "".join(c for c in text if rng.random() < p)


def drop_keep_below_one_minus_p(text, rng, p):
    return "".join(c for c in text if rng.random() < 1 - p)


def drop_skips_spaces(text, rng, p):
    return "".join(c if c == " " or rng.random() >= p else "" for c in text)


def drop_fixed_count(text, rng, p):
    gone = rng.sample(range(len(text)), round(p * len(text)))
    return "".join(c for i, c in enumerate(text) if i not in gone)


def drop_global_random(text, rng, p):
    return "".join(c for c in text if random.Random(12345).random() >= p)


def wilson_wald(successes, n):
    p = successes / n
    half = 1.96 * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


def wilson_wald_clipped(successes, n):
    lo, hi = wilson_wald(successes, n)
    return max(0.0, lo), min(1.0, hi)


def wilson_z_90(successes, n):
    return _wilson_raw(successes, n, z=1.645)


def wilson_z_2(successes, n):
    return _wilson_raw(successes, n, z=2)


def _wilson_raw(successes, n, z=1.96):
    p = successes / n
    d = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / d
    half = z / d * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def wilson_no_denominator(successes, n):
    z = 1.96
    p = successes / n
    centre = p + z**2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def wilson_no_correction(successes, n):
    z = 1.96
    p = successes / n
    d = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / d
    half = z / d * math.sqrt(p * (1 - p) / n)
    return centre - half, centre + half


def wilson_rounding_left(successes, n):
    # The formula as it stands, computed in another order: the ends are a hair off 0 and 1.
    z = 1.96
    p = successes / n
    d = 1 + z * z / n
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (p + z * z / (2 * n) - spread) / d, (p + z * z / (2 * n) + spread) / d


def wilson_rounded(successes, n):
    lo, hi = wilson_formula(successes, n)
    return round(lo, 3), round(hi, 3)


def wilson_rounded_z2(successes, n):
    # z^2 written as 3.84: every bound a little off, none of them rounded.
    p = successes / n
    d = 1 + 3.84 / n
    centre = (p + 3.84 / (2 * n)) / d
    half = 1.96 / d * math.sqrt(p * (1 - p) / n + 3.84 / (4 * n**2))
    return max(0.0, centre - half) if successes else 0.0, min(1.0, centre + half) if successes < n else 1.0


def wilson_list(successes, n):
    return list(scoring.wilson_interval(successes, n))


# ------------------------------------------------------------------ solution lines no message may show


SOLUTIONS = {
    "spell_item": [spell_loop],
    "reverse_item": [reverse_loop],
    "char_embedding": [char_embedding_loop, char_embedding_packed],
    "exact_match": [exact_match_loop, exact_match_partition],
    "antspeak": [antspeak_loop],
    "drop": [drop_loop, drop_draws_first],
    "wilson": [wilson_formula, wilson_quadratic],
}
NOTEBOOK_SOLUTIONS = notebook_solutions(NOTEBOOK)


def _fragments(name):
    """What no message may show: the code of the answers above and of the notebook's solution cell."""
    return set().union(*(code_fragments(s) for s in [*SOLUTIONS[name], NOTEBOOK_SOLUTIONS[name]]))


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize(
    ("check", "solution"),
    [
        (checks.spell_item, checks.reference_spell_item),
        (checks.spell_item, spell_loop),
        (checks.reverse_item, checks.reference_reverse_item),
        (checks.reverse_item, reverse_loop),
        (checks.char_embedding, checks.reference_char_embedding),
        (checks.char_embedding, char_embedding_loop),
        (checks.char_embedding, char_embedding_packed),
        (checks.exact_match, checks.reference_exact_match),
        (checks.exact_match, exact_match_loop),
        (checks.exact_match, exact_match_partition),
        (checks.antspeak, checks.reference_antspeak),
        (checks.antspeak, antspeak_loop),
        (checks.drop, checks.reference_drop),
        (checks.drop, drop_loop),
        (checks.drop, drop_draws_first),
        (checks.wilson, checks.reference_wilson),
        (checks.wilson, wilson_formula),
        (checks.wilson, wilson_quadratic),
    ],
)
def test_correct_answers_pass(check, solution, capsys):
    assert check(solution) is None  # the notebook form: the pass line, nothing displayed under it
    assert capsys.readouterr().out.startswith(f"✓ {check.__name__}: all ")


def test_the_references_are_bltlibs():
    rng = random.Random(0)
    for word in ("cat", "stressed", "balloon"):
        assert checks.reference_spell_item(word) == checks.char_item("spell", word, rng)
        assert checks.reference_reverse_item(word).answer == word[::-1]
    with pytest.raises(ValueError):
        checks.reference_reverse_item("level")
    tokens = [b"a", b" the", b"", " café".encode()]
    module = CharLSTMEmbedding(tokens, dim=6, char_dim=4, hidden=5)
    with torch.no_grad():
        expected = module(torch.arange(4)[None])[0]
        mine = char_embedding_loop(tokens, module.byte_emb, module.lstm, module.proj)
    assert torch.allclose(mine, expected, atol=1e-6)
    assert torch.allclose(
        checks.reference_char_embedding(tokens, module.byte_emb, module.lstm, module.proj), mine
    )
    preds, answers = [" esuoh\nReverse", "\nYes", " h o u s e"], ["esuoh", "Yes", "house"]
    assert [checks.reference_exact_match(p, a) for p, a in zip(preds, answers, strict=True)] == (
        scoring.exact_match(preds, answers)
    )


def test_the_checks_leave_the_learners_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.char_embedding(checks.reference_char_embedding)
    assert torch.equal(torch.rand(3), expected)


MISTAKES = [
    # (check, wrong answer, words of the first line, words the hint must contain)
    (checks.spell_item, spell_unspaced, "a short word", "separated by spaces"),
    (checks.spell_item, spell_trailing_space, "a short word", "BETWEEN letters"),
    (checks.spell_item, spell_double_spaces, "a short word", "BETWEEN letters"),
    (checks.spell_item, spell_dashes, "a short word", "separated by spaces"),
    (checks.spell_item, spell_no_cue, "a short word", "answer cue"),
    (checks.spell_item, spell_cue_same_line, "a short word", "on its own line"),
    (checks.spell_item, spell_space_after_cue, "a short word", "ends with 'Answer:'"),
    (checks.spell_item, spell_leading_space, "a short word", "no leading space"),
    (checks.spell_item, spell_newline_answer, "a short word", "no newline in the answer"),
    (checks.spell_item, spell_tuple, "a short word", "return a CharItem"),
    (
        checks.spell_item,
        spell_prompt_no_colon,
        "a short word",
        "after 'Spell the word': expected ':', got ' '",
    ),
    (checks.spell_item, spell_cue_no_colon, "a short word", "expected ':', got the end of the prompt"),
    (checks.reverse_item, reverse_palindromes_allowed, "a palindrome", "no palindromes"),
    (checks.reverse_item, reverse_ends_only, "not a palindrome", "every letter"),
    (checks.reverse_item, reverse_one_letter_allowed, "one letter", "one letter is a palindrome"),
    (checks.reverse_item, reverse_returns_none, "a palindrome", "raise a ValueError"),
    (checks.reverse_item, reverse_asserts, "a palindrome", "not AssertionError"),
    (checks.reverse_item, reverse_spelled, "a short word", "reversed WORD"),
    (checks.reverse_item, reverse_no_cue, "a short word", "answer cue"),
    (checks.reverse_item, reverse_refuses_everything, "a short word", "only palindromes"),
    (checks.reverse_item, reverse_prompt_lowercase, "a short word", "at its start: expected 'R', got 'r'"),
    (checks.char_embedding, char_embedding_no_offset, "one byte", "row b + 1"),
    (checks.char_embedding, char_embedding_no_proj, "one byte", "project to the model width"),
    (checks.char_embedding, char_embedding_cell_state, "one byte", "HIDDEN state"),
    (checks.char_embedding, char_embedding_reversed, "3 bytes", "bytes in order"),
    (checks.char_embedding, char_embedding_mean, "3 bytes", "FINAL state"),
    (checks.char_embedding, char_embedding_sum, "3 bytes", "FINAL state"),
    (checks.char_embedding, char_embedding_padded_step, "padding", "LAST BYTE"),
    (checks.char_embedding, char_embedding_h_n_of_padded, "padding", "LAST BYTE"),
    (checks.char_embedding, char_embedding_empty_not_zero, "no bytes", "a token with no bytes"),
    (checks.char_embedding, char_embedding_characters, "2-byte character", "bytes (UTF-8)"),
    (checks.char_embedding, char_embedding_list, "one byte", "torch tensor"),
    (checks.exact_match, exact_match_plain, "a space before", "strip the answer"),
    (checks.exact_match, exact_match_no_strip, "a space before", "strip the answer"),
    (checks.exact_match, exact_match_no_cut, "after the newline", "cut at the first newline"),
    (checks.exact_match, exact_match_any_case, "upper-case letter", "case matters"),
    (checks.exact_match, exact_match_first_word, "spaces inside", "not the first word"),
    (checks.exact_match, exact_match_no_spaces, "without their spaces", "only the ENDS"),
    (checks.exact_match, exact_match_strip_then_cut, "a newline first", "cut first"),
    (checks.exact_match, exact_match_contains, "more than the answer", "exact, not"),
    (checks.exact_match, exact_match_prefix, "more than the answer", "exact, not"),
    (checks.exact_match, exact_match_answer_raw, "normalised too", "same rule for both"),
    (checks.exact_match, exact_match_lstrip, "a space after", "strip both ends"),
    (checks.exact_match, exact_match_int, "the very answer", "Python bool"),
    (checks.antspeak, antspeak_lower, "one word", "upper case"),
    (checks.antspeak, antspeak_title, "one word", "upper case"),
    (checks.antspeak, antspeak_trailing, "one word", "BETWEEN characters"),
    (checks.antspeak, antspeak_no_spaces, "two words", "a space is a character too"),
    (checks.antspeak, antspeak_words, "newlines", "don't split the text into words"),
    (checks.antspeak, antspeak_stripped, "a newline at the end", "part of the text"),
    (checks.antspeak, antspeak_rstripped, "a newline at the end", "part of the text"),
    (checks.antspeak, antspeak_list, "one word", "return a str"),
    (checks.drop, drop_inverted, "nothing goes", "BELOW p deletes"),
    (checks.drop, drop_keep_below_one_minus_p, "p = 0.5", "below 1 - p"),
    (checks.drop, drop_skips_spaces, "spaces", "EVERY character"),
    (checks.drop, drop_fixed_count, "p = 0.5", "each character on its own"),
    (checks.drop, drop_global_random, "p = 0.5", "the rng you are given"),
    (checks.wilson, wilson_wald, "8 of 10", "not the normal interval"),
    (checks.wilson, wilson_wald_clipped, "8 of 10", "not the normal interval"),
    (checks.wilson, wilson_z_90, "8 of 10", "90%"),
    (checks.wilson, wilson_z_2, "8 of 10", "not the rounded 2"),
    (checks.wilson, wilson_no_denominator, "8 of 10", "1 + z^2/n"),
    (checks.wilson, wilson_no_correction, "8 of 10", "z^2/(4n^2) term"),
    (checks.wilson, wilson_rounding_left, "no success", "exactly 0 and 1"),
    (checks.wilson, wilson_rounded, "8 of 10", "do not round"),
    (checks.wilson, wilson_rounded_z2, "8 of 10", "do not round"),
    (checks.wilson, wilson_list, "8 of 10", "return a tuple"),
]


@pytest.mark.parametrize(
    ("check", "wrong", "case", "concept"), MISTAKES, ids=[wrong.__name__ for _, wrong, _, _ in MISTAKES]
)
def test_each_mistake_is_named_and_no_solution_line_is_shown(check, wrong, case, concept):
    message, longer, _ = assert_names_the_mistake(check, wrong, case, concept, lesson="chars")
    assert len(message) < 800, (len(message), message)
    assert all(len(line) <= 200 for line in message.splitlines()[1:]), message
    for solution in SOLUTIONS[check.__name__]:
        for line in code_lines(solution):
            assert line not in message, (line, message)
    for text in (message, longer):
        assert not gives_away(text, _fragments(check.__name__)), gives_away(text, _fragments(check.__name__))


def test_the_notebook_has_a_solution_for_every_check():
    assert set(NOTEBOOK_SOLUTIONS) == set(SOLUTIONS)


def test_the_exercise_text_says_the_check_compares_at_full_precision():
    # The worked example shows the interval to 3 decimals; the text says that is for reading only.
    text = " ".join(" ".join(cell.split()) for cell in markdown_cells(NOTEBOOK))
    assert "(0.490, 0.943)" in text and "at full precision (within 1e-9)" in text


def test_the_exercise_markdown_gives_no_solution_away():
    fragments = set().union(*(_fragments(name) for name in SOLUTIONS))
    for text in markdown_cells(NOTEBOOK):
        assert not gives_away(text, fragments), gives_away(text, fragments)


@pytest.mark.parametrize(
    ("check", "wrong"),
    [
        (checks.spell_item, spell_leading_space),
        (checks.reverse_item, reverse_ends_only),
        (checks.char_embedding, char_embedding_padded_step),
        (checks.exact_match, exact_match_strip_then_cut),
        (checks.antspeak, antspeak_words),
        (checks.drop, drop_skips_spaces),
        (checks.wilson, wilson_rounding_left),
    ],
)
def test_more_explains_with_an_example_and_every_case(check, wrong):
    short = check(wrong, raise_on_fail=False)
    long = check(wrong, raise_on_fail=False, more=True)
    assert f"more help: checks.chars.{check.__name__}({wrong.__name__}, more=True)" in short.message
    assert "more:" in long.message and "cases:" in long.message and "more help" not in long.message
    verdicts = long.message[long.message.index("cases:") :]
    assert verdicts.count("✓") + verdicts.count("✗") == long.n_cases
    for solution in SOLUTIONS[check.__name__]:
        for line in code_lines(solution):
            assert line not in long.message, (line, long.message)


def test_a_hint_belongs_to_the_mistake_not_to_the_case():
    # The same first case fails differently wrong answers with different explanations.
    results = [
        checks.spell_item(w, raise_on_fail=False) for w in (spell_unspaced, spell_no_cue, spell_leading_space)
    ]
    assert all(r.case_index == 0 for r in results)
    assert len({r.idea.name for r in results}) == 3
    results = [
        checks.wilson(w, raise_on_fail=False) for w in (wilson_wald, wilson_z_90, wilson_no_denominator)
    ]
    assert all(r.case_index == 0 for r in results) and len({r.idea.name for r in results}) == 3


def test_inputs_are_summarised_readably():
    result = checks.drop(drop_global_random, raise_on_fail=False)
    assert "rng=random.Random(0)" in result.message
    result = checks.char_embedding(char_embedding_padded_step, raise_on_fail=False)
    call = next(line for line in result.message.splitlines() if "call:" in line)
    assert "proj=Linear(5, 4, bias=False)" in call and "tokens=[b'a', b' the', b'cat']" in call
    result = checks.reverse_item(reverse_palindromes_allowed, raise_on_fail=False)
    assert "expected a ValueError" in result.message


def test_the_stub_and_crashes_are_explained():
    def stub(*args):
        raise NotImplementedError()

    for check in (
        checks.spell_item,
        checks.reverse_item,
        checks.char_embedding,
        checks.exact_match,
        checks.antspeak,
        checks.drop,
        checks.wilson,
    ):
        result = check(stub, raise_on_fail=False)
        assert not result.passed and "YOUR CODE HERE" in result.message, result.message
        assert "expected a function" in check(None, raise_on_fail=False).message

    def crashes(word):
        return CharItem(f"Reverse the word: {word}\nAnswer:", word[::-1][5])

    result = checks.reverse_item(crashes, raise_on_fail=False)
    assert "raised:   IndexError" in result.message and "word[::-1][5]" in result.message


def test_the_lesson_loads_lazily():
    from bltlib import checks as package

    assert package.chars is checks
