"""Evaluation of kgllm against dataset files (extraction, KG question answering, text -> graph -> answer)."""
