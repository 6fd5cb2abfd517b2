"""HTTP servers on FastAPI + uvicorn: the OpenAI-compatible LLM API (:mod:`kgllm.server.llm`).

Importing this package does not import FastAPI; import the submodules.
"""

__all__: list[str] = []
