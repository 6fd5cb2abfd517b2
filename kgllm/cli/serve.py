"""``kgllm serve-llm``: the batched engine behind an OpenAI-compatible HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgllm.cli.common import ModelOpt, command, err, run
from kgllm.errors import InputError
from kgllm.server.background import serve_until_stopped

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``serve-llm`` to ``app``."""
    command(app, "serve-llm")(serve_llm)


def serve_llm(
    host: str = typer.Option("127.0.0.1", metavar="HOST",
                             help="Interface to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, min=0, max=65535, metavar="PORT",
                             help="TCP port (0 picks a free one; the URL printed says which)."),
    model: Optional[Path] = ModelOpt,
    name: str = typer.Option("kgllm-engine", metavar="NAME",
                             help="Model name the API reports in /v1/models and in responses."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar="KGLLM_API_KEY", metavar="TOKEN",
                                          help="Require this bearer token on every /v1 request; default: none."),
    device: str = typer.Option("auto", metavar="DEVICE", help="auto (cuda, mps, then cpu), cpu, cuda, cuda:1, mps."),
    dtype: Optional[str] = typer.Option(None, metavar="DTYPE",
                                        help="float32 (CPU default), bfloat16 (GPU default) or float16."),
    kv_budget_mb: float = typer.Option(512, min=1, metavar="MIB", help="Memory for the paged KV cache, in MiB."),
    max_num_seqs: int = typer.Option(32, min=1, metavar="N", help="Most sequences decoded together in one step."),
    max_batch_tokens: int = typer.Option(512, min=1, metavar="N",
                                         help="Token budget of one step (prefill chunks and decodes)."),
    threads: Optional[int] = typer.Option(None, min=1, metavar="N",
                                          help="CPU threads for torch (default: torch's choice)."),
) -> None:
    """Serve the batched engine over an OpenAI-compatible HTTP API until Ctrl-C or SIGTERM.

    Endpoints: POST /v1/completions and POST /v1/chat/completions (both with "stream": true), GET /v1/models,
    GET /health. The base URL is printed on stdout; point kgllm ask --llm-url (or any OpenAI client) at it.
    """
    from kgllm.engine.engine import Engine
    from kgllm.server.llm import EngineServer

    def go() -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)
        engine = Engine.from_pretrained(model, device=device, dtype=dtype, kv_budget_mb=kv_budget_mb,
                                        max_num_seqs=max_num_seqs, max_batch_tokens=max_batch_tokens)
        try:
            server = EngineServer(engine, host=host, port=port, model_name=name, api_key=api_key).start()
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port}: {exc}") from exc
        err.print(f"serving {name} ({model or 'bundled SmolLM2'} on {engine.runner.device}); Ctrl-C stops",
                  highlight=False, markup=False)
        print(f"{server.url}/v1", flush=True)       # stdout: just the base URL, for scripts
        serve_until_stopped(server)

    run(go)
