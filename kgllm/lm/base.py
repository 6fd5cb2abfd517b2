"""What a language model is to kgllm: chat conversations in, completions out.

Anything with ``chat(conversations, max_new_tokens) -> list[str]`` is a :class:`Generator`; one that
also has ``stream_chat(conversation, max_new_tokens) -> Iterator[str]`` can stream
(:class:`StreamingGenerator`). A conversation is a list of :data:`Message` dicts.

Examples
--------
>>> class Echo:
...     def chat(self, conversations, max_new_tokens=48):
...         return [c[-1]["content"] for c in conversations]
>>> isinstance(Echo(), Generator), isinstance(Echo(), StreamingGenerator)
(True, False)
>>> check_conversation([{"role": "user", "content": "  "}])
Traceback (most recent call last):
...
kgllm.errors.InputError: empty prompt: a conversation needs at least one non-empty message
"""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence, runtime_checkable

from kgllm.errors import InputError

__all__ = ["Generator", "StreamingGenerator", "Message", "check_conversation"]

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


@runtime_checkable
class Generator(Protocol):
    """Anything that turns chat conversations into completions (greedy unless it says otherwise)."""

    def chat(self, conversations: Sequence[Sequence[Message]], max_new_tokens: int = 48) -> list[str]: ...


@runtime_checkable
class StreamingGenerator(Generator, Protocol):
    """A :class:`Generator` that can also yield one completion's text as it is generated."""

    def stream_chat(self, conversation: Sequence[Message], max_new_tokens: int = 48) -> Iterator[str]: ...


def check_conversation(conversation: Sequence[Message]) -> None:
    """Raise :class:`~kgllm.errors.InputError` for a conversation without any non-empty message.

    Parameters
    ----------
    conversation : sequence of Message
        The messages of one chat, oldest first.
    """
    if not conversation or not any(str(m.get("content", "")).strip() for m in conversation):
        raise InputError("empty prompt: a conversation needs at least one non-empty message")
