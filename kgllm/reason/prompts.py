"""Prompts the reasoner sends to the language model.

>>> msgs = answer_prompt("Where was Ada born?", "[1] ada --born_in--> oslo")
>>> msgs[0]["role"], "[1] ada --born_in--> oslo" in msgs[1]["content"]
('system', True)
"""

from __future__ import annotations

from kgllm.lm import Message

__all__ = ["SYSTEM", "CHOICE_SYSTEM", "answer_prompt", "choice_prompt"]

SYSTEM = (
    "You answer questions using only the numbered facts given. Each fact reads "
    "'subject --relation--> object'. Reply with one short sentence that names the answer."
)


def answer_prompt(question: str, context: str) -> list[Message]:
    """Chat messages asking for an answer grounded in ``context`` (numbered fact lines)."""
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Facts:\n{context}\n\nQuestion: {question}"},
    ]


CHOICE_SYSTEM = (
    "You answer questions using only the numbered facts given. Each fact reads "
    "'subject --relation--> object'. Reply with exactly one of the candidate answers."
)


def choice_prompt(question: str, context: str, options: list[str]) -> list[Message]:
    """Chat messages asking the model to pick one of ``options`` (decoding is constrained to them).

    >>> choice_prompt("Where was Ada born?", "[1] ada --born_in--> oslo", ["Oslo", "Bergen"])[1]["content"][-32:]
    'Candidates: Oslo; Bergen\\nAnswer:'
    """
    return [
        {"role": "system", "content": CHOICE_SYSTEM},
        {"role": "user", "content": f"Facts:\n{context}\n\nQuestion: {question}\n"
                                    f"Candidates: {'; '.join(options)}\nAnswer:"},
    ]
