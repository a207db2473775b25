"""Connectivity: a supported rubric only counts if it chains back to the final answer.

The graph links every entity to every *supported* rubric that mentions it. A breadth-first search
from ``E0`` reaches rubrics (and, through them, further entities). A rubric that mentions no entity
has no edge and can never be reached.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence

from carr_agent.rewards.rubrics import ROOT_ENTITY


def connected_rubrics(
    rubric_entities: Sequence[Sequence[str]],
    supported: Sequence[bool | None],
    *,
    root: str = ROOT_ENTITY,
) -> list[bool]:
    """Which rubrics are reachable from ``root`` through supported rubrics.

    Args:
        rubric_entities: the entity labels of each rubric.
        supported: whether each rubric is supported (``None`` counts as not supported).
        root: the start entity (the final answer).

    Returns:
        One flag per rubric: True iff it is supported and reached by the search.
    """
    if len(rubric_entities) != len(supported):
        raise ValueError("rubric_entities and supported must have the same length")
    by_entity: dict[str, list[int]] = defaultdict(list)
    for idx, (entities, ok) in enumerate(zip(rubric_entities, supported, strict=True)):
        if ok:
            for entity in entities:
                by_entity[entity].append(idx)
    reached_entities = {root}
    reached = [False] * len(rubric_entities)
    queue = deque([root])
    while queue:
        entity = queue.popleft()
        for idx in by_entity.get(entity, ()):
            if reached[idx]:
                continue
            reached[idx] = True
            for other in rubric_entities[idx]:
                if other not in reached_entities:
                    reached_entities.add(other)
                    queue.append(other)
    return reached
