"""The curated public API."""

import kgllm


def test_all_names_exist_and_are_documented():
    for name in kgllm.__all__:
        obj = getattr(kgllm, name)
        if name != "__version__":
            assert obj.__doc__, f"kgllm.{name} has no docstring"


def test_errors_share_one_root():
    for name in ("ConfigError", "InputError", "StoreError", "ExtractionError", "GenerationError", "NotFoundError"):
        assert issubclass(getattr(kgllm, name), kgllm.KgllmError)
