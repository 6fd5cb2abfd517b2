"""Tiny random-weight models of every family the engine runs, built from transformers configs (no download).

For tests and benchmarks: each entry of :data:`TINY` is a transformers config class and the settings that give
its family's distinctive features at toy size (4 layers, 64 wide): Llama 3 rope scaling, the other rope scalings,
Qwen2's biases, Qwen3's q/k norms, Gemma 2's soft caps and alternating sliding windows, Gemma 3's two rope tables,
Mistral's sliding window, Phi-3's fused weights with longrope and partial rotary dims. Windows are 16 tokens, so
tests pass them easily. Norm weights and biases are randomised too (a zero-initialised ``1 + w`` norm would hide
Gemma's convention). The tokenizer is byte-level (every text round-trips) with a chat template in the family's
style (Gemma's refuses a system message, as Gemma 2's does).

Examples
--------
>>> sorted(TINY)[:4]
['gemma2', 'gemma3', 'llama3', 'llama_dynamic']
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["TINY", "tiny_model", "tiny_tokenizer", "save_tiny"]

_BASE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
             head_dim=16, max_position_embeddings=2048, initializer_range=0.1, tie_word_embeddings=False)
_SLIDE = ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]

TINY: dict[str, tuple[str, dict[str, Any], str]] = {   # name -> (config class, settings, chat style)
    "llama3": ("LlamaConfig", dict(rope_parameters=dict(
        rope_type="llama3", rope_theta=10000.0, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
        original_max_position_embeddings=64)), "llama3"),
    "llama_linear": ("LlamaConfig", dict(rope_parameters=dict(rope_type="linear", rope_theta=10000.0, factor=4.0),
                                         tie_word_embeddings=True), "llama3"),
    "llama_dynamic": ("LlamaConfig", dict(rope_parameters=dict(rope_type="dynamic", rope_theta=10000.0,
                                                               factor=2.0)), "llama3"),
    "llama_yarn": ("LlamaConfig", dict(rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=4.0,
                                                            original_max_position_embeddings=512),
                                       attention_bias=True, mlp_bias=True), "llama3"),
    "qwen2": ("Qwen2Config", dict(rope_parameters=dict(rope_type="default", rope_theta=1000000.0)), "chatml"),
    "qwen3": ("Qwen3Config", dict(rope_parameters=dict(rope_type="default", rope_theta=1000000.0)), "chatml"),
    "gemma2": ("Gemma2Config", dict(query_pre_attn_scalar=32, sliding_window=16, layer_types=_SLIDE,
                                    attn_logit_softcapping=5.0, final_logit_softcapping=3.0), "gemma"),
    "gemma3": ("Gemma3TextConfig", dict(query_pre_attn_scalar=16, sliding_window=16, layer_types=_SLIDE,
                                        rope_parameters=dict(
                                            sliding_attention=dict(rope_type="default", rope_theta=10000.0),
                                            full_attention=dict(rope_type="linear", rope_theta=1000000.0,
                                                                factor=8.0))), "gemma"),
    "mistral": ("MistralConfig", dict(sliding_window=16), "chatml"),
    "phi3": ("Phi3Config", dict(max_position_embeddings=8192, original_max_position_embeddings=2048,
                                rope_parameters=dict(rope_type="longrope", rope_theta=10000.0,
                                                     partial_rotary_factor=0.5,
                                                     short_factor=[1.0, 1.5, 2.0, 3.0], long_factor=[4.0] * 4),
                                num_key_value_heads=4), "chatml"),
}

_SPECIALS = ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<|start_header_id|>", "<|end_header_id|>",
             "<|eot_id|>", "<start_of_turn>", "<end_of_turn>"]
_TEMPLATES = {
    "chatml": ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
               "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}", "<|im_end|>"),
    "llama3": ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
               "{{ m['content'] }}<|eot_id|>{% endfor %}"
               "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}",
               "<|eot_id|>"),
    "gemma": ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}"
              "{{ raise_exception('System role not supported') }}{% endif %}<start_of_turn>"
              "{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{{ m['content'] }}<end_of_turn>\n"
              "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}", "<end_of_turn>"),
}


def tiny_tokenizer(style: str = "chatml"):
    """A byte-level tokenizer (10 special tokens, then the 256 bytes) with a chat template of ``style``.

    Styles: ``"chatml"`` (Qwen, Mistral, Phi-3 here), ``"llama3"`` and ``"gemma"``; the last two add BOS to texts.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {t: i for i, t in enumerate(_SPECIALS + sorted(alphabet))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    if style != "chatml":            # Llama 3's and Gemma's tokenizers put BOS before a text
        core.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                            special_tokens=[("<s>", vocab["<s>"])])
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                  additional_special_tokens=_SPECIALS[3:])
    tok.chat_template = _TEMPLATES[style][0]
    return tok


def tiny_model(name: str, seed: int = 0, dtype: str = "float32"):
    """``(model, tokenizer)``: the random-weight model :data:`TINY` names, in eval mode on the CPU."""
    import torch
    import transformers

    cls_name, settings, style = TINY[name]
    tok = tiny_tokenizer(style)
    end_turn = tok.convert_tokens_to_ids(_TEMPLATES[style][1])
    cfg = getattr(transformers, cls_name)(**{**_BASE, **settings, "vocab_size": len(tok)},
                                          bos_token_id=tok.bos_token_id, eos_token_id=[tok.eos_token_id, end_turn],
                                          pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, dtype))
    gemma = cfg.model_type.startswith("gemma")
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.normal_(0.0 if gemma else 1.0, 0.2)
            elif pname.endswith("bias"):
                p.normal_(0.0, 0.1)
    model.generation_config.eos_token_id = [tok.eos_token_id, end_turn]
    model.generation_config.pad_token_id = tok.pad_token_id
    return model.eval(), tok


def save_tiny(name: str, folder: str | os.PathLike[str], seed: int = 0) -> str:
    """Save :func:`tiny_model` ``name`` as a Hugging Face folder (safetensors, config, tokenizer); returns it."""
    model, tok = tiny_model(name, seed)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return os.fspath(folder)
