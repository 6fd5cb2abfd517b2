"""Constrained decoding of extraction output: always valid JSON, relations from the schema, entities from the input.

The model writes a JSON list of triples::

    [{"s": "<subject>", "r": "<relation>", "o": "<object>"}, ...]

and :class:`TripleGrammar` makes any other output impossible: at every step a
logits processor (:class:`GrammarProcessor`, one per request, plugged into
:class:`~kgllm.engine.SamplingParams` ``logits_processors``) masks every token
that would leave the grammar. The grammar is a small chain of token tries:

* ``START``: ``[{"s": "`` (a first triple) or ``[]`` (nothing to extract);
* ``SUBJECT``: one of the allowed subject strings (spans copied from the input),
  then ``", "r": "``;
* ``RELATION``: one of the allowed relation names, then ``", "o": "``;
* ``OBJECT``: one of the allowed object strings, then ``"}, {"s": "`` (another
  triple) or ``"}]`` (the end); after ``max_triples`` only the end;
* ``END``: the end-of-sequence token.

Each literal and each allowed string is tokenized on its own, so the trie holds
one tokenization per string. Strings containing ``"`` or ``\\`` are left out
(they would need escaping). :meth:`TripleGrammar.parse` reads an output back,
also one cut short by ``max_tokens`` (the unfinished last triple is dropped).

:class:`ChoiceGrammar` is the one-slot case: the output is exactly one of a few
options (a relation name or ``"none"``), for typing or verifying candidates.

Examples
--------
>>> class CharTok:                      # a toy tokenizer: one token per character
...     eos_token_id = 0
...     def __call__(self, text, add_special_tokens=False):
...         return {"input_ids": [ord(c) for c in text]}
>>> g = TripleGrammar(CharTok(), ["Oslo", "Norway"], ["capital"], max_triples=1)
>>> proc = g.processor()
>>> out = [ord(c) for c in '[{"s": "Os']
>>> [chr(t) for t in proc.allowed(out)]
['l']
>>> out = [ord(c) for c in '[{"s": "Oslo", "r": "capital", "o": "Norway"}]']
>>> proc.allowed(out)
[0]
>>> g.parse('[{"s": "Oslo", "r": "capital", "o": "Norway"}, {"s": "Nor')
[('Oslo', 'capital', 'Norway')]
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

__all__ = ["TokenTrie", "TripleGrammar", "GrammarProcessor", "ChoiceGrammar", "candidate_spans", "parse_triples"]

_OPEN, _EMPTY = '[{"s": "', "[]"
_MID_R, _MID_O = '", "r": "', '", "o": "'
_NEXT, _LAST = '"}, {"s": "', '"}]'
START, SUBJECT, RELATION, OBJECT, OBJECT_LAST, END = range(6)
_CONTENT = {"PROPN", "NOUN", "NUM", "ADJ", "X", "SYM"}
_EDGE_BAD = {"DET", "ADP", "CCONJ", "SCONJ", "PRON", "AUX", "PART", "PUNCT", "SPACE"}


class TokenTrie:
    """Token sequences in a trie; each complete sequence carries a label (what comes next).

    Examples
    --------
    >>> t = TokenTrie([([1, 2], "a"), ([1, 3, 4], "b")])
    >>> sorted(t.root[1]), t.root[1][2][None]
    ([2, 3], 'a')
    """

    def __init__(self, sequences: Iterable[tuple[Sequence[int], Any]] = ()) -> None:
        self.root: dict = {}
        for tokens, label in sequences:
            self.add(tokens, label)

    def add(self, tokens: Sequence[int], label: Any) -> None:
        node = self.root
        for t in tokens:
            node = node.setdefault(int(t), {})
        node.setdefault(None, label)

    def __bool__(self) -> bool:
        return bool(self.root)


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _usable(text: str) -> bool:
    return bool(text.strip()) and '"' not in text and "\\" not in text and "\n" not in text


class TripleGrammar:
    """The token-level grammar of a JSON triple list over fixed subject, relation and object strings.

    Parameters
    ----------
    tokenizer : callable
        A Hugging Face style tokenizer (``tokenizer(text, add_special_tokens=False)["input_ids"]`` and
        ``eos_token_id``).
    spans : sequence of str
        Strings the subject and the object may be (copied from the input).
    relations : sequence of str
        Names the relation may be.
    max_triples : int
        Most triples in one output.
    objects : sequence of str, optional
        Strings the object may be, when they differ from ``spans``.
    """

    def __init__(self, tokenizer: Any, spans: Sequence[str], relations: Sequence[str], max_triples: int = 8,
                 objects: Sequence[str] | None = None) -> None:
        self.tokenizer, self.max_triples = tokenizer, max(1, int(max_triples))
        self.end_id = int(tokenizer.eos_token_id)
        enc = {s: _encode(tokenizer, s) for s in dict.fromkeys([*spans, *(objects or ()), *relations]) if _usable(s)}
        lit = {t: _encode(tokenizer, t) for t in (_OPEN, _EMPTY, _MID_R, _MID_O, _NEXT, _LAST)}
        subjects = [s for s in dict.fromkeys(spans) if s in enc]
        objs = [s for s in dict.fromkeys(objects if objects is not None else spans) if s in enc]
        rels = [r for r in dict.fromkeys(relations) if r in enc]
        self.strings = {tuple(ids): s for s, ids in enc.items()}
        self.object_ids = [(tuple(enc[o]), tuple(lit[_NEXT]), tuple(lit[_LAST])) for o in objs]
        self.mid = (len(lit[_MID_R]), len(lit[_MID_O]))
        self.empty = not (subjects and objs and rels)
        self.tries = {
            START: TokenTrie([(lit[_EMPTY], END)] + ([] if self.empty else [(lit[_OPEN], SUBJECT)])),
            SUBJECT: TokenTrie((enc[s] + lit[_MID_R], RELATION) for s in subjects),
            RELATION: TokenTrie((enc[r] + lit[_MID_O], OBJECT) for r in rels),
            OBJECT: TokenTrie([*((enc[o] + lit[_NEXT], SUBJECT) for o in objs),
                               *((enc[o] + lit[_LAST], END) for o in objs)]),
            OBJECT_LAST: TokenTrie((enc[o] + lit[_LAST], END) for o in objs),
        }

    def processor(self) -> "GrammarProcessor":
        """A fresh logits processor for one request."""
        return GrammarProcessor(self)

    def parse(self, text: str) -> list[tuple[str, str, str]]:
        """The triples of an output (valid by construction; a cut-short tail is dropped)."""
        return parse_triples(text)


def parse_triples(text: str) -> list[tuple[str, str, str]]:
    """Triples from a JSON triple list; lenient: an unfinished tail is dropped, malformed items skipped.

    >>> parse_triples('[{"s": "a", "r": "b", "o": "c"}, {"s": "d", "r"')
    [('a', 'b', 'c')]
    >>> parse_triples('no json here')
    []
    """
    text = text.strip()
    start = text.find("[")
    if start < 0:
        return []
    body = text[start:]
    data: Any = None
    for candidate in (body, body[:body.rfind("}") + 1] + "]" if "}" in body else "[]"):
        try:
            data = json.loads(candidate)
            break
        except json.JSONDecodeError:
            continue
    if not isinstance(data, list):
        return []
    out: list[tuple[str, str, str]] = []
    for item in data:
        if isinstance(item, dict) and all(isinstance(item.get(k), str) and item[k].strip() for k in "sro"):
            out.append((item["s"].strip(), item["r"].strip(), item["o"].strip()))
        elif isinstance(item, list) and len(item) == 3 and all(isinstance(x, str) and x.strip() for x in item):
            out.append((item[0].strip(), item[1].strip(), item[2].strip()))
    return out


class GrammarProcessor:
    """Stateful logits processor following one request's output through a :class:`TripleGrammar`.

    Called as ``proc(output_token_ids, logits)``; it reads only the tokens new since its last call.
    """

    def __init__(self, grammar: TripleGrammar) -> None:
        self.grammar = grammar
        self.phase, self.node, self.seen, self.triples = START, grammar.tries[START].root, 0, 0
        self.buf: list[int] = []                 # tokens since the current phase began
        self.subject: tuple[int, ...] = ()
        self.relation: tuple[int, ...] = ()
        self.done: set[tuple] = set()            # (subject, relation, object) token tuples already written

    def _advance(self, token: int) -> None:
        if self.phase == END:
            return
        child = self.node.get(token)
        if child is None and None in self.node:           # a complete sequence, then the next phase's start
            self._enter(self.node[None])
            child = self.node.get(token) if self.phase != END else None
        if child is None:
            self.phase, self.node = END, {}
            return
        self.node = child
        self.buf.append(token)
        if None in child and len(child) == 1:
            self._enter(child[None])

    def _enter(self, phase: int) -> None:
        mid_r, mid_o = self.grammar.mid
        if phase == RELATION:
            self.subject = tuple(self.buf[:-mid_r])
        elif phase == OBJECT:
            self.relation = tuple(self.buf[:-mid_o])
        elif self.phase in (OBJECT, OBJECT_LAST):       # a triple is complete
            obj = next((o for o, n, lst in self.grammar.object_ids if tuple(self.buf) in (o + n, o + lst)), ())
            self.done.add((self.subject, self.relation, obj))
        if phase == SUBJECT:
            self.triples += 1
        self.phase, self.buf = phase, []
        if phase == END:
            self.node = {}
        elif phase == OBJECT:                 # no object equal to the subject, no triple written twice
            last = self.triples >= self.grammar.max_triples
            fresh = [(o, n, lst) for o, n, lst in self.grammar.object_ids
                     if o != self.subject and (self.subject, self.relation, o) not in self.done]
            trie = TokenTrie([(o + lst, END) for o, _, lst in fresh] + ([] if last else
                                                                     [(o + n, SUBJECT) for o, n, _ in fresh]))
            self.phase = OBJECT_LAST if last else OBJECT
            self.node = (trie if trie else self.grammar.tries[self.phase]).root
        else:
            self.node = self.grammar.tries[phase].root

    def allowed(self, output_ids: Sequence[int]) -> list[int]:
        """Token ids allowed after ``output_ids`` (the end-of-sequence id once the list is closed)."""
        for token in output_ids[self.seen:]:
            self._advance(int(token))
        self.seen = len(output_ids)
        if self.phase == END:
            return [self.grammar.end_id]
        keys = [k for k in self.node if k is not None]
        if None in self.node:
            nxt = self.node[None]
            keys += [self.grammar.end_id] if nxt == END else list(self.grammar.tries[nxt].root)
        return sorted(set(keys))

    def __call__(self, output_ids: Sequence[int], logits: Any) -> Any:
        import torch

        keep = torch.tensor(self.allowed(output_ids), device=logits.device)
        masked = torch.full_like(logits, float("-inf"))
        masked[keep] = logits[keep]
        return masked


class ChoiceGrammar:
    """Output exactly one of ``options`` (then end-of-sequence): a constrained choice.

    Examples
    --------
    >>> class CharTok:
    ...     eos_token_id = 0
    ...     def __call__(self, text, add_special_tokens=False):
    ...         return {"input_ids": [ord(c) for c in text]}
    >>> g = ChoiceGrammar(CharTok(), ["none", "nationality", "name"])
    >>> [chr(t) for t in g.processor().allowed([ord("n"), ord("a")])]
    ['m', 't']
    >>> g.pick(" nationality"), g.pick("bogus")
    ('nationality', None)
    """

    def __init__(self, tokenizer: Any, options: Sequence[str]) -> None:
        from kgllm.engine.sampler import AllowedTokensProcessor

        self.options = [o for o in dict.fromkeys(options) if o.strip()]
        self._proc = AllowedTokensProcessor([_encode(tokenizer, o) for o in self.options], int(tokenizer.eos_token_id))

    def processor(self) -> Any:
        """The logits processor (stateless: it reads the whole output each step)."""
        return self._proc

    def pick(self, text: str) -> str | None:
        """The option an output names, or None."""
        text = text.strip()
        return text if text in self.options else None


def candidate_spans(sdoc: Any, max_words: int = 6) -> list[str]:
    """Strings a subject or an object may be: spans of a parsed sentence (spaCy ``Doc`` or ``Span``).

    Named entities, noun chunks without their determiner, runs of proper nouns and numbers, and every n-gram of
    up to ``max_words`` tokens that starts and ends on a content word and crosses no punctuation but ``-``,
    ``'``, ``.``, ``,`` inside names.
    """
    spans: dict[str, None] = {}

    def add(toks: Sequence[Any]) -> None:
        toks = list(toks)
        while toks and (toks[0].pos_ in _EDGE_BAD or toks[0].is_punct):
            toks = toks[1:]
        while toks and (toks[-1].pos_ in _EDGE_BAD or toks[-1].is_punct):
            toks = toks[:-1]
        if toks:
            text = sdoc[toks[0].i - sdoc[0].i:toks[-1].i - sdoc[0].i + 1].text.strip()
            if text:
                spans[text] = None

    for ent in getattr(sdoc, "ents", ()):
        add(ent)
    for chunk in getattr(sdoc, "noun_chunks", ()):
        add(chunk)
    tokens = list(sdoc)
    for i, tok in enumerate(tokens):
        if tok.pos_ not in _CONTENT and not tok.like_num:
            continue
        for j in range(i, min(len(tokens), i + max_words)):
            last = tokens[j]
            if last.is_punct and last.text not in "-'.," or last.is_space or "\n" in last.text:
                break
            if last.pos_ in _CONTENT or last.like_num:
                add(tokens[i:j + 1])
    return list(spans)
