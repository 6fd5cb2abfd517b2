"""Chat templates from the tokenizer, made to accept what kgllm sends (pure Python, Jinja through transformers).

kgllm's prompts are a system message and a user message. A model's own template is used as it is when it renders
them; two cases are mended once, at load time, so that every caller of ``tokenizer.apply_chat_template`` (the
reasoner, the extractor, the server) gets a prompt:

- a template that refuses the system role (Gemma 2's raises "System role not supported") gets a prelude that folds
  the system message into the first user message, as Gemma's documentation advises;
- a tokenizer without a template (a base model) gets :data:`PLAIN_TEMPLATE`: ``Role: content`` paragraphs ending
  with ``Assistant:``.

Examples
--------
>>> class Tok:
...     chat_template = None
...     def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=False):
...         import jinja2
...         return jinja2.Template(self.chat_template).render(messages=messages,
...                                                           add_generation_prompt=add_generation_prompt)
>>> tok = Tok(); prepare_chat_template(tok)
'plain'
>>> print(tok.apply_chat_template([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]))
System: Be brief.
<BLANKLINE>
User: Hi
<BLANKLINE>
Assistant:
"""

from __future__ import annotations

from typing import Any

__all__ = ["prepare_chat_template", "PLAIN_TEMPLATE", "FOLD_SYSTEM"]

PLAIN_TEMPLATE = ("{% for m in messages %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n\n{% endfor %}"
                  "{% if add_generation_prompt %}Assistant:{% endif %}")

# prepended to a template that refuses system messages: the first user message carries the system text
FOLD_SYSTEM = (
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- if messages | length > 1 and messages[1]['role'] == 'user' -%}"
    "{%- set messages = [{'role': 'user', 'content': messages[0]['content'] + '\n\n' + messages[1]['content']}]"
    " + messages[2:] -%}"
    "{%- else -%}"
    "{%- set messages = [{'role': 'user', 'content': messages[0]['content']}] + messages[1:] -%}"
    "{%- endif -%}"
    "{%- endif -%}")

_PROBE = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]


def _renders(tokenizer: Any) -> bool:
    try:
        tokenizer.apply_chat_template(_PROBE, add_generation_prompt=True, tokenize=False)
        return True
    except Exception:  # noqa: BLE001 - jinja's TemplateError, or a template that raises on purpose
        return False


def prepare_chat_template(tokenizer: Any) -> str:
    """Make ``tokenizer``'s chat template render a system + user conversation; say what was done.

    Returns
    -------
    str
        ``"own"`` (its template works as it is), ``"folded"`` (system folded into the first user turn), ``"plain"``
        (no template: :data:`PLAIN_TEMPLATE`) or ``"broken"`` (its template fails even so; left as it was).
    """
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        tokenizer.chat_template = PLAIN_TEMPLATE
        return "plain"      # a BOS, when the tokenizer adds one to texts, is added by the engine
    if not isinstance(template, str) or _renders(tokenizer):
        return "own"
    tokenizer.chat_template = FOLD_SYSTEM + template
    if _renders(tokenizer):
        return "folded"
    tokenizer.chat_template = template
    return "broken"
