"""The fictional region of Valdoria as a graph of entities and facts, built from a seed.

Entities (provinces, mountains, lakes, rivers, towns, people, institutions, works, events,
awards) carry their facts as attributes that point at other entities by key. Facts chain across
entities: a person is born in a town, the town lies on a river, the river flows into a lake, the
lake is named after a person. Pages (:mod:`devtools.valdoria.pages`) and tasks
(:mod:`devtools.valdoria.questions`) are both rendered from this one graph, so a task's gold values are
facts the corpus states.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from devtools.valdoria.names import (
    DEMO_NAMES,
    MUSICAL_FORMS,
    TITLE_ADJECTIVES,
    TITLE_NOUNS,
    NameRegistry,
)

REGION = "Valdoria"
DEMONYM = "Valdorian"
PROVINCES = ("Orsa", "Tamberlin", "Vessaly", "Kordavia", "Halmstrand", "Eskeri", "Morvaine",
             "Dunholt")
SPORTS = ("rowing", "cycling", "skiing", "fencing", "athletics", "wrestling", "canoeing")
AWARDS = (  # name, first year, professions eligible (empty: anyone)
    ("Order of the Silver Heron", 1868, ()),
    ("Karlsen Prize for Music", 1902, ("composer", "conductor")),
    ("Ostrava Medal for Engineering", 1911, ("engineer", "architect", "scientist")),
    ("Valdorian Book Prize", 1935, ("writer",)),
    ("Golden Easel Award", 1921, ("painter",)),
    ("National Sports Merit Cross", 1952, ("athlete", "mountaineer")),
)
PROFESSIONS = {  # profession: (count, earliest birth, latest birth)
    "composer": (220, 1780, 1985), "painter": (160, 1770, 1985), "writer": (200, 1780, 1990),
    "engineer": (140, 1790, 1980), "architect": (100, 1780, 1980), "athlete": (320, 1900, 2002),
    "politician": (270, 1935, 1985), "scientist": (120, 1790, 1985),
    "mountaineer": (50, 1830, 1960), "conductor": (60, 1800, 1985),
}
INSTITUTION_KINDS = {  # kind: (count, earliest founding, latest founding)
    "university": (16, 1580, 1975), "conservatory": (22, 1760, 1960),
    "art academy": (12, 1740, 1950), "museum": (45, 1790, 1995), "orchestra": (28, 1790, 1980),
    "sports club": (70, 1870, 1990), "theatre": (25, 1700, 1980),
}
BUILDING_TYPES = ("Town Hall", "Opera House", "Central Station", "Water Tower", "Market Hall",
                  "Observatory", "Public Library")
FESTIVAL_THEMES = ("Harvest", "Lantern", "Chamber Music", "Folk Dance", "Poetry", "Film",
                   "Organ", "Wine", "Choir", "River")
STUDY = {"composer": "conservatory", "conductor": "conservatory", "painter": "art academy",
         "engineer": "university", "scientist": "university", "architect": "university",
         "writer": "university", "politician": "university"}
CREATES = {"composer": "composition", "painter": "painting", "writer": "novel",
           "engineer": "bridge", "architect": "building"}


@dataclass
class Entity:
    """One thing in the world; ``attrs`` holds its facts (other entities referenced by key)."""

    key: str
    kind: str
    name: str
    sub: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    """All entities of the region, by key and by kind."""

    entities: dict[str, Entity] = field(default_factory=dict)
    by_kind: dict[str, list[Entity]] = field(default_factory=dict)
    demo: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, name: str, sub: str = "", **attrs: Any) -> Entity:
        key = f"{kind}:{len(self.by_kind.get(kind, ()))}"
        ent = Entity(key=key, kind=kind, name=name, sub=sub, attrs=attrs)
        self.entities[key] = ent
        self.by_kind.setdefault(kind, []).append(ent)
        return ent

    def __getitem__(self, key: str) -> Entity:
        return self.entities[key]

    def kind(self, kind: str) -> list[Entity]:
        return self.by_kind.get(kind, [])


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.names = NameRegistry(self.rng)
        self.names.reserve(*DEMO_NAMES.values(), *PROVINCES, REGION, DEMONYM)
        self.w = World()

    # -- geography ------------------------------------------------------------------------------

    def geography(self) -> None:
        rng, w = self.rng, self.w
        for p in PROVINCES:
            w.add("province", p)
        for _ in range(45):
            root = self.names.water()
            name = f"Mount {root}" if rng.random() < 0.7 else f"{root} Peak"
            w.add("mountain", name, province=rng.choice(PROVINCES),
                  elevation=rng.randint(640, 3380), first_ascent=None)
        for _ in range(60):  # names settled after people exist (some lakes honour a person)
            w.add("lake", "", province=rng.choice(PROVINCES), area=round(rng.uniform(1.2, 240), 1),
                  depth=rng.randint(6, 310), named_after=None, root=self.names.water(), inflows=[])
        lakes, mountains = w.kind("lake"), w.kind("mountain")
        for i in range(150):
            river = w.add("river", f"River {self.names.water()}", length=rng.randint(14, 390),
                          towns=[], tributaries=[])
            rivers = w.kind("river")
            if i < 40 or rng.random() < 0.65:
                mouth = rng.choice(lakes)
                mouth.attrs["inflows"].append(river.key)
            else:
                mouth = rng.choice(rivers[: i])
                mouth.attrs["tributaries"].append(river.key)
                river.attrs["length"] = min(river.attrs["length"], max(14, mouth.attrs["length"] - 5))
            river.attrs["mouth"] = mouth.key
            province = mouth.attrs.get("province") or rng.choice(PROVINCES)
            river.attrs["province"] = province
            same = [m for m in mountains if m.attrs["province"] == province] or mountains
            river.attrs["source"] = rng.choice(same).key
        self._towns()

    def _towns(self) -> None:
        rng, w = self.rng, self.w
        rivers = w.kind("river")
        demo_town = w.add("town", DEMO_NAMES["town"])
        for _ in range(529):
            w.add("town", self.names.place())
        for town in w.kind("town"):
            river = rng.choice(rivers)
            town.attrs.update(
                river=river.key, province=river.attrs["province"],
                population=int(math.exp(rng.uniform(math.log(700), math.log(240_000)))),
                founded=rng.randint(880, 1860), elevation=rng.randint(40, 1400),
                mayor=None, twin=None, people=[], institutions=[], works=[])
            river.attrs["towns"].append(town.key)
        demo_town.attrs["population"] = 23_840
        # near-duplicate towns: same province, a different river
        for town in rng.sample(w.kind("town")[1:], 22):
            twin = w.add("town", self.names.twin(town.name))
            river = rng.choice([r for r in rivers if r.key != town.attrs["river"]
                                and r.attrs["province"] == town.attrs["province"]] or rivers)
            twin.attrs.update(
                river=river.key, province=river.attrs["province"],
                population=int(town.attrs["population"] * rng.uniform(0.3, 1.6)),
                founded=rng.randint(880, 1860), elevation=rng.randint(40, 1400),
                mayor=None, twin=town.key, people=[], institutions=[], works=[])
            town.attrs["twin"] = twin.key
            river.attrs["towns"].append(twin.key)

    # -- institutions and people ----------------------------------------------------------------

    def institutions(self) -> None:
        rng, w = self.rng, self.w
        big = sorted(w.kind("town"), key=lambda t: -t.attrs["population"])
        for kind, (count, lo, hi) in INSTITUTION_KINDS.items():
            pool = big[: count * 3] if kind in ("university", "conservatory", "orchestra") else big
            used: set[str] = set()
            made = 0
            while made < count:
                town = rng.choice(pool)
                sport = rng.choice(SPORTS) if kind == "sports club" else ""
                label = (town.key, sport)
                if label in used:
                    continue
                used.add(label)
                name = _institution_name(kind, town.name, sport, rng)
                if not self.names.claim(name):
                    continue
                inst = w.add("institution", name, kind, town=town.key,
                             founded=rng.randint(lo, hi), founder=None, sport=sport)
                town.attrs["institutions"].append(inst.key)
                made += 1

    def people(self) -> None:
        rng, w = self.rng, self.w
        towns = w.kind("town")
        weights = [math.log(t.attrs["population"]) for t in towns]
        for prof, (count, lo, hi) in PROFESSIONS.items():
            for _ in range(count):
                gender = rng.choice("mf")
                self._person(prof, gender, self.names.given(gender), self.names.surname(),
                             rng.randint(lo, hi), rng.choices(towns, weights)[0].key)
        demo = self._person("composer", "m", DEMO_NAMES["given"], DEMO_NAMES["surname"], 1871,
                            w.kind("town")[0].key)
        demo.attrs["death_year"] = 1938
        self.w.demo["composer"] = demo.key
        # near-duplicate people: same given name and profession, surname one letter apart
        candidates = [p for p in w.kind("person") if p.key != demo.key]
        for person in rng.sample(candidates, 40):
            a = person.attrs
            twin = self._person(person.sub, a["gender"], a["given"], self.names.twin(a["surname"]),
                                a["birth_year"] + rng.choice((-6, -3, 2, 5, 9)),
                                rng.choice([t for t in towns if t.key != a["birth_town"]]).key)
            twin.attrs["twin"] = person.key
            a["twin"] = twin.key

    def _person(self, prof: str, gender: str, given: str, surname: str, born: int,
                town_key: str) -> Entity:
        rng = self.rng
        death = None
        if born < 1946:
            death = born + rng.randint(48, 96)
            if death > 2024:
                death = None if rng.random() < 0.5 else rng.randint(2000, 2024)
                if death is not None and death - born > 101:
                    death = born + 99
        person = self.w.add("person", f"{given} {surname}", prof, given=given, surname=surname,
                            gender=gender, birth_year=born, death_year=death, birth_town=town_key,
                            studied_at=None, teacher=None, club=None, mayor_of=None, elected=None,
                            ascents=[], awards=[], works=[], founded=[], won=[], namesake_of=None,
                            twin=None, pupils=[])
        self.w[town_key].attrs["people"].append(person.key)
        return person

    def careers(self) -> None:
        rng, w = self.rng, self.w
        insts = w.kind("institution")
        people = w.kind("person")
        by_prof: dict[str, list[Entity]] = {}
        for p in people:
            by_prof.setdefault(p.sub, []).append(p)
        for p in people:
            a = p.attrs
            kind = STUDY.get(p.sub)
            if kind and rng.random() < (0.5 if p.sub == "politician" else 0.85):
                options = [i for i in insts if i.sub == kind and i.attrs["founded"] <= a["birth_year"] + 17]
                if options:
                    a["studied_at"] = rng.choice(options).key
            if p.sub in ("composer", "painter", "conductor") and rng.random() < 0.5:
                older = [q for q in by_prof[p.sub] if 20 <= a["birth_year"] - q.attrs["birth_year"] <= 50]
                if older:
                    teacher = rng.choice(older)
                    a["teacher"] = teacher.key
                    teacher.attrs["pupils"].append(p.key)
            if p.sub == "athlete":
                a["sport"] = rng.choice(SPORTS)
                clubs = [i for i in insts if i.attrs["sport"] == a["sport"]
                         and i.attrs["founded"] <= a["birth_year"] + 16]
                if clubs:
                    a["club"] = rng.choice(clubs).key
        # mayors: a politician for most towns, elected 1994-2022
        towns = rng.sample(w.kind("town"), len(by_prof["politician"]))
        for pol, town in zip(by_prof["politician"], towns, strict=True):
            year = rng.randint(min(max(1994, pol.attrs["birth_year"] + 30), 2022), 2022)
            pol.attrs.update(mayor_of=town.key, elected=year, death_year=None)
            town.attrs["mayor"] = pol.key
        # first ascents
        climbers = by_prof["mountaineer"]
        for mountain in w.kind("mountain"):
            if rng.random() < 0.8:
                c = rng.choice(climbers)
                year = c.attrs["birth_year"] + rng.randint(19, 38)
                mountain.attrs["first_ascent"] = (c.key, year)
                c.attrs["ascents"].append((mountain.key, year))
        # founders of some institutions
        founders = [p for p in people if p.sub in ("composer", "conductor", "painter", "scientist",
                                                    "writer", "athlete", "architect")]
        for inst in insts:
            if rng.random() < 0.55:
                year = inst.attrs["founded"]
                fit = [p for p in founders if p.attrs["birth_year"] + 25 <= year
                       <= min(p.attrs["birth_year"] + 70, p.attrs["death_year"] or 9999)]
                if fit:
                    f = rng.choice(fit)
                    inst.attrs["founder"] = f.key
                    f.attrs["founded"].append(inst.key)
        # lakes: about half honour a person (one lake per person)
        notable = [p for p in people if p.sub not in ("politician", "athlete")
                   and p.attrs["birth_year"] < 1900 and not p.attrs["twin"]]
        honoured = rng.sample(notable, 30)
        for lake, person in zip(w.kind("lake"), honoured + [None] * 30, strict=True):
            if person is not None:
                lake.name = f"Lake {person.attrs['surname']}"
                lake.attrs["named_after"] = person.key
                person.attrs["namesake_of"] = lake.key
            else:
                lake.name = f"Lake {lake.attrs['root']}"
        rng.shuffle(w.by_kind["lake"])
        # awards
        for name, since, professions in AWARDS:
            award = w.add("award", name, founded=since, laureates=[])
            eligible = [p for p in people if not professions or p.sub in professions]
            for p in rng.sample(eligible, min(50, len(eligible))):
                lo = max(since, p.attrs["birth_year"] + 30)
                hi = min(p.attrs["death_year"] or 2024, 2024, p.attrs["birth_year"] + 85)
                if lo <= hi and not p.attrs["awards"]:
                    year = rng.randint(lo, hi)
                    p.attrs["awards"].append((award.key, year))
                    award.attrs["laureates"].append((p.key, year))
            award.attrs["laureates"].sort(key=lambda x: x[1])

    # -- works and events -----------------------------------------------------------------------

    def works(self) -> None:
        rng, w = self.rng, self.w
        insts = w.kind("institution")
        demo = w[w.demo["composer"]]
        suite = w.add("work", DEMO_NAMES["work"], "composition", creator=demo.key, year=1912,
                      form="suite", premiered_by=None, held_by=None, crosses=None, town=None)
        demo.attrs["works"].append(suite.key)
        w.demo["work"] = suite.key
        orchestras = [i for i in insts if i.sub == "orchestra"]
        if orchestras:
            suite.attrs["premiered_by"] = min(orchestras, key=lambda o: o.attrs["founded"]).key
        for p in w.kind("person"):
            kind = CREATES.get(p.sub)
            if kind is None or p.key == demo.key:
                continue
            a = p.attrs
            end = min(a["death_year"] or 2024, 2024)
            for _ in range(rng.choice((1, 1, 2, 2, 3)) if kind != "composition" else rng.randint(1, 4)):
                year = rng.randint(a["birth_year"] + 22, max(a["birth_year"] + 23, end - 1))
                made = self._work(p, kind, year)
                if made is None:
                    continue
                if kind == "composition" and rng.random() < 0.7:
                    fit = [o for o in orchestras if o.attrs["founded"] <= year]
                    if fit:
                        made.attrs["premiered_by"] = rng.choice(fit).key
                if kind == "painting" and rng.random() < 0.8:
                    made.attrs["held_by"] = rng.choice([i for i in insts if i.sub == "museum"]).key

    def _work(self, p: Entity, kind: str, year: int) -> Entity | None:
        rng, w = self.rng, self.w
        base = dict(creator=p.key, year=year, premiered_by=None, held_by=None, crosses=None,
                    town=None, form="")
        for _ in range(30):
            town = rng.choice(w.kind("town"))
            if kind == "composition":
                form = rng.choice(MUSICAL_FORMS)
                noun = rng.choice(TITLE_NOUNS)
                name = (f"{noun} {form}" if rng.random() < 0.6
                        else f"{rng.choice(TITLE_ADJECTIVES)} {noun} {form}")
                base["form"] = form.lower()
            elif kind == "painting":
                r = rng.random()
                name = (f"The {rng.choice(TITLE_ADJECTIVES)} {rng.choice(TITLE_NOUNS)}" if r < 0.5
                        else f"View of {town.name}" if r < 0.7
                        else f"{rng.choice(TITLE_NOUNS)} at {town.name}")
            elif kind == "novel":
                r = rng.random()
                name = (f"The {rng.choice(TITLE_NOUNS)} of {town.name}" if r < 0.4
                        else f"A {rng.choice(('Winter', 'Summer', 'Spring', 'Year'))} in {town.name}"
                        if r < 0.6 else f"{rng.choice(TITLE_ADJECTIVES)} {rng.choice(TITLE_NOUNS)}")
            elif kind == "bridge":
                name = f"{town.name} {rng.choice(('Bridge', 'Bridge', 'Viaduct', 'Footbridge'))}"
                base.update(town=town.key, crosses=town.attrs["river"])
            else:
                name = f"{town.name} {rng.choice(BUILDING_TYPES)}"
                base.update(town=town.key)
            if self.names.claim(name):
                work = w.add("work", name, kind, **base)
                p.attrs["works"].append(work.key)
                if work.attrs["town"]:
                    w[work.attrs["town"]].attrs["works"].append(work.key)
                return work
        return None

    def events(self) -> None:
        rng, w = self.rng, self.w
        athletes = [p for p in w.kind("person") if p.sub == "athlete"]
        towns = w.kind("town")
        for sport in SPORTS:
            for year in sorted(rng.sample(range(1946, 2024), 22)):
                fit = [a for a in athletes if a.attrs["sport"] == sport
                       and 18 <= year - a.attrs["birth_year"] <= 36]
                if not fit:
                    continue
                winner = rng.choice(fit)
                host = rng.choice(towns)
                ev = w.add("event", f"{year} {DEMONYM} {sport.capitalize()} Championships",
                           "championship", year=year, town=host.key, winner=winner.key,
                           sport=sport, founder=None, river=None)
                winner.attrs["won"].append(ev.key)
        founders = [p for p in w.kind("person") if p.sub in ("composer", "writer", "politician",
                                                             "conductor", "painter")]
        for _ in range(60):
            town = rng.choice(towns)
            name = f"{town.name} {rng.choice(FESTIVAL_THEMES)} Festival"
            if not self.names.claim(name):
                continue
            year = rng.randint(1890, 2015)
            fit = [p for p in founders if 25 <= year - p.attrs["birth_year"] <= 70
                   and year <= (p.attrs["death_year"] or 9999)]
            founder = rng.choice(fit) if fit else None
            ev = w.add("event", name, "festival", year=year, town=town.key,
                       founder=founder.key if founder else None, winner=None, sport="", river=None)
            if founder:
                founder.attrs["founded"].append(ev.key)
        for _ in range(25):
            river = rng.choice(w.kind("river"))
            if not river.attrs["towns"]:
                continue
            year = rng.randint(1780, 2021)
            name = f"{river.name.removeprefix('River ')} flood of {year}"
            if not self.names.claim(name):
                continue
            w.add("event", name, "flood", year=year, town=rng.choice(river.attrs["towns"]),
                  river=river.key, winner=None, founder=None, sport="")


def _institution_name(kind: str, town: str, sport: str, rng: random.Random) -> str:
    if kind == "university":
        return f"University of {town}"
    if kind == "conservatory":
        return f"{town} Conservatory"
    if kind == "art academy":
        return f"{town} Academy of Fine Arts"
    if kind == "museum":
        return rng.choice((f"{town} Museum of Art", f"{town} City Museum", f"{town} Gallery"))
    if kind == "orchestra":
        return rng.choice((f"{town} Philharmonic", f"{town} Symphony Orchestra"))
    if kind == "theatre":
        return rng.choice((f"{town} Civic Theatre", f"{town} Playhouse"))
    club = {"rowing": "Rowing Club", "cycling": "Cycling Club", "skiing": "Ski Club",
            "fencing": "Fencing Club", "athletics": "Athletic Club", "wrestling": "Wrestling Club",
            "canoeing": "Canoe Club"}[sport]
    return f"{town} {club}"


def build_world(seed: int) -> World:
    """Build the whole region deterministically from ``seed``."""
    b = _Builder(seed)
    b.geography()
    b.institutions()
    b.people()
    b.careers()
    b.works()
    b.events()
    return b.w
