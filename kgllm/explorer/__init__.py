"""The graph explorer: an HTTP API and a web page to search, browse, query and question a graph.

:func:`create_app` builds the FastAPI application; ``kgllm serve`` runs it. See
:mod:`kgllm.explorer.app` for security and errors, :mod:`kgllm.explorer.routes` for the API and
:mod:`kgllm.explorer.live` for how a graph rewritten on disk is picked up without a restart.

Examples
--------
>>> from kgllm.explorer import create_app
>>> from kgllm.stores.memory import MemoryStore
>>> create_app(MemoryStore()).title
'kgllm graph explorer'
"""

from kgllm.explorer.app import create_app
from kgllm.explorer.live import LiveGraph
from kgllm.explorer.models import ExplorerConfig

__all__ = ["create_app", "ExplorerConfig", "LiveGraph"]
