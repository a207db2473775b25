"""Multi-hop research tasks over the world: chains of facts, questions, rubrics and traps.

A task is a chain ``anchor -> e1 -> ... -> answer`` of functional facts (a work has one creator,
a person one birth town, a town lies on one river, a river flows into one lake...). The anchor is
named in the question; every later entity is described only by its relation and, often, an
obfuscated attribute ("a river roughly 110 km long"). Entities are labelled in question order:
``E1`` is the first hidden entity, ``E0`` the answer. Each fact becomes one rubric, and
:func:`support_urls` finds the pages that state it under the deterministic judge's rule, so every
rubric is grounded in the corpus.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from typing import Any

from carr_agent.data import DEMO_QUESTION
from devtools.valdoria.pages import Doc, leak_thread, wiki_url, wrong_fact_blog
from devtools.valdoria.world import REGION, Entity, World

Step = tuple[str, str, str, int | None]  # (relation, subject key, object key, year)

_CREATED = {"composition": "composed", "painting": "painted", "novel": "wrote",
            "bridge": "designed", "building": "designed"}

#: Rubric (fact statement) per relation; ``{S}`` subject, ``{O}`` object, ``{Y}`` year.
_FACT = {
    "premiered_by": "{S} was first performed by {O}.", "held_by": "{S} is held by {O}.",
    "crosses": "{S} crosses {O}.", "work_town": "{S} is located in {O}.",
    "born_in": "{S} was born in {O}.", "studied_at": "{S} studied at {O}.",
    "teacher": "{S} studied under {O}.", "club": "{S} competed for {O}.",
    "on_river": "{S} lies on {O}.", "mayor": "{O} was elected mayor of {S} in {Y}.",
    "mouth": "{S} flows into {O}.", "source": "{S} rises on {O}.",
    "named_after": "{S} is named after {O}.", "first_ascent": "{O} made the first ascent of {S} in {Y}.",
    "located_in": "{S} is located in {O}.", "founder": "{S} was founded by {O}.",
    "host": "{S} was held in {O}.", "winner": "{O} won {S}.",
}
#: Question sentence per relation; ``{A}`` introduces the object ("a river roughly 110 km long").
_ASK = {
    "creator": "{S} is the work of {A}.", "premiered_by": "{S} was first performed by {A}.",
    "held_by": "{S} hangs in {A}.", "crosses": "{S} spans {A}.", "work_town": "{S} stands in {A}.",
    "born_in": "{S} was born in {A}.", "studied_at": "{S} trained at {A}.",
    "teacher": "{S} was a pupil of {A}.", "club": "{S} competed for {A}.",
    "on_river": "{S} lies on {A}.", "mayor": "In {Y}, {s} elected {A} as its mayor.",
    "mouth": "{S} flows into {A}.", "source": "{S} rises on {A}.",
    "named_after": "{S} takes its name from {A}.", "first_ascent": "{S} was first climbed in {Y} by {A}.",
    "located_in": "{S} is based in {A}.", "founder": "{S} was founded by {A}.",
    "host": "{S} took place in {A}.", "winner": "{S} was won by {A}.",
}
#: How the object of a relation is referred to afterwards ("That teacher ...").
_ROLE = {"teacher": "teacher", "founder": "founder", "mayor": "mayor", "named_after": "namesake",
         "first_ascent": "climber", "winner": "champion", "club": "club"}
_ANSWER_KINDS = frozenset({"person", "town", "river", "lake", "mountain", "institution"})


def forward(w: World, e: Entity) -> list[Step]:
    """The functional facts leading out of ``e``."""
    a = e.attrs
    out: list[Step] = []

    def add(rel: str, key: str | None, year: int | None = None) -> None:
        if key:
            out.append((rel, e.key, key, year))

    if e.kind == "work":
        add("creator", a["creator"])
        add("premiered_by", a["premiered_by"])
        add("held_by", a["held_by"])
        add("crosses", a["crosses"])
        if e.sub == "building":
            add("work_town", a["town"])
    elif e.kind == "person":
        add("born_in", a["birth_town"])
        add("studied_at", a["studied_at"])
        add("teacher", a["teacher"])
        add("club", a["club"])
    elif e.kind == "town":
        add("on_river", a["river"])
        if a["mayor"]:
            add("mayor", a["mayor"], w[a["mayor"]].attrs["elected"])
    elif e.kind == "river":
        add("mouth", a["mouth"])
        add("source", a["source"])
    elif e.kind == "lake":
        add("named_after", a["named_after"])
    elif e.kind == "mountain" and a["first_ascent"]:
        add("first_ascent", a["first_ascent"][0], a["first_ascent"][1])
    elif e.kind == "institution":
        add("located_in", a["town"])
        add("founder", a["founder"])
    elif e.kind == "event":
        add("host", a["town"])
        add("winner", a["winner"])
        add("founder", a["founder"])
    return out


# -- wording ----------------------------------------------------------------------------------


def anchor_phrase(e: Entity) -> str:
    """How the question names the anchor."""
    if e.kind == "work" and e.sub in ("painting", "novel"):
        return f"The {e.sub} '{e.name}'"
    if e.kind in ("mountain",):
        return e.name
    return f"The {e.name}"


def literal(e: Entity) -> str:
    """The anchor as a rubric names it (rubrics name the anchor; hidden entities are labels)."""
    if e.kind in ("mountain", "person", "town", "lake") or e.sub in ("painting", "novel"):
        return e.name
    return f"the {e.name}"


def fact(rel: str, s: Entity, o: Entity, s_text: str, o_text: str, year: int | None) -> str:
    """One fact as a rubric sentence (with labels) or a plain statement (with names)."""
    if rel == "creator":
        return f"{o_text} {_CREATED[s.sub]} {s_text}."
    text = _FACT[rel].format(S=s_text, O=o_text, Y=year)
    return text[0].upper() + text[1:]


def intro_noun(rel: str, o: Entity) -> str:
    if rel == "teacher":
        return f"older {o.sub}"
    if rel == "mayor":
        return "politician"
    if rel == "club":
        return "sports club"
    if o.kind in ("person", "institution"):
        return o.sub
    return o.kind


def role(rel: str, o: Entity) -> str:
    return _ROLE.get(rel) or (o.sub if o.kind in ("person", "institution") else o.kind)


def _article(phrase: str) -> str:
    vowel = phrase[0] in "aeiou" and not phrase.startswith(("uni", "eu"))
    return ("an " if vowel else "a ") + phrase


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _sig2(n: int) -> str:
    digits = len(str(n)) - 2
    return f"{round(n, -digits) if digits > 0 else n:,}"


def clauses(e: Entity, label: str) -> list[tuple[str, str]]:
    """Obfuscated attribute clauses of ``e`` for the question, each with its exact rubric."""
    a = e.attrs
    out: list[tuple[str, str]] = []
    if e.kind == "person":
        out.append((f" born in the {a['birth_year'] // 10 * 10}s", f"<{label}> was born in {a['birth_year']}."))
        if a["death_year"]:
            out.append((f" who died in the {a['death_year'] // 10 * 10}s", f"<{label}> died in {a['death_year']}."))
    elif e.kind == "town":
        out.append((f" with a population of roughly {_sig2(a['population'])}",
                    f"<{label}> has a population of {a['population']:,}."))
        out.append((f" founded in the {_ordinal(a['founded'] // 100 + 1)} century",
                    f"<{label}> was founded in {a['founded']}."))
    elif e.kind == "river":
        out.append((f" roughly {max(10, round(a['length'], -1))} km long", f"<{label}> is {a['length']} km long."))
    elif e.kind == "lake":
        out.append((f" with a maximum depth of more than {a['depth'] // 10 * 10 or 5} metres",
                    f"<{label}> has a maximum depth of {a['depth']} metres."))
        out.append((f" covering about {max(1, round(a['area']))} square kilometres",
                    f"<{label}> covers an area of {a['area']} square kilometres."))
    elif e.kind == "mountain":
        out.append((f" rising to over {a['elevation'] // 100 * 100:,} metres",
                    f"<{label}> has an elevation of {a['elevation']:,} metres."))
    elif e.kind == "institution":
        out.append((f" founded in the {a['founded'] // 10 * 10}s", f"<{label}> was founded in {a['founded']}."))
    return out


def type_rubric(e: Entity) -> str:
    a = e.attrs
    if e.kind == "person":
        return f"<E0> is {_article(e.sub)}."
    if e.kind in ("town", "lake", "mountain"):
        return f"<E0> is a {e.kind} in the province of {a['province']}."
    if e.kind == "river":
        return f"<E0> is a river in {REGION}."
    return f"<E0> is {_article(e.sub)} in {REGION}."


def aliases(e: Entity) -> list[str]:
    """Natural alternative names that cannot match another entity."""
    if e.kind == "river":
        root = e.name.removeprefix("River ")
        return [f"{root} River", root]
    if e.kind == "lake":
        return [f"{e.name.removeprefix('Lake ')} Lake"]
    if e.kind == "mountain":
        return [e.name.removeprefix("Mount ").removesuffix(" Peak")]
    return []


_FINAL = {
    "person": ("Who is this {r}?", "Name the {r}."),
    "town": ("Which town is it?", "What is the name of this town?"),
    "river": ("Which river is it?", "Name the river."),
    "lake": ("What is the name of this lake?", "Which lake is it?"),
    "mountain": ("Which mountain is it?", "Name the mountain."),
    "institution": ("Name the {r}.", "Which {r} is it?"),
}


# -- building one task -------------------------------------------------------------------------


def trivial(w: World, step: Step) -> bool:
    """A fact its subject's name gives away ("the Kessmar Conservatory is located in Kessmar")."""
    return w[step[2]].name in w[step[1]].name


def named_in(text: str, e: Entity) -> bool:
    """Whether ``text`` names ``e`` (by name or alias, as whole words)."""
    return any(re.search(rf"\b{re.escape(n)}\b", text) for n in [e.name, *aliases(e)])


def walk(w: World, rng: random.Random, anchor: Entity, hops: int) -> list[Step] | None:
    """A random chain of ``hops`` facts from ``anchor`` with distinct entities and roles."""
    chain: list[Step] = []
    seen = {anchor.key}
    roles: set[str] = set()
    kinds = {anchor.kind} - {"person"}
    cur = anchor
    for _ in range(hops):
        options = []
        for st in forward(w, cur):
            o = w[st[2]]
            if o.key in seen or role(st[0], o) in roles or (o.kind != "person" and o.kind in kinds):
                continue
            if (cur is anchor or len(chain) == hops - 1) and trivial(w, st):
                continue  # the question would name the entity, or the answer
            if named_in(anchor.name, o):
                continue  # "the Nevette flood": the question would name a hidden entity

            options.append(st)
        if not options:
            return None
        st = rng.choice(options)
        chain.append(st)
        cur = w[st[2]]
        seen.add(cur.key)
        roles.add(role(st[0], cur))
        if cur.kind != "person":
            kinds.add(cur.kind)
    return chain if cur.kind in _ANSWER_KINDS else None


def anchor_description(w: World, anchor: Entity) -> tuple[str, str] | None:
    """A description that singles out a work without naming it, and its rubric body.

    ``("A requiem composed in 1827", "is a requiem composed in 1827.")``, or None when another
    work fits the same description.
    """
    if anchor.kind != "work":
        return None
    a = anchor.attrs

    def signature(x: Entity) -> tuple[str, str, int]:
        return (x.sub, x.attrs["form"], x.attrs["year"])

    if sum(signature(x) == signature(anchor) for x in w.kind("work")) != 1:
        return None
    what = {"composition": f"{a['form']} composed in", "painting": "painting from",
            "novel": "novel published in", "bridge": "bridge completed in",
            "building": "building completed in"}[anchor.sub]
    phrase = f"{what} {a['year']}"
    return _article(phrase)[0].upper() + _article(phrase)[1:], f"is {_article(phrase)}."


def compose(w: World, rng: random.Random, steps: list[Step], *, clause_p: float,
            final_clause_p: float = 0.85, hide_anchor: bool = False) -> dict[str, Any]:
    """Question, rubrics and entities for a chain.

    With ``hide_anchor`` (and a work that a description singles out) the anchor is described,
    not named, and becomes entity ``E1``.
    """
    anchor = w[steps[0][1]]
    n = len(steps)
    described = anchor_description(w, anchor) if hide_anchor else None
    offset = 2 if described else 1
    labels = {steps[i][2]: ("E0" if i == n - 1 else f"E{i + offset}") for i in range(n)}
    answer = w[steps[-1][2]]
    sentences: list[str] = []
    rubrics = [type_rubric(answer)]
    subject = anchor_phrase(anchor)
    if described:
        labels[anchor.key] = "E1"
        subject = described[0]
        rubrics.append(f"<E1> {described[1]}")
    for i, (rel, sk, ok, year) in enumerate(steps):
        s, o = w[sk], w[ok]
        label = labels[ok]
        clause = ""
        options = clauses(o, label)
        chosen: list[str] = []
        if options and rng.random() < (final_clause_p if i == n - 1 else clause_p):
            text, rub = rng.choice(options)
            clause, chosen = text, [rub]
        intro = _article(intro_noun(rel, o)) + clause
        ask = _ASK[rel]
        if s.name.endswith("Championships"):
            ask = ask.replace(" was won ", " were won ")
        sentences.append(ask.format(S=subject, s=subject[0].lower() + subject[1:], A=intro, Y=year))
        s_text = literal(anchor) if i == 0 and not described else f"<{labels[sk]}>"
        rubrics.append(fact(rel, s, o, s_text, f"<{label}>", year))
        rubrics += chosen
        subject = f"That {role(rel, o)}"
    final = rng.choice(_FINAL[answer.kind]).format(r=role(steps[-1][0], answer))
    entities = {label: w[key].name for key, label in labels.items()}
    entity_aliases = {label: aliases(w[key]) for key, label in labels.items() if aliases(w[key])}
    return {
        "_labels": labels,
        "question": " ".join([*sentences, final]),
        "label": answer.name,
        "aliases": aliases(answer),
        "rubrics": rubrics,
        "entities": dict(sorted(entities.items(), key=lambda kv: int(kv[0][1:]))),
        "entity_aliases": entity_aliases,
        "hops": n,
    }


def wrong_statement(w: World, rng: random.Random, steps: list[Step]) -> tuple[Step, Entity, str] | None:
    """A plausible false version of one chain fact (prefer the answer-determining last hop)."""
    order = [steps[-1], *rng.sample(steps[:-1], len(steps) - 1)] if rng.random() < 0.6 else \
        rng.sample(steps, len(steps))
    for st in order:
        if trivial(w, st):
            continue
        rel, sk, ok, year = st
        o = w[ok]
        pool = [x for x in w.kind(o.kind) if x.key != ok and x.sub == o.sub]
        if not pool:
            continue
        wrong = rng.choice(pool)
        s = w[sk]
        return st, wrong, fact(rel, s, wrong, literal(s), literal(wrong), year)
    return None


# -- support -----------------------------------------------------------------------------------


class SupportChecker:
    """The deterministic judge's support rule, applied to single pages (see rewards.judges)."""

    def __init__(self, docs: Iterable[Doc]) -> None:
        from carr_agent.rewards.textnorm import normalize_text

        self._norm = normalize_text
        self.by_key: dict[str, list[tuple[Doc, str, set[str]]]] = {}
        for d in docs:
            if d.kind in ("blog_wrong", "forum_leak"):
                continue
            norm = normalize_text(d.title + "\n" + d.text)
            entry = (d, norm, set(norm.split()))
            for k in d.keys:
                self.by_key.setdefault(k, []).append(entry)

    def supports(self, statement: str, norm: str, toks: set[str], gold: list[list[str]]) -> bool:
        from carr_agent.rewards.judges.deterministic import statement_supported

        return statement_supported(statement, norm, toks, gold)

    def support_urls(self, filled: str, keys: Iterable[str], gold: list[list[str]]) -> list[str]:
        """Pages that state the fact: the articles about its entities and news naming them all.

        Other pages that merely mention an entity (a list, a disambiguation note) may pass the
        judge's overlap rule too; they are used only when no primary page supports the fact.
        """
        keys = list(keys)
        primary: dict[str, None] = {}
        other: dict[str, None] = {}
        for k in keys:
            for d, norm, toks in self.by_key.get(k, ()):
                is_primary = d.owner in keys or (d.kind == "news" and set(keys) <= d.keys)
                bucket = primary if is_primary else other
                if d.url not in bucket and self.supports(filled, norm, toks, gold):
                    bucket[d.url] = None
        return sorted(primary or other)


def fill(rubric: str, entities: dict[str, str]) -> str:
    for label, value in entities.items():
        rubric = rubric.replace(f"<{label}>", value)
    return rubric


# -- the task sets -----------------------------------------------------------------------------


def _anchors(w: World) -> list[Entity]:
    return [e for e in w.kind("work") + w.kind("event") + w.kind("institution") + w.kind("mountain")
            if e.key != w.demo.get("work")]


def _has_twin(w: World, steps: list[Step]) -> str | None:
    for st in steps:
        if w[st[2]].attrs.get("twin"):
            return st[2]
    return None


def build_tasks(w: World, seed: int, count: int, checker_docs: Callable[[], list[Doc]]) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]], list[Doc]]:
    """Main and dev task sets, and the trap pages they need (leak threads, wrong-fact blogs)."""
    rng = random.Random(f"{seed}:tasks")
    used: set[str] = set()
    dev_chains = [_demo_chain(w), *_dev_chains(w, rng, used)]
    hop_plan = [2] * (count * 2 // 10) + [3] * (count * 3 // 10) + [4] * (count * 3 // 10)
    hop_plan += [5] * (count - len(hop_plan))
    rng.shuffle(hop_plan)
    anchors = _anchors(w)
    main_chains: list[list[Step]] = []
    for i, hops in enumerate(hop_plan):
        want_twin = i % 3 == 0
        for _ in range(20_000):
            anchor = rng.choice(anchors)
            if anchor.key in used:
                continue
            steps = walk(w, rng, anchor, hops)
            if steps is None or steps[-1][2] in used:
                continue
            if want_twin and not _has_twin(w, steps):
                continue
            used.update((anchor.key, steps[-1][2]))
            main_chains.append(steps)
            break
        else:  # pragma: no cover - the world is far larger than the task set
            raise RuntimeError(f"could not find a {hops}-hop chain")
    traps: list[Doc] = []
    dev = [_task(w, rng, f"vd-dev-{i + 1:03d}", st, leak=(i == 2), wrong=False, traps=traps,
                 clause_p=0.0, final_clause_p=0.0 if i == 0 else 0.85, seed=seed)
           for i, st in enumerate(dev_chains)]
    dev[0]["question"] = DEMO_QUESTION
    main = [_task(w, rng, f"vd-{i + 1:04d}", st, leak=(i % 4 == 1), wrong=(i % 10 in (0, 3, 6)),
                  traps=traps, clause_p=0.55, seed=seed, hide_anchor=(i % 3 == 2))
            for i, st in enumerate(main_chains)]
    checker = SupportChecker(checker_docs())
    for task in dev + main:
        _ground(w, task, checker)
    return main, dev, traps


def _demo_chain(w: World) -> list[Step]:
    work = w[w.demo["work"]]
    composer = w[work.attrs["creator"]]
    return [("creator", work.key, composer.key, None),
            ("born_in", composer.key, composer.attrs["birth_town"], None)]


def _dev_chains(w: World, rng: random.Random, used: set[str]) -> list[list[Step]]:
    """Easy two-hop chains, one per pattern."""
    patterns = [("work", "composition", ("creator", "born_in")),
                ("work", "painting", ("creator", "born_in")),
                ("institution", "conservatory", ("founder", "born_in")),
                ("event", "championship", ("winner", "born_in")),
                ("mountain", "", ("first_ascent", "born_in")),
                ("work", "bridge", ("crosses", "mouth"))]
    chains = []
    for kind, sub, rels in patterns:
        pool = [e for e in w.kind(kind) if (not sub or e.sub == sub) and e.key not in used
                and e.key != w.demo.get("work")]
        rng.shuffle(pool)
        for e in pool:
            steps: list[Step] = []
            cur = e
            for rel in rels:
                st = next((s for s in forward(w, cur) if s[0] == rel), None)
                if st is None:
                    break
                steps.append(st)
                cur = w[st[2]]
            if len(steps) == len(rels) and not _has_twin(w, steps) and cur.key not in used:
                used.update((e.key, cur.key))
                chains.append(steps)
                break
    return chains


def _task(w: World, rng: random.Random, tid: str, steps: list[Step], *, leak: bool, wrong: bool,
          traps: list[Doc], clause_p: float, seed: int, final_clause_p: float = 0.85,
          hide_anchor: bool = False) -> dict[str, Any]:
    body = compose(w, rng, steps, clause_p=clause_p, final_clause_p=final_clause_p,
                   hide_anchor=hide_anchor)
    task: dict[str, Any] = {"id": tid, **body, "traps": [], "trap_details": []}
    twin_key = _has_twin(w, steps)
    if twin_key:
        e = w[twin_key]
        twin = w[e.attrs["twin"]]
        label = next(k for k, v in task["entities"].items() if v == e.name)
        task["traps"].append("near_duplicate")
        task["trap_details"].append({"type": "near_duplicate", "entity": label, "value": twin.name,
                                     "url": wiki_url(twin.name)})
    if wrong:
        made = wrong_statement(w, rng, steps)
        if made is not None:
            st, wrong_ent, statement = made
            doc = wrong_fact_blog(w, seed, tid, w[st[1]], statement, {st[1], wrong_ent.key})
            traps.append(doc)
            task["traps"].append("conflicting_source")
            task["trap_details"].append({
                "type": "conflicting_source", "url": doc.url, "statement": statement,
                "gold_value": w[st[2]].name, "wrong_value": wrong_ent.name})
    task["_steps"] = steps
    task["_leak"] = leak
    return task


def add_leak_threads(w: World, seed: int, tasks: list[dict[str, Any]], start: int) -> list[Doc]:
    """Forum threads quoting the questions of tasks marked for the leakage trap."""
    docs = []
    for i, task in enumerate(t for t in tasks if t.pop("_leak")):
        doc = leak_thread(w, seed, start + i, task["question"], task["label"])
        docs.append(doc)
        task["traps"].append("question_leak")
        task["trap_details"].append({"type": "question_leak", "url": doc.url})
    return docs


def _ground(w: World, task: dict[str, Any], checker: SupportChecker) -> None:
    """Attach the supporting pages of each rubric; a rubric no page supports is a generator bug."""
    steps: list[Step] = task.pop("_steps")
    by_label = {label: key for key, label in task.pop("_labels").items()}
    anchor = steps[0][1]
    gold = [[v, *task["entity_aliases"].get(k, [])] for k, v in task["entities"].items()]
    gold[0] += task["aliases"]
    rubric_urls = []
    for rubric in task["rubrics"]:
        keys = [by_label[lab] for lab in by_label if f"<{lab}>" in rubric]
        if anchor not in keys and literal(w[anchor]).lower() in rubric.lower():
            keys.append(anchor)
        urls = checker.support_urls(fill(rubric, task["entities"]), keys, gold)
        if not urls:
            raise RuntimeError(f"{task['id']}: no page supports rubric {rubric!r}")
        rubric_urls.append(urls)
    task["rubric_urls"] = rubric_urls
    task["gold_urls"] = sorted({u for urls in rubric_urls for u in urls})
    if not task["entity_aliases"]:
        del task["entity_aliases"]


__all__ = ["SupportChecker", "add_leak_threads", "build_tasks", "forward"]
