"""The search terms (N1, N2): what each patient can be found by, kept in step with the records.

Two tables (kiosk.store.models): ``SearchTerm`` holds one row per word per patient or caregiver, so any
name part, a chart number, a parent's name, phone or email is one index range scan away;
``SearchKey`` holds each distinct name word once under its deletion variants and phonetic codes,
so a misspelt or sound-alike word is found through an index too, never by reading every name.

Whatever writes patients or caregivers calls :func:`index_patients` / :func:`index_caregivers`
(``Patient.save`` and ``Caregiver.save`` do it themselves); bulk writers build rows with
:func:`patient_terms`, :func:`caregiver_terms` and add words with :func:`add_words`.
Relationships need nothing: a caregiver's rows find their children through Relationship.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import combinations
from typing import TYPE_CHECKING

from kiosk.terms import fold

if TYPE_CHECKING:
    import peewee

    from kiosk.store.models import BaseModel

# field of a SearchTerm row
GIVEN, FAMILY, FULL, CHART = "given", "family", "full", "chart"
CAREGIVER, PHONE, EMAIL = "caregiver", "phone", "email"
CAREGIVER_FULL = "caregiver_full"  # given and family name run together, both ways: "jennifersmith"
SOUND_MARK = "#"  # SearchKey keys for phonetic codes start with it; a folded word never does
LOOKUP = 500  # ids per IN (...) list

_PARTS = re.compile(r"[\s\-\u2010-\u2015_/.,;:()\[\]]+")
QUERY_WORDS = re.compile(r"[\s,;]+")  # the search box's words (kiosk.people.search)


def max_typos(word: str) -> int:
    """How many typos a word of this length may carry and still be recognised (N2): none in a
    two-letter word, one up to five letters, two from six on (one again past 24: a whole
    compound name, whose parts have their own variants)."""
    return 0 if len(word) < 3 else 1 if len(word) < 6 or len(word) > 24 else 2


@lru_cache(maxsize=65_536)
def _script_form(part: str) -> str:
    """A name part as written, for a script other than Latin (N2: 李小龙, Ольга, سارة, שרה, 민준)."""
    text = "".join(ch for ch in unicodedata.normalize("NFKC", part).casefold() if ch.isalnum())
    # a letter with no name in Python's tables (Tangut 𘎂) is not Latin either
    if any(ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN") for ch in text):
        return text
    return ""


def name_words(name: str | None) -> list[str]:
    return list(_name_words(name or ""))


@lru_cache(maxsize=65_536)  # bulk writers (demo, import) meet the same names again and again
def _name_words(name: str) -> tuple[str, ...]:
    """Every word a name is found by: each part folded, the whole name folded when it has several
    parts (``Núñez-García``: nunez, garcia, nunezgarcia), and each part as written when its
    script is not Latin."""
    parts = [part for part in _PARTS.split(name) if part]
    parts += [
        chunk for chunk in QUERY_WORDS.split(name) if chunk
    ]  # as the search box splits what is typed
    words = [fold(part) for part in parts]
    words.append(fold(name))
    words += [_script_form(part) for part in parts]
    return tuple(dict.fromkeys(word for word in words if word))


def phone_terms(cell: str | None) -> list[str]:
    """A phone is found by all its digits and by its last seven (the number without area code)."""
    digits = "".join(ch for ch in cell or "" if ch.isdigit())
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) < 7:
        return []
    return list(dict.fromkeys((digits, digits[-7:])))


def patient_terms(patient_id: int, given: str, family: str, chart: str) -> list[tuple]:
    """SearchTerm rows (term, field, patient, caregiver) for one patient."""
    rows = [(word, GIVEN, patient_id, None) for word in name_words(given)]
    rows += [(word, FAMILY, patient_id, None) for word in name_words(family)]
    script_family, script_given = _script_form(family or ""), _script_form(given or "")
    if (
        script_family and script_given
    ):  # Chinese, Korean, Japanese: written family name first, no space
        rows.append((script_family + script_given, FULL, patient_id, None))
    if chart and (key := chart.strip().lower()):
        rows.append((key, CHART, patient_id, None))
        if (number := chart_digits(key)) and number != key:  # MRN-4567 typed 4567 (N1)
            rows.append((number, CHART, patient_id, None))
    return list(dict.fromkeys(rows))


_ONE_NUMBER = re.compile(r"[^0-9]*[0-9][0-9\W_]*[^0-9]*")  # MRN-4567, 123-456-A; not pat-1a2b


def chart_digits(chart: str | None) -> str:
    """The number of a chart written with letters (MRN-4567: 4567), which a desk types alone; none
    when letters come between its digits (pat-1a2b, 89765a87b: "12" is no number a desk types)."""
    text = chart or ""
    if not _ONE_NUMBER.fullmatch(text):
        return ""
    return "".join(ch for ch in text if ch in "0123456789")


def caregiver_terms(
    caregiver_id: int, given: str, family: str, email: str, cell: str
) -> list[tuple]:
    """SearchTerm rows for one caregiver: their name parts, phone and email."""
    words = dict.fromkeys(name_words(given) + name_words(family))
    rows = [(word, CAREGIVER, None, caregiver_id) for word in words]
    # a parent's whole name is one index lookup, not a join of two common words (Jennifer Smith)
    both = (fold(given) + fold(family), fold(family) + fold(given))
    rows += [(name, CAREGIVER_FULL, None, caregiver_id) for name in dict.fromkeys(both) if name]
    rows += [(digits, PHONE, None, caregiver_id) for digits in phone_terms(cell)]
    if email and (address := email.strip().lower()):
        rows.append((address, EMAIL, None, caregiver_id))
    return rows


@lru_cache(maxsize=4096)
def sound_codes(word: str) -> tuple[str, ...]:
    """Double-metaphone codes of a folded word (N2 "sounds like"): Jonson and Johnson, Smyth and
    Smith, Katharine and Catherine share one."""
    from metaphone import doublemetaphone

    if len(word) < 3 or not word.isalpha() or not word.isascii():
        return ()
    return tuple(dict.fromkeys(code for code in doublemetaphone(word) if code))


def deletions(word: str, depth: int) -> set[str]:
    """``word`` and every string made from it by leaving out up to ``depth`` letters. Two words
    within ``depth`` typos of each other (a letter wrong, missing, extra, or two swapped) share
    one of these, so a typo is found by looking its variants up in an index (symmetric deletion)."""
    found = {word}
    for count in range(1, min(depth, len(word) - 1) + 1):
        found.update(
            "".join(word[i] for i in range(len(word)) if i not in gone)
            for gone in combinations(range(len(word)), count)
        )
    return found


def word_keys(word: str) -> list[tuple[str, str]]:
    """SearchKey rows (key, word) for one folded name word."""
    if not word.isascii() or not word.isalpha() or len(word) < 2:
        return []
    keys = [(variant, word) for variant in deletions(word, max_typos(word))]
    keys += [(SOUND_MARK + code, word) for code in sound_codes(word)]
    return keys


def lexicon_words(rows: Iterable[tuple]) -> set[str]:
    """The name words among SearchTerm rows (phones, emails and chart numbers are not misspelt by sound)."""
    return {term for term, field, *_ in rows if field in (GIVEN, FAMILY, CAREGIVER)}


# -- writing ------------------------------------------------------------------------------------
def _insert(
    model: type[BaseModel], fields: list[peewee.Field], rows: list[tuple], ignore: bool = False
) -> None:
    for start in range(0, len(rows), LOOKUP):
        query = model.insert_many(rows[start : start + LOOKUP], fields=fields)
        (query.on_conflict_ignore() if ignore else query).execute()


def add_words(words: Iterable[str]) -> None:
    """Put new name words into the tolerant lookup; words it has already are skipped."""
    from kiosk.store.db import tuples
    from kiosk.store.models import SearchKey

    words = sorted(set(words))
    known: set[str] = set()
    for start in range(0, len(words), LOOKUP):
        chunk = words[start : start + LOOKUP]
        query = SearchKey.select(SearchKey.word).where(
            SearchKey.key.in_(chunk) & (SearchKey.key == SearchKey.word)
        )
        known.update(word for (word,) in tuples(query))
    rows = [key for word in words if word not in known for key in word_keys(word)]
    _insert(SearchKey, [SearchKey.key, SearchKey.word], rows, ignore=True)


def write_terms(rows: list[tuple]) -> None:
    """Insert SearchTerm rows (term, field, patient, caregiver) and their new words."""
    from kiosk.store.models import SearchTerm

    _insert(
        SearchTerm,
        [SearchTerm.term, SearchTerm.field, SearchTerm.patient, SearchTerm.caregiver],
        rows,
    )
    add_words(lexicon_words(rows))


def index_patients(ids: Iterable[int]) -> None:
    """Replace the search terms of these patients with ones made from their current names."""
    from kiosk.store.models import Patient, SearchTerm

    _reindex(
        ids,
        SearchTerm.patient,
        patient_terms,
        (Patient.id, Patient.given_name, Patient.family_name, Patient.chart_number),
    )


def index_caregivers(ids: Iterable[int]) -> None:
    """Replace the search terms of these caregivers with ones made from their current details."""
    from kiosk.store.models import Caregiver, SearchTerm

    _reindex(
        ids,
        SearchTerm.caregiver,
        caregiver_terms,
        (
            Caregiver.id,
            Caregiver.given_name,
            Caregiver.family_name,
            Caregiver.email,
            Caregiver.cell,
        ),
    )


def _reindex(
    ids: Iterable[int],
    owner: peewee.Field,
    make_rows: Callable[..., list[tuple]],
    columns: tuple[peewee.Field, ...],
) -> None:
    from kiosk.store.models import SearchTerm

    model = columns[0].model
    ids = sorted({i for i in ids if i is not None})
    for start in range(0, len(ids), LOOKUP):
        chunk = ids[start : start + LOOKUP]
        SearchTerm.delete().where(owner.in_(chunk)).execute()
        rows = []
        for row in model.select(*columns).where(model.id.in_(chunk)).tuples():
            rows += make_rows(*row)
        write_terms(rows)


def index_everything(batch: int = 20_000) -> None:
    """Build the search terms of every patient and caregiver (the schema migration that adds them)."""
    from kiosk.store.db import tuples
    from kiosk.store.models import Caregiver, Patient

    for model, index in ((Patient, index_patients), (Caregiver, index_caregivers)):
        last = 0
        while True:
            ids = [
                i
                for (i,) in tuples(
                    model.select(model.id).where(model.id > last).order_by(model.id).limit(batch)
                )
            ]
            if not ids:
                break
            index(ids)
            last = ids[-1]
