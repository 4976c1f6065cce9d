"""Passkey retrieval: exact lengths, the key where asked, determinism, and scoring a model's answers."""

import pytest
import torch

from bltlib.data import decode_bytes_ids, encode_bytes, random_windows
from bltlib.tasks import (
    FILLER,
    QUESTION,
    Passkey,
    first_key_positions,
    passkey_accuracy,
    passkey_answers,
    passkey_batch,
    passkey_episode_batch,
    passkey_example,
    passkey_examples,
    passkey_ids,
    text_and_passkey_batch,
)
from bltlib.transformer import IGNORE_INDEX, TransformerConfig, TransformerLM


@pytest.mark.parametrize("length", [120, 256, 1000, 2048])
@pytest.mark.parametrize("depth", [0.0, 0.3, 0.5, 1.0])
def test_prompt_and_answer_fill_exactly_the_length(length, depth):
    ex = passkey_example(length, depth, seed=7)
    assert len(encode_bytes(ex.prompt)) + len(ex.answer) == length
    assert ex.prompt.endswith(QUESTION)
    assert ex.answer.isdigit() and len(ex.answer) == 5
    # The key is stated where key_offset says, and nowhere else.
    assert ex.prompt[ex.key_offset :].startswith(f"The pass key is {ex.answer}.")
    assert ex.prompt.count(ex.answer) == 2


def test_depth_moves_the_key_through_the_filler_on_sentence_boundaries():
    offsets = [passkey_example(2048, d, seed=1).key_offset for d in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert offsets[0] == 0 and offsets == sorted(offsets) and len(set(offsets)) == 5
    n_filler = len(passkey_example(2048, 1.0, seed=1).prompt) - 60 - len(QUESTION)
    assert abs(offsets[2] - n_filler / 2) < len(FILLER)
    for d in (0.25, 0.5, 0.75):
        prompt = passkey_example(2048, d, seed=1).prompt
        offset = passkey_example(2048, d, seed=1).key_offset
        assert prompt[offset - 2 : offset] == ". "


def test_same_seed_same_example_and_seeds_vary_the_key():
    assert passkey_example(512, 0.4, seed=3) == passkey_example(512, 0.4, seed=3)
    keys = {passkey_example(512, 0.4, seed=s).answer for s in range(20)}
    assert len(keys) > 15
    assert passkey_example(300, 0.5, seed=0, digits=3).answer.isdigit()


def test_examples_grid_and_training_rows():
    exs = passkey_examples(400, [0.0, 0.5, 1.0], trials=4, seed=2)
    assert [e.depth for e in exs] == [0.0] * 4 + [0.5] * 4 + [1.0] * 4
    assert exs == passkey_examples(400, [0.0, 0.5, 1.0], trials=4, seed=2)
    ids = passkey_ids(exs[0])
    assert len(ids) == 400 and decode_bytes_ids(ids).decode() == exs[0].prompt + exs[0].answer
    x, y = passkey_batch(3, 255, torch.Generator().manual_seed(0))
    x2, _ = passkey_batch(3, 255, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (3, 255) and torch.equal(x, x2)
    assert torch.equal(x[:, 1:], y[:, :-1])


def test_masking_hides_exactly_the_first_statement_of_the_key():
    gen = torch.Generator().manual_seed(5)
    x, y = passkey_batch(4, 300, gen, mask_key=True)
    x2, y2 = passkey_batch(4, 300, torch.Generator().manual_seed(5))
    assert torch.equal(x, x2)
    hidden = y == IGNORE_INDEX
    assert torch.equal(y[~hidden], y2[~hidden]) and hidden.sum(dim=1).tolist() == [5] * 4
    for row in range(4):
        text = decode_bytes_ids(x[row]).decode()
        first = text.index("The pass key is ") + len("The pass key is ")  # x has BOS at 0: -1 +1
        assert hidden[row].nonzero().flatten().tolist() == list(range(first, first + 5))
    ex = passkey_example(400, depth=0.7, seed=9)
    assert decode_bytes_ids(passkey_ids(ex)[first_key_positions(ex)]).decode() == ex.answer


def test_episodes_ask_for_each_key_after_a_varied_stretch_of_filler():
    filler = encode_bytes("It is a truth universally acknowledged, that a single man. " * 40, bos=False)
    x, y = passkey_episode_batch(6, 400, torch.Generator().manual_seed(0), filler, max_gap=150)
    assert x.shape == y.shape == (6, 400)
    visible = y != IGNORE_INDEX
    assert torch.equal(x[:, 1:][visible[:, :-1]], y[:, :-1][visible[:, :-1]])  # unmasked: a plain shift
    gaps = []
    for row in range(6):
        text = decode_bytes_ids(x[row]).decode()
        episodes = text.split("The pass key is ")[1:]
        # Each question's answer is the key of the sentence that opened its episode.
        for stated, asked in zip(episodes[0::2], episodes[1::2], strict=False):
            key = stated[:5]
            if len(asked) >= 5:
                assert asked[:5] == key
            gaps.append(len(stated))
        # Every first statement of a key is hidden from the loss, and nothing else is.
        assert int((~visible[row]).sum()) % 5 == 0 and (~visible[row]).sum() >= 5
    assert max(gaps) - min(gaps) > 50  # the distance to copy from varies
    with pytest.raises(ValueError, match="max_gap"):
        passkey_episode_batch(1, 100, torch.Generator(), filler[:50], max_gap=80)


def test_mixed_batch_is_text_then_passkeys_then_episodes_from_one_generator():
    text = encode_bytes("It is a truth universally acknowledged, that a single man. " * 40, bos=False)
    x, y = text_and_passkey_batch(text, 6, 300, torch.Generator().manual_seed(3), 2, 1, max_gap=120)
    gen = torch.Generator().manual_seed(3)
    parts = [
        random_windows(text, 3, 300, gen),
        passkey_batch(2, 300, gen, mask_key=True),
        passkey_episode_batch(1, 300, gen, text, max_gap=120),
    ]
    assert torch.equal(x, torch.cat([p[0] for p in parts])) and torch.equal(
        y, torch.cat([p[1] for p in parts])
    )


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="too short"):
        passkey_example(50, 0.5, seed=0)
    with pytest.raises(ValueError, match="depth"):
        passkey_example(500, 1.5, seed=0)
    with pytest.raises(ValueError, match="digits"):
        passkey_example(500, 0.5, seed=0, digits=0)
    with pytest.raises(ValueError, match="2 answers for 1"):
        passkey_accuracy(["1", "2"], passkey_examples(200, [0.5], trials=1))


class Oracle(torch.nn.Module):
    """A 'model' whose generate() reads the key back from the prompt: it must score 100%."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def generate(self, idx, max_new_tokens, temperature=1.0):
        rows = []
        for row in idx:
            text = decode_bytes_ids(row).decode()
            key = text.split("The pass key is ")[1][:max_new_tokens]
            rows.append(torch.cat([row, encode_bytes(key, bos=False)]))
        return torch.stack(rows)


def test_scoring_an_oracle_and_a_wrong_answer():
    exs = passkey_examples(300, [0.0, 0.5, 1.0], trials=3) + passkey_examples(400, [0.5], trials=2)
    answers = passkey_answers(Oracle(), exs, batch_size=2)
    assert answers == [e.answer for e in exs]
    assert passkey_accuracy(answers, exs) == 1.0
    assert passkey_accuracy(["00000"] * len(exs), exs) < 0.5


def test_a_real_model_answers_with_five_greedy_bytes():
    model = TransformerLM(TransformerConfig(vocab_size=260, dim=16, n_layers=1, n_heads=2, max_seq_len=256))
    exs = passkey_examples(256, [0.5], trials=2)
    answers = passkey_answers(model, exs)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    assert answers == passkey_answers(model, exs)  # greedy: deterministic
    assert isinstance(exs[0], Passkey) and model.training  # the model's mode is restored
