"""Placeholder-name detection (R2)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.people.names import is_placeholder_name

PLACEHOLDERS = [
    "Baby",
    "Baby Boy",
    "Baby Girl",
    "BabyBoy",
    "BabyGirl",
    "Baby A",
    "Baby B",
    "BB",
    "BG",
    "Infant",
    "Newborn",
    "NB",
    "Twin A",
    "Twin B",
    "TwinA",
    "Female Baby",
    "Male Baby",
    "Unknown",
    "Boy",
    "Girl",
    "Baby 2",
    "Twin #2",
    "baby_girl",
    "Baby-Boy",
]
REAL = [
    "Rosemary",
    "Basil",
    "Bianca",
    "Abby",
    "Boyd",
    "Bobby",
    "Twinkle",
    "Infanta",
    "Nbeke",
    "Girlie",
    "Ann",
    "Bea",
    "Sofía",
    "a[/]b",
    "O'Brien",
    "Bb King",
    "Amara",
]


@pytest.mark.parametrize("name", PLACEHOLDERS)
def test_r2_placeholders_detected(name):
    assert is_placeholder_name(name)


@pytest.mark.parametrize("name", REAL)
def test_r2_real_names_pass(name):
    assert not is_placeholder_name(name)


@given(
    st.sampled_from(PLACEHOLDERS[:20]),
    st.sampled_from(["upper", "lower", "title", "swap"]),
    st.sampled_from(["", " ", "   "]),
    st.sampled_from(["", " ", "  "]),
)
def test_r2_any_case_and_spacing(name, case, before, after):
    text = (
        before
        + getattr(
            name, {"upper": "upper", "lower": "lower", "title": "title", "swap": "swapcase"}[case]
        )()
        + after
    )
    assert is_placeholder_name(text)


@given(
    st.sampled_from(["Baby", "Twin", "Female", "Male"]),
    st.sampled_from([" ", "  ", "\t", " - ", "_"]),
    st.sampled_from(["Boy", "Girl", "A", "B", "Baby"]),
)
def test_r2_two_words_with_any_separator(first, separator, second):
    assert is_placeholder_name(first + separator + second)


@given(st.text(max_size=30))
def test_r2_never_crashes(text):
    assert isinstance(is_placeholder_name(text), bool)


def test_r2_empty_is_placeholder():
    assert is_placeholder_name("") and is_placeholder_name("   ") and is_placeholder_name(None)
