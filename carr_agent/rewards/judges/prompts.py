"""Judge prompts and the strict parsers of their output contracts.

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

import json
import re
from collections.abc import Sequence
from typing import Any

from carr_agent.errors import JudgeOutputError
from carr_agent.rewards.judges.base import OutcomeVerdict
from carr_agent.rewards.rubrics import all_entity_labels, format_constraints, format_statements

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n?(.*?)```", re.S)
_CORRECT = re.compile(r"^[ \t*_#-]*correct[ \t*_]*:[ \t*_]*(yes|no)\b", re.I | re.M)
_EXTRACTED = re.compile(r"^[ \t*_#-]*extracted_final_answer[ \t*_]*:[ \t*_]*(.*)$", re.I | re.M)
_NULL_STRINGS = {"null", "none"}


def identify_entities_prompt(question: str, rubrics: Sequence[str], answer: str) -> str:
    """Prompt asking which identity the answer states for every rubric entity."""
    labels = all_entity_labels(rubrics)
    example = json.dumps({label: ("..." if i % 2 == 0 else None) for i, label in enumerate(labels)})
    keys = ", ".join(f'"{label}"' for label in labels)
    return f"""You check which entities a research response identifies.

A multi-hop question was decomposed into constraints about hidden entities. The constraints use \
placeholders: <E0> is always the final answer to the question; <E1>, <E2>, ... are intermediate \
entities.

[Question]
{question}

[Constraints]
{format_constraints(rubrics)}

[Response]
{answer}

For every entity placeholder used in the constraints, write the identity that the response states \
for it EXPLICITLY. Use only the response: do not use your own knowledge, do not solve the question, \
do not guess, and do not infer an identity the response does not name. If the response does not \
explicitly name the entity, the value is null.

Output one JSON object in a ```json fenced block with exactly these keys: {keys}. Each value is a \
string (the entity as the response names it) or null. For example:
```json
{example}
```"""


def support_prompt(evidence: str, statements: Sequence[str]) -> str:
    """Prompt asking whether each filled rubric is supported by the cited evidence."""
    keys = [f"S{i}" for i in range(1, len(statements) + 1)]
    example = json.dumps({key: i % 2 == 0 for i, key in enumerate(keys)})
    return f"""You verify statements against the web pages a research agent cited.

[Web pages]
{evidence}

[Statements]
{format_statements(statements)}

For each statement, decide whether it is fully supported by the web page content above: every \
fact in it must be stated in, or directly entailed by, that content. Use no outside knowledge. \
A statement that is only partly supported, or contradicted, is not supported.

Output one JSON object in a ```json fenced block with exactly these keys: \
{", ".join(keys)}. Each value is true or false. For example:
```json
{example}
```"""


def outcome_prompt(question: str, answer: str, label: str) -> str:
    """BrowseComp-style grader prompt (after OpenAI simple-evals' BrowseComp grader template)."""
    return f"""Judge whether the following [response] to [question] is correct or not based on the \
precise and unambiguous [correct_answer] below.

[question]: {question}

[response]: {answer}

Your judgement must be in the format and criteria specified below:

extracted_final_answer: The final exact answer extracted from the [response]. Put the extracted \
answer as 'None' if there is no exact, final answer to extract from the response.

[correct_answer]: {label}

reasoning: Explain why the extracted_final_answer is correct or incorrect based on \
[correct_answer], focusing only on if there are meaningful differences between [correct_answer] \
and the extracted_final_answer. Do not comment on any background to the problem, do not attempt \
to solve the problem, do not argue for any answer different than [correct_answer], focus only on \
whether the answers match.

correct: Answer 'yes' if extracted_final_answer matches the [correct_answer] given above, or is \
within a small margin of error for numerical problems. Answer 'no' otherwise, i.e. if there is any \
inconsistency, ambiguity, non-equivalency, or if the extracted answer is incorrect."""


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
