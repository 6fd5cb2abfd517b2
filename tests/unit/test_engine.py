"""Batched engine correctness on the real bundled model (fp32, CPU): token identity with
transformers ``generate`` under continuous batching, chunked prefill, preemption and prefix caching."""

from __future__ import annotations

import os

import pytest

from kgllm.engine import Engine, SamplingParams
from kgllm.engine.sampler import AllowedTokensProcessor
from kgllm.errors import ConfigError, InputError

pytestmark = pytest.mark.slow

FACTS = ("Facts: Ada Lindqvist was born in Tromsø. Tromsø is located in Norway. Ada founded Fjordcell in 2015. "
         "Fjordcell is headquartered in Stavanger. Stavanger is a city on the west coast of Norway. ")
QUESTIONS = ["Where was Ada born?", "What did Ada found?", "Where is Fjordcell based?", "Which country is Tromsø in?",
             "When was Fjordcell founded?", "Who founded Fjordcell?", "Is Stavanger in Norway?", "Name a city."]
OTHERS = ["The capital of France is", "def fibonacci(n):", "Once upon a time",
          "List three colours: red,", "import numpy as np\nx =", "The quick brown fox",
          "Water boils at a temperature of", "A haiku about the sea:\n"]

def _chat(text: str) -> str:   # the SmolLM2 chat template, written out: the prompts need no tokenizer
    return (f"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n")


# benchmarks/gpu_check.sh sets these to run the same checks on CUDA in bf16
DEVICE = os.environ.get("KGLLM_TEST_DEVICE", "cpu")
DTYPE = os.environ.get("KGLLM_TEST_DTYPE", "float32")
EXACT = DTYPE == "float32"     # bf16/fp16 kernels differ in rounding: near-ties may flip late tokens

PROMPTS = [_chat(FACTS + q) for q in QUESTIONS] + OTHERS + [OTHERS[0] * 6]


@pytest.fixture(scope="module")
def hf():
    import torch

    from kgllm.engine.loading import load_hf_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # tiny matmuls: one thread is faster, and far faster on a shared machine
    yield load_hf_model(None, DEVICE, DTYPE)
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def block_mb(hf):
    cfg = hf[0].config
    nbytes = 4 if DTYPE == "float32" else 2
    return 2 * cfg.num_hidden_layers * 16 * cfg.num_key_value_heads * cfg.head_dim * nbytes / 2**20


def _max_tokens(i: int) -> int:
    return 3 + (i * 5) % 7          # 3..9: requests leave the batch at different steps


def _reference(hf, prompt: str, max_tokens: int) -> list[int]:
    import torch

    model, tok = hf
    enc = tok(prompt, return_tensors="pt", add_special_tokens=False).to(DEVICE)
    with torch.inference_mode():
        ids = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    return ids[0, enc["input_ids"].shape[1]:].tolist()


def _assert_same(got: list[list[int]], want: list[list[int]]) -> None:
    if EXACT:
        for i, (g, w) in enumerate(zip(got, want)):
            assert g == w, (i, PROMPTS[i] if len(want) == len(PROMPTS) else "")
        assert len(got) == len(want)
        return
    assert [g[:1] for g in got] == [w[:1] for w in want]
    assert sum(g == w for g, w in zip(got, want)) >= 0.75 * len(want)


@pytest.fixture(scope="module")
def references(hf):
    return [_reference(hf, p, _max_tokens(i)) for i, p in enumerate(PROMPTS)]


def test_greedy_matches_transformers_under_pressure(hf, block_mb, references):
    # 8 blocks of 16 tokens (~2 sequences), 48-token steps: chunked prefill, preemption, prefix hits
    engine = Engine.from_model(*hf, kv_budget_mb=8 * block_mb, max_batch_tokens=48, max_num_seqs=6)
    ids = [engine.add_request(p, SamplingParams(max_tokens=_max_tokens(i))) for i, p in enumerate(PROMPTS[:6])]
    outputs, steps, max_running = {}, 0, 0
    while engine.has_unfinished():
        if steps == 3:   # requests join while others are mid-flight
            ids += [engine.add_request(p, SamplingParams(max_tokens=_max_tokens(i + 6)))
                    for i, p in enumerate(PROMPTS[6:])]
        for out in engine.step():
            if out.finished:
                outputs[out.request_id] = out
        max_running = max(max_running, len(engine.scheduler.running))
        steps += 1
    assert len(PROMPTS) >= 16 and len(outputs) == len(PROMPTS)
    _assert_same([outputs[rid].token_ids for rid in ids], references)
    stats = engine.stats()
    assert stats["prefix_hit_tokens"] > 0
    assert stats["preemptions"] > 0
    assert any(o.num_preemptions for o in outputs.values())
    assert max_running > 1
    assert stats["free_blocks"] == stats["num_blocks"]   # everything released


def test_generate_roomy_cache_and_prefix_reuse(hf, references):
    engine = Engine.from_model(*hf, kv_budget_mb=64, max_batch_tokens=256)
    params = [SamplingParams(max_tokens=_max_tokens(i)) for i in range(len(PROMPTS))]
    outs = engine.generate(PROMPTS, params)
    _assert_same([o.token_ids for o in outs], references)
    again = engine.generate(PROMPTS[:2], params[:2])     # served from the prefix cache
    _assert_same([o.token_ids for o in again], references[:2])
    assert all(o.num_cached_tokens >= 32 for o in again)
    assert outs[0].metrics["ttft"] > 0 and outs[0].finish_reason in ("stop", "length")


def test_invalid_requests_rejected_without_disturbing_batch(hf, block_mb, references):
    engine = Engine.from_model(*hf, kv_budget_mb=40 * block_mb, max_batch_tokens=64)
    good = engine.add_request(PROMPTS[8], SamplingParams(max_tokens=_max_tokens(8)))
    engine.step()
    with pytest.raises(InputError, match="empty"):
        engine.add_request("   ")
    with pytest.raises(InputError, match="empty"):
        engine.add_request([])
    with pytest.raises(InputError, match="KV cache"):
        engine.add_request("word " * 700)
    with pytest.raises(InputError, match="context"):
        engine.add_request([5] * 9000)
    with pytest.raises(InputError, match="token ids"):
        engine.add_request([5, -1])
    with pytest.raises(ConfigError):
        engine.add_request("hi", {"max_tokens": 3})
    with pytest.raises(ConfigError):
        engine.add_request("hi", SamplingParams(max_tokens=0))
    done = {}
    while engine.has_unfinished():
        done.update({o.request_id: o for o in engine.step() if o.finished})
    assert list(done) == [good]
    _assert_same([done[good].token_ids], references[8:9])


@pytest.mark.parametrize("kwargs", [
    {"max_tokens": 0}, {"max_tokens": 2.5}, {"temperature": -0.1}, {"temperature": float("nan")},
    {"top_k": -1}, {"top_p": 0.0}, {"top_p": 1.5}, {"seed": "x"}, {"stop": [""]},
    {"stop_token_ids": [-3]}, {"logits_processors": [3]},
])
def test_sampling_params_validation(kwargs):
    with pytest.raises(ConfigError):
        SamplingParams(**kwargs)


def test_stop_strings_and_streaming(hf):
    engine = Engine.from_model(*hf, kv_budget_mb=32)
    prompt = OTHERS[1]
    full = engine.generate([prompt], SamplingParams(max_tokens=12))[0]
    stop = full.text[5:8]
    assert stop.strip()
    cut = engine.generate([prompt], SamplingParams(max_tokens=12, stop=(stop, "zzzz")))[0]
    assert cut.text == full.text[:full.text.index(stop)] and cut.finish_reason == "stop"
    assert "".join(engine.stream(prompt, SamplingParams(max_tokens=12))) == full.text
    assert "".join(engine.stream(prompt, SamplingParams(max_tokens=12, stop=stop))) == cut.text
    sid = full.token_ids[3]
    by_id = engine.generate([prompt], SamplingParams(max_tokens=12, stop_token_ids=[sid]))[0]
    assert by_id.token_ids == full.token_ids[:4] and by_id.finish_reason == "stop"


def test_output_text_is_what_the_tokenizer_decodes(hf):
    """The engine's fast decoding path gives the tokenizer's own ``decode`` text, special tokens and all."""
    import random

    from kgllm.engine.engine import _decoder
    from kgllm.engine.tiny import tiny_tokenizer

    rng = random.Random(5)
    for tok in (hf[1], tiny_tokenizer("gemma")):
        decode = _decoder(tok)
        specials = list(tok.all_special_ids)
        for _ in range(200):
            ids = [rng.choice(specials) if rng.random() < 0.1 else rng.randrange(len(tok)) for _ in range(12)]
            assert decode(ids) == tok.decode(ids, skip_special_tokens=True), ids
    engine = Engine.from_model(*hf, kv_budget_mb=32)
    out = engine.generate([OTHERS[0]], SamplingParams(max_tokens=10))[0]
    assert out.text == hf[1].decode(out.token_ids, skip_special_tokens=True) and out.text.strip()


def test_logits_processor_constrains_output(hf):
    model, tok = hf
    engine = Engine.from_model(model, tok, kv_budget_mb=32)
    choices = [" Norway", " Sweden", " Denmark"]
    proc = AllowedTokensProcessor([tok(c, add_special_tokens=False)["input_ids"] for c in choices],
                                  end_id=tok.eos_token_id)
    prompts = [_chat(FACTS + "In which country was Ada born?"), "My favourite food is"]
    outs = engine.generate(prompts, SamplingParams(max_tokens=8, logits_processors=[proc]))
    for o in outs:
        assert o.text in choices and o.finish_reason == "stop"


def test_seed_reproducibility(hf):
    engine = Engine.from_model(*hf, kv_budget_mb=32)
    p = lambda seed: SamplingParams(max_tokens=8, temperature=1.0, top_k=50, top_p=0.95, seed=seed)  # noqa: E731
    alone = engine.generate([OTHERS[2]], p(7))[0].token_ids
    mixed = engine.generate([OTHERS[0], OTHERS[2], OTHERS[2]], [p(1), p(7), p(8)])
    assert mixed[1].token_ids == alone
    assert mixed[2].token_ids != alone


def test_local_lm_chat_matches_transformers(hf):
    from kgllm.lm import LocalLM

    model, tok = hf
    lm = LocalLM()
    lm._engine = Engine.from_model(model, tok, kv_budget_mb=32)
    conv = [{"role": "user", "content": "What is the capital of France?"}]
    text = tok.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    ref = tok.decode(_reference(hf, text, 10), skip_special_tokens=True).strip()
    got = lm.chat([conv], max_new_tokens=10)
    if EXACT:
        assert got == [ref]
    else:        # bf16/fp16: a near-tie may flip a late token, never the answer's first words
        assert len(got) == 1 and got[0].split()[:2] == ref.split()[:2] and ref.split()[:2], (got, ref)
    assert "".join(lm.stream_chat(conv, max_new_tokens=10)).strip() == got[0]
    with pytest.raises(InputError):
        lm.chat([[{"role": "user", "content": " "}]])
