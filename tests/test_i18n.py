"""I1: every text a family reads comes from a catalog per language, complete in every language.

The msgids are extracted from the sources the way a translator would (Babel's extractor, the
mapping in babel.cfg, kiosk.i18n.KEYWORDS), so a new gettext call without its translation fails
here, and so does a translation that loses, renames or mistypes a placeholder."""

from __future__ import annotations

import datetime as dt
import io
import json
import pickle
import string
from pathlib import Path

import pytest
from babel import Locale
from babel.dates import format_date
from babel.messages.catalog import Catalog as PoCatalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from kiosk import i18n
from kiosk.i18n import LANGUAGES, Phrase, catalog, language_name, language_of

from conftest import run_python

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [code for code in LANGUAGES if code != i18n.SOURCE]

# A msgid: the text, or (singular, plural); with its pgettext context, if any.
Key = tuple[str | tuple[str, str], str | None]


def source_messages() -> dict[Key, str]:
    """Every msgid in kiosk/, screens/ and the page templates, with where it was found."""
    with (ROOT / "babel.cfg").open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(i18n.KEYWORDS)}
    found: dict[Key, str] = {}
    for filename, lineno, message, _, context in extract_from_dir(
        ROOT, method_map, options_map, keywords
    ):
        key = (message if isinstance(message, str) else tuple(message)[:2], context)
        found.setdefault(key, f"{filename}:{lineno}")  # type: ignore[arg-type]
    return found


def read_catalog(code: str) -> PoCatalog:
    with (i18n.LOCALE_DIR / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as po:
        return read_po(po, locale=code)


def placeholders(text: str) -> set[str]:
    """The ``str.format`` names in ``text`` (a stray brace raises ValueError)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.fixture(scope="module")
def sources() -> dict[Key, str]:
    return source_messages()


def test_i1_the_extractor_finds_the_family_texts(sources):
    """The check below means something only if the messages are really found in each place."""
    where = {place.split(":")[0] for place in sources.values()}
    assert {"kiosk/slip/content.py", "kiosk/messages/welcome.py"} <= where
    assert (("Add another child", None)) in sources


@pytest.mark.parametrize("code", TRANSLATED)
def test_i1_every_catalog_translates_every_message(code, sources):
    po = read_catalog(code)
    missing = []
    for (msgid, context), place in sources.items():
        entry = po.get(msgid, context=context)
        strings = (
            () if entry is None else (entry.string,) if isinstance(msgid, str) else entry.string
        )
        if entry is None or entry.fuzzy or not strings or not all(strings):
            missing.append(f"{place}: {msgid!r}")
    assert not missing, f"{code} catalog lacks {len(missing)} message(s):\n" + "\n".join(missing)


@pytest.mark.parametrize("code", TRANSLATED)
def test_i1_every_translation_keeps_the_placeholders(code):
    po = read_catalog(code)
    wrong = []
    for entry in po:
        if not entry.id:
            continue
        if isinstance(entry.id, str):
            try:
                if placeholders(entry.string) != placeholders(entry.id):
                    wrong.append(f"{entry.id!r} -> {entry.string!r}")
            except ValueError as error:
                wrong.append(f"{entry.string!r}: {error}")
            continue
        # Plural forms: a form may leave out a name only one English form has (a count, say),
        # never one both have, and never add one.
        english = [placeholders(text) for text in entry.id]
        for form in entry.string:
            try:
                names = placeholders(form)
            except ValueError as error:
                wrong.append(f"{form!r}: {error}")
                continue
            if not (english[0] & english[1] <= names <= english[0] | english[1]):
                wrong.append(f"{entry.id!r} -> {form!r}")
    assert not wrong, f"{code} placeholders differ:\n" + "\n".join(wrong)


@pytest.mark.parametrize("code", TRANSLATED)
def test_i1_no_catalog_keeps_a_message_nobody_uses(code, sources):
    """A stale entry means a text was reworded: its translation must be reworded too."""
    po = read_catalog(code)
    stale = [
        entry.id
        for entry in po
        if entry.id
        and (entry.id if isinstance(entry.id, str) else tuple(entry.id), entry.context)
        not in sources
    ]
    assert not stale, f"{code} catalog has messages no source uses: {stale}"


def test_i1_a_placeholder_check_catches_a_lost_name():
    """The check above can fail: a translation that drops {date} is caught."""
    assert placeholders("Los PIN vencen.") != placeholders("PINs expire on {date}.")
    with pytest.raises(ValueError):
        placeholders("Los PIN vencen el {date.")


def test_i1_languages_are_english_and_the_catalogs_present():
    assert LANGUAGES[0] == "en" and "es" in LANGUAGES
    assert set(LANGUAGES[1:]) == {
        po.parent.parent.name for po in i18n.LOCALE_DIR.glob("*/LC_MESSAGES/kiosk.po")
    }


def compiled(po: Path) -> bytes:
    """The .po compiled as ``pybabel compile`` compiles it (fuzzy entries left out)."""
    from babel.messages.mofile import write_mo

    out = io.BytesIO()
    with po.open("rb") as text:
        write_mo(out, read_po(text, locale=po.parent.parent.name, domain=i18n.DOMAIN))
    return out.getvalue()


def test_i1_each_catalog_ships_compiled_from_its_po():
    """The app reads the .mo (kiosk.i18n): a .po changed without ``pybabel compile -d kiosk/locale
    -D kiosk`` (docs/languages.md) would print the old words, so each .mo must be its .po compiled,
    and there is no .mo without its .po."""
    pos = sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/kiosk.po"))
    mos = sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/kiosk.mo"))
    assert [mo.with_suffix(".po") for mo in mos] == pos
    for po in pos:
        assert po.with_suffix(".mo").read_bytes() == compiled(po), f"run pybabel compile: {po}"


def test_i1_unknown_language_reads_in_english_and_regions_find_their_language():
    assert catalog("xx").language == "en"
    assert catalog(None).gettext("Portal address") == "Portal address"
    assert language_of("es-MX") == "es" and language_of("ES") == "es"
    assert catalog("es_MX").gettext("Portal address") == "Dirección del portal"


def test_i1_dates_and_numbers_follow_the_language():
    day = dt.date(2027, 1, 5)
    assert catalog("en").date(day) == "January 5, 2027"
    assert catalog("es").date(day) == "5 de enero de 2027"
    assert catalog("en").number(12345.5) == "12,345.5"
    assert catalog("es").number(12345.5) == "12.345,5"


def test_i1_the_cldr_file_says_what_babel_says_for_every_language():
    """kiosk/locale/cldr.json holds Babel's long date and language names for every language
    offered (after adding a catalog or upgrading Babel: python -m kiosk.i18n, docs/languages.md)."""
    assert json.loads(i18n.CLDR_FILE.read_text(encoding="utf-8")) == i18n.cldr_words()
    assert all("long_date" in i18n.cldr_words()[code] for code in LANGUAGES)


@given(st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)), st.sampled_from(LANGUAGES))
def test_i1_a_long_date_reads_as_babel_writes_it(day, code):
    assert catalog(code).date(day) == format_date(day, "long", locale=code)


@pytest.mark.parametrize("reader", LANGUAGES)
def test_i1_each_language_is_named_as_babel_names_it(reader):
    for code in LANGUAGES:
        name = Locale.parse(code).get_display_name(Locale.parse(reader))
        assert language_name(code, reader) == name[:1].upper() + name[1:]
    assert catalog(reader).name == language_name(reader, reader)


def test_d1_a_long_date_and_a_language_name_load_no_babel():
    """The counter's dates and language names (the slip, the welcome, the registration window)
    keep Babel's CLDR data, 5.7 MiB, out of a low-spec kiosk's memory (D1)."""
    run = run_python(
        "-c",
        "import datetime, sys; from kiosk.i18n import LANGUAGES, catalog, language_name\n"
        "for code in LANGUAGES:\n"
        "    print(catalog(code).date(datetime.date(2027, 1, 5)), language_name(code, code),\n"
        "          language_name('es', code))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'babel'))",
    )
    assert run.returncode == 0, run.stderr
    assert "5 de enero de 2027 Español Español" in run.stdout
    assert run.stdout.splitlines()[-1] == "[]"


def test_i1_plural_forms_follow_the_language():
    es = catalog("es")
    one, many = "Your child's registration PIN:", "Your children's registration PINs:"
    assert es.ngettext(one, many, 1) == "PIN de registro de su hijo o hija:"
    assert es.ngettext(one, many, 2) == "PIN de registro de sus hijos:"
    assert catalog("en").ngettext(one, many, 2) == many


def test_i1_a_phrase_reads_in_english_and_is_said_in_the_family_language():
    phrase = Phrase("PINs expire on {date}.", date="5 de enero de 2027")
    assert phrase == "PINs expire on 5 de enero de 2027."
    assert catalog("es").say(phrase) == "Los PIN vencen el 5 de enero de 2027."
    assert catalog("es").say("Portal address") == "Dirección del portal"
    copy = pickle.loads(pickle.dumps(phrase))  # an exception carrying it crosses a worker
    assert catalog("es").say(copy) == "Los PIN vencen el 5 de enero de 2027."


def test_i1_a_fuzzy_or_missing_translation_reads_in_english(tmp_path, monkeypatch):
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "kiosk.po").write_text(
        'msgid ""\nmsgstr ""\n"Language: fr\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        '#, fuzzy\nmsgid "Portal address"\nmsgstr "Adresse du portail"\n\n'
        'msgid "Child"\nmsgstr "Enfant"\n',
        encoding="utf-8",
    )
    (folder / "kiosk.mo").write_bytes(compiled(folder / "kiosk.po"))
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(i18n, "LANGUAGES", ("en", "fr"))
    i18n._load.cache_clear()
    try:
        french = catalog("fr")
        assert french.gettext("Child") == "Enfant"
        assert french.gettext("Portal address") == "Portal address"
        assert french.gettext("PINs expire on {date}.") == "PINs expire on {date}."
        assert french.date(dt.date(2027, 1, 5)) == "5 janvier 2027"
    finally:
        i18n._load.cache_clear()


def test_i1_an_engine_message_reads_in_english_and_is_said_in_spanish():
    from kiosk.i18n import NPhrase
    from kiosk.security import password_problem

    wait = NPhrase(
        "Too many tries for this account: wait {seconds} second, then try again.",
        "Too many tries for this account: wait {seconds} seconds, then try again.",
        30,
        seconds=30,
    )
    assert wait == "Too many tries for this account: wait 30 seconds, then try again."
    assert catalog("es").say(wait) == (
        "Demasiados intentos para esta cuenta: espere 30 segundos y vuelva a intentarlo."
    )
    short = password_problem("short")
    assert short == "Use at least 15 characters."
    assert catalog("es").say(short) == "Use al menos 15 caracteres."


def test_i1_the_importer_reads_a_new_language_once_its_catalog_is_there(monkeypatch):
    """Adding a catalog is all it takes: records in that language import with it."""
    from kiosk.importer.clean import language_code

    assert language_code("French") is None  # no catalog: the family reads English
    monkeypatch.setattr(i18n, "LANGUAGES", ("en", "es", "fr"))
    assert [language_code(text) for text in ("French", "français", "fr-CA", "fr")] == ["fr"] * 4
    assert language_code("Spanish") == "es" and language_code("Klingon") is None
