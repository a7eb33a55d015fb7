"""PIN format and normalisation (S1), property-tested."""

import re

from hypothesis import given
from hypothesis import strategies as st

from kiosk.registration.pins import ALPHABET, LENGTH, format_pin, generate_pin, normalize_pin

pin_strategy = st.text(alphabet=ALPHABET, min_size=LENGTH, max_size=LENGTH)


def test_s1_generated_pin_is_ten_letters_without_lookalikes():
    for _ in range(500):
        pin = generate_pin()
        assert len(pin) == 10 and set(pin) <= set(ALPHABET)
    assert not set("ILOQU01") & set(ALPHABET)


def test_s1_pins_do_not_repeat():
    assert len({generate_pin() for _ in range(2000)}) == 2000


def test_s1_grouped_display():
    assert format_pin("JFKAYTTJYV") == "JFKAY-TTJYV"
    assert re.fullmatch(r"[A-Z]{5}-[A-Z]{5}", format_pin(generate_pin()))


@given(pin_strategy, st.sampled_from(["", "-", " ", " - "]), st.booleans())
def test_s1_any_case_with_or_without_dash_normalises(pin, separator, lower):
    typed = pin[:5] + separator + pin[5:]
    typed = typed.lower() if lower else typed
    assert normalize_pin(typed) == pin
    assert normalize_pin(format_pin(pin)) == pin


@given(st.text(max_size=20))
def test_s1_normalise_never_crashes_and_only_returns_canonical(text):
    result = normalize_pin(text)
    assert result is None or (len(result) == LENGTH and set(result) <= set(ALPHABET))


@given(pin_strategy, st.integers(min_value=0, max_value=9), st.sampled_from(list("ILOQU0189!")))
def test_s1_a_lookalike_or_digit_is_not_a_pin(pin, position, bad):
    assert normalize_pin(pin[:position] + bad + pin[position + 1 :]) is None


def test_s1_wrong_length_is_not_a_pin():
    assert normalize_pin("JFKAY-TTJY") is None
    assert normalize_pin("JFKAY-TTJYVA") is None
    assert normalize_pin("") is None
