"""The carrier table and its warnings (R7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.messages.carriers import carrier_warning, carriers, get_carrier
from kiosk.people.contact import valid_email


def test_r7_every_carrier_has_a_name_and_a_gateway_that_makes_a_valid_address():
    assert len(carriers()) >= 5
    for carrier in carriers():
        assert carrier.name and carrier.gateway
        assert valid_email(carrier.address_for("3175550101"))
    assert len({c.key for c in carriers()}) == len(carriers())


def test_r7_the_gateway_address_is_the_ten_digit_cell_at_the_gateway():
    verizon = get_carrier("verizon")
    assert verizon.address_for("(317) 555-0101") == "3175550101@vtext.com"
    assert verizon.address_for("+1 317.555.0101") == "3175550101@vtext.com"


@pytest.mark.parametrize(
    "cell", ["555-0101", "", "3175550101@evil.example", "317 555 0101\nBcc: x@y.z"]
)
def test_r7_a_cell_that_is_not_a_us_number_makes_no_address(cell):
    with pytest.raises(ValueError, match="not a US cell number"):
        get_carrier("verizon").address_for(cell)


@given(st.text(max_size=30))
def test_r7_address_for_only_ever_makes_digits_at_the_gateway(text):
    try:
        address = get_carrier("googlefi").address_for(text)
    except ValueError:
        return
    local, domain = address.split("@")
    assert domain == "msg.fi.google.com" and local.isdigit() and len(local) == 10


@pytest.mark.parametrize("key", [c.key for c in carriers() if c.retired])
def test_r7_a_retired_carrier_warns_and_suggests_email_or_print(key):
    warning = carrier_warning(key)
    carrier = get_carrier(key)
    assert warning is not None
    assert carrier.name in warning
    assert "email" in warning and "print" in warning


def test_r7_att_is_retired_and_says_so_in_plain_words():
    warning = carrier_warning("att")
    assert "AT&T no longer passes email to text messages" in warning
    assert "June 2025" in warning


def test_r7_a_working_carrier_gives_no_warning():
    assert carrier_warning("googlefi") is None
    assert carrier_warning("uscellular") is None


def test_r7_a_carrier_with_a_caution_note_warns_gently():
    warning = carrier_warning("verizon")
    assert "unreliable" in warning and "Email" in warning and "not get the text" not in warning


def test_r7_an_unknown_carrier_asks_for_one_from_the_list():
    assert "from the list" in carrier_warning("martian-telecom")
    assert get_carrier("martian-telecom") is None
