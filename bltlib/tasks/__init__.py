"""Synthetic tasks: passkey retrieval for long context (``passkey``), CUTE-style character tasks
(``chars``), noise on text (``noise``) and their scoring (``scoring``).

Every public name of the submodules is importable from here: ``from bltlib.tasks import
passkey_examples, char_item, apply_noise, wilson_interval``.
"""

from bltlib.tasks.chars import (
    CHAR_TASKS,
    CharItem,
    WordSplit,
    char_item,
    item_text,
    lemma_key,
    random_strings,
    split_words,
    task_applies,
    task_items,
    words_from_text,
)
from bltlib.tasks.noise import NOISES, antspeak, apply_noise, drop, random_case, repeat, uppercase
from bltlib.tasks.passkey import (
    FILLER,
    KEY_AT,
    KEY_TEMPLATE,
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
from bltlib.tasks.scoring import accuracy, exact_match, majority_baseline, normalise_answer, wilson_interval

__all__ = [
    "CHAR_TASKS",
    "FILLER",
    "KEY_AT",
    "KEY_TEMPLATE",
    "NOISES",
    "QUESTION",
    "CharItem",
    "Passkey",
    "WordSplit",
    "accuracy",
    "antspeak",
    "char_item",
    "drop",
    "exact_match",
    "first_key_positions",
    "item_text",
    "lemma_key",
    "majority_baseline",
    "apply_noise",
    "normalise_answer",
    "passkey_accuracy",
    "passkey_answers",
    "passkey_batch",
    "passkey_episode_batch",
    "passkey_example",
    "passkey_examples",
    "passkey_ids",
    "random_case",
    "random_strings",
    "repeat",
    "split_words",
    "task_applies",
    "task_items",
    "text_and_passkey_batch",
    "uppercase",
    "wilson_interval",
    "words_from_text",
]
