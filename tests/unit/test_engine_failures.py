"""Engine failure paths on a fake model: a failing step, Ctrl-C and early exits leave nothing scheduled."""

from __future__ import annotations

import pytest

from kgllm.engine import SamplingParams, StepError
from kgllm.errors import ConfigError, InputError
from tests.unit.fake_engine import idle, make_engine


def test_fake_engine_echoes_prompts_in_order():
    engine = make_engine()
    outs = engine.generate(["hello", "abc"], [SamplingParams(max_tokens=3), SamplingParams(max_tokens=7)])
    assert [o.text for o in outs] == ["hel", "abcabca"]
    assert [o.finish_reason for o in outs] == ["length", "length"]
    assert idle(engine)


def test_failing_step_aborts_its_requests_and_the_engine_keeps_working():
    engine = make_engine(poison="crash me")
    bad = engine.add_request("please crash me now", SamplingParams(max_tokens=5))
    good = engine.add_request("fine", SamplingParams(max_tokens=5))
    with pytest.raises(StepError, match="injected model failure") as info:
        engine.step()
    assert sorted(info.value.request_ids) == sorted([bad, good])     # the whole batch failed with it
    assert idle(engine)                                              # nothing of it stays scheduled
    assert engine.step() == []
    assert [o.text for o in engine.generate(["fine", "okay"], SamplingParams(max_tokens=4))] == ["fine", "okay"]


def test_step_failure_spares_requests_outside_the_failed_batch():
    engine = make_engine(max_num_seqs=1)
    first = engine.add_request("first", SamplingParams(max_tokens=2))
    second = engine.add_request("second", SamplingParams(max_tokens=2))
    engine.runner.fail_steps = 1
    with pytest.raises(StepError) as info:
        engine.step()
    assert info.value.request_ids == [first]
    outs = []
    while engine.has_unfinished():
        outs += engine.step()
    assert [(o.request_id, o.text) for o in outs if o.finished] == [(second, "se")]
    assert idle(engine)


def test_generate_aborts_every_request_after_an_exception():
    engine = make_engine(max_num_seqs=1, poison="boom")    # one runs at a time: two others wait
    with pytest.raises(StepError):
        engine.generate(["boom", "waiting one", "waiting two"], SamplingParams(max_tokens=4))
    assert idle(engine)
    assert engine.generate(["after"], SamplingParams(max_tokens=5))[0].text == "after"


def test_generate_aborts_every_request_after_ctrl_c():
    engine = make_engine(max_num_seqs=1)
    engine.runner.interrupt_at = 3
    with pytest.raises(KeyboardInterrupt):
        engine.generate(["one", "two", "three"], SamplingParams(max_tokens=6))
    assert idle(engine)
    assert engine.generate(["again"], SamplingParams(max_tokens=3))[0].text == "aga"


def test_generate_refuses_bad_input_without_queueing_anything():
    engine = make_engine()
    with pytest.raises(InputError, match="empty prompt"):
        engine.generate(["fine", "  "], SamplingParams(max_tokens=2))
    with pytest.raises(ConfigError, match="2 prompts but 1 sampling params"):
        engine.generate(["a", "b"], [SamplingParams()])
    assert idle(engine)


def test_as_completed_closed_early_and_stream_interrupted_abort_the_rest():
    engine = make_engine()
    finished = engine.as_completed(["ab", "abcdef"], SamplingParams(max_tokens=2))
    first = next(finished)
    assert (first[0], first[1].text) == (0, "ab")
    finished.close()
    assert idle(engine)
    pieces = engine.stream("streaming", SamplingParams(max_tokens=8))
    assert next(pieces) == "s"
    pieces.close()
    assert idle(engine)
    engine.runner.interrupt_at = engine.runner.steps + 2
    with pytest.raises(KeyboardInterrupt):
        list(engine.stream("interrupted", SamplingParams(max_tokens=8)))
    assert idle(engine)


def test_abort_drops_outputs_held_for_a_request():
    engine = make_engine()
    other = engine.add_request("other", SamplingParams(max_tokens=4))
    assert "".join(engine.stream("mine", SamplingParams(max_tokens=2))) == "mi"
    assert any(o.request_id == other for o in engine._pending)       # held back while streaming
    engine.abort(other)
    assert engine.step() == [] and idle(engine)
