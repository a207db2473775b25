"""GBNF grammars and JSON schemas that constrain a local model's output (pure functions).

Used by :mod:`carr_agent.models.llama_cpp_chat` (llama.cpp grammar-constrained decoding):

* :func:`tool_call_schema` — the JSON object inside ``<tool_call>…</tool_call>``: one of the
  bound tools' names with arguments that follow that tool's schema, so a tool call always parses.
  Strings are length-bounded so a small model cannot run away inside one.
* :func:`answer_grammar` — the three-section final answer CaRR scores. With ``urls`` given, every
  citation and reference must be one of those URLs (the pages the run was shown): an inference-time
  option, never for training, where citing an unseen page must stay possible so that the reward
  can punish it.
* :func:`seen_urls` — the URLs tool observations showed, in order of first appearance.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "MAX_STRING_CHARS",
    "answer_grammar",
    "gbnf_literal",
    "seen_urls",
    "tool_call_schema",
]

#: Longest string argument a constrained tool call may contain.
MAX_STRING_CHARS = 200

# "URL Source: <url>" lines of rendered search results and pages (carr_agent.tools.render).
_URL_LINE = re.compile(r"URL Source: ?(\S+)")


def _bound_strings(schema: Any) -> Any:
    """A copy of a JSON schema whose string types carry ``maxLength`` (at most MAX_STRING_CHARS)."""
    if isinstance(schema, list):
        return [_bound_strings(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _bound_strings(v) for k, v in schema.items()}
    types = out.get("type")
    if types == "string" or (isinstance(types, list) and "string" in types):
        out["maxLength"] = min(int(out.get("maxLength", MAX_STRING_CHARS)), MAX_STRING_CHARS)
    return out


def _fix_integers(params: dict[str, Any], fixed: Mapping[str, int]) -> dict[str, Any]:
    """Integer properties named in ``fixed`` must be present and equal fixed[name]."""
    props = params.get("properties")
    if not fixed or not isinstance(props, dict):
        return params
    required = list(params.get("required") or [])
    for name, value in fixed.items():
        prop = props.get(name)
        if isinstance(prop, dict) and prop.get("type") == "integer":
            props[name] = {"const": int(value)}
            if name not in required:
                required.append(name)
    return {**params, "required": required}


def tool_call_schema(
    tools: Sequence[dict[str, Any]], only: str | None = None, *,
    int_fixed: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """JSON schema of ``{"name": ..., "arguments": {...}}`` for one of ``tools``.

    Args:
        tools: OpenAI-format tool dicts (``{"type": "function", "function": {...}}``).
        only: Restrict to the tool of this name.
        int_fixed: Integer arguments fixed to a value, by name (e.g. ``{"num": 5}``: five search
            results, so observations stay short on a CPU; given a range 1..5 the 0.5B model
            asked for one result and missed the answer).

    Raises:
        ValueError: No tools, or ``only`` names none of them.
    """
    choices = []
    for tool in tools:
        fn = tool.get("function", tool)
        name = fn.get("name")
        if not isinstance(name, str) or (only is not None and name != only):
            continue
        params = copy.deepcopy(fn.get("parameters") or {"type": "object", "properties": {}})
        params.pop("title", None)
        choices.append({
            "type": "object",
            "properties": {
                "name": {"const": name},
                "arguments": _fix_integers(_bound_strings(params), int_fixed or {}),
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        })
    if not choices:
        raise ValueError(f"no tool to constrain a call to (only={only!r})")
    return choices[0] if len(choices) == 1 else {"anyOf": choices}


def gbnf_literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)


def answer_grammar(urls: Sequence[str] | None = None, *, max_refs: int = 5) -> str:
    """GBNF of the final answer: explanation (one paragraph with at least one inline
    ``[n](url)`` citation), exact answer (one short line) and references (``[n] url`` lines).

    A blank line may follow each heading (small models write one; without it the grammar pushed
    the explanation into the next section). The explanation has one to four citations with at
    most 240 characters of text before each (without a bound the 0.5B model repeated itself until
    the token limit instead of citing); the exact answer is at most 48 characters without a full
    stop: a name, number, date or short phrase, not a sentence.

    Args:
        urls: When given (non-empty), the only URLs a citation or reference may use.
        max_refs: Most reference lines.
    """
    if urls:
        url_rule = " | ".join(gbnf_literal(u) for u in dict.fromkeys(urls))
    else:
        url_rule = r'"http" "s"? "://" [^ \t\n()<>\[\]]{1,200}'
    more = max(max_refs - 1, 0)
    return "\n".join([
        r'root ::= "## Explanation with Citations\n" "\n"? expl '
        r'"\n\n## Exact Answer\n" "\n"? exact "\n\n## References\n" "\n"? refs',
        "expl ::= text (cite text?){1,4}",
        r"text ::= [^\[\]\n#<]{1,240}",
        'cite ::= "[" num "](" url ")"',
        r"exact ::= [^\n\[\]#<.]{1,48}",
        f'refs ::= ref ("\\n" ref){{0,{more}}}',
        'ref ::= "[" num "] " url',
        "num ::= [1-9] [0-9]?",
        f"url ::= {url_rule}",
    ]) + "\n"


def seen_urls(observations: Iterable[str]) -> list[str]:
    """The URLs named on ``URL Source:`` lines of tool observations, distinct, first-seen order."""
    out: dict[str, None] = {}
    for text in observations:
        for m in _URL_LINE.finditer(text):
            out.setdefault(m.group(1), None)
    return list(out)
