"""The batched inference engine: requests in, tokens out, one scheduled step at a time.

Examples
--------
>>> engine = Engine.from_pretrained()                                   # doctest: +SKIP
>>> [o.text for o in engine.generate(["The capital of France is"], SamplingParams(max_tokens=4))]  # doctest: +SKIP
[' Paris.']
"""

from __future__ import annotations

import contextlib
import time
from typing import Iterator, Sequence as Seq

from kgllm.engine.kv_cache import BlockManager, num_blocks_for_budget
from kgllm.engine.params import SamplingParams
from kgllm.engine.scheduler import Scheduler
from kgllm.engine.sequence import Output, Sequence
from kgllm.errors import ConfigError, GenerationError, InputError

__all__ = ["Engine", "StepError"]

Prompt = str | Seq[int]


def _added_bos(tokenizer) -> int | None:
    """The BOS id the tokenizer puts before a text on its own (None when it adds none, as SmolLM2's and Qwen's)."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return None
    try:
        ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    except Exception:  # noqa: BLE001 - a tokenizer without special-token handling adds nothing
        return None
    return bos if ids and ids[0] == bos else None


def _decoder(tokenizer):
    """``ids -> text`` without special tokens, as ``tokenizer.decode(ids, skip_special_tokens=True)`` gives.

    The engine decodes each request's output at every step; for a fast tokenizer that does not clean up spaces
    (every BPE one) this calls its Rust backend directly, skipping the Python wrapper's per-id type checks,
    which cost more than the decoding itself on small models.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    cleans = getattr(tokenizer, "clean_up_tokenization_spaces", True)
    if cleans and backend is not None and type(backend.model).__name__ == "BPE":
        cleans = bool(getattr(tokenizer, "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output",
                              False))
    if backend is None or cleans:
        return lambda ids: tokenizer.decode(ids, skip_special_tokens=True)
    return lambda ids: backend.decode(ids, skip_special_tokens=True)


class StepError(GenerationError):
    """A model step failed: its requests (``request_ids``) were aborted and their KV blocks freed.

    The engine stays usable: other requests keep their state and later steps run normally.
    """

    def __init__(self, message: str, request_ids: list[str]) -> None:
        super().__init__(message)
        self.request_ids = request_ids


class Engine:
    """Continuous-batching generation over a paged KV cache with prefix caching.

    Build it with :meth:`from_pretrained` (loads a model) or :meth:`from_model` (wraps a loaded
    transformers model of a supported family). ``step()`` runs one batch: ``schedule -> run -> postprocess``.
    """

    def __init__(self, runner, tokenizer, scheduler: Scheduler, eos_token_ids: Seq[int] = ()) -> None:
        self.runner, self.tokenizer, self.scheduler = runner, tokenizer, scheduler
        self.eos_token_id = tokenizer.eos_token_id
        #: every token that ends a request (the tokenizer's EOS and the model's generation config's, e.g. Llama 3's
        #: <|eot_id|> and Gemma's <end_of_turn>)
        self.eos_token_ids = frozenset(t for t in (self.eos_token_id, *eos_token_ids) if t is not None)
        self.bos_token_id = _added_bos(tokenizer)   # prepended to text prompts that lack it (Gemma needs it)
        self._decode = _decoder(tokenizer)
        self.max_model_len = runner.max_model_len
        self.capacity_tokens = scheduler.blocks.num_blocks * scheduler.blocks.block_size
        self._seqs: dict[str, Sequence] = {}
        self._pending: list[Output] = []     # outputs of other requests seen while streaming

    # ------------------------------------------------------------ construction
    @classmethod
    def from_model(cls, model, tokenizer, *, kv_budget_mb: float = 512, max_batch_tokens: int = 512,
                   max_num_seqs: int = 32, block_size: int = 16, enable_prefix_caching: bool = True,
                   check: bool = True) -> "Engine":
        """Wrap an already loaded transformers causal LM (its weights are shared, not copied).

        Parameters
        ----------
        model : transformers.PreTrainedModel
            A causal LM of a supported family (:data:`kgllm.engine.arch.FAMILIES`: Llama, Mistral, Qwen2, Qwen3,
            Gemma 2, Gemma 3 text, Phi-3), in eval mode, on its device and dtype.
        tokenizer : transformers tokenizer
            Its tokenizer; generation stops at its EOS token and at every EOS id of ``model.generation_config``.
        kv_budget_mb, max_batch_tokens, max_num_seqs, block_size, enable_prefix_caching
            KV cache size, per-step token budget, most sequences running at once, tokens per KV block, prefix
            caching.
        check : bool
            Compare the engine's forward with the model's own on a short prompt first (milliseconds for small
            models) and refuse a model whose results differ.

        Raises
        ------
        ConfigError
            The architecture is not supported (the message names the model type and what is missing), or its
            results differ from transformers'.
        """
        from kgllm.engine.arch import arch_spec
        from kgllm.engine.runner import ModelRunner

        spec = arch_spec(model.config)
        dtype_bytes = next(model.parameters()).element_size()
        num_blocks = num_blocks_for_budget(kv_budget_mb, num_layers=spec.num_layers, num_kv_heads=spec.num_kv_heads,
                                           head_dim=spec.head_dim, dtype_bytes=dtype_bytes, block_size=block_size)
        blocks = BlockManager(num_blocks, block_size, enable_prefix_caching)
        scheduler = Scheduler(blocks, max_num_seqs=max_num_seqs, max_batch_tokens=max_batch_tokens)
        runner = ModelRunner(model, num_blocks, block_size, spec)
        if check:
            runner.check_against(model)
        gen = getattr(model, "generation_config", None)
        eos = getattr(gen, "eos_token_id", None)
        extra = [eos] if isinstance(eos, int) else list(eos or [])
        return cls(runner, tokenizer, scheduler, eos_token_ids=extra)

    @classmethod
    def from_pretrained(cls, path: str | None = None, *, device: str = "auto", dtype: str | None = None,
                        kv_budget_mb: float = 512, max_batch_tokens: int = 512, max_num_seqs: int = 32,
                        block_size: int = 16, enable_prefix_caching: bool = True) -> "Engine":
        """Load a model folder or ``.gguf`` file (default: the bundled SmolLM2-135M-Instruct).

        ``device="auto"`` picks cuda, mps, then cpu; ``dtype`` defaults to float32 on CPU and
        bfloat16 on GPU (one of ``"float32"``, ``"bfloat16"``, ``"float16"``).
        """
        from kgllm.engine.loading import load_hf_model, pick_device

        device = pick_device(device)
        dtype = dtype or ("float32" if device == "cpu" else "bfloat16")
        if dtype not in ("float32", "bfloat16", "float16"):
            raise ConfigError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
        model, tokenizer = load_hf_model(None if path is None else str(path), device, dtype)
        return cls.from_model(model, tokenizer, kv_budget_mb=kv_budget_mb, max_batch_tokens=max_batch_tokens,
                              max_num_seqs=max_num_seqs, block_size=block_size,
                              enable_prefix_caching=enable_prefix_caching)

    # ---------------------------------------------------------------- requests
    def encode(self, prompt: Prompt) -> list[int]:
        """Token ids of a text (no special tokens added) or checked ids of a token-id prompt."""
        if isinstance(prompt, str):
            if not prompt.strip():
                raise InputError("empty prompt")
            return self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = list(prompt)
        vocab = self.runner.embed.shape[0]
        if any(not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < vocab for t in ids):
            raise InputError(f"prompt token ids must be ints in [0, {vocab})")
        return ids

    def add_request(self, prompt: Prompt, params: SamplingParams | None = None,
                    request_id: str | None = None) -> str:
        """Queue a request (text or token ids); returns its id. Bad input raises here, nothing is queued.

        A text prompt starts with the tokenizer's BOS token when the tokenizer adds one to texts (Llama 3, Gemma)
        and the text (e.g. rendered by a chat template that writes it) does not already start with it.
        """
        params = SamplingParams() if params is None else params
        if not isinstance(params, SamplingParams):
            raise ConfigError(f"params must be a SamplingParams, got {type(params).__name__}")
        ids = self.encode(prompt)
        if not ids:
            raise InputError("empty prompt: no tokens")
        if isinstance(prompt, str) and self.bos_token_id is not None and ids[0] != self.bos_token_id:
            ids = [self.bos_token_id, *ids]
        if len(ids) >= self.max_model_len:
            raise InputError(f"prompt has {len(ids)} tokens; the model's context is {self.max_model_len}")
        need = min(len(ids) + params.max_tokens, self.max_model_len)
        if need > self.capacity_tokens:
            raise InputError(f"prompt ({len(ids)} tokens) + max_tokens ({params.max_tokens}) exceeds the KV "
                             f"cache ({self.capacity_tokens} tokens); raise kv_budget_mb or lower max_tokens")
        if request_id is not None and request_id in self._seqs:
            raise InputError(f"duplicate request id {request_id!r}")
        seq = Sequence(ids, params, request_id)
        self._seqs[seq.request_id] = seq
        self.scheduler.add(seq)
        return seq.request_id

    def abort(self, request_id: str) -> None:
        """Drop a request (queued, running or finished): its KV blocks are freed, its outputs discarded."""
        seq = self._seqs.pop(request_id, None)
        if seq is not None and not seq.is_finished:
            self.scheduler.finish(seq, "abort")
        if any(o.request_id == request_id for o in self._pending):
            self._pending = [o for o in self._pending if o.request_id != request_id]

    def has_unfinished(self) -> bool:
        return self.scheduler.has_unfinished()

    # -------------------------------------------------------------------- step
    def step(self) -> list[Output]:
        """Run one batch; outputs of every request that got a new token (or finished).

        Raises
        ------
        StepError
            The model failed on this batch; the batch's requests were aborted (nothing of them stays
            scheduled) and are listed in ``request_ids``.
        """
        out, self._pending = self._pending, []
        return out + self._step()

    def _step(self) -> list[Output]:
        batch = self.scheduler.schedule()
        if not batch:
            return []
        try:
            tokens = self.runner.run(batch)
            self.scheduler.advance(batch)
            sampled = [s for s, f in zip(batch.seqs, batch.sample) if f]
            return [self._postprocess(seq, tok) for seq, tok in zip(sampled, tokens)]
        except BaseException as exc:   # Ctrl-C too: a half-run batch must not stay scheduled
            ids = [seq.request_id for seq in batch.seqs]
            for rid in ids:              # those finished earlier in this step lose their output too
                self.abort(rid)
            if not isinstance(exc, Exception):
                raise
            raise StepError(f"model step failed on {len(ids)} request(s) ({type(exc).__name__}: {exc}); "
                            f"they were aborted", ids) from exc

    def _postprocess(self, seq: Sequence, token: int) -> Output:
        p = seq.params
        seq.append_token(token)
        reason = None
        if (token in self.eos_token_ids and not p.ignore_eos) or token in p.stop_token_ids:
            reason = "stop"
        elif seq.num_output_tokens >= p.max_tokens or seq.num_tokens >= self.max_model_len:
            reason = "length"
        ids = seq.output_token_ids
        text = self._decode(ids[:-1] if reason == "stop" else ids)
        hold = 0
        if p.stop:
            cut = min((i for i in (text.find(s, max(0, len(seq.text) - len(s))) for s in p.stop) if i >= 0),
                      default=-1)
            if cut >= 0:
                text, reason = text[:cut], "stop"
            elif reason is None:   # hold back a tail that may become a stop string
                hold = max((k for s in p.stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
        seq.text = text
        if reason is not None:
            self.scheduler.finish(seq, reason)
            seq.finish_time = time.perf_counter()
            self._seqs.pop(seq.request_id, None)
        visible = len(text) - hold
        if reason is None:
            while visible > seq.emitted_chars and text[visible - 1] == "\ufffd":
                visible -= 1       # an incomplete UTF-8 character: wait for its next bytes
        delta = text[seq.emitted_chars:visible] if visible > seq.emitted_chars else ""
        seq.emitted_chars = max(seq.emitted_chars, visible)
        return self._output(seq, delta)

    def _output(self, seq: Sequence, delta: str) -> Output:
        metrics = {"arrival_time": seq.arrival_time}
        if seq.first_token_time is not None:
            metrics["ttft"] = seq.first_token_time - seq.arrival_time
        if seq.finish_time is not None:
            metrics["latency"] = seq.finish_time - seq.arrival_time
        return Output(seq.request_id, seq.token_ids[:seq.num_prompt_tokens], seq.output_token_ids, seq.text,
                      delta, seq.is_finished, seq.finish_reason, seq.num_cached_tokens, seq.num_preemptions,
                      metrics)

    # ------------------------------------------------------------- front ends
    def generate(self, prompts: Seq[Prompt], params: SamplingParams | Seq[SamplingParams] | None = None
                 ) -> list[Output]:
        """Run prompts to completion (all batched together); outputs in prompt order.

        On any exception (or Ctrl-C) every request of the call is aborted and its KV blocks freed.
        """
        results: list[Output] = [None] * len(prompts)    # type: ignore[list-item]
        with contextlib.closing(self.as_completed(prompts, params)) as finished:
            for i, out in finished:
                results[i] = out
        return results

    def as_completed(self, prompts: Seq[Prompt], params: SamplingParams | Seq[SamplingParams] | None = None
                     ) -> Iterator[tuple[int, Output]]:
        """``(prompt index, finished Output)`` pairs, in the order the requests finish.

        Closing the iterator early (or an exception inside it) aborts the requests still running.
        """
        plist = list(params) if isinstance(params, (list, tuple)) else [params] * len(prompts)
        if len(plist) != len(prompts):
            raise ConfigError(f"{len(prompts)} prompts but {len(plist)} sampling params")
        ids: list[str] = []
        try:
            for prompt, p in zip(prompts, plist):
                ids.append(self.add_request(prompt, p))
            index = {rid: i for i, rid in enumerate(ids)}
            left = set(ids)
            while left:
                for out in self._outputs_for(left):
                    if out.finished:
                        left.discard(out.request_id)
                        yield index[out.request_id], out
        finally:
            for rid in ids:
                self.abort(rid)

    def stream(self, prompt: Prompt, params: SamplingParams | None = None) -> Iterator[str]:
        """Text deltas of one request as they are generated (other requests keep running)."""
        rid = self.add_request(prompt, params)
        try:
            while True:
                finished = False
                for out in self._outputs_for({rid}):
                    if out.delta:
                        yield out.delta
                    finished = out.finished
                if finished:
                    return
        finally:
            self.abort(rid)

    def _outputs_for(self, want: set[str]) -> list[Output]:
        """Outputs of the requests in ``want``; others' outputs are kept for :meth:`step`."""
        mine = [o for o in self._pending if o.request_id in want]
        if mine:
            self._pending = [o for o in self._pending if o.request_id not in want]
            return mine
        for o in self._step():
            (mine if o.request_id in want else self._pending).append(o)
        return mine

    def stats(self) -> dict[str, int]:
        """Counters: prefix-cache hit/query tokens, preemptions, free KV blocks."""
        b = self.scheduler.blocks
        return {"prefix_hit_tokens": b.hit_tokens, "prefix_query_tokens": b.query_tokens,
                "preemptions": self.scheduler.num_preemptions, "free_blocks": b.num_free_blocks,
                "num_blocks": b.num_blocks}
