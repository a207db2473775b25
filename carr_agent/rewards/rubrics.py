"""Rubrics: entity placeholders (``<E0>``, ``<E1>``…) and filling them with identified values.

``<E0>`` is always the final answer; other labels are hidden intermediate entities. Filling is
plain substitution in one pass (a value that itself contains ``<E2>`` is not substituted again,
which the reference's repeated ``str.replace`` would do).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

ENTITY_PATTERN = re.compile(r"<(E\d+)>")
ROOT_ENTITY = "E0"
#: The largest entity label a rubric may use (real tasks use a handful; the bound keeps work and
#: messages small whatever a file or request says).
MAX_ENTITY_LABEL = 999


def parse_entity_labels(rubric: str) -> list[str]:
    """Entity labels in one rubric, distinct, in order of first appearance."""
    return list(dict.fromkeys(ENTITY_PATTERN.findall(rubric)))


def all_entity_labels(rubrics: Sequence[str]) -> list[str]:
    """Every label that occurs in any rubric, sorted by number (E0, E1, E2, …, E10)."""
    labels = {label for rubric in rubrics for label in ENTITY_PATTERN.findall(rubric)}
    return sorted(labels, key=lambda label: int(label[1:]))


def is_identified(value: str | None) -> bool:
    """A value counts as an identification when it is a non-blank string."""
    return value is not None and bool(value.strip())


def entity_values_for(rubric: str, values: Mapping[str, str | None]) -> dict[str, str | None]:
    """The rubric's own labels mapped to their identified value (None when unidentified)."""
    return {
        label: (values.get(label) if is_identified(values.get(label)) else None)
        for label in parse_entity_labels(rubric)
    }


def partial_fill(rubric: str, values: Mapping[str, str | None]) -> str:
    """Substitute every identified entity; unidentified placeholders stay as ``<Ek>``.

    This is what the reference reports as ``filled_rubric`` for rubrics that are not fully filled.
    """

    def sub(m: re.Match[str]) -> str:
        value = values.get(m.group(1))
        return value if value is not None and is_identified(value) else m.group(0)

    return ENTITY_PATTERN.sub(sub, rubric)


def fill_rubric(rubric: str, values: Mapping[str, str | None]) -> str | None:
    """Fill all placeholders, or return None when any entity in the rubric is unidentified."""
    if any(not is_identified(values.get(label)) for label in parse_entity_labels(rubric)):
        return None
    return partial_fill(rubric, values)


def format_constraints(rubrics: Sequence[str]) -> str:
    """The reference's judge input labelling: ``C1. <rubric>`` lines."""
    return "\n".join(f"C{i}. {rubric}" for i, rubric in enumerate(rubrics, start=1))


def format_statements(statements: Sequence[str]) -> str:
    """The reference's judge input labelling: ``S1. <statement>`` lines."""
    return "\n".join(f"S{i}. {statement}" for i, statement in enumerate(statements, start=1))


def rubrics_problem(rubrics: Sequence[str]) -> str | None:
    """Why a non-empty rubric list cannot be scored, or None: a blank rubric, a label over
    ``<E{MAX_ENTITY_LABEL}>``, no ``<E0>`` (the final answer), or labels with gaps (E0, E1, E3).

    The one rule for rubrics, used by the task loader and the request parser alike; linear in the
    rubrics' length whatever label numbers they use.
    """
    if not rubrics:
        return None
    for index, rubric in enumerate(rubrics):
        if not rubric.strip():
            return f"rubric {index} is empty"
    digits = {label[1:] for rubric in rubrics for label in ENTITY_PATTERN.findall(rubric)}
    big = sorted(n for n in digits if len(n) > len(str(MAX_ENTITY_LABEL)) or int(n) > MAX_ENTITY_LABEL)
    if big:
        shown = big[0] if len(big[0]) <= 12 else big[0][:12] + "..."
        return f"rubric entity label <E{shown}> is over the limit <E{MAX_ENTITY_LABEL}>"
    labels = {int(n) for n in digits}
    if 0 not in labels:
        return "rubrics never mention <E0> (the final answer)"
    if max(labels) + 1 != len(labels):
        used = ", ".join(f"E{i}" for i in sorted(labels))
        missing = [f"E{i}" for i in range(max(labels)) if i not in labels][:10]
        more = max(labels) + 1 - len(labels) - len(missing)
        return (f"rubric entity labels are not contiguous: uses {used} but not {', '.join(missing)}"
                + (f" (and {more} more)" if more > 0 else ""))
    return None
