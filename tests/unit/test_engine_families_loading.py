"""Loading models of every family from folders, refusing what the engine cannot run, and chat templates."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from kgllm.engine import Engine, SamplingParams
from kgllm.engine.arch import arch_spec
from kgllm.engine.chat import prepare_chat_template
from kgllm.engine.loading import load_hf_model
from kgllm.engine.runner import ModelRunner
from kgllm.engine.tiny import save_tiny, tiny_model, tiny_tokenizer
from kgllm.errors import ConfigError, GenerationError, InputError


def _runner(model, **changes) -> ModelRunner:
    return ModelRunner(model, 8, 16, dataclasses.replace(arch_spec(model.config), **changes))


@pytest.mark.parametrize("name, changes, says", [
    ("gemma2", {"final_softcap": None}, "forward differs"),        # Gemma 2's logits soft cap left out
    ("gemma2", {"attn_softcap": None}, "forward differs"),         # ... its attention scores' cap
    ("qwen3", {"qk_norm": False}, "forward differs"),              # Qwen3's q/k norms left out
    ("gemma3", {"gemma": False}, "forward differs"),               # Gemma norms read as Llama's
    ("mistral", {"windows": (None,) * 4}, "forward differs"),      # sliding window ignored (32 probe tokens)
    ("llama3", {"rope_types": {None: "default"}}, "rotary"),       # llama3 rope scaling ignored
    ("phi3", {"rope_types": {None: "default"}}, "rotary"),         # longrope ignored
])
def test_a_forward_that_differs_from_transformers_is_refused(name, changes, says):
    """The check from_model runs catches each variant the engine would otherwise get silently wrong."""
    model, _ = tiny_model(name)
    _runner(model).check_against(model)                            # the right switches pass
    with pytest.raises(ConfigError, match=says):
        _runner(model, **changes).check_against(model)


def test_unknown_architectures_and_features_are_refused_naming_them():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=64))
    with pytest.raises(ConfigError, match="model_type 'gpt2'.*gemma2, gemma3_text, llama, mistral, phi3, qwen2"):
        Engine.from_model(gpt2, tiny_tokenizer())
    model, tok = tiny_model("gemma3")
    model.config.use_bidirectional_attention = True
    with pytest.raises(ConfigError, match="'gemma3_text': bidirectional attention"):
        Engine.from_model(model, tok)
    model, tok = tiny_model("llama3")
    model.config.rope_parameters = {"rope_type": "proportional", "rope_theta": 1e4}
    with pytest.raises(ConfigError, match="rope type 'proportional' is not supported"):
        Engine.from_model(model, tok)
    model.config.rope_parameters, model.config.hidden_act = {"rope_type": "default", "rope_theta": 1e4}, "relu2"
    with pytest.raises(ConfigError, match="activation 'relu2'"):
        Engine.from_model(model, tok)


def test_longrope_context_is_kept_to_the_original_length():
    model, tok = tiny_model("phi3")                 # 8192 positions, 2048 original
    engine = Engine.from_model(model, tok, kv_budget_mb=64)
    assert engine.max_model_len == 2048
    with pytest.raises(InputError, match="context is 2048"):
        engine.add_request([20] * 2100)


def test_a_folder_that_is_not_a_model_is_named(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="is not a model: a Hugging Face model folder has a config.json"):
        load_hf_model(str(tmp_path), "cpu", "float32")
    for name in ("a.gguf", "b.gguf"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(ConfigError, match="several .gguf files, name one: a.gguf, b.gguf"):
        load_hf_model(str(tmp_path), "cpu", "float32")


def test_config_is_checked_before_any_weight_is_read(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 1}))
    with pytest.raises(ConfigError, match="model_type 'gpt2'"):
        load_hf_model(str(tmp_path), "cpu", "float32")          # no weights there: refused from the config alone
    supported = tmp_path / "qwen3"
    save_tiny("qwen3", supported)
    (supported / "model.safetensors").unlink()
    with pytest.raises(GenerationError, match="could not load"):
        load_hf_model(str(supported), "cpu", "float32")


@pytest.mark.parametrize("name", ["gemma2", "llama3", "phi3"])
def test_saved_folder_loads_into_the_target_dtype(tmp_path, name):
    folder = save_tiny(name, tmp_path / name)
    model, tok = load_hf_model(folder, "cpu", "bfloat16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    engine = Engine.from_model(model, tok, kv_budget_mb=2)         # the check passes at bf16 tolerance
    out = engine.generate(["A short prompt"], SamplingParams(max_tokens=5, ignore_eos=True))[0]
    assert len(out.token_ids) == 5
    model32, tok32 = load_hf_model(folder, "cpu", "float32")
    ref, _ = tiny_model(name)
    assert torch.equal(model32.lm_head.weight, ref.lm_head.weight)   # the folder holds the same weights


def test_chat_templates_take_a_system_message():
    messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Where?"}]
    gemma = tiny_tokenizer("gemma")
    with pytest.raises(Exception, match="System role not supported"):
        gemma.apply_chat_template(messages, tokenize=False)
    assert prepare_chat_template(gemma) == "folded"
    text = gemma.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == "<s><start_of_turn>user\nAnswer briefly.\n\nWhere?<end_of_turn>\n<start_of_turn>model\n"
    assert prepare_chat_template(tiny_tokenizer("chatml")) == "own"
    bare = tiny_tokenizer("chatml")
    bare.chat_template = None
    assert prepare_chat_template(bare) == "plain"
    assert bare.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) == \
        "System: Answer briefly.\n\nUser: Where?\n\nAssistant:"
