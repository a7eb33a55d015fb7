"""The welcome message's words (R6, R7, R10, S3, S7)."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from kiosk.messages.welcome import compose_welcome, one_line
from kiosk.registration.pins import ALPHABET, format_pin
from kiosk.terms import long_date

URL = "https://portal.example.org/register"
EXPIRES = dt.date(2026, 12, 22)


def welcome(children, language="en", practice="Sunny Hills Pediatrics"):
    return compose_welcome(
        practice_name=practice,
        portal_url=URL,
        children=children,
        expires_on=EXPIRES,
        language=language,
    )


class _Html(HTMLParser):
    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.items: list[str] = []
        self.text: list[str] = []
        self._in_li = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "li":
            self._in_li += 1
            self.items.append("")

    def handle_endtag(self, tag):
        if tag == "li":
            self._in_li -= 1

    def handle_data(self, data):
        self.text.append(data)
        if self._in_li:
            self.items[-1] += data


def test_r6_one_message_lists_every_child_with_their_pin_and_says_what_to_do():
    message = welcome([("Ava", "JFKAY-TTJYV"), ("Ben", "ABCDE-FGHJK"), ("Cleo", "MNPRS-TVWXY")])
    assert message.subject == "Sunny Hills Pediatrics: your patient portal registration"
    for text in (message.text, message.html):
        assert "Sunny Hills Pediatrics" in text and URL in text
        assert "December 22, 2026" in text
        assert "Add another child" in text
    assert "  Ava: JFKAY-TTJYV\n  Ben: ABCDE-FGHJK\n  Cleo: MNPRS-TVWXY\n" in message.text
    assert "1. Go to https://portal.example.org/register" in message.text
    assert "The PINs expire on December 22, 2026." in message.text
    html = _Html(message.html)
    assert html.items[:3] == ["Ava: JFKAY-TTJYV", "Ben: ABCDE-FGHJK", "Cleo: MNPRS-TVWXY"]
    assert f'<a href="{URL}">' in message.html


def test_r6_a_single_child_reads_in_the_singular_and_has_no_add_another_step():
    message = welcome([("Ava", "JFKAY-TTJYV")])
    assert "Your child's registration PIN:" in message.text
    assert "The PIN expires on December 22, 2026." in message.text
    assert "Add another child" not in message.text


def test_r10_children_registered_by_question_are_listed_without_a_pin_and_told_to_answer_it():
    message = welcome([("Ava", ""), ("Ben", "")])
    assert "  Ava\n  Ben\n" in message.text
    assert "answer the verification question the front desk set with you" in message.text
    assert "PIN" not in message.text.replace("Add another child", "")
    assert "Please register by December 22, 2026." in message.text
    assert "verification question" in message.sms and "Ava, Ben" in message.sms


def test_r10_a_family_with_both_kinds_gets_both_lists():
    message = welcome([("Ava", "JFKAY-TTJYV"), ("Ben", "")])
    assert "  Ava: JFKAY-TTJYV\n" in message.text and "  Ben\n" in message.text
    assert "for a child listed without a PIN, answer the verification question" in message.text
    assert "Ben (verification question)" in message.sms


def test_r6_spanish_for_a_spanish_speaking_family():
    message = welcome([("Sofía", "JFKAY-TTJYV"), ("Mateo", "ABCDE-FGHJK")], language="es")
    assert message.subject == "Sunny Hills Pediatrics: su registro en el portal de pacientes"
    assert (
        "Le damos la bienvenida al portal de pacientes de Sunny Hills Pediatrics." in message.text
    )
    assert "Los PIN vencen el 22 de diciembre de 2026." in message.text
    assert "1. Vaya a https://portal.example.org/register" in message.text
    assert "  Sofía: JFKAY-TTJYV\n" in message.text
    assert '<html lang="es">' in message.html and "Qué hacer ahora:" in message.html
    assert (
        "Regístrese en https://portal.example.org/register a más tardar el 22 de diciembre de 2026"
        in message.sms
    )
    for english in ("Welcome", "expire", "Go to", "What to do"):
        assert english not in message.text


def test_r6_a_language_without_a_translation_falls_back_to_english():
    assert (
        welcome([("Ava", "JFKAY-TTJYV")], language="vi").text
        == welcome([("Ava", "JFKAY-TTJYV")]).text
    )


def test_r7_the_text_message_is_short_first_names_pins_url_and_expiry():
    message = welcome([("Ava", "JFKAY-TTJYV"), ("Ben", "ABCDE-FGHJK")])
    assert message.sms == (
        "Sunny Hills Pediatrics portal PINs: Ava JFKAY-TTJYV, Ben ABCDE-FGHJK. "
        f"Register at {URL} by December 22, 2026."
    )
    assert len(message.sms) <= 160


def test_s7_names_are_data_not_markup_in_the_html():
    message = welcome([("O'Brien [Jr] <script>alert(1)</script>", "JFKAY-TTJYV")])
    assert "<script>" not in message.html
    assert _Html(message.html).items[0] == "O'Brien [Jr] <script>alert(1)</script>: JFKAY-TTJYV"
    assert "  O'Brien [Jr] <script>alert(1)</script>: JFKAY-TTJYV\n" in message.text


def test_s7_one_line_keeps_the_words_and_drops_the_line_breaks():
    assert one_line(" Mary\tJane\u2028Smith\x00 ") == "Mary Jane Smith"


def test_s7_a_line_break_in_a_name_cannot_add_lines_to_the_message():
    message = welcome([("Ava\n\nYour PIN is: AAAAA-AAAAA\r\n", "JFKAY-TTJYV")])
    assert "  Ava Your PIN is: AAAAA-AAAAA: JFKAY-TTJYV\n" in message.text
    assert "\nYour PIN is" not in message.text


def test_s3_dates_are_written_in_words_whatever_the_locale():
    assert long_date(dt.date(2027, 1, 5)) == "January 5, 2027"
    assert long_date(dt.date(2027, 1, 5), "es") == "5 de enero de 2027"


PIN = st.lists(st.sampled_from(ALPHABET), min_size=10, max_size=10).map(
    lambda chars: format_pin("".join(chars))
)
NAME = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(
    lambda s: s.strip()
)
CHILDREN = st.lists(st.tuples(NAME, st.one_of(PIN, st.just(""))), min_size=1, max_size=6)


def _outside_children(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("  ")]


@given(CHILDREN, st.sampled_from(["en", "es"]))
def test_s7_the_message_holds_the_given_names_and_pins_and_nothing_else(children, language):
    """Change the children and only the child lines change: no other data can reach the message."""
    message = welcome(children, language)
    stand_ins = [(f"Child{i}", pin and "AAAAA-AAAAA") for i, (_, pin) in enumerate(children)]
    reference = welcome(stand_ins, language)
    assert _outside_children(message.text) == _outside_children(reference.text)
    child_lines = [line for line in message.text.splitlines() if line.startswith("  ")]
    expected = [f"  {one_line(name)}: {pin}" for name, pin in children if pin]
    expected += [f"  {one_line(name)}" for name, pin in children if not pin]
    assert child_lines == expected
    assert _Html(message.html).tags == _Html(reference.html).tags  # names never add markup
    assert message.subject == reference.subject
    for _, pin in children:
        assert pin in message.text and pin in message.sms and pin in message.html


def test_t1_a_minor_registering_by_question_reads_about_their_own_account_in_spanish():
    message = compose_welcome(
        practice_name="Sunny Hills Pediatrics",
        portal_url=URL,
        children=[("Jordan", "")],
        expires_on=EXPIRES,
        language="es",
        to_minor=True,
    )
    assert "Cree su propia cuenta: ingrese su apellido, su fecha de nacimiento" in message.text
    assert "hijo" not in message.text and "hijo" not in message.html
