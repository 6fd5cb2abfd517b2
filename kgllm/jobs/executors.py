"""Where extraction runs: :class:`LocalExecutor` (this process) or :class:`RayExecutor` (Ray workers).

An executor maps batches of documents to their per-document results (:class:`~kgllm.jobs.pipeline.DocResult`),
**in the order the batches were given**; the driver resolves and writes them in that order, through the ledger,
so the graph does not depend on where extraction ran.

Examples
--------
>>> from kgllm.jobs.spec import ExecutorSpec, ExtractorSpec
>>> from kgllm.types import Document, GraphDelta
>>> class Nothing:
...     name = "nothing"
...     def extract(self, documents, progress=False):
...         return GraphDelta()
>>> ex = LocalExecutor(Nothing())
>>> [[r.doc_id for r in batch] for batch in ex.map([[Document("a", "x")], [Document("b", "y")]])]
[['a'], ['b']]
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable, Iterator, Optional, Sequence

from kgllm.errors import ConfigError
from kgllm.extract.base import Extractor
from kgllm.jobs.pipeline import DocResult, extract_batch, make_extractor
from kgllm.jobs.spec import ExecutorSpec, ExtractorSpec
from kgllm.types import Document

__all__ = ["LocalExecutor", "RayExecutor", "make_executor"]


class LocalExecutor:
    """Extract in this process, one batch after the other."""

    kind = "local"

    def __init__(self, extractor: Extractor) -> None:
        self.extractor = extractor

    def map(self, batches: Iterable[Sequence[Document]]) -> Iterator[list[DocResult]]:
        """Results of each batch, in order."""
        for docs in batches:
            yield extract_batch(self.extractor, docs) if docs else []

    def close(self) -> None:
        """Nothing to release."""


class _Worker:
    """A Ray actor holding one extractor (loaded once per worker)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.extractor = make_extractor(ExtractorSpec.model_validate(settings))

    def extract(self, docs: list[Document]) -> list[DocResult]:
        return extract_batch(self.extractor, docs)


class RayExecutor:
    """Spread batches over Ray workers (actors, one extractor each); results come back in batch order.

    ``address`` is passed to ``ray.init`` (a cluster: ``auto`` or ``ray://HOST:10001``); without it a local
    Ray instance with ``workers`` CPUs starts (and stops with :meth:`close`). At most two batches per worker
    are in flight, so memory stays bounded on long runs.
    """

    kind = "ray"

    def __init__(self, settings: ExtractorSpec, workers: int = 2, address: Optional[str] = None) -> None:
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - ray is a dependency
            raise ConfigError("executor 'ray' needs the ray package: pip install 'kgllm[ray]'") from exc
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            import os

            os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
            kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
            env = {"env_vars": {k: v for k, v in os.environ.items() if k.startswith(("HF_", "TRANSFORMERS_",
                                                                                  "KGLLM_", "TOKENIZERS_"))}}
            ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     runtime_env=env, **kwargs)
        actor = ray.remote(num_cpus=1)(_Worker)
        data = settings.model_dump(by_alias=True)
        self._workers = [actor.remote(data) for _ in range(workers)]

    def map(self, batches: Iterable[Sequence[Document]]) -> Iterator[list[DocResult]]:
        """Results of each batch, in the order given (batches are dealt round-robin to the workers)."""
        pending: deque = deque()
        limit = 2 * len(self._workers)
        for i, docs in enumerate(batches):
            pending.append(self._workers[i % len(self._workers)].extract.remote(list(docs)))
            if len(pending) >= limit:
                yield self._ray.get(pending.popleft())
        while pending:
            yield self._ray.get(pending.popleft())

    def close(self) -> None:
        """Stop the workers (and the local Ray instance this executor started)."""
        for w in self._workers:
            self._ray.kill(w)
        self._workers = []
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(spec: ExecutorSpec, settings: ExtractorSpec) -> LocalExecutor | RayExecutor:
    """The executor a job spec asks for."""
    if spec.kind == "ray":
        return RayExecutor(settings, workers=spec.workers, address=spec.address)
    return LocalExecutor(make_extractor(settings))
