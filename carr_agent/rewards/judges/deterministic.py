"""A judge without an LLM, for tasks that carry gold entity values. An approximation.

It stands in for the LLM judge in tests, demos and offline evaluation of this project's own
tasks (which store ``entities`` and aliases). Exact rules:

* **Entities.** Entity ``Ek`` is identified iff its gold value, or one of its aliases, occurs in
  the answer body as a whole-token phrase after normalisation (casefold, accents and punctuation
  folded, whitespace collapsed, numbers compared as numbers: ``1,234`` = ``1234``, ``14.0`` =
  ``14``). The identity returned is the gold value. ``E0`` falls back to the task label.
* **Support.** A filled statement is supported iff (a) every gold entity named in the statement
  (by value or alias) is also named in the evidence, and (b) at least ``min_overlap`` (0.6) of the
  statement's remaining distinct content tokens (stop words and the entity names removed) occur in
  the evidence, and (c) every number among those tokens occurs in the evidence (numbers are the
  checkable facts of a rubric: dates, counts, scores), and (d) every multi-word proper name
  of the statement (a run of two or more capitalised words, not counting its first word) occurs
  in the evidence as a phrase, so a report on "the Silver Ballade" does not support a statement
  about "the Wandering Feather Ballade". A statement with no remaining content tokens
  is decided by (a) and (d).
* **Outcome.** The text of the ``## Exact Answer`` section is the extracted answer (None when the
  section is missing or empty). It is correct iff, normalised, it equals the label or an alias, or
  contains one of them as a whole-token phrase.

Where gold data comes from: the constructor's ``entities``/``aliases``/``label_aliases`` if given,
else the ``task`` passed to each call: ``task.entities``, ``task.metadata["aliases"]`` (either a
mapping ``{"E1": [...]}`` or a list of aliases of the label), ``task.metadata["entity_aliases"]``
(mapping) and ``task.metadata["label_aliases"]`` (list).

It cannot recognise paraphrases or judge semantic entailment; a missing gold value for an entity
the rubrics use is a :class:`~carr_agent.errors.JudgeError` (unknown), not a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from carr_agent.errors import ConfigError, JudgeError
from carr_agent.rewards.judges.base import OutcomeVerdict
from carr_agent.rewards.rubrics import ROOT_ENTITY, all_entity_labels
from carr_agent.rewards.textnorm import contains_phrase, content_tokens, normalize_text, tokens
from carr_agent.types import Task

_EXACT_ANSWER = re.compile(r"^[ \t]*#{1,6}[ \t]*Exact Answer\b[^\n]*\n(.*?)(?=^[ \t]*#{1,6}[ \t]|\Z)",
                           re.M | re.S | re.I)


class DeterministicJudge:
    """String-matching judge over gold entity values (see the module docstring for the rules)."""

    def __init__(
        self,
        *,
        entities: Mapping[str, str] | None = None,
        aliases: Mapping[str, Sequence[str]] | None = None,
        label_aliases: Sequence[str] = (),
        min_overlap: float = 0.6,
    ) -> None:
        if not 0.0 <= min_overlap <= 1.0:
            raise ConfigError(f"min_overlap must be in [0, 1], got {min_overlap}")
        self._entities = dict(entities) if entities is not None else None
        self._aliases = {k: tuple(v) for k, v in (aliases or {}).items()}
        self._label_aliases = tuple(label_aliases)
        self.min_overlap = min_overlap

    async def identify_entities(
        self, question: str, rubrics: Sequence[str], answer: str, *, task: Task | None = None
    ) -> dict[str, str | None]:
        """Gold value of each rubric entity if the answer names it (value or alias), else None."""
        gold = self._gold(task)
        body = normalize_text(answer)
        out: dict[str, str | None] = {}
        for label in all_entity_labels(rubrics):
            if label not in gold:
                raise JudgeError(f"deterministic judge has no gold value for entity {label}")
            names = gold[label]
            out[label] = names[0] if any(contains_phrase(body, n) for n in names) else None
        return out

    async def judge_support(
        self, evidence: str, statements: Sequence[str], *, task: Task | None = None
    ) -> list[bool]:
        """Entity names carried over and >= ``min_overlap`` of content tokens present."""
        gold = self._gold(task, required=False)
        evidence_norm = normalize_text(evidence)
        evidence_tokens = set(evidence_norm.split())
        return [self._supported(s, evidence_norm, evidence_tokens, gold) for s in statements]

    async def judge_outcome(
        self, question: str, answer: str, label: str, *, task: Task | None = None
    ) -> OutcomeVerdict:
        """Normalised match of the Exact Answer section against the label and its aliases."""
        m = _EXACT_ANSWER.search(answer)
        extracted = m.group(1).strip() if m else ""
        if not extracted:
            return OutcomeVerdict(extracted_answer=None, correct=False)
        names = [label, *self._label_names(task)]
        got = normalize_text(extracted)
        correct = any(
            normalize_text(n) and (normalize_text(n) == got or contains_phrase(got, n))
            for n in names
        )
        return OutcomeVerdict(extracted_answer=extracted, correct=correct)

    def _supported(
        self,
        statement: str,
        evidence_norm: str,
        evidence_tokens: set[str],
        gold: Mapping[str, Sequence[str]],
    ) -> bool:
        return statement_supported(
            statement, evidence_norm, evidence_tokens, gold.values(), min_overlap=self.min_overlap
        )

    def _gold(self, task: Task | None, *, required: bool = True) -> dict[str, tuple[str, ...]]:
        """``{label: (gold value, *aliases)}`` with blank names dropped."""
        entities = self._entities
        if entities is None and task is not None and task.entities:
            entities = dict(task.entities)
        entities = dict(entities or {})
        if ROOT_ENTITY not in entities and task is not None and task.label:
            entities[ROOT_ENTITY] = task.label
        if not entities and required:
            raise JudgeError(
                "deterministic judge needs gold entity values (task.entities or entities=...)"
            )
        aliases = dict(self._aliases) if self._aliases else _task_entity_aliases(task)
        gold: dict[str, tuple[str, ...]] = {}
        for label, value in entities.items():
            names = [str(value), *aliases.get(label, ())]
            if label == ROOT_ENTITY:
                names += self._label_names(task)
            gold[label] = tuple(dict.fromkeys(n for n in names if n and normalize_text(n)))
        return {k: v for k, v in gold.items() if v}

    def _label_names(self, task: Task | None) -> list[str]:
        names = list(self._label_aliases)
        if task is not None:
            meta = task.metadata or {}
            raw = meta.get("aliases")
            if isinstance(raw, (list, tuple)):
                names += [str(a) for a in raw]
            label_aliases = meta.get("label_aliases")
            if isinstance(label_aliases, (list, tuple)):
                names += [str(a) for a in label_aliases]
            names += _task_entity_aliases(task).get(ROOT_ENTITY, [])
        return names


def _task_entity_aliases(task: Task | None) -> dict[str, list[str]]:
    if task is None:
        return {}
    out: dict[str, list[str]] = {}
    for key in ("aliases", "entity_aliases"):
        raw = (task.metadata or {}).get(key)
        if isinstance(raw, Mapping):
            for label, names in raw.items():
                if isinstance(names, str):
                    names = [names]
                if isinstance(names, (list, tuple)):
                    out.setdefault(str(label), []).extend(str(n) for n in names)
    return out



def statement_supported(
    statement: str,
    evidence_norm: str,
    evidence_tokens: set[str],
    gold_names: Iterable[Sequence[str]],
    *,
    min_overlap: float = 0.6,
) -> bool:
    """The support rule (a)-(d) of this module's docstring, as a pure function.

    Args:
        statement: the filled rubric.
        evidence_norm: the evidence, normalised with ``normalize_text``.
        evidence_tokens: the set of tokens of ``evidence_norm``.
        gold_names: for each gold entity, its value and aliases.
        min_overlap: the fraction of remaining content tokens that must occur in the evidence.
    """
    statement_norm = normalize_text(statement)
    entity_tokens: set[str] = set()
    for names in gold_names:
        named = [n for n in names if contains_phrase(statement_norm, n)]
        if not named:
            continue
        if not any(contains_phrase(evidence_norm, n) for n in names):
            return False
        for n in named:
            entity_tokens.update(tokens(n))
    rest = [t for t in content_tokens(statement) if t not in entity_tokens]
    if any(t[0].isdigit() and t not in evidence_tokens for t in rest):
        return False
    for name in _proper_names(statement):
        if set(tokens(name)) <= entity_tokens:
            continue  # a gold entity's name: checked by (a) against all its aliases
        if not contains_phrase(evidence_norm, name):
            return False
    if not rest:
        return True
    present = sum(t in evidence_tokens for t in rest)
    return present / len(rest) >= min_overlap


_WORD = re.compile(r"[^\W\d_][\w'’.-]*|\S")


def _proper_names(statement: str) -> list[str]:
    """Runs of two or more consecutive capitalised words, the statement's first word excluded."""
    names: list[str] = []
    run: list[str] = []
    for i, w in enumerate(_WORD.findall(statement)):
        if i > 0 and w[0].isalpha() and w[0].isupper():
            run.append(w.rstrip("."))
            continue
        if len(run) >= 2:
            names.append(" ".join(run))
        run = []
    if len(run) >= 2:
        names.append(" ".join(run))
    return names
