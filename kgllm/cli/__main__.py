"""``python -m kgllm.cli``: the same as the ``kgllm`` console script."""

from kgllm.cli import app

if __name__ == "__main__":  # pragma: no cover
    app(prog_name="kgllm")
