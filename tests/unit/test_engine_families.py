"""Every family the engine runs, on tiny random-weight models built from transformers configs (no download):
greedy outputs token-identical to transformers ``generate`` (fp32, CPU) under batching, chunked prefill,
preemption and prefix-cache hits, with prompts and outputs well past the 16-token sliding windows."""

from __future__ import annotations

import random

import pytest
import torch

from kgllm.engine import Engine, SamplingParams
from kgllm.engine.tiny import TINY, tiny_model

FAMILIES = sorted(TINY)
SHARED = [random.Random(7).randrange(10, 266) for _ in range(40)]     # a 40-token prefix several prompts share


def _prompts() -> list[list[int]]:
    rng = random.Random(3)
    out = [[rng.randrange(10, 266) for _ in range(rng.randint(4, 60))] for _ in range(8)]
    out += [SHARED + [rng.randrange(10, 266) for _ in range(rng.randint(1, 12))] for _ in range(4)]
    return out


PROMPTS = _prompts()


def _max_tokens(i: int) -> int:
    return 6 + (i * 7) % 19          # 6..24: requests leave the batch at different steps


@pytest.fixture(scope="module", params=FAMILIES)
def family(request):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # tiny matmuls: one thread is faster, and far faster on a shared machine
    model, tok = tiny_model(request.param)
    with torch.inference_mode():
        refs = []
        for i, p in enumerate(PROMPTS):
            ids = model.generate(torch.tensor([p]), max_new_tokens=_max_tokens(i), do_sample=False)
            refs.append(ids[0, len(p):].tolist())
    yield request.param, model, tok, refs
    torch.set_num_threads(threads)


def _block_mb(model, block_size: int = 16) -> float:
    cfg = model.config
    return 2 * cfg.num_hidden_layers * block_size * cfg.num_key_value_heads * cfg.head_dim * 4 / 2**20


@pytest.mark.parametrize("decodes", ["batched", "one by one"])
def test_greedy_matches_transformers_under_pressure(family, decodes, monkeypatch):
    """Both decode attention paths: one padded call for all decodes (small models) and one call per sequence
    reading its keys in place (large ones)."""
    from kgllm.engine.runner import ModelRunner

    if decodes == "one by one":
        monkeypatch.setattr(ModelRunner, "BATCH_DECODE_BYTES", 0)
    name, model, tok, refs = family
    # 9 blocks of 16 tokens (two or three sequences at a time), 24-token steps: chunked prefill, preemption,
    # prefix hits on the shared 40-token head
    engine = Engine.from_model(model, tok, kv_budget_mb=9 * _block_mb(model), max_batch_tokens=24, max_num_seqs=5)
    ids = [engine.add_request(p, SamplingParams(max_tokens=_max_tokens(i))) for i, p in enumerate(PROMPTS[:6])]
    outputs, steps, chunked = {}, 0, False
    while engine.has_unfinished():
        if steps == 4:               # requests join while others are mid-flight
            ids += [engine.add_request(p, SamplingParams(max_tokens=_max_tokens(i + 6)))
                    for i, p in enumerate(PROMPTS[6:])]
        batch_sizes = [len(s.token_ids) - s.num_computed_tokens for s in engine.scheduler.running]
        chunked = chunked or any(n > 24 for n in batch_sizes)
        outputs.update({o.request_id: o for o in engine.step() if o.finished})
        steps += 1
    got = [outputs[rid].token_ids for rid in ids]
    assert got == refs, name
    stats = engine.stats()
    assert stats["prefix_hit_tokens"] > 0 and stats["preemptions"] > 0, stats
    assert chunked
    assert stats["free_blocks"] == stats["num_blocks"]


def test_one_batch_and_prefix_cache_hits(family):
    name, model, tok, refs = family
    engine = Engine.from_model(model, tok, kv_budget_mb=2)
    params = [SamplingParams(max_tokens=_max_tokens(i)) for i in range(len(PROMPTS))]
    assert [o.token_ids for o in engine.generate(PROMPTS, params)] == refs, name
    again = engine.generate(PROMPTS[8:], params[8:])                   # the shared head from the prefix cache
    assert [o.token_ids for o in again] == refs[8:]
    assert all(o.num_cached_tokens >= 32 for o in again)


def test_outputs_are_not_degenerate(family):
    """The references vary (else identity would prove little): tokens differ within and across outputs."""
    name, _, _, refs = family
    assert len({tuple(r) for r in refs}) >= 6, name
    assert sum(len(set(r)) > 2 for r in refs) >= 4, name


@pytest.mark.parametrize("name", ["mistral", "gemma2", "gemma3"])
def test_sliding_window_shapes_the_output_past_the_window(name):
    """The same weights with full attention everywhere generate other tokens once prompts pass the window."""
    import dataclasses

    from kgllm.engine.arch import arch_spec
    from kgllm.engine.runner import ModelRunner

    model, tok = tiny_model(name)
    spec = arch_spec(model.config)
    assert 16 in spec.windows and (name == "mistral" or None in spec.windows)
    engine = Engine.from_model(model, tok, kv_budget_mb=2)
    full = Engine.from_model(model, tok, kv_budget_mb=2, check=False)
    full.runner = ModelRunner(model, full.scheduler.blocks.num_blocks, 16,
                              dataclasses.replace(spec, windows=(None,) * spec.num_layers))
    long = [p for p in PROMPTS if len(p) > 24]
    params = SamplingParams(max_tokens=12)
    with torch.inference_mode():
        refs = [model.generate(torch.tensor([p]), max_new_tokens=12, do_sample=False)[0, len(p):].tolist()
                for p in long]
    assert [o.token_ids for o in engine.generate(long, params)] == refs
    assert [o.token_ids for o in full.generate(long, params)] != refs


def test_multiple_eos_ids_end_a_request():
    """Generation stops at any EOS id of the model's generation config (here the chat's end-of-turn token)."""
    model, tok = tiny_model("llama3")
    engine = Engine.from_model(model, tok, kv_budget_mb=2)
    end_turn = tok.convert_tokens_to_ids("<|eot_id|>")
    assert engine.eos_token_ids == {tok.eos_token_id, end_turn}

    def force_end(out_ids, logits):
        if len(out_ids) == 2:
            logits = torch.full_like(logits, -1e9)
            logits[end_turn] = 0.0
        return logits

    out = engine.generate(["hello there"], SamplingParams(max_tokens=8, logits_processors=[force_end]))[0]
    assert out.finish_reason == "stop" and len(out.token_ids) == 3 and out.token_ids[-1] == end_turn
    assert out.prompt_token_ids[0] == tok.bos_token_id                   # the BOS its tokenizer adds to texts
