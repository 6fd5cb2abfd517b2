"""The model runner: the engine's torch code. A Llama-family forward over packed batches.

All new tokens of a step (prefill chunks and decodes of every sequence) are packed into one
``(T, C)`` matrix, so every projection is one matmul with no padding. Attention runs per
sequence, unpadded: a decode reads its keys/values in place when its blocks are consecutive (the
block manager places them so while memory allows), otherwise from one gather into a reused
buffer; a prefill chunk attends causally to itself (and to its cached prefix, gathered).
Logits are computed only where a token is sampled.

KV cache per layer: ``(num_blocks, block_size, kv_heads, head_dim)`` for keys and for values;
a token at position ``p`` of a sequence lives in slot ``block_table[p // bs] * bs + p % bs``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kgllm.engine.sampler import sample
from kgllm.engine.scheduler import ScheduledBatch
from kgllm.errors import ConfigError

__all__ = ["ModelRunner"]


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    dtype = x.dtype
    x = x.float()
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x.to(dtype)


def linear_cpu(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear`` for the CPU: few rows (decode steps) go through ``W @ x.T``, which MKL runs
    about 1.5x faster than ``x @ W.T`` for skinny ``x`` (same products and sums, same result)."""
    if x.shape[0] > 64:
        return F.linear(x, weight, bias)
    y = torch.mm(weight, x.t()).t().contiguous()
    return y if bias is None else y + bias


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class ModelRunner:
    """Owns the weights (taken from a transformers Llama model) and the KV cache tensors."""

    def __init__(self, model, num_blocks: int, block_size: int) -> None:
        cfg = model.config
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.num_layers, self.num_heads = cfg.num_hidden_layers, cfg.num_attention_heads
        self.num_kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.eps, self.block_size = cfg.rms_norm_eps, block_size
        self.max_model_len = cfg.max_position_embeddings
        rope = getattr(cfg, "rope_parameters", None) or {"rope_theta": getattr(cfg, "rope_theta", 10000.0)}
        if rope.get("rope_type", "default") != "default":
            raise ConfigError(f"rope type {rope.get('rope_type')!r} is not supported by the engine")
        inner = model.model
        self.embed = inner.embed_tokens.weight                     # (V, C)
        self.lm_head = model.lm_head.weight                        # (V, C)
        self.final_norm = inner.norm.weight
        self.linear = linear_cpu if self.device.type == "cpu" else F.linear
        self.layers = []
        with torch.no_grad():
            for layer in inner.layers:
                at, mlp = layer.self_attn, layer.mlp
                bias = (torch.cat([at.q_proj.bias, at.k_proj.bias, at.v_proj.bias])
                        if at.q_proj.bias is not None else None)
                self.layers.append((
                    layer.input_layernorm.weight,
                    torch.cat([at.q_proj.weight, at.k_proj.weight, at.v_proj.weight]),   # (QKV, C)
                    bias, at.o_proj.weight,
                    layer.post_attention_layernorm.weight,
                    torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]),               # (2I, C)
                    mlp.down_proj.weight))
            inv_freq = 1.0 / (rope["rope_theta"] ** (
                torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim))
            freqs = torch.arange(self.max_model_len).float()[:, None] * inv_freq[None]   # (P, D/2)
            emb = torch.cat((freqs, freqs), dim=-1).to(self.device)                     # (P, D)
            self.cos, self.sin = emb.cos().to(self.dtype), emb.sin().to(self.dtype)
        shape = (num_blocks, block_size, self.num_kv_heads, self.head_dim)
        self.k_cache = [torch.zeros(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
        self.v_cache = [torch.zeros(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
        self._buffers: list[torch.Tensor | None] = [None, None]

    # ------------------------------------------------------------------ inputs
    def _prepare(self, batch: ScheduledBatch) -> dict:
        bs, dev = self.block_size, self.device
        ids, pos, slots, logit_rows = [], [], [], []
        dec_tables, dec_lens, prefills = [], [], []
        start = 0
        for seq, n, samp in zip(batch.seqs, batch.num_new_tokens, batch.sample):
            c, table = seq.num_computed_tokens, seq.block_table
            ids.extend(seq.token_ids[c:c + n])
            pos.extend(range(c, c + n))
            slots.extend(table[p // bs] * bs + p % bs for p in range(c, c + n))
            if n == 1:
                dec_tables.append(table)
                dec_lens.append(c + 1)
            else:
                ctx_slots = None
                if c > 0:   # attends to a cached prefix: gather the whole context from the cache
                    ctx_slots = torch.tensor([table[p // bs] * bs + p % bs for p in range(c + n)],
                                             dtype=torch.long, device=dev)
                prefills.append((start, n, c, ctx_slots))
            start += n
            if samp:
                logit_rows.append(start - 1)
        nd = len(dec_tables)
        if nd and any(n != 1 for n in batch.num_new_tokens[:nd]):
            raise ConfigError("scheduled batch must list decodes first")
        long = dict(dtype=torch.long, device=dev)
        out = dict(ids=torch.tensor(ids, **long), pos=torch.tensor(pos, **long),
                   slots=torch.tensor(slots, **long), rows=torch.tensor(logit_rows, **long),
                   nd=nd, prefills=prefills, dec_lens=dec_lens)
        if nd:
            # each decode reads its keys/values in place when its blocks are consecutive (a view of
            # the cache); the others are gathered, unpadded, back to back
            within = torch.arange(bs, **long)
            src, gather, offset = [], [], 0
            for t, n in zip(dec_tables, dec_lens):
                nb = -(-n // bs)
                if t[nb - 1] - t[0] == nb - 1 and t[:nb] == list(range(t[0], t[0] + nb)):
                    src.append((t[0] * bs, n, -1))
                else:
                    src.append((-1, n, offset))
                    gather.append((torch.tensor(t[:nb], **long)[:, None] * bs + within).view(-1)[:n])
                    offset += n
            out["dec_src"] = src
            out["dec_slots"] = torch.cat(gather) if gather else None
        return out

    def _workspace(self, slot: int, shape: tuple[int, ...]) -> torch.Tensor:
        """A reused scratch tensor of ``shape`` (grown by half again when too small)."""
        n = 1
        for d in shape:
            n *= d
        buf = self._buffers[slot]
        if buf is None or buf.numel() < n:
            buf = self._buffers[slot] = torch.empty(n + n // 2, dtype=self.dtype, device=self.device)
        return buf[:n].view(shape)

    # ----------------------------------------------------------------- forward
    def _attention(self, li: int, q, k, v, inp: dict) -> torch.Tensor:
        """q (T, H, D), k/v (T, Hkv, D) of the new tokens -> attention output (T, H, D)."""
        kc, vc = self.k_cache[li], self.v_cache[li]                 # (N, bs, Hkv, D)
        flat_k, flat_v = kc.view(-1, *kc.shape[2:]), vc.view(-1, *vc.shape[2:])
        flat_k.index_copy_(0, inp["slots"], k)
        flat_v.index_copy_(0, inp["slots"], v)
        outs = []
        nd = inp["nd"]
        if nd:
            # gather into reused buffers (a fresh multi-MB tensor per layer costs page faults),
            # then one attention call per sequence
            idx = inp["dec_slots"]
            if idx is not None:
                kg = torch.index_select(flat_k, 0, idx, out=self._workspace(0, (idx.numel(), *flat_k.shape[1:])))
                vg = torch.index_select(flat_v, 0, idx, out=self._workspace(1, (idx.numel(), *flat_v.shape[1:])))
            qd = q[:nd].unsqueeze(2)                                  # (B, H, 1, D)
            for i, (first, n, offset) in enumerate(inp["dec_src"]):
                if first >= 0:
                    ks, vs = flat_k[first:first + n], flat_v[first:first + n]
                else:
                    ks, vs = kg[offset:offset + n], vg[offset:offset + n]
                ks, vs = ks.transpose(0, 1)[None], vs.transpose(0, 1)[None]          # (1, Hkv, n, D)
                outs.append(F.scaled_dot_product_attention(qd[i:i + 1], ks, vs, enable_gqa=True)[0, :, 0][None])
        for start, n, c, ctx_slots in inp["prefills"]:
            qs = q[start:start + n].transpose(0, 1)[None]             # (1, H, n, D)
            if ctx_slots is None:
                ks = k[start:start + n].transpose(0, 1)[None]         # (1, Hkv, n, D)
                vs = v[start:start + n].transpose(0, 1)[None]
                o = F.scaled_dot_product_attention(qs, ks, vs, is_causal=True, enable_gqa=True)
            else:
                ks = flat_k[ctx_slots].transpose(0, 1)[None]          # (1, Hkv, c+n, D)
                vs = flat_v[ctx_slots].transpose(0, 1)[None]
                mask = torch.ones(n, c + n, dtype=torch.bool, device=q.device).tril(c)  # (n, c+n)
                o = F.scaled_dot_product_attention(qs, ks, vs, attn_mask=mask, enable_gqa=True)
            outs.append(o[0].transpose(0, 1))                         # (n, H, D)
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    @torch.inference_mode()
    def forward(self, inp: dict) -> torch.Tensor:
        """Logits (S, V) at the rows that sample a token."""
        H, Hkv, D = self.num_heads, self.num_kv_heads, self.head_dim
        x = F.embedding(inp["ids"], self.embed)                      # (T, C)
        cos, sin = self.cos[inp["pos"]][:, None], self.sin[inp["pos"]][:, None]   # (T, 1, D)
        t, linear = x.shape[0], self.linear
        for li, (w_in, w_qkv, b_qkv, w_o, w_post, w_gu, w_down) in enumerate(self.layers):
            h = rms_norm(x, w_in, self.eps)
            qkv = linear(h, w_qkv, b_qkv)                          # (T, (H + 2 Hkv) D)
            q, k, v = qkv.split([H * D, Hkv * D, Hkv * D], dim=-1)
            q, k, v = q.view(t, H, D), k.view(t, Hkv, D), v.view(t, Hkv, D)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            o = self._attention(li, q, k, v.contiguous(), inp)       # (T, H, D)
            x = x + linear(o.reshape(t, H * D), w_o)
            h = rms_norm(x, w_post, self.eps)
            gate, up = linear(h, w_gu).chunk(2, dim=-1)            # (T, I) each
            x = x + linear(F.silu(gate) * up, w_down)
        x = rms_norm(x[inp["rows"]], self.final_norm, self.eps)     # (S, C)
        return linear(x, self.lm_head).float()                     # (S, V)

    def run(self, batch: ScheduledBatch) -> list[int]:
        """Forward one scheduled step and sample; one token id per sequence with ``sample``."""
        inp = self._prepare(batch)
        logits = self.forward(inp)
        return sample(logits, [s for s, f in zip(batch.seqs, batch.sample) if f])
