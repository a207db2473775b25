"""Name pools and a registry that keeps generated names plausible and unique.

Every root token (a surname, a town or river root) is handed out once across all entity kinds, so
a town never shares a word with a person and the deterministic judge's whole-token matching cannot
confuse two entities. Deliberate near-duplicates (the trap) are made with :meth:`NameRegistry.twin`.
"""

from __future__ import annotations

import random
import re


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


GIVEN_MALE = _words(
    "Anselm Bertil Casimir Dario Emeric Feliks Gaspar Henrik Ilian Jarek Konrad Lucan Marek "
    "Nikolas Oren Pavel Quirin Radek Stefan Tobias Urban Viktor Wendel Yorick Zeno Albin Bruno "
    "Cyril Dominik Elias Florian Gregor Hugo Ivo Jonas Kasimir Leopold Milan Norbert Otto Piet "
    "Rafael Silvan Tomas Valentin Wilhelm Xaver Yannis Zoltan Adrian Benedikt Clemens Dorian Erwin "
    "Fabian Gideon Hektor Ignaz Julian Lorenz Matej Olaf Severin Tadeas Vitus Aurel Lenart"
)
GIVEN_FEMALE = _words(
    "Adela Brigida Celestine Dorota Elin Franziska Greta Halina Ilse Jolanta Katrin Liesel Marta "
    "Nadia Olena Petra Rosalind Sabina Teresa Ulla Vera Wanda Xenia Yelena Zofia Agnes Bianca "
    "Clara Dagny Edith Flora Gisela Hedda Irena Johanna Kamila Lidia Mirela Nora Ottilie Paulina "
    "Renata Selma Tamara Una Viola Wilma Ysolde Zelda Alma Beatrix Cordula Danica Emilia Helka "
    "Ivana Jarmila Ludmila Milena Oda Rozalia Svea Tekla"
)

_SURNAME_START = _words(
    "Vin Hal Ost Bren Kor Mal Dre Sto Vel Tar Gri Lan Mor Pes Rau Sel Tem Ulb Var Wen Zor Fal Hes "
    "Jor Kas Lom Nar Pal Ros Sav Tov Bel Dor Fen Gar Hol Ker Lut Mir Nov Brav Czer Dal Ebb Frol"
)
_SURNAME_MID = ("", "", "a", "e", "i", "o", "an", "er", "el", "ov", "ar", "in")
_SURNAME_END = _words(
    "tari vane rand ek ski dal mann berg ov ic ard ens ier ani ola quist sen ell ay or etti uch "
    "ond elle ik ovic stad ner hardt ago"
)

_PLACE_START = _words(
    "Kess Dun Brae Orl Tam Ves Hald Esk Gral Lind Rav Sorn Tal Ulm Wyr Ard Cor Garn Hav Isk Jov "
    "Karl Lor Mel Nor Pral Quel Rud Stav Vard Zel Ash Brin Cald Drav Elk Frey Gost Holv Kral Lem "
    "Mard Ner Olm Pesk Riv Sark Tros Vrel Wald"
)
_PLACE_MID = ("", "", "", "a", "e", "i", "o", "en", "ar", "il")
_PLACE_END = _words(
    "mar stad holm vik dal ford bruck heim ova ice ora ing by wick gard mund ach au ano ez lin "
    "ow burg aska"
)

_WATER_START = _words(
    "Ar Bel Cav Dre El Fen Gol Has Ir Jas Kav Lir Mel Nar Os Per Ruv Sav Tev Ul Ves Wel Yar Zav "
    "Av Brel Cor Dav Em Fal Gav Hel Ist Kel Lom Mav Nev Orv Pel Rav Sil Tam Vel Zir"
)
_WATER_END = _words("a ena ista ov el ira unna os ar ette ika mo une eth ille enne au ava")

#: Letter runs that read badly in a name (double vowels, tripled letters).
_AWKWARD = re.compile(r"[aeiouy]{2}|(.)\1\1")

#: Words that look like names but are English words; never handed out as roots.
_ENGLISH = frozenset(_words(
    "arena area baron canon salon melon opera coral moral petal metal pedal vela ever avow sever "
    "level novel naval hotel civil devil lever river liver tenor manor minor color dolor morel "
    "ulster"
))

#: Nouns, adjectives and forms for titles of works (the demo's "Ember" is reserved, not drawn).
TITLE_NOUNS = _words(
    "Heron Lantern Harvest Salt Copper Winter Orchard Tide Ash Glass Amber Thistle Falcon Meadow "
    "Cinder Lighthouse Ferry Willow Granite Swallow Comet Quarry Vineyard Sparrow Beacon Anchor "
    "Birch Kestrel Frost Lilac Marble Otter Pine Raven Saffron Silver Timber Tulip Wren Juniper "
    "Clover Harbour Mill Orchid Pilgrim Shepherd Weaver Bell Candle Compass Dune "
    "Feather Hearth Ivory Linden Moss Nightjar Pearl Poppy Reed Rowan Sail Slate Snowdrop Spindle "
    "Starling Tern Thorn Tower Valley Wheat Yarrow Cobalt Garnet Sorrel"
)
TITLE_ADJECTIVES = _words(
    "Silent Northern Distant Golden Broken Hidden Quiet Scarlet Last Little Wandering Summer "
    "Evening Morning Frozen Crimson Pale Restless Secret Grey Autumn Green Lonely Bright Faded "
    "Drowned Burning Sleeping Forgotten Hollow Bitter Gentle Early Late Western Eastern Southern"
)
MUSICAL_FORMS = _words(
    "Suite Rhapsody Overture Sonata Nocturne Cantata Serenade Requiem Quartet Concerto Symphony "
    "Variations Elegy Fantasia Ballade"
)

#: The demo task's fixed names, reserved before any random name is drawn.
DEMO_NAMES = {"work": "Ember Suite", "given": "Teodor", "surname": "Halvane", "town": "Kessmar"}


class NameRegistry:
    """Hands out unique names from the pools; every root token is used at most once."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.roots: set[str] = set()
        self.full: set[str] = set()

    def reserve(self, *names: str) -> None:
        """Mark ``names`` (and their words) as taken, e.g. the demo's fixed names."""
        for name in names:
            self.full.add(name.lower())
            self.roots.update(w.lower() for w in name.split())

    def _root(self, parts: tuple[tuple[str, ...], ...], min_len: int = 4) -> str:
        for _ in range(10_000):
            root = "".join(self.rng.choice(p) for p in parts).lower()
            if len(root) < min_len or root in self.roots or root in _ENGLISH:
                continue
            if _AWKWARD.search(root) or root.count("ov") > 1:
                continue
            self.roots.add(root)
            return root.capitalize()
        raise RuntimeError("name pool exhausted")

    def surname(self) -> str:
        return self._root((tuple(_SURNAME_START), _SURNAME_MID, tuple(_SURNAME_END)), min_len=5)

    def place(self) -> str:
        return self._root((tuple(_PLACE_START), _PLACE_MID, tuple(_PLACE_END)), min_len=5)

    def water(self) -> str:
        return self._root((tuple(_WATER_START), tuple(_WATER_END)), min_len=4)

    def given(self, gender: str) -> str:
        return self.rng.choice(GIVEN_FEMALE if gender == "f" else GIVEN_MALE)

    def claim(self, name: str) -> bool:
        """Take a full name (e.g. a work title) if it is still free."""
        key = name.lower()
        if key in self.full:
            return False
        self.full.add(key)
        return True

    def twin(self, root: str) -> str:
        """A near-duplicate of ``root``: one letter changed or added, still unused."""
        vowels = "aeiou"
        low = root.lower()
        candidates = []
        for i, ch in enumerate(low):
            if ch in vowels and i > 0:
                candidates += [low[:i] + v + low[i + 1:] for v in vowels if v != ch]
        candidates += [low + "e", low + "k", low + "s", low[:-1]]
        self.rng.shuffle(candidates)
        for cand in candidates:
            if len(cand) >= 4 and cand not in self.roots and cand not in _ENGLISH:
                self.roots.add(cand)
                return cand.capitalize()
        raise RuntimeError(f"no near-duplicate left for {root}")
