"""Realistic misspellings of real-looking names, for the search recall figures (N2).

Each kind makes the mistake a desk makes when a parent spells a name aloud or a hand slips:

- insertion: a letter typed twice, or a neighbouring key hit as well ("Jonhnson")
- deletion: a letter left out ("Jonson", "Thompsn")
- substitution: a neighbouring key instead of the right one ("Johnsin")
- transposition: two neighbouring letters swapped ("Jhonson")
- sound_alike: an English spelling of the same sound ("Thomsen", "Mcdonald", "Katharyn", "Filip")
- nickname: the given name replaced by one of its nicknames from the ``nicknames`` dataset ("Bill")
- nickname_chain: the given name replaced by a nickname of one of its nicknames, which the dataset
  does not list for the name itself ("Nell" for Eleanor, through Ella; "Rosie" for Rosemary,
  through Rose): only where each link goes one way (the dataset lists Bill and William each as
  the other's) and the last name is a nickname with none of its own (Ollie's Oliver is another
  name, not Olivia's nickname) and of no more than eight names so (Fred ends a dozen chains)

The sound-alike rules are spelling variants of English and Spanish names, not the phonetic code
kiosk uses to find them, so the recall figure measures the search rather than restating it.

    python benchmarks/typos.py Katherine Johnson     # print one of each kind
"""

from __future__ import annotations

import random
import sys
from functools import lru_cache

KINDS = (
    "insertion",
    "deletion",
    "substitution",
    "transposition",
    "sound_alike",
    "nickname",
    "nickname_chain",
)

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
NEIGHBOURS = {}
for _r, _row in enumerate(_ROWS):
    for _c, _key in enumerate(_row):
        near = {_row[i] for i in (_c - 1, _c + 1) if 0 <= i < len(_row)}
        for other in (_r - 1, _r + 1):
            if 0 <= other < len(_ROWS):
                near.update(
                    _ROWS[other][i] for i in (_c - 1, _c, _c + 1) if 0 <= i < len(_ROWS[other])
                )
        NEIGHBOURS[_key] = "".join(sorted(near))

# (spelling, another spelling of the same sound), tried both ways where it reads naturally
SOUND_RULES = (
    ("ph", "f"),
    ("f", "ph"),
    ("ck", "k"),
    ("c", "k"),
    ("k", "c"),
    ("y", "i"),
    ("i", "y"),
    ("ee", "ea"),
    ("z", "s"),
    ("s", "z"),
    ("th", "t"),
    ("mac", "mc"),
    ("mc", "mac"),
    ("son", "sen"),
    ("sen", "son"),
    ("ie", "y"),
    ("ey", "y"),
    ("ll", "l"),
    ("tt", "t"),
    ("nn", "n"),
    ("rr", "r"),
    ("ss", "s"),
    ("l", "ll"),
    ("n", "nn"),
    ("t", "tt"),
    ("qu", "kw"),
    ("x", "ks"),
    ("ks", "x"),
    ("v", "b"),
    ("b", "v"),
    ("j", "h"),
    ("ll", "y"),
    ("gu", "g"),
    ("ou", "ow"),
    ("ow", "ou"),
    ("ai", "ay"),
    ("ay", "ai"),
    ("er", "ar"),
    ("ine", "yn"),
    ("yn", "in"),
    ("ch", "sh"),
    ("sh", "ch"),
    ("oo", "u"),
    ("u", "oo"),
    ("ew", "u"),
    ("a", "e"),
    ("e", "a"),
    ("o", "a"),
)


def insertion(word: str, rng: random.Random) -> str:
    at = rng.randrange(len(word))
    extra = rng.choice(word[at] + NEIGHBOURS.get(word[at], word[at]))
    return word[: at + 1] + extra + word[at + 1 :]


def deletion(word: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(word))  # the first letter is rarely the one left out
    return word[:at] + word[at + 1 :]


def substitution(word: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(word))
    choices = [key for key in NEIGHBOURS.get(word[at], "") if key != word[at]] or ["e"]
    return word[:at] + rng.choice(choices) + word[at + 1 :]


def transposition(word: str, rng: random.Random) -> str:
    places = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
    if not places:
        return ""
    at = rng.choice(places)
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def sound_alike(word: str, rng: random.Random) -> str:
    options = [
        (at, old, new)
        for old, new in SOUND_RULES
        for at in range(len(word))
        if word.startswith(old, at)
    ]
    rng.shuffle(options)
    for at, old, new in options:
        changed = word[:at] + new + word[at + len(old) :]
        if changed != word:
            return changed
    return ""


@lru_cache(maxsize=4096)
def _nicknames(given: str) -> tuple[str, ...]:
    from nicknames import NickNamer

    return tuple(
        sorted(name for name in NickNamer().nicknames_of(given) if name != given and len(name) > 1)
    )


def nickname(word: str, rng: random.Random) -> str:
    names = _nicknames(word)
    return rng.choice(names) if names else ""


@lru_cache(maxsize=4096)
def _chained(given: str) -> tuple[str, ...]:
    from nicknames import NickNamer

    namer = NickNamer()

    def links(name: str) -> set[str]:  # the nicknames of ``name`` the dataset lists one way only
        return {n for n in namer.nicknames_of(name) if name not in namer.nicknames_of(n)}

    def sources(end: str) -> set[str]:  # the names ``end`` is a nickname of a nickname of
        return {
            name
            for middle in namer.canonicals_of(end)
            for name in namer.canonicals_of(middle)
            if middle in links(name) and end not in namer.nicknames_of(name) and name != end
        }

    near = set(_nicknames(given))
    ends = {end for middle in links(given) for end in namer.nicknames_of(middle)}
    # a nickname that ends chains from a dozen names (Fred: Frederica, Wilbur, and William
    # through Will) tells a desk little about any one of them
    return tuple(
        sorted(
            end
            for end in ends - near - {given}
            if len(end) > 1 and not namer.nicknames_of(end) and len(sources(end)) <= 8
        )
    )


def nickname_chain(word: str, rng: random.Random) -> str:
    names = _chained(word)
    return rng.choice(names) if names else ""


MISTAKES = {
    "insertion": insertion,
    "deletion": deletion,
    "substitution": substitution,
    "transposition": transposition,
    "sound_alike": sound_alike,
    "nickname": nickname,
    "nickname_chain": nickname_chain,
}


def typed(name: str) -> str:
    """A name as a desk types it: ASCII, lower case, its parts kept (Núñez-García -> nunez-garcia)."""
    from anyascii import anyascii

    return "".join(ch for ch in anyascii(name).lower() if ch.isalnum() or ch in " -").strip()


def misspell(kind: str, given: str, family: str, rng: random.Random) -> str:
    """``given family`` as typed with one mistake of ``kind``; "" when this name cannot have one
    (no nickname, or no word of four letters or more)."""
    given, family = typed(given), typed(family)
    if kind in ("nickname", "nickname_chain"):
        changed = MISTAKES[kind](given, rng)
        return f"{changed} {family}" if changed else ""
    words = [(i, w) for i, w in enumerate((given, family)) if sum(ch.isalpha() for ch in w) >= 4]
    if not words:
        return ""
    index, word = rng.choice(words)
    parts = word.split("-") if "-" in word else [word]
    part = rng.randrange(len(parts))
    if len(parts[part]) < 4:
        part = max(range(len(parts)), key=lambda i: len(parts[i]))
    changed = MISTAKES[kind](parts[part], rng)
    if not changed or changed == parts[part]:
        return ""
    parts[part] = changed
    both = [given, family]
    both[index] = "-".join(parts)
    return " ".join(both)


if __name__ == "__main__":
    first, last = (
        [*sys.argv[1:3], "Katherine", "Johnson"][:2] if len(sys.argv) < 3 else sys.argv[1:3]
    )
    generator = random.Random(1)
    for mistake in KINDS:
        print(f"{mistake:<14} {misspell(mistake, first, last, generator)}")
