"""The generation timeline's plain functions, its figure and its widget, driven without a browser."""

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bltlib.blt import BLT, Generation, load_blt
from bltlib.viz.blt_explorer import CONTINUATION
from bltlib.viz.generation_timeline import (
    INVALID,
    TRACES,
    Counters,
    byte_chars,
    counters_html,
    generation_timeline,
    resolve_threshold,
    timeline_data,
    timeline_figure,
)


@functools.cache
def shipped() -> BLT:
    return load_blt()


@functools.cache
def generated(prompt: str, n: int) -> Generation:
    return shipped().generate(prompt, n)


def hand_made() -> Generation:
    """[BOS] "Hé" + "a人" with patches [BOS] | H é | a 人: positions 0 .. 7, entropies of positions 0 .. 6."""
    return Generation(
        prompt="Hé".encode(),  # positions 1 (H), 2 and 3 (é)
        bytes="a人".encode(),  # positions 4 (a), 5, 6 and 7 (人)
        patch_lengths=[1, 3, 4],
        entropies=[4.0, 0.2, 0.3, 2.5, 0.4, 0.1, 0.2],
        latent_positions=[0, 3],
        counts={"entropy model": 7, "encoder": 7, "latent model": 2, "decoder": 7},
        seconds=[0.5, 0.1, 0.1, 0.1],
    )


def test_hand_made_generation_is_laid_out_per_position():
    data = timeline_data(hand_made(), threshold=2.0)
    assert data.positions == list(range(8))  # the whole prompt fits: [BOS] shown too
    assert data.chars == ["BOS", "H", "é", CONTINUATION, "a", "人", CONTINUATION, CONTINUATION]
    assert data.byte_values == [None, *"Hé".encode(), *"a人".encode()]
    assert data.entropies == [4.0, 0.2, 0.3, 2.5, 0.4, 0.1, 0.2, None]  # the last byte was never processed
    assert data.latent_after == [True, False, False, True, False, False, False, False]
    assert data.patch_index == [0, 1, 1, 1, 2, 2, 2, 2]
    assert data.generated == [False] * 4 + [True] * 4
    assert (data.threshold, data.prompt_positions, data.new_bytes, data.hidden_prompt_bytes) == (2.0, 4, 4, 0)
    # The prompt's pass reads positions 0 .. 3 (and closes 2 patches) and predicts new byte 1; each
    # later byte costs one step on the byte before it.
    assert data.counters == [
        Counters(0, 4, 2, 0.0),
        Counters(1, 4, 2, 0.5),
        Counters(2, 5, 2, pytest.approx(0.6)),
        Counters(3, 6, 2, pytest.approx(0.7)),
        Counters(4, 7, 2, pytest.approx(0.8)),
    ]
    assert data.summary(0) == "the prompt, read at once: 4 positions, 2 latent steps"
    assert data.summary(4) == "after 4 of 4 new bytes: 3 entropy/encoder/decoder steps, 0 latent steps"
    assert counters_html(data, 3).startswith(
        "<b>after 3 of 4 new bytes</b>: entropy model, encoder, decoder: 4 prompt positions + 2 steps each"
    )


def test_only_the_last_prompt_bytes_are_shown():
    data = timeline_data(hand_made(), show_prompt_bytes=1)
    # The window starts on é's second byte: still labelled as a continuation, not as a broken byte.
    assert data.positions == [3, 4, 5, 6, 7] and data.hidden_prompt_bytes == 2
    assert data.chars[0] == CONTINUATION and data.patch_index == [1, 2, 2, 2, 2]
    assert timeline_data(hand_made(), show_prompt_bytes=0).positions == [4, 5, 6, 7]
    assert timeline_data(hand_made(), show_prompt_bytes=2).positions[0] == 2  # [BOS] and H hidden
    assert timeline_data(hand_made(), show_prompt_bytes=3).positions[0] == 0


def test_byte_chars_name_characters_never_hex():
    assert byte_chars(b"a b\n\t") == ["a", "·", "b", "↵", "→"]
    assert byte_chars("😀!".encode()) == ["😀", CONTINUATION, CONTINUATION, CONTINUATION, "!"]
    # Bytes of no valid character: a stray continuation, a cut character, an invalid lead byte.
    assert byte_chars(b"\x80x" + "人".encode()[:2] + b"\xff") == [INVALID, "x", INVALID, INVALID, INVALID]
    assert byte_chars(b"") == []


def test_a_real_generation_closes_patches_where_entropy_exceeds_the_threshold():
    model = shipped()
    threshold = model.patcher.threshold
    for prompt, n in (("It is a truth universally", 60), ("Всеобщая декларация 人人生而", 30)):
        g = generated(prompt, n)
        data = timeline_data(g, show_prompt_bytes=1000, threshold=model)
        assert data.threshold == threshold and data.positions == list(range(1 + len(g.prompt) + len(g.bytes)))
        expected = [
            p == 0 or (e is not None and e > threshold)
            for p, e in zip(data.positions, data.entropies, strict=True)
        ]
        assert data.latent_after == expected
        assert data.latent_after[0] and 0 < sum(data.latent_after) < len(data.positions) - 1
        # A patch starts right after each latent step, and only there.
        for i in range(1, len(data.positions)):
            assert data.patch_index[i] == data.patch_index[i - 1] + data.latent_after[i - 1]
        # The counters end where the cached generation's own counts do (it ran to max_new_bytes).
        last = data.counters[-1]
        assert len(g.bytes) == n and last.new_bytes == n
        assert last.positions == g.counts["entropy model"] == g.counts["encoder"] == g.counts["decoder"]
        assert last.latent_steps == g.counts["latent model"] == len(g.latent_positions)
        assert last.seconds == pytest.approx(sum(g.seconds))
        # Non-Latin text is shown as its characters.
        assert "".join(c for c in data.chars if c != CONTINUATION).startswith(
            "BOS" + prompt.replace(" ", "·")
        )


def test_the_figure_hides_the_bytes_after_upto():
    model = shipped()
    g = generated("It is a truth universally", 60)
    data = timeline_data(g, threshold=model)
    full = timeline_figure(g, model)
    assert [t.name for t in full.data] == list(TRACES)
    assert list(full.data[TRACES.index("bytes")].text) == data.chars
    n_prompt = data.prompt_positions
    for k in (0, 1, 2, 37, 60):
        fig = timeline_figure(g, model, upto=k)
        traces = {t.name: t for t in fig.data}
        shown = data.chars[: len(data.chars) - 60 + k]
        assert list(traces["bytes"].text) == shown and len(traces["patches"].x) == len(shown)
        # Entropies and latent steps of the positions processed by then: [BOS] + prompt, then one per byte.
        done = n_prompt + max(k - 1, 0)
        assert max(traces["entropy"].x) == done - 1
        assert list(traces["entropy"].y) == [
            e for p, e in zip(data.positions, data.entropies, strict=True) if p < done
        ]
        closed = [
            p + 0.5 for p, flag in zip(data.positions, data.latent_after, strict=True) if flag and p < done
        ]
        assert list(traces["latent step"].x) == closed
        assert data.summary(k) in fig.layout.title.text
        # The axes are the whole generation's whatever the step: no rescaling while stepping.
        assert fig.layout.xaxis.range == full.layout.xaxis.range
        assert fig.layout.yaxis.range == full.layout.yaxis.range
    title = timeline_figure(g, model, upto=37).layout.title.text
    steps = data.counters[37].latent_steps - data.counters[0].latent_steps
    assert f"after 37 of 60 new bytes: 36 entropy/encoder/decoder steps, {steps} latent steps" in title
    assert list(full.data[TRACES.index("threshold")].y) == [model.patcher.threshold] * 2


def test_the_figure_draws_non_latin_text():
    g = generated("Всеобщая декларация 人人生而", 30)
    fig = timeline_figure(g, shipped().patcher)
    labels = set(fig.data[TRACES.index("bytes")].text)
    assert {"я", "人", "生", CONTINUATION} <= labels and not any("0x" in s or "\\x" in s for s in labels)
    assert "人 (0xE4)" in " ".join(fig.data[TRACES.index("patches")].hovertext)


def test_the_widget_steps_through_the_generation_in_place():
    model = shipped()
    g = generated("It is a truth universally", 60)
    box = generation_timeline(g, model)
    figure = box.figure
    assert box.slider.value == box.play.value == 60 and box.slider.max == box.play.max == 60
    assert box.counters.value == counters_html(box.data, 60)
    for k in (0, 5, 37, 60, 1):
        box.slider.value = k
        assert box.figure is figure  # updated in place, never re-created
        expected = timeline_figure(g, model, upto=k)
        for trace, want in zip(box.figure.data, expected.data, strict=True):
            assert trace.name == want.name
            assert list(trace.x) == list(want.x) and list(trace.y) == list(want.y), (k, trace.name)
        assert list(box.figure.data[TRACES.index("bytes")].text) == list(expected.data[-1].text)
        assert box.figure.layout.title.text == expected.layout.title.text
        assert box.counters.value == counters_html(box.data, k)
        assert f"after {k} of 60 new bytes" in box.counters.value
    # The threshold may be given as nats, the patcher, or the model.
    for threshold in (model.patcher.threshold, model.patcher):
        assert generation_timeline(g, threshold).data.threshold == model.patcher.threshold


def test_bad_input_is_explained():
    g = hand_made()
    for upto in (5, -1):
        with pytest.raises(ValueError, match=r"upto must be in \[0, 4\]"):
            timeline_figure(g, 2.0, upto=upto)
    for upto in (1.5, True, "3"):
        with pytest.raises(TypeError, match="upto must be an int"):
            timeline_figure(g, 2.0, upto=upto)
    with pytest.raises(ValueError, match="needs the entropy threshold"):
        timeline_figure(g)
    with pytest.raises(ValueError, match="needs the entropy threshold"):
        generation_timeline(g)
    with pytest.raises(TypeError, match="threshold must be a number"):
        timeline_data(g, threshold="high")
    with pytest.raises(ValueError, match="finite"):
        resolve_threshold(float("nan"))
    with pytest.raises(ValueError, match="show_prompt_bytes"):
        timeline_data(g, show_prompt_bytes=-1)
    broken = Generation(g.prompt, g.bytes, [1, 3, 3], g.entropies, g.latent_positions, {}, g.seconds)
    with pytest.raises(ValueError, match="sum to 1 \\+ 3 prompt bytes \\+ 4 new bytes = 8"):
        timeline_data(broken)
    short = Generation(g.prompt, g.bytes, g.patch_lengths, g.entropies[:3], g.latent_positions, {}, g.seconds)
    with pytest.raises(ValueError, match="expected 7 entropies"):
        timeline_data(short)


@settings(max_examples=60, deadline=None)
@given(
    prompt=st.binary(min_size=1, max_size=12),
    new=st.binary(max_size=12),
    closes=st.lists(st.booleans(), min_size=24, max_size=24),
    show=st.integers(0, 14),
    upto=st.integers(0, 12),
)
def test_any_generation_gives_consistent_frames(prompt, new, closes, show, upto):
    n = 1 + len(prompt) + len(new)
    latent = [p for p in range(n - 1) if p == 0 or closes[p]]
    starts = [0, *(p + 1 for p in latent)]
    lengths = [b - a for a, b in zip(starts, [*starts[1:], n], strict=True)]
    g = Generation(prompt, new, lengths, [1.0] * (n - 1), latent, {}, [0.01] * len(new))
    data = timeline_data(g, show_prompt_bytes=show, threshold=0.5)
    expected = n if show >= len(prompt) else max(1, show + len(new))  # [BOS] only with the whole prompt
    assert len(data.chars) == len(data.positions) == len(data.patch_index) == expected
    assert data.positions[-1] == n - 1 and data.generated.count(True) == len(new)
    assert [c.positions for c in data.counters] == sorted(c.positions for c in data.counters)
    upto = min(upto, len(new))
    fig = timeline_figure(data, upto=upto)
    assert len(fig.data[TRACES.index("bytes")].text) == len(data.positions) - len(new) + upto


def test_a_generation_without_entropy_model_needs_no_threshold():
    g = hand_made()
    static = Generation(g.prompt, g.bytes, g.patch_lengths, [], g.latent_positions, {}, g.seconds)
    fig = timeline_figure(static, upto=2)
    traces = {t.name: t for t in fig.data}
    assert traces["entropy"].x == () and traces["threshold"].x == ()
    assert list(traces["latent step"].x) == [0.5, 3.5]
    assert "after 2 of 4 new bytes: 1 encoder/decoder steps" in fig.layout.title.text
