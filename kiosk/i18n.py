"""A family's language (I1): one gettext catalog per language, dates and numbers by Babel.

Every text a family reads is written in the code in English, as the msgid of a gettext call::

    t = catalog(family_language)
    t.gettext("Portal address")
    t.gettext("PINs expire on {date}.").format(date=t.date(expires_on))
    t.ngettext("Your child's PIN:", "Your children's PINs:", len(children))

English is the source language: its words are the msgids, so it needs no catalog. Each other
language is one file, ``kiosk/locale/<code>/LC_MESSAGES/kiosk.po``, shipped beside its compiled
``kiosk.mo`` (``pybabel compile``); the languages kiosk offers are English and the compiled
catalogs present (``LANGUAGES``), so adding a language is adding its files (see
docs/languages.md). A message a catalog lacks, or one marked fuzzy, reads in English.
tests/test_i18n.py extracts every msgid from the sources with Babel and fails when a catalog
misses one or a placeholder, or when a .mo is not its .po compiled.

A long date and a language's name, the two the counter writes (the slip, the welcome, the
registration window), are read from ``kiosk/locale/cldr.json``: Babel's words for every language
offered, made by ``python -m kiosk.i18n`` and checked against Babel by tests/test_i18n.py. Loading
Babel's CLDR data for them kept 5.7 MiB in a low-spec kiosk's memory for good (D1); anything else,
or a language the file lacks, is still asked of Babel.

The .mo is read at first use by the standard library's gettext (cached per language): reading
the .po with Babel's reader took 0.2-0.3 s of a desk's first family in that language and 2.2 MiB
of a low-spec kiosk's memory for good (benchmarks/lowspec.py, D1); the .mo takes a millisecond
and next to nothing. Placeholders are ``str.format``
names (``{date}``); a msgid is a plain literal so the extractor can find it. Text named in another
text (a button the welcome tells the parent to press) is one msgid used in both places.

Module constants and engine messages mark their msgids with :func:`N_` (English at rest, said in
the family's language where shown) or :class:`Phrase` (English with its values, for a message
built before anyone knows who will read it). Babel loads on the first catalog, not at import: the
app imports this module at start-up (O1).
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext as _gettext
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babel import Locale

SOURCE = "en"  # the language the msgids are written in
DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).with_name("locale")
# Each offered language's long date (Babel's pattern as a %-format of CLDR fields, its month
# names) and the name of every offered language in it, as Babel writes them (python -m kiosk.i18n)
CLDR_FILE = LOCALE_DIR / "cldr.json"
_LONG_DATE_FIELDS = {"MMMM", "d", "y"}  # what the file's long dates are made of; else Babel's
# What the extractor looks for besides Babel's default keywords (gettext, ngettext, pgettext, N_,
# _ ...): `pybabel extract -k Phrase -k NPhrase:1,2`, tests/test_i18n.py, docs/languages.md.
KEYWORDS = ("Phrase", "NPhrase:1,2")


def _catalog_files() -> dict[str, Path]:
    """The compiled catalog of each language, by code."""
    return {
        mo.parent.parent.name: mo for mo in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
    }


# English, then every language with a catalog: the languages kiosk writes to a family in.
LANGUAGES: tuple[str, ...] = (SOURCE, *(code for code in _catalog_files() if code != SOURCE))


def N_(message: str) -> str:
    """Marks a msgid kept in a constant (said later with ``catalog(...).gettext``); returns it."""
    return message


class Phrase(str):
    """English text that remembers its msgid and values, so a catalog can say it in another language.

    For a message made where the reader is unknown (an engine error, a password rule): it reads
    as the English text anywhere a ``str`` goes, and ``catalog(lang).say(phrase)`` translates the
    msgid and fills the values in (a value that is itself a Phrase is said too). A message with
    plural forms is made by :func:`NPhrase`."""

    msgid: str
    plural: str
    n: int
    values: dict[str, Any]

    def __new__(cls, msgid: str, *, _plural: str = "", _n: int = 1, **values: Any) -> Phrase:
        english = _plural if _plural and _n != 1 else msgid
        text = super().__new__(cls, english.format(**values) if values else english)
        text.msgid, text.plural, text.n, text.values = msgid, _plural, _n, values
        return text

    def __reduce__(self) -> Any:  # pickles (a worker's exception) as itself, values and all
        return (_phrase, (self.msgid, self.plural, self.n, self.values))


def NPhrase(singular: str, plural: str, n: int, **values: Any) -> Phrase:
    """A :class:`Phrase` with plural forms: ``n`` picks the form (the values fill it in)."""
    return Phrase(singular, _plural=plural, _n=n, **values)


def _phrase(msgid: str, plural: str, n: int, values: dict[str, Any]) -> Phrase:
    return Phrase(msgid, _plural=plural, _n=n, **values)


def offered(language: str | None) -> str | None:
    """The catalog for ``language`` (a code or BCP 47 tag: ``es-MX`` finds ``es``), or None."""
    code = (language or "").strip().replace("-", "_")
    if code in LANGUAGES:
        return code
    base = code.split("_", 1)[0].lower()
    return base if base in LANGUAGES else None


def language_of(language: str | None) -> str:
    """The language kiosk writes to a family in: theirs when there is a catalog for it, else
    English."""
    return offered(language) or SOURCE


class Catalog:
    """One language's words (gettext), dates and numbers (Babel, CLDR data)."""

    def __init__(self, language: str, translations: _gettext.NullTranslations):
        self.language = language
        self._translations = translations

    def __repr__(self) -> str:
        return f"<Catalog {self.language}>"

    def gettext(self, message: str) -> str:
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._translations.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self._translations.pgettext(context, message)

    def say(self, text: str) -> str:
        """A :class:`Phrase` in this language with its values filled in; a plain string is taken
        as a msgid (English text this catalog may translate)."""
        if isinstance(text, Phrase):
            values = {
                k: self.say(v) if isinstance(v, Phrase) else v for k, v in text.values.items()
            }
            if text.plural:
                translated = self.ngettext(text.msgid, text.plural, text.n)
            else:
                translated = self.gettext(text.msgid)
            return translated.format(**values) if values else translated
        return self.gettext(text)

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    @property
    def name(self) -> str:
        """The language's name in itself, for a switch between languages: English, Español."""
        return language_name(self.language, self.language)

    def date(self, day: dt.date, format: str = "long") -> str:
        """``January 5, 2027`` / ``5 de enero de 2027`` (Babel's ``short``, ``medium``, ``long``,
        ``full`` or a CLDR pattern), whatever the machine's own locale."""
        words = _cldr().get(self.language, {})
        if format == "long" and "long_date" in words:  # Babel's words, without loading Babel (D1)
            fields = {"MMMM": words["months"][day.month - 1], "d": day.day, "y": day.year}
            return str(words["long_date"] % fields)
        from babel.dates import format_date

        return format_date(day, format=format, locale=self.locale)

    def number(self, number: float, format: str | None = None) -> str:
        """``1,234.5`` / ``1234,5``: grouping and decimal marks of this language."""
        from babel.numbers import format_decimal

        return format_decimal(number, format=format, locale=self.locale)


def language_name(language: str, reader: str = SOURCE) -> str:
    """``language``'s name in ``reader``'s language (CLDR): ``Spanish``, ``Español``, ``inglés``."""
    name = _cldr().get(reader, {}).get("names", {}).get(language)
    return name if name is not None else _cldr_language_name(language, reader)


def _cldr_language_name(language: str, reader: str) -> str:
    name = _locale(language).get_display_name(_locale(reader)) or language
    return name[:1].upper() + name[1:]


@functools.cache
def _cldr() -> dict[str, dict[str, Any]]:
    try:
        return json.loads(CLDR_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:  # every date and name is then asked of Babel
        return {}


def cldr_words(languages: tuple[str, ...] | None = None) -> dict[str, dict[str, Any]]:
    """What ``CLDR_FILE`` holds, from Babel: for each language, the name of every language in it
    and, when its long date is made of month, day and year only, that date's pattern and months."""
    languages = LANGUAGES if languages is None else languages
    words: dict[str, dict[str, Any]] = {}
    for code in languages:
        locale = _locale(code)
        entry: dict[str, Any] = {
            "names": {other: _cldr_language_name(other, code) for other in languages}
        }
        pattern = locale.date_formats["long"].format  # '%(MMMM)s %(d)s, %(y)s'
        if set(re.findall(r"%\((\w+)\)", pattern)) <= _LONG_DATE_FIELDS:
            entry["long_date"] = pattern
            entry["months"] = [locale.months["format"]["wide"][month] for month in range(1, 13)]
        words[code] = entry
    return words


@functools.cache
def _locale(language: str) -> Locale:
    from babel import Locale

    return Locale.parse(language)


def catalog(language: str | None) -> Catalog:
    """The catalog to write to a family in ``language``: English for an unknown language, and
    English for any message its catalog lacks."""
    return _load(language_of(language))


@functools.cache
def _load(code: str) -> Catalog:
    path = _catalog_files().get(code)
    if path is None:
        return Catalog(code, _gettext.NullTranslations())
    with path.open("rb") as mo:  # compiled without the fuzzy entries: they read in English
        return Catalog(code, _gettext.GNUTranslations(mo))


if __name__ == "__main__":  # python -m kiosk.i18n: write CLDR_FILE again (docs/languages.md)
    CLDR_FILE.write_text(
        json.dumps(cldr_words(), ensure_ascii=False, indent=1, sort_keys=True) + "\n",
        encoding="utf-8",
    )
