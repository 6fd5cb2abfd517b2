"""How stores index entity names: the keys a name is looked up by, and the terms of the full-text search.

Every store indexes each entity under the distinct keys of its id, name and aliases in two forms:

* :func:`~kgllm.types.entity_id` of the name (``"Ada L."`` -> ``"ada l"``), what :meth:`find_entities`
  and the explorer's search compare;
* :func:`token_key`, the name's :func:`tokenize` tokens joined by spaces (``"Ada_Lovelace's"`` ->
  ``"ada lovelace 's"``), what the entity linker matches question n-grams against.

Examples
--------
>>> tokenize("What is Ada_Lovelace's father's job?")
['what', 'is', 'ada', 'lovelace', "'s", 'father', "'s", 'job']
>>> name_keys("ada l.", "Ada L.", ["A. Lindqvist"])
[('ada l', 'ada l', False), ('a. lindqvist', 'a lindqvist', True)]
>>> fts_query(["ada", "lind"], prefix=True)
'"ada"* AND "lind"*'
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

from kgllm.types import entity_id

__all__ = ["tokenize", "token_key", "name_keys", "fts_query", "search_text"]

_POSSESSIVE = re.compile(r"(?<=[^\W_])['\u2019]s\b")
_TOKEN = re.compile(r"'s\b|[^\W_]+(?:['\-.][^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Split a text into lower-cased word tokens, possessive ``'s`` as its own token.

    Underscores count as spaces, so ``ada_lovelace`` gives two tokens; names and
    questions tokenised this way can be compared n-gram by n-gram.

    Parameters
    ----------
    text : str
        Any text (a question, an entity name).

    Returns
    -------
    list of str
        The tokens, in order.

    Examples
    --------
    >>> tokenize("odo_of_lower-brook_and_vale 's niece")
    ['odo', 'of', 'lower-brook', 'and', 'vale', "'s", 'niece']
    """
    norm = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    norm = _POSSESSIVE.sub(" 's", norm.replace("_", " "))
    return _TOKEN.findall(norm)


def token_key(text: str) -> str:
    """The tokens of ``text`` joined by single spaces: the key the entity linker looks names up by.

    >>> token_key("St. Louis's")
    "st louis 's"
    """
    return " ".join(tokenize(text))


def name_keys(eid: str, name: str, aliases: Iterable[str]) -> list[tuple[str, str, bool]]:
    """``(entity_id key, token key, is_alias)`` of an entity's id, name and aliases, each distinct pair once.

    A pair reached from the id or the name is not an alias, even when an alias gives it too.
    """
    out: dict[tuple[str, str], bool] = {}
    for text, alias in [(eid, False), (name, False), *((a, True) for a in aliases)]:
        pair = (entity_id(text), token_key(text))
        if pair[0] or pair[1]:
            out[pair] = out.get(pair, True) and alias
    return [(k, t, a) for (k, t), a in out.items()]


def search_text(keys: Iterable[str]) -> str:
    """The document the full-text index holds for an entity: its distinct name keys, one a line."""
    return "\n".join(dict.fromkeys(k for k in keys if k))


def fts_query(words: Iterable[str], prefix: bool = False, any_word: bool = False) -> str:
    """An FTS5 query matching ``words`` (each a quoted phrase, so the index's tokenizer splits it alike).

    ``prefix``: each word may be the start of a longer one; ``any_word``: OR instead of AND. Words
    without a letter or digit are left out (they cannot match a token); ``''`` when none is left.
    """
    terms = ['"' + w.replace('"', '""') + '"' + ("*" if prefix else "") for w in dict.fromkeys(words)
             if any(ch.isalnum() for ch in w)]
    return (" OR " if any_word else " AND ").join(terms)
