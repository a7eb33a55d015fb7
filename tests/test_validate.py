"""kiosk.validate: the one text check and the one date parser (O5; search N, import O4)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk import validate
from kiosk.validate import InputProblem, clean_text, parse_birth_date, parse_date

TODAY = dt.date(2026, 11, 22)
CONTROLS = (
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + ["\u2028", "\u2029", "\u202e", "\u2066"]
)


@given(st.text(), st.integers(min_value=1, max_value=300))
def test_o5_clean_text_property_never_stores_a_control_character_or_more_than_the_limit(
    text, limit
):
    try:
        cleaned = clean_text(text, field="name", label="Given name", limit=limit)
    except InputProblem as problem:
        assert problem.field == "name" and problem.message.startswith("Given name ")
        assert any(ch in text for ch in CONTROLS) or len(" ".join(text.split())) > limit
    else:
        assert not any(ch in cleaned for ch in CONTROLS) and len(cleaned) <= limit
        assert cleaned == " ".join(text.split())  # only spaces are tidied: nothing else is changed
        assert clean_text(cleaned, field="name", label="Given name", limit=limit) == cleaned


@pytest.mark.parametrize("bad", ["\x00", "\t", "\n", "\x1b[31m", "\x7f", "\x85", "\u202e"])
def test_o5_a_control_character_is_refused_with_the_field_named(bad):
    with pytest.raises(InputProblem) as caught:
        clean_text(f"Ana{bad}Sofia", field="given_name", label="Given name", limit=validate.NAME)
    assert caught.value.field == "given_name"
    assert (
        str(caught.value)
        == "Given name has a control character in it (such as a tab, a line break or NUL)"
    )


def test_o5_too_long_says_the_limit_and_the_length():
    with pytest.raises(
        InputProblem, match=r"^Family name is at most 60 characters \(this one has 256\)$"
    ):
        clean_text("x" * 256, field="family_name", label="Family name", limit=validate.NAME)


def test_every_limit_fits_a_postgresql_column():
    assert all(0 < limit < 255 for limit in validate.LIMITS.values())


@given(st.dates())
def test_parse_date_property_reads_every_written_form(day):
    assert parse_date(day.isoformat(), TODAY) == day
    assert parse_date(f"{day.isoformat()}T00:00:00Z", TODAY) == day
    assert parse_date(f"{day.month}/{day.day}/{day.year:04d}", TODAY) == day
    assert parse_date(f"{day.month:02d}-{day.day:02d}-{day.year:04d}", TODAY) == day
    assert parse_date(f"{day.month:02d}{day.day:02d}{day.year:04d}", TODAY) == day


@given(st.dates(min_value=dt.date(1927, 1, 1), max_value=TODAY))
def test_parse_date_property_two_digit_years_are_never_in_the_future(day):
    assert parse_date(f"{day.month}/{day.day}/{day.year % 100:02d}", TODAY) == day


@given(st.text(max_size=40))
def test_parse_date_property_never_raises(text):
    assert parse_date(text, TODAY) is None or isinstance(parse_date(text, TODAY), dt.date)


@given(st.one_of(st.text(max_size=30), st.dates().map(dt.date.isoformat)))
def test_parse_birth_date_property_is_between_1900_and_today_or_says_why(text):
    try:
        born = parse_birth_date(text, TODAY)
    except InputProblem as problem:
        assert problem.field == "dob" and problem.message.startswith(
            ("no birth date", "birth date ")
        )
    else:
        assert dt.date(1900, 1, 1) <= born <= TODAY


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "no birth date"),
        ("0001-01-01", "birth date '0001-01-01' is not between 1900-01-01 and today"),
        ("2099-01-01", "birth date '2099-01-01' is not between 1900-01-01 and today"),
        ("2026-11-23", "birth date '2026-11-23' is not between 1900-01-01 and today"),
        ("2019-02-30", "birth date '2019-02-30' is not a real date"),
        ("2021", "birth date '2021' is not a full date (YYYY-MM-DD)"),
        (
            "٢٠٢٠-٠١-٠١",
            "birth date '٢٠٢٠-٠١-٠١' is not a full date (YYYY-MM-DD)",
        ),  # ASCII digits only
    ],
)
def test_birth_dates_outside_1900_to_today_are_refused(text, reason):
    with pytest.raises(InputProblem) as caught:
        parse_birth_date(text, TODAY)
    assert str(caught.value) == reason


def test_birth_date_edges_are_taken():
    assert parse_birth_date("1900-01-01", TODAY) == dt.date(1900, 1, 1)
    assert parse_birth_date("11/22/2026", TODAY) == TODAY
