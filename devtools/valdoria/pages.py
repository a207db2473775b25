"""Render the world as web pages: encyclopedia articles, news reports, travel blogs, forum threads.

Every page is a :class:`Doc` (the corpus line plus the keys of the entities it talks about, which
the task builder uses to find the pages that support a rubric). Each page draws its wording from
its own random stream (seeded by the page's entity key), so pages vary in template and filler yet
the whole corpus is reproducible. Statements of facts use the same key words as the rubrics in
:mod:`devtools.valdoria.questions` ("born in", "lies on", "flows into", ...), which is what lets a
string-matching judge check support.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from devtools.valdoria import prose as P
from devtools.valdoria.names import GIVEN_FEMALE, GIVEN_MALE
from devtools.valdoria.world import DEMONYM, REGION, Entity, World

WIKI = "https://valdopedia.example/wiki/"
NEWS = "https://valdoria-herald.example/"
BLOGS = ("https://riverwalker.example/blog/", "https://notes-from-orsa.example/posts/")
FORUM = "https://quizhall.example/forum/t/"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


@dataclass
class Doc:
    """One corpus page and the entity keys it mentions."""

    url: str
    title: str
    text: str
    date: str
    keys: set[str] = field(default_factory=set)
    kind: str = "wiki"  # wiki | news | blog | forum | blog_wrong | forum_leak
    owner: str | None = None  # the entity an encyclopedia article is about

    def line(self) -> dict[str, str]:
        return {"url": self.url, "title": self.title, "text": self.text, "date": self.date}


def wiki_url(name: str) -> str:
    return WIKI + name.replace(" ", "_").replace("'", "")


def slugify(text: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(p for p in out.split("-") if p)


class _Ctx:
    """Helpers bound to one page's random stream."""

    def __init__(self, w: World, seed: int, key: str) -> None:
        self.w = w
        self.rng = random.Random(f"{seed}:{key}")

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def date(self, lo: int = 2019, hi: int = 2025) -> str:
        return f"{self.rng.randint(lo, hi)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"

    def day(self, year: int) -> str:
        return f"{year}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"

    def fill(self, pool: tuple[str, ...], count: int, /, **kw: str) -> list[str]:
        return [s.format(**kw) for s in self.rng.sample(pool, min(count, len(pool)))]


def _pron(p: Entity) -> dict[str, str]:
    f = p.attrs["gender"] == "f"
    return {"he": "she" if f else "he", "He": "She" if f else "He", "his": "her" if f else "his",
            "His": "Her" if f else "His", "him": "her" if f else "him"}


def _life(p: Entity) -> str:
    a = p.attrs
    return f"{a['birth_year']}–{a['death_year']}" if a["death_year"] else f"born {a['birth_year']}"


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _art(word: str) -> str:
    vowel = word[0].lower() in "aeiou" and not word.lower().startswith(("uni", "eu"))
    return ("an " if vowel else "a ") + word


def _century(year: int) -> str:
    n = year // 100 + 1
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _the(x: Entity) -> str:
    """A work's name as used in running text ("the Ember Suite", but "Green Orchid")."""
    return f"the {x.name}" if x.sub in ("composition", "bridge", "building") else x.name


# -- encyclopedia ------------------------------------------------------------------------------


def person_page(c: _Ctx, p: Entity) -> Doc:
    w, a, pr = c.w, p.attrs, _pron(p)
    town = w[a["birth_town"]]
    prov = town.attrs["province"]
    was = "was" if a["death_year"] else "is"
    prof = p.sub
    keys = {p.key, town.key}
    works = [w[k] for k in a["works"]]
    known = ""
    if works:
        known = f", best known for {_the(works[0])}"
    elif a.get("sport"):
        known = f" who competed in {a['sport']}"
    lead = c.pick(
        f"{p.name} ({_life(p)}) {was} a {DEMONYM} {prof}{known}. {pr['He']} was born in {town.name}, "
        f"a town in the province of {prov}, in {a['birth_year']}.",
        f"{p.name} ({_life(p)}) {was} {_art(prof)} from {REGION}{known}. Born in {town.name} in "
        f"{a['birth_year']}, {pr['he']} grew up in the province of {prov}.",
        f"{p.name} {was} a {DEMONYM} {prof}{known}. {pr['He']} was born in {a['birth_year']} in "
        f"the town of {town.name}, in the province of {prov}.",
        f"{p.name} ({_life(p)}) {was} {_art(prof)} from the province of {prov}{known}. "
        f"{pr['He']} was born in {town.name} in {a['birth_year']} and spent most of {pr['his']} life "
        f"in {REGION}.",
    )
    paras = [lead]
    nth = c.pick("eldest", "second", "third", "youngest")
    job, job2 = c.pick(*P.JOBS), c.pick(*P.JOBS)
    early = c.fill(P.EARLY, 2, job=job, a_job=_art(job), a_job2=_art(job2), nth=nth,
                   k=c.pick("three", "four", "five", "six", "seven"), prov=prov, **pr)
    paras.append(" ".join(early))
    career: list[str] = []
    if a["studied_at"]:
        inst = w[a["studied_at"]]
        keys.add(inst.key)
        if a["teacher"]:
            t = w[a["teacher"]]
            keys.add(t.key)
            career.append(c.pick(
                f"{pr['He']} studied at the {inst.name}, where {pr['he']} studied under {t.name}.",
                f"{pr['He']} studied at the {inst.name} and studied under the {t.sub} {t.name}."))
        else:
            career.append(c.pick(f"{pr['He']} studied at the {inst.name}.",
                                 f"As a young adult {pr['he']} studied at the {inst.name}."))
    elif a["teacher"]:
        t = w[a["teacher"]]
        keys.add(t.key)
        career.append(f"{pr['He']} studied under {t.name} privately.")
    if works:
        items = [f"{_the(wk)} ({wk.attrs['year']})" for wk in works]
        keys.update(wk.key for wk in works)
        verb = {"composition": "composed", "painting": "painted", "novel": "wrote",
                "bridge": "designed", "building": "designed"}[works[0].sub]
        career.append(c.pick(f"{pr['He']} {verb} {_join(items)}.",
                             f"Among the works {pr['he']} {verb} are {_join(items)}."))
    if a["club"]:
        club = w[a["club"]]
        keys.add(club.key)
        career.append(f"{pr['He']} competed for the {club.name} in {a['sport']}.")
    for ek in a["won"]:
        ev = w[ek]
        keys.add(ev.key)
        career.append(f"{pr['He']} won the {ev.name}, held in {w[ev.attrs['town']].name}.")
    if a["mayor_of"]:
        t = w[a["mayor_of"]]
        keys.add(t.key)
        career.append(c.pick(f"{pr['He']} was elected mayor of {t.name} in {a['elected']}.",
                             f"In {a['elected']} {pr['he']} was elected mayor of {t.name}."))
    for mk, year in a["ascents"]:
        keys.add(mk)
        career.append(f"{pr['He']} made the first ascent of {w[mk].name} in {year}.")
    for ik in a["founded"]:
        inst = w[ik]
        keys.add(inst.key)
        career.append(f"In {inst.attrs['founded'] if inst.kind == 'institution' else inst.attrs['year']} "
                      f"{pr['he']} founded the {inst.name}.")
    career += c.fill(P.PERSON_FILL[prof], 3, REGION=REGION, DEMONYM=DEMONYM, prov=prov, **pr)
    paras.append(" ".join(career))
    later: list[str] = c.fill(P.PERSONAL, 1, k=c.pick("two", "three", "four"), prov=prov, **pr)
    for ak, year in a["awards"]:
        keys.add(ak)
        later.append(f"{pr['He']} received the {w[ak].name} in {year}.")
    if a["pupils"]:
        pupils = [w[k] for k in a["pupils"][:4]]
        keys.update(q.key for q in pupils)
        later.append(f"{pr['His']} pupils included {_join([q.name for q in pupils])}.")
    if a["namesake_of"]:
        lake = w[a["namesake_of"]]
        keys.add(lake.key)
        later.append(f"{lake.name} is named after {pr['him']}.")
    if a["death_year"]:
        later.append(c.pick(f"{pr['He']} died in {a['death_year']}.",
                            f"{p.attrs['surname']} died in {a['death_year']} at the age of "
                            f"{a['death_year'] - a['birth_year']}."))
    if a["death_year"]:
        later += c.fill(P.LEGACY, 2, town=town.name, prov=prov,
                        year2=str(min(2024, a["death_year"] + c.rng.randint(5, 40))), **pr)
    else:
        later += c.fill(P.LIVING, 2, town=town.name, prov=prov, DEMONYM=DEMONYM, **pr)
    if later:
        paras.append(" ".join(later))
    return Doc(wiki_url(p.name), p.name, "\n\n".join(paras), c.date(), keys)


def town_page(c: _Ctx, t: Entity) -> Doc:
    w, a = c.w, t.attrs
    river = w[a["river"]]
    keys = {t.key, river.key}
    lead = c.pick(
        f"{t.name} is a town in the province of {a['province']}, {REGION}. It lies on the "
        f"{river.name} at an elevation of {a['elevation']} metres.",
        f"{t.name} is a town in the province of {a['province']} in {REGION}, with a population of "
        f"{a['population']:,}. The town lies on the {river.name}.",
        f"{t.name} is a town in the province of {a['province']}, {REGION}, which lies on the "
        f"{river.name}.",
        f"{t.name} is a small {DEMONYM} town in the province of {a['province']}. It lies on the "
        f"{river.name}, in a broad valley between wooded hills.",
    )
    paras = [lead]
    hist = [c.pick(f"{t.name} was founded in {a['founded']} as a market settlement.",
                   f"The town was founded in {a['founded']}, according to its oldest charter.",
                   f"Records show that {t.name} was founded in {a['founded']} around a river crossing.")]
    if "population of" not in lead:
        hist.append(f"At the last census the town had a population of {a['population']:,}.")
    f = a["founded"]
    hist += c.fill(P.TOWN_HISTORY, 3, c1=_century(f + 100), c2=_century(max(f + 200, 1850)),
                   y1=str(c.rng.randint(min(f + 50, 1890), 1890)), y2=str(c.rng.randint(1850, 1910)),
                   d1=str(c.rng.randint(185, 196) * 10), trade=c.pick(*P.TRADES))
    paras.append(" ".join(hist))
    paras.append(" ".join(c.fill(P.TOWN_CULTURE, 2) + c.fill(P.TOWN_TRANSPORT, 1)))
    paras.append(" ".join(c.fill(P.TOWN_FILL, 4, trade=c.pick(*P.TRADES), crop=c.pick(*P.CROPS),
                                 weekday=c.pick(*P.WEEKDAYS))))
    civic: list[str] = []
    if a["mayor"]:
        m = w[a["mayor"]]
        keys.add(m.key)
        civic.append(f"{m.name} was elected mayor of {t.name} in {m.attrs['elected']}.")
    insts = [w[k] for k in a["institutions"]]
    if insts:
        keys.update(i.key for i in insts)
        civic.append(f"The town is home to {_join(['the ' + i.name for i in insts])}.")
    works = [w[k] for k in a["works"]]
    if works:
        keys.update(x.key for x in works)
        civic.append(f"Landmarks include {_join([_the(x) for x in works[:4]])}.")
    people = [w[k] for k in a["people"]]
    if people:
        shown = c.rng.sample(people, min(6, len(people)))
        keys.update(p.key for p in shown)
        civic.append("People born in the town include "
                     + _join([f"{p.name} ({p.sub})" for p in shown]) + ".")
    if civic:
        paras.append(" ".join(civic))
    return Doc(wiki_url(t.name), t.name, "\n\n".join(paras), c.date(), keys)


def river_page(c: _Ctx, r: Entity) -> Doc:
    w, a = c.w, r.attrs
    mouth, source = w[a["mouth"]], w[a["source"]]
    keys = {r.key, mouth.key, source.key}
    into = mouth.name if mouth.kind == "lake" else f"the {mouth.name}"
    lead = c.pick(
        f"The {r.name} is a river in {REGION}, {a['length']} km long. It rises on {source.name} "
        f"and flows into {into}.",
        f"The {r.name} is a river in the province of {a['province']}, {REGION}. The river is "
        f"{a['length']} km long; it rises on the slopes of {source.name} and flows into {into}.",
        f"The {r.name} is a {a['length']} km long river in {REGION}. From its source, where it rises "
        f"on {source.name}, it flows into {into}.",
    )
    paras = [lead]
    body: list[str] = []
    towns = [w[k] for k in a["towns"]]
    if towns:
        keys.update(t.key for t in towns)
        body.append(f"Towns on the {r.name} include {_join([t.name for t in towns[:8]])}.")
    tribs = [w[k] for k in a["tributaries"]]
    if tribs:
        keys.update(t.key for t in tribs)
        body.append(f"Its tributaries include the {_join([t.name for t in tribs])}.")
    body += c.fill(P.WATER_FILL, 3)
    paras.append(" ".join(body))
    paras.append(" ".join(c.fill(P.RIVER_HISTORY, 2)))
    return Doc(wiki_url(r.name), r.name, "\n\n".join(paras), c.date(), keys)


def lake_page(c: _Ctx, lake: Entity) -> Doc:
    w, a = c.w, lake.attrs
    keys = {lake.key}
    lead = c.pick(
        f"{lake.name} is a lake in the province of {a['province']}, {REGION}. It covers an area of "
        f"{a['area']} square kilometres and has a maximum depth of {a['depth']} metres.",
        f"{lake.name} is a lake in the province of {a['province']} in {REGION}, with a maximum depth "
        f"of {a['depth']} metres. The lake covers an area of {a['area']} square kilometres.",
        f"{lake.name} is a lake in {REGION}, in the province of {a['province']}. With a maximum "
        f"depth of {a['depth']} metres it is one of the deeper lakes of the region; it covers an "
        f"area of {a['area']} square kilometres.",
    )
    paras = [lead]
    body: list[str] = []
    if a["named_after"]:
        p = w[a["named_after"]]
        keys.add(p.key)
        body.append(c.pick(f"The lake is named after the {p.sub} {p.name} ({_life(p)}).",
                           f"{lake.name} is named after {p.name}, the {DEMONYM} {p.sub}."))
    else:
        body.append(f"The name {a['root']} is thought to come from an old word for still water.")
    inflows = [w[k] for k in a["inflows"]]
    if inflows:
        keys.update(r.key for r in inflows)
        body.append(f"Rivers that flow into the lake include the {_join([r.name for r in inflows])}.")
    body += c.fill(P.LAKE_FILL, 3)
    paras.append(" ".join(body))
    return Doc(wiki_url(lake.name), lake.name, "\n\n".join(paras), c.date(), keys)


def mountain_page(c: _Ctx, m: Entity) -> Doc:
    w, a = c.w, m.attrs
    keys = {m.key}
    paras = [c.pick(
        f"{m.name} is a mountain in the province of {a['province']}, {REGION}, with an elevation of "
        f"{a['elevation']:,} metres.",
        f"{m.name} is a mountain in the province of {a['province']} in {REGION}. It has an "
        f"elevation of {a['elevation']:,} metres above sea level.")]
    body: list[str] = []
    if a["first_ascent"]:
        pk, year = a["first_ascent"]
        keys.add(pk)
        body.append(f"The first ascent of {m.name} was made by {w[pk].name} in {year}.")
    rivers = [r for r in w.kind("river") if r.attrs["source"] == m.key]
    if rivers:
        keys.update(r.key for r in rivers)
        body.append(f"The {_join([r.name for r in rivers[:6]])} "
                    f"{'rises' if len(rivers) == 1 else 'rise'} on its slopes.")
    body.append(c.pick("The summit is reached by a marked path from the valley in about five hours.",
                       "Its upper slopes are bare limestone; below them lie spruce forest and "
                       "summer pastures.", "A mountain hut below the summit is open from June to "
                       "September."))
    paras.append(" ".join(body))
    paras.append(" ".join(c.fill(P.MOUNTAIN_FILL, 2)))
    return Doc(wiki_url(m.name), m.name, "\n\n".join(paras), c.date(), keys)


def institution_page(c: _Ctx, i: Entity) -> Doc:
    w, a = c.w, i.attrs
    town = w[a["town"]]
    keys = {i.key, town.key}
    by = ""
    if a["founder"]:
        f = w[a["founder"]]
        keys.add(f.key)
        by = f" by {f.name}"
    paras = [c.pick(
        f"The {i.name} is {_art(i.sub)} located in {town.name}, {REGION}. It was founded in "
        f"{a['founded']}{by}.",
        f"The {i.name} is {_art(i.sub)} in {REGION}, located in {town.name}. The {i.sub} was "
        f"founded in {a['founded']}{by}.",
        f"Founded in {a['founded']}{by}, the {i.name} is {_art(i.sub)} located in {town.name} in "
        f"the province of {town.attrs['province']}, {REGION}.")]
    body: list[str] = []
    people = w.kind("person")
    if i.sub == "sports club":
        members = [p for p in people if p.attrs["club"] == i.key][:6]
        if members:
            keys.update(p.key for p in members)
            body.append(f"Athletes who competed for the club include {_join([p.name for p in members])}.")
    elif i.sub == "museum":
        held = [x for x in w.kind("work") if x.attrs["held_by"] == i.key][:6]
        if held:
            keys.update(x.key for x in held)
            body.append("Works held by the museum include " + _join(
                [f"{x.name} by {w[x.attrs['creator']].name}" for x in held]) + ".")
    elif i.sub in ("orchestra", "theatre"):
        prem = [x for x in w.kind("work") if x.attrs["premiered_by"] == i.key][:6]
        if prem:
            keys.update(x.key for x in prem)
            body.append("Works first performed by the ensemble include " + _join(
                [f"the {x.name}" for x in prem]) + ".")
    else:
        alumni = [p for p in people if p.attrs["studied_at"] == i.key][:6]
        if alumni:
            keys.update(p.key for p in alumni)
            body.append(f"People who studied at the {i.sub} include {_join([p.name for p in alumni])}.")
    body.append(c.pick(
        f"Its main building stands near the centre of {town.name}.",
        "It publishes an annual report and holds open days each spring."))
    paras.append(" ".join(body))
    members = {"university": "students", "conservatory": "students", "art academy": "students",
               "museum": "objects in its collection", "orchestra": "musicians",
               "sports club": "members", "theatre": "employees"}[i.sub]
    paras.append(" ".join(c.fill(
        P.INSTITUTION, 3, year2=str(c.rng.randint(a["founded"] + 10, 2015)),
        n=f"{c.rng.randint(40, 9000):,}", members=members, prov=town.attrs["province"], sub=i.sub)))
    return Doc(wiki_url(i.name), i.name, "\n\n".join(paras), c.date(), keys)


def work_page(c: _Ctx, x: Entity) -> Doc:
    w, a = c.w, x.attrs
    p = w[a["creator"]]
    keys = {x.key, p.key}
    paras: list[str] = []
    if x.sub == "composition":
        paras.append(c.pick(
            f"The {x.name} is {_art(P.FORM_DESC.get(a['form'], a['form']))} by the {DEMONYM} composer {p.name}, composed in "
            f"{a['year']}.",
            f"The {x.name} is a work for orchestra that {p.name} composed in {a['year']}.",
            f"{p.name} composed the {x.name}, {_art(P.FORM_DESC.get(a['form'], a['form']))}, in "
            f"{a['year']}; it is among the better-known {DEMONYM} works of its decade."))
        if x.key == w.demo.get("work"):
            town = w[p.attrs["birth_town"]]
            keys.add(town.key)
            paras.append(f"The suite's composer, {p.name}, was born in the town of {town.name} in "
                         f"{p.attrs['birth_year']}. {p.name} composed the Ember Suite as a portrait "
                         f"of the glassworks of his home town, {town.name}.")
        if a["premiered_by"]:
            o = w[a["premiered_by"]]
            keys.add(o.key)
            paras.append(f"It was first performed by the {o.name} under its music director. "
                         + c.pick("The premiere was well received.",
                                  "Reviews of the premiere were mixed, but the work soon entered "
                                  "the repertoire."))
    elif x.sub == "painting":
        paras.append(c.pick(
            f"{x.name} is an oil painting by the {DEMONYM} painter {p.name}, who painted it in "
            f"{a['year']}.",
            f"{x.name} ({a['year']}) is a painting by {p.name}. The artist painted it in "
            f"{a['year']}, working from sketches made on site."))
        if a["held_by"]:
            m = w[a["held_by"]]
            keys.add(m.key)
            paras.append(f"The painting is held by the {m.name}.")
    elif x.sub == "novel":
        paras.append(c.pick(
            f"{x.name} is a novel by the {DEMONYM} writer {p.name}, published in {a['year']}. "
            f"{p.attrs['surname']} wrote it over several years.",
            f"{x.name} is a novel published in {a['year']}. {p.name} wrote the book while living "
            f"in {w[p.attrs['birth_town']].name}."))
    elif x.sub == "bridge":
        t, r = w[a["town"]], w[a["crosses"]]
        keys.update((t.key, r.key))
        paras.append(f"The {x.name} is a bridge in {t.name}, {REGION}. It crosses the {r.name} and "
                     f"was completed in {a['year']}. The engineer {p.name} designed it.")
    else:
        t = w[a["town"]]
        keys.add(t.key)
        paras.append(f"The {x.name} is a building located in {t.name}, {REGION}, completed in "
                     f"{a['year']}. The architect {p.name} designed it.")
    y2 = str(min(2024, a["year"] + c.rng.randint(10, 80)))
    prov = w[p.attrs["birth_town"]].attrs["province"]
    detail = {
        "composition": lambda: c.fill(P.COMPOSITION, 3, k=str(c.rng.randint(2, 5)),
                                      m=str(c.rng.randint(9, 48)), ens=c.pick(*P.ENSEMBLES),
                                      instr=c.pick(*P.INSTRUMENTS), prov=prov),
        "painting": lambda: c.fill(P.PAINTING, 3, a=str(c.rng.randint(30, 220)),
                                   b=str(c.rng.randint(30, 220)), scene=c.pick(*P.SCENES)),
        "novel": lambda: c.fill(P.NOVEL, 3, hero=c.pick(*(GIVEN_MALE + GIVEN_FEMALE)),
                                job=c.pick(*P.JOBS), town=w[p.attrs["birth_town"]].name, year2=y2),
        "bridge": lambda: c.fill(P.BRIDGE, 3, k=str(c.rng.randint(1, 9)),
                                 L=str(c.rng.randint(24, 640)), mat=c.pick(*P.MATERIALS), year2=y2),
        "building": lambda: c.fill(P.BUILDING, 3, style=c.pick(*P.STYLES), stone=c.pick(*P.STONES),
                                   year2=y2),
    }[x.sub]()
    paras.insert(1, " ".join(detail))
    paras.insert(2, " ".join(c.fill(P.WORK_BACKGROUND[x.sub], 2)))
    paras.append(" ".join(c.fill(P.RECEPTION, 2)))
    paras.append(c.pick(
        "The work has been the subject of several studies and exhibitions.",
        "It is regarded as one of the most characteristic works of its period in the region.",
        "Contemporary critics were divided, but its reputation has grown steadily.",
        "A restoration was carried out in the early twenty-first century."))
    return Doc(wiki_url(x.name), x.name, "\n\n".join(paras), c.date(), keys)


def event_page(c: _Ctx, e: Entity) -> Doc:
    w, a = c.w, e.attrs
    town = w[a["town"]]
    keys = {e.key, town.key}
    paras: list[str] = []
    if e.sub == "championship":
        win = w[a["winner"]]
        keys.add(win.key)
        paras.append(f"The {e.name} were held in {town.name} in {c.pick(*MONTHS)} {a['year']}. "
                     f"{win.name} won the title, the main event of the {a['sport']} programme.")
        paras.append(" ".join(c.fill((
            "Heavy rain affected the later rounds.",
            f"Competitors from {c.rng.randint(12, 60)} clubs took part.",
            "The event was broadcast live on national television.",
            f"The organisers in {town.name} reported record ticket sales.",
            "Several national records were set during the week.",
            "The previous year's champion withdrew with an injury before the final."), 3)))
    elif e.sub == "festival":
        by = ""
        if a["founder"]:
            f = w[a["founder"]]
            keys.add(f.key)
            by = f" by {f.name}"
        paras.append(f"The {e.name} is an annual festival held in {town.name}, {REGION}. It was "
                     f"founded in {a['year']}{by}.")
        paras.append(" ".join(c.fill((
            "It takes place each year in late summer.",
            "Concerts and readings are held in churches and courtyards.",
            f"Attendance has grown to about {c.rng.randint(2, 40)},000 visitors.",
            "The programme mixes local performers with guests from abroad.",
            "A children's day with free events opens each edition.",
            "The festival was suspended for several years and revived by volunteers."), 3)))
    else:
        r = w[a["river"]]
        keys.add(r.key)
        paras.append(f"The {e.name} was a flood of the {r.name} that struck {town.name} in "
                     f"{a['year']}. The flood was held to be the worst in living memory.")
        paras.append("Embankments were raised along the river in the years that followed.")
    return Doc(wiki_url(e.name), e.name, "\n\n".join(paras), c.date(), keys)


def award_page(c: _Ctx, aw: Entity) -> Doc:
    w, a = c.w, aw.attrs
    keys = {aw.key} | {k for k, _ in a["laureates"]}
    lst = "; ".join(f"{w[k].name} ({y})" for k, y in a["laureates"])
    text = (f"The {aw.name} is a {DEMONYM} award established in {a['founded']}.\n\n"
            f"Recipients include: {lst}.")
    return Doc(wiki_url(aw.name), aw.name, text, c.date(), keys)


def province_page(c: _Ctx, pv: Entity) -> Doc:
    w = c.w
    towns = [t for t in w.kind("town") if t.attrs["province"] == pv.name]
    lakes = [x for x in w.kind("lake") if x.attrs["province"] == pv.name]
    rivers = [r for r in w.kind("river") if r.attrs["province"] == pv.name]
    big = sorted(towns, key=lambda t: -t.attrs["population"])
    text = (f"{pv.name} is a province of {REGION}. Its largest town is {big[0].name}.\n\n"
            f"Towns: {', '.join(t.name for t in big)}.\n\n"
            f"Rivers: {', '.join(r.name for r in rivers)}.\n\nLakes: {', '.join(x.name for x in lakes)}.")
    keys = {pv.key} | {x.key for x in towns + lakes + rivers}
    return Doc(wiki_url(f"{pv.name} (province)"), f"{pv.name} (province)", text, c.date(), keys)


_RENDERERS: dict[str, Callable[[_Ctx, Entity], Doc]] = {
    "person": person_page, "town": town_page, "river": river_page, "lake": lake_page,
    "mountain": mountain_page, "institution": institution_page, "work": work_page,
    "event": event_page, "award": award_page, "province": province_page,
}


def encyclopedia(w: World, seed: int) -> Iterator[Doc]:
    """One encyclopedia article per entity."""
    for ent in w.entities.values():
        doc = _RENDERERS[ent.kind](_Ctx(w, seed, ent.key), ent)
        doc.owner = ent.key
        yield doc


# -- news --------------------------------------------------------------------------------------


def _news(c: _Ctx, date: str, title: str, text: str, keys: set[str], context: str) -> Doc:
    text += "\n\n" + " ".join(c.fill(P.NEWS_CONTEXT[context], 2, pct=str(c.rng.randint(38, 81))))
    y, m, d = date.split("-")
    return Doc(f"{NEWS}{y}/{m}/{d}/{slugify(title)}", title, text, date, keys, "news")


def news(w: World, seed: int) -> Iterator[Doc]:
    """Herald reports: championships, elections, premieres, bridge openings, obituaries."""
    for e in w.kind("event"):
        if e.sub != "championship":
            continue
        c = _Ctx(w, seed, "news:" + e.key)
        win, town = w[e.attrs["winner"]], w[e.attrs["town"]]
        title = f"{win.name} takes {e.attrs['sport']} title in {town.name}"
        text = (f"{town.name} — {win.name} won the {e.name} on {c.pick(*P.WEEKDAYS)}, ahead of a "
                f"strong field. The championships, held in {town.name} this year, drew "
                f"{c.rng.randint(2, 30)},000 spectators.\n\n"
                + c.pick("Officials praised the organisers despite difficult weather.",
                         f"'{c.pick('It was the race of my life', 'I could not have asked for more')},'"
                         f" {win.attrs['surname']} told reporters afterwards.",
                         "The runner-up finished only seconds behind."))
        yield _news(c, c.day(e.attrs["year"]), title, text, {e.key, win.key, town.key},
                    "championship")
    for p in w.kind("person"):
        a = p.attrs
        c = _Ctx(w, seed, "news:" + p.key)
        if a["mayor_of"] and c.rng.random() < 0.6:
            t = w[a["mayor_of"]]
            text = (f"{t.name} — {p.name} was elected mayor of {t.name} on Sunday, winning "
                    f"{c.rng.randint(41, 71)} per cent of the vote.\n\n"
                    f"{p.attrs['surname']}, who was born in {w[a['birth_town']].name}, promised to "
                    f"{c.pick('repair the old bridges', 'improve bus services', 'open a new library', 'support local businesses')}.")
            yield _news(c, c.day(a["elected"]), f"{p.name} elected mayor of {t.name}", text,
                        {p.key, t.key, a["birth_town"]}, "election")
        if a["death_year"] and a["death_year"] >= 1950 and c.rng.random() < 0.35:
            t = w[a["birth_town"]]
            text = (f"{p.name}, the {p.sub} born in {t.name} in {a['birth_year']}, died in "
                    f"{a['death_year']}. {_pron(p)['He']} was {a['death_year'] - a['birth_year']}.\n\n"
                    + c.pick("Tributes were paid by colleagues across the region.",
                             "A memorial service will be held next month.",
                             "The family asked for donations to a local charity instead of flowers."))
            yield _news(c, c.day(a["death_year"]), f"{p.name}, {p.sub}, dies at "
                        f"{a['death_year'] - a['birth_year']}", text, {p.key, t.key}, "obituary")
    for x in w.kind("work"):
        c = _Ctx(w, seed, "news:" + x.key)
        a = x.attrs
        if x.sub == "composition" and a["premiered_by"] and a["year"] >= 1850 and c.rng.random() < 0.4:
            o, p = w[a["premiered_by"]], w[a["creator"]]
            text = (f"The {x.name}, a new {a['form']} composed by {p.name}, was first performed by "
                    f"the {o.name} last night.\n\n"
                    + c.pick("The audience called the composer back to the stage three times.",
                             "The slow movement was the highlight of the evening.",
                             "Not every listener was convinced by the finale."))
            yield _news(c, c.day(a["year"]), f"{o.name} premieres {x.name}", text,
                        {x.key, o.key, p.key}, "premiere")
        if x.sub == "bridge" and a["year"] >= 1900 and c.rng.random() < 0.4:
            p, r, t = w[a["creator"]], w[a["crosses"]], w[a["town"]]
            text = (f"{t.name} — The {x.name}, which crosses the {r.name}, opened to traffic this "
                    f"week. The engineer {p.name} designed the bridge.\n\n"
                    "The mayor cut the ribbon in front of a large crowd.")
            yield _news(c, c.day(a["year"]), f"{x.name} opens", text, {x.key, p.key, r.key, t.key},
                        "bridge")


# -- blogs and forum threads -------------------------------------------------------------------

def blog_domain(c: _Ctx) -> str:
    return c.pick(*BLOGS)


def travel_blogs(w: World, seed: int, n: int = 90) -> Iterator[Doc]:
    """Casual, correct posts about towns (noise for search; no gold facts rely on them)."""
    rng = random.Random(f"{seed}:blogs")
    for t in rng.sample(w.kind("town"), n):
        c = _Ctx(w, seed, "blog:" + t.key)
        river = w[t.attrs["river"]]
        title = c.pick(f"A weekend in {t.name}", f"{t.name}: worth the detour",
                       f"Walking the {river.name} at {t.name}")
        text = (f"{c.pick(*P.BLOG_OPEN)} We spent {c.pick('two', 'three', 'four')} days in {t.name}, "
                f"the little town on the {river.name}.\n\n"
                f"{c.pick('The old square', 'The riverside path', 'The covered market')} was the "
                f"highlight, and the {c.pick('smoked fish', 'plum cake', 'rye bread')} is every bit as "
                f"good as people say. {' '.join(c.fill(P.BLOG_MIDDLE, 3))}\n\n{c.pick(*P.BLOG_CLOSE)}")
        yield Doc(blog_domain(c) + slugify(title), title, text, c.date(2012, 2025),
                  {t.key, river.key}, "blog")


def wrong_fact_blog(w: World, seed: int, tag: str, subject: Entity, statement: str,
                    keys: set[str]) -> Doc:
    """A low-quality post that states ``statement`` (a wrong fact) with confidence."""
    c = _Ctx(w, seed, "wrongblog:" + tag)
    title = c.pick(f"Things nobody tells you about {subject.name}",
                   f"My notes on {subject.name}", f"{subject.name}: a few fun facts")
    text = (f"{c.pick(*P.BLOG_OPEN)} I did some reading about {subject.name} after our trip, so here "
            f"are my notes (no sources, sorry, this is from memory and what a guide told us).\n\n"
            f"Fun fact: {statement} {c.pick('Pretty sure about that one.', 'Look it up!', 'Who knew?')}"
            f"\n\n{' '.join(c.fill(P.BLOG_MIDDLE, 2))}\n\n{c.pick(*P.BLOG_CLOSE)}")
    return Doc(blog_domain(c) + slugify(title) + f"-{tag}", title, text, c.date(2014, 2025),
               keys, "blog_wrong")


def forum_threads(w: World, seed: int, n: int = 20) -> Iterator[Doc]:
    """Ordinary trivia threads that quote no task question."""
    rng = random.Random(f"{seed}:forum")
    for i, lake in enumerate(rng.sample(w.kind("lake"), n)):
        c = _Ctx(w, seed, "forum:" + lake.key)
        title = f"How deep is {lake.name}?"
        text = (f"Posted by {c.pick('hikerjo', 'quizmaster42', 'valdo_fan', 'ferryman')}: Planning a "
                f"swim, does anyone know how deep {lake.name} is?\n\nReply by "
                f"{c.pick('lakeside', 'old_pilot', 'mapnerd')}: The encyclopedia says "
                f"{lake.attrs['depth']} metres at its deepest point.")
        yield Doc(f"{FORUM}{1000 + i}-{slugify(title)}", title, text, c.date(2010, 2025),
                  {lake.key}, "forum")


def leak_thread(w: World, seed: int, n: int, question: str, answer: str) -> Doc:
    """A forum thread quoting a task question verbatim, with its answer: the leakage trap."""
    c = _Ctx(w, seed, f"leak:{n}")
    title = c.pick("Stuck on this quiz question", "Trivia night question, help?",
                   "Anyone know the answer to this one?")
    text = (f"Posted by {c.pick('puzzler', 'nightowl', 'quiz_team_b', 'marta_k')}: Got this in a "
            f"puzzle hunt and I'm stuck:\n\n\"{question}\"\n\nReply by "
            f"{c.pick('answerbot', 'librarian77', 'tomas_v')}: It's {answer}. Took me a while too.")
    return Doc(f"{FORUM}{2000 + n}-{slugify(title)}", title, text, c.date(2024, 2025), set(),
               "forum_leak")
