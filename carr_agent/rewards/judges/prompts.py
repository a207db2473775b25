"""Judge prompt templates and the strict parsers of their output contracts.

Input labelling follows the reference reward server: rubrics as ``C1.`` … lines with their
``<E0>`` placeholders; filled rubrics as ``S1.`` … statements; the evidence as ``[Webpage n]``
blocks. Output contracts:

* entities: a fenced ```json object with EXACTLY the entity labels as keys; values strings,
  numbers (turned into strings; the reference wrongly rejects them) or null; the strings
  ``"null"``/``"none"`` (any case) and blank strings mean null;
* support: a fenced ```json object ``{"S1": true, ...}`` with exactly the statement keys and
  boolean values;
* outcome (BrowseComp grader): an ``extracted_final_answer: …`` line and a ``correct: yes|no``
  line (``None`` as the extracted answer means none was given).

Parsers raise :class:`~carr_agent.errors.JudgeOutputError` naming what is wrong, so the LLM judge
can retry. Leniency is limited to the wrapping (``<think>`` blocks, a fence without the ``json``
tag, bold markers), never the content.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Formatter
from typing import Any, Literal

from carr_agent.errors import ConfigError, JudgeOutputError
from carr_agent.rewards.judges.base import OutcomeVerdict
from carr_agent.rewards.rubrics import all_entity_labels, format_constraints, format_statements

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n?(.*?)```", re.S)
_CORRECT = re.compile(r"^[ \t*_#-]*correct[ \t*_]*:[ \t*_]*(yes|no)\b", re.I | re.M)
_EXTRACTED = re.compile(r"^[ \t*_#-]*extracted_final_answer[ \t*_]*:[ \t*_]*(.*)$", re.I | re.M)
_NULL_STRINGS = {"null", "none"}
PromptKind = Literal["entities", "support", "outcome"]


#: File names of a prompt directory (the reference reward server's names, so that a checkout of
#: its ``prompts/`` folder loads unmodified).
PROMPT_FILES: dict[PromptKind, str] = {
    "entities": "identify_entity.txt",
    "support": "judge_rubric.txt",
    "outcome": "get_outcome_reward.txt",
}
#: Fields a template must use, and fields it may use, per kind.
_REQUIRED: dict[PromptKind, frozenset[str]] = {
    "entities": frozenset({"question", "constraints", "response"}),
    "support": frozenset({"context", "statements"}),
    "outcome": frozenset({"question", "response", "correct_answer"}),
}
_OPTIONAL = frozenset({"labels"})
#: Built-in styles: ``analysis`` (the default) makes the judge reason per entity / statement before
#: the JSON, as the method's published judge-accuracy figures were obtained; ``compact`` asks for
#: the JSON alone (fewer output tokens, see benchmarks/bench_judge_prompts.py).
PROMPT_STYLES = ("analysis", "compact")


@dataclass(frozen=True, slots=True)
class PromptSet:
    """The three judge prompt templates (``str.format`` syntax, ``{{``/``}}`` for literal braces).

    Fields filled in: entities ``{question}``, ``{constraints}`` (``C1. …`` lines), ``{response}``;
    support ``{context}`` (the cited evidence), ``{statements}`` (``S1. …`` lines); outcome
    ``{question}``, ``{response}``, ``{correct_answer}``. Entities and support may also use
    ``{labels}``, the expected JSON keys (``"E0", "E1"``). These are the reference server's field
    names and labelling, so its own prompt files give byte-identical prompts.
    """

    entities: str
    support: str
    outcome: str
    source: str = "builtin:analysis"

    def __post_init__(self) -> None:
        for kind in PROMPT_FILES:
            _check_template(kind, getattr(self, kind), self.source)

    @classmethod
    def builtin(cls, style: str = "analysis") -> PromptSet:
        """One of the shipped styles (:data:`PROMPT_STYLES`)."""
        if style not in PROMPT_STYLES:
            raise ConfigError(f"unknown prompt style {style!r}; choose one of {', '.join(PROMPT_STYLES)}")
        root = resources.files("carr_agent.rewards.judges") / "templates"
        texts = {}
        for kind, name in PROMPT_FILES.items():
            path = root / style / name
            texts[kind] = (path if path.is_file() else root / "analysis" / name).read_text("utf-8")
        return cls(**texts, source=f"builtin:{style}")

    @classmethod
    def from_dir(cls, directory: str | Path, *, fallback: str = "analysis") -> PromptSet:
        """Templates from ``directory`` (files named as in :data:`PROMPT_FILES`); a missing file
        falls back to the built-in ``fallback`` style, an unreadable or invalid one is an error."""
        root = Path(directory).expanduser()
        if not root.is_dir():
            raise ConfigError(f"prompt directory {root} does not exist or is not a directory")
        base = cls.builtin(fallback)
        texts = {}
        for kind, name in PROMPT_FILES.items():
            path = root / name
            if not path.is_file():
                texts[kind] = getattr(base, kind)
                continue
            try:
                texts[kind] = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read prompt file {path}: {exc}") from exc
        return cls(**texts, source=str(root))

    def entities_prompt(self, question: str, rubrics: Sequence[str], answer: str) -> str:
        """The entity-identification prompt for one answer."""
        labels = all_entity_labels(rubrics)
        return self.entities.format(question=question, constraints=format_constraints(rubrics).strip(),
                                    response=answer, labels=_quoted(labels))

    def support_prompt(self, evidence: str, statements: Sequence[str]) -> str:
        """The citation-support prompt for the filled rubrics."""
        keys = [f"S{i}" for i in range(1, len(statements) + 1)]
        return self.support.format(context=evidence, statements=format_statements(statements).strip(),
                                   labels=_quoted(keys))

    def outcome_prompt(self, question: str, answer: str, label: str) -> str:
        """The outcome grader prompt (BrowseComp-style contract)."""
        return self.outcome.format(question=question, response=answer, correct_answer=label)


@functools.cache
def builtin_prompts(style: str = "analysis") -> PromptSet:
    """The shipped templates of one style, read once."""
    return PromptSet.builtin(style)


def identify_entities_prompt(question: str, rubrics: Sequence[str], answer: str) -> str:
    """The default entity-identification prompt."""
    return builtin_prompts().entities_prompt(question, rubrics, answer)


def support_prompt(evidence: str, statements: Sequence[str]) -> str:
    """The default citation-support prompt."""
    return builtin_prompts().support_prompt(evidence, statements)


def outcome_prompt(question: str, answer: str, label: str) -> str:
    """The default outcome grader prompt."""
    return builtin_prompts().outcome_prompt(question, answer, label)


def _quoted(keys: Sequence[str]) -> str:
    return ", ".join(f'"{key}"' for key in keys)


def _check_template(kind: PromptKind, text: str, source: str) -> None:
    where = f"{source}: {PROMPT_FILES[kind]}"
    try:
        fields = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
    except ValueError as exc:  # a lone brace
        raise ConfigError(f"{where} is not a valid template: {exc} (write {{{{ and }}}} for braces)") from exc
    bad = {f for f in fields if not f or not f.isidentifier()}
    if bad:
        raise ConfigError(f"{where} uses positional or indexed fields {sorted(bad)}; use named fields")
    missing = _REQUIRED[kind] - fields
    unknown = fields - _REQUIRED[kind] - (_OPTIONAL if kind != "outcome" else frozenset())
    if missing or unknown:
        raise ConfigError(
            f"{where} must use the fields {sorted(_REQUIRED[kind])}; missing {sorted(missing)}, "
            f"unknown {sorted(unknown)}"
        )


def parse_entities_output(text: str, labels: Sequence[str]) -> dict[str, str | None]:
    """Validate the entity-identification output against the expected labels."""
    data = _json_object(text)
    _exact_keys(data, labels)
    return {label: _entity_value(label, data[label]) for label in labels}


def parse_support_output(text: str, n_statements: int) -> list[bool]:
    """Validate the support output: exactly ``S1``…``Sn``, boolean values."""
    keys = [f"S{i}" for i in range(1, n_statements + 1)]
    data = _json_object(text)
    _exact_keys(data, keys)
    for key in keys:
        if not isinstance(data[key], bool):
            raise JudgeOutputError(f"value of {key} must be true or false, got {data[key]!r}")
    return [data[key] for key in keys]


def parse_outcome_output(text: str) -> OutcomeVerdict:
    """Read the ``extracted_final_answer:`` and the last ``correct: yes|no`` line."""
    text = _THINK.sub("", text)
    extracted = _EXTRACTED.search(text)
    corrects = _CORRECT.findall(text)
    if extracted is None or not corrects:
        missing = [n for n, ok in (("extracted_final_answer", extracted), ("correct", corrects)) if not ok]
        raise JudgeOutputError(f"grader output lacks the line(s): {', '.join(missing)}")
    value = extracted.group(1).strip().strip("*").strip()
    if value.lower().strip(" '\".") in _NULL_STRINGS or not value:
        value = None
    return OutcomeVerdict(extracted_answer=value, correct=corrects[-1].lower() == "yes")


def _json_object(text: str) -> dict[str, Any]:
    text = _THINK.sub("", text)
    blocks = _FENCE.findall(text)
    candidate = blocks[-1].strip() if blocks else text.strip()
    if not candidate:
        raise JudgeOutputError("judge output has no JSON object")
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError as exc:
        where = "fenced block" if blocks else "output (no ```json block)"
        raise JudgeOutputError(f"judge {where} is not valid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise JudgeOutputError(f"judge JSON must be an object, got {type(data).__name__}")
    return data


def _exact_keys(data: dict[str, Any], expected: Sequence[str]) -> None:
    missing = [k for k in expected if k not in data]
    extra = [k for k in data if k not in set(expected)]
    if missing or extra:
        raise JudgeOutputError(
            f"judge JSON keys must be exactly {list(expected)}; missing {missing}, extra {extra}"
        )


def _entity_value(label: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise JudgeOutputError(f"value of {label} must be a string or null, got a boolean")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if not isinstance(value, str):
        raise JudgeOutputError(f"value of {label} must be a string or null, got {type(value).__name__}")
    value = value.strip()
    return None if not value or value.lower() in _NULL_STRINGS else value
