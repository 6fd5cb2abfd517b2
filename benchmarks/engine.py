"""Batched engine vs transformers ``generate`` on the bundled model; prints a table of ratios.

Workloads (fixed seed):
  mixed    N requests, prompts 50-400 tokens, outputs 16-128 tokens (EOS ignored so both sides
           generate exactly the requested tokens), all submitted at t=0. Baseline: ``generate``
           over static, left-padded batches of ``--batch`` requests in arrival order (each batch
           runs to its longest request). The engine runs at most ``--batch`` sequences at once.
  prefix   a ~300-token facts block + 16 different questions, one output token each (prefill
           only): engine with vs without the prefix cache (the block is computed once, then reused).
Time to first token (TTFT) is measured per request from t=0 under the mixed load.
  families the same mixed workload (token ids drawn from each model's vocabulary) on the tiny random-weight model
           of every family the engine runs (kgllm.engine.tiny), each in its own process: engine vs generate
           output tokens/s (the fastest of --repeats alternating runs of each side), and the process's peak
           resident memory after the engine's first run (weights, KV cache, torch) and after generate's.

Usage: python benchmarks/engine.py [--threads 2] [--requests 64] [--batch 16] [--device auto] [--no-families]
       python benchmarks/engine.py --family NAME      # one family's row as JSON (what the families section runs)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from kgllm.engine.engine import Engine  # noqa: E402
from kgllm.engine.loading import load_hf_model, pick_device  # noqa: E402
from kgllm.engine.params import SamplingParams  # noqa: E402

FACTS = " ".join(f"Fact {i}: entity E{i} is related to entity E{i * 7 % 50} by relation R{i % 9}." for i in range(15))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def workload(n: int, seed: int, vocab: tuple[int, int] = (300, 20000)) -> list[tuple[list[int], int]]:
    rng = random.Random(seed)
    return [([rng.randrange(*vocab) for _ in range(rng.randint(50, 400))], rng.randint(16, 128))
            for _ in range(n)]


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent across exec)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_family(name: str, args) -> dict:
    """One tiny family model: the mixed workload through the engine, then generate; tokens/s and peak memory."""
    from kgllm.engine.tiny import tiny_model

    model, tok = tiny_model(name)
    reqs = workload(args.requests, args.seed, (10, len(tok)))
    useful = sum(m for _, m in reqs)
    weights = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    # a tiny model's run lasts a second or two, so one hiccup of a shared machine moves its ratio by half:
    # the two sides alternate, `--repeats` times each, and each side's fastest run counts
    e_walls, h_walls = [], []
    for i in range(args.repeats):
        e_walls.append(run_engine(model, tok, reqs, args.batch, "cpu", 64)[0])
        if i == 0:
            e_peak = peak_rss_mib()
        h_walls.append(run_hf(model, tok, reqs, args.batch, "cpu")[0])
    e_wall, h_wall = min(e_walls), min(h_walls)
    return dict(family=name, model_type=model.config.model_type, weights_mib=weights, engine_tps=useful / e_wall,
                hf_tps=useful / h_wall, ratio=h_wall / e_wall, engine_peak_mib=e_peak, hf_peak_mib=peak_rss_mib())


def families_table(args) -> None:
    from kgllm.engine.tiny import TINY

    print("\n| tiny model (family) | engine tokens/s | generate tokens/s | ratio | peak RSS after engine / after "
          "generate (MiB) |\n|---|---|---|---|---|", flush=True)
    for name in sorted(TINY):
        cmd = [sys.executable, __file__, "--family", name, "--threads", str(args.threads),
               "--requests", str(args.requests), "--batch", str(args.batch), "--seed", str(args.seed),
               "--repeats", str(args.repeats)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            print(f"| {name} | failed: {proc.stderr.strip().splitlines()[-1:]} | | | |", flush=True)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"| {name} ({r['model_type']}) | {r['engine_tps']:.0f} | {r['hf_tps']:.0f} | {r['ratio']:.2f}x | "
              f"{r['engine_peak_mib']:.0f} / {r['hf_peak_mib']:.0f} |", flush=True)


def run_engine(model, tok, reqs, batch: int, device: str, kv_mb: float) -> tuple[float, list[float]]:
    engine = Engine.from_model(model, tok, kv_budget_mb=kv_mb, max_batch_tokens=512, max_num_seqs=batch)
    engine.generate([reqs[0][0][:60]], SamplingParams(max_tokens=4))             # warm-up
    sync(device)
    t0 = time.perf_counter()
    outs = engine.generate([p for p, _ in reqs], [SamplingParams(max_tokens=m, ignore_eos=True) for _, m in reqs])
    sync(device)
    wall = time.perf_counter() - t0
    assert all(len(o.token_ids) == m for o, (_, m) in zip(outs, reqs))
    ttft = [o.metrics["arrival_time"] + o.metrics["ttft"] - t0 for o in outs]
    return wall, ttft, engine.stats()


class _FirstCall:
    """A logits processor that records when generate produced its first token (end of prefill)."""

    def __init__(self) -> None:
        self.t = None

    def __call__(self, input_ids, scores):
        if self.t is None:
            self.t = time.perf_counter()
        return scores


def run_hf(model, tok, reqs, batch: int, device: str) -> tuple[float, list[float]]:
    from transformers import LogitsProcessorList

    pad = tok.pad_token_id
    model.generate(torch.tensor([reqs[0][0][:60]], device=device), max_new_tokens=4, do_sample=False,
                   pad_token_id=pad)                                               # warm-up
    sync(device)
    t0, ttft = time.perf_counter(), []
    for i in range(0, len(reqs), batch):
        chunk = reqs[i:i + batch]
        width = max(len(p) for p, _ in chunk)
        ids = torch.tensor([[pad] * (width - len(p)) + p for p, _ in chunk], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p, _ in chunk], device=device)
        most = max(m for _, m in chunk)
        first = _FirstCall()
        with torch.inference_mode():
            model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=most, min_new_tokens=most,
                           do_sample=False, pad_token_id=pad, logits_processor=LogitsProcessorList([first]))
        sync(device)
        ttft += [first.t - t0] * len(chunk)
    return time.perf_counter() - t0, ttft


def run_prefix(model, tok, caching: bool, device: str, kv_mb: float) -> float:
    questions = [f"Question {i}: how is entity E{i} related to entity E{i * 3}? Answer briefly." for i in range(16)]
    prompts = [FACTS + "\n" + q for q in questions]
    engine = Engine.from_model(model, tok, kv_budget_mb=kv_mb, max_batch_tokens=512, max_num_seqs=16,
                               enable_prefix_caching=caching)
    engine.generate(["warm up the kernels"], SamplingParams(max_tokens=1))
    sync(device)
    t0 = time.perf_counter()
    engine.generate(prompts[:1], SamplingParams(max_tokens=1))     # the block is seen once ...
    engine.generate(prompts[1:], SamplingParams(max_tokens=1))     # ... then shared by the others
    sync(device)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16, help="static batch size / engine max_num_seqs")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--family", default=None, help="run one tiny family model only; print its row as JSON")
    ap.add_argument("--no-families", action="store_true", help="skip the tiny family models")
    ap.add_argument("--repeats", type=int, default=3,
                    help="tiny family models: runs of each side, alternating; the fastest of each counts")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.family:
        print(json.dumps(run_family(args.family, args)))
        return
    device = pick_device(args.device)
    dtype = args.dtype or ("float32" if device == "cpu" else "bfloat16")
    t = time.perf_counter()
    model, tok = load_hf_model(None, device, dtype)
    print(f"# model loaded in {time.perf_counter() - t:.1f}s; device={device} dtype={dtype} "
          f"threads={torch.get_num_threads()} load_avg={os.getloadavg()[0]:.2f}", flush=True)
    kv_mb = 1024 if dtype == "float32" else 512
    reqs = workload(args.requests, args.seed)
    useful = sum(m for _, m in reqs)
    print(f"# mixed: {len(reqs)} requests, {sum(len(p) for p, _ in reqs)} prompt tokens, {useful} output tokens",
          flush=True)
    e_wall, e_ttft, stats = run_engine(model, tok, reqs, args.batch, device, kv_mb)
    print(f"# engine {e_wall:.1f}s {stats}", flush=True)
    h_wall, h_ttft = run_hf(model, tok, reqs, args.batch, device)
    print(f"# hf generate {h_wall:.1f}s", flush=True)
    p_off = run_prefix(model, tok, False, device, kv_mb)
    p_on = run_prefix(model, tok, True, device, kv_mb)
    print(f"# prefix-cache workload: {len(tok(FACTS)['input_ids'])}-token facts block, 16 questions", flush=True)
    rows = [
        ("mixed: output tokens/s", useful / h_wall, useful / e_wall, (useful / e_wall) / (useful / h_wall), ">= 2.0x"),
        ("mixed: TTFT p50 (s)", pct(h_ttft, .5), pct(e_ttft, .5), pct(h_ttft, .5) / pct(e_ttft, .5), ""),
        ("mixed: TTFT p95 (s)", pct(h_ttft, .95), pct(e_ttft, .95), pct(h_ttft, .95) / pct(e_ttft, .95), ""),
        ("prefix: prefill time (s)", p_off, p_on, p_off / p_on, ">= 3.0x"),
    ]
    print(f"\n| metric | baseline | engine | ratio | goal |\n|---|---|---|---|---|")
    for name, base, eng, ratio, goal in rows:
        print(f"| {name} | {base:.2f} | {eng:.2f} | {ratio:.2f}x | {goal} |")
    print("\nbaseline: transformers generate, static batches (mixed); engine without prefix cache (prefix). "
          f"ratio = how many times better the engine is. TTFT mean engine {statistics.mean(e_ttft):.2f}s. "
          f"Peak RSS of this process: {peak_rss_mib():.0f} MiB.", flush=True)
    if not args.no_families:
        families_table(args)


if __name__ == "__main__":
    main()
