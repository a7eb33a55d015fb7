"""Email address and US cell number checks (R7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.people.contact import format_us_cell, normalize_email, normalize_us_cell, valid_email

N = st.sampled_from("23456789")
DIGIT = st.sampled_from("0123456789")


@pytest.mark.parametrize(
    "address",
    [
        "cindy.testkiddo@example.com",
        "a@b.co",
        "o'brien+portal@mail.example.org",
        "x_y-z@sub-domain.example.io",
        "user@xn--bcher-kva.example",
    ],
)
def test_r7_plain_addresses_are_valid(address):
    assert valid_email(address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "cindy",
        "cindy@",
        "@example.com",
        "cindy@example",
        "cindy@@example.com",
        "a@b@example.com",
        "cindy @example.com",
        " cindy@example.com",
        "cindy@example.com ",
        "cindy..t@example.com",
        ".cindy@example.com",
        "cindy.@example.com",
        "cindy@-example.com",
        "cindy@example-.com",
        "cindy@example..com",
        "cindy@example.c",
        "cindy@example.123",
        "ciñdy@example.com",
        "cindy@exämple.com",
        "cindy@example.com\n",
        "Cindy <cindy@example.com>",
        "cindy@example.com,jeff@example.com",
        "a" * 65 + "@example.com",
        "a@" + "b" * 64 + ".com",
    ],
)
def test_r7_malformed_addresses_are_refused(address):
    assert not valid_email(address)


def test_r7_normalize_email_trims_and_lowers_the_domain_only():
    assert normalize_email("  Cindy.Testkiddo@Example.COM ") == "Cindy.Testkiddo@example.com"
    assert normalize_email("not an address") is None


@given(st.text(max_size=80))
def test_r7_valid_email_never_accepts_whitespace_or_non_ascii(text):
    if valid_email(text):
        assert text.isascii() and not any(ch.isspace() for ch in text) and text.count("@") == 1


LOCAL = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", fullmatch=True).filter(
    lambda s: ".." not in s
)
DOMAIN = st.from_regex(r"[a-z0-9]{1,20}(\.[a-z0-9]{1,10})?\.[a-z]{2,6}", fullmatch=True)


@given(LOCAL, DOMAIN)
def test_r7_ordinary_addresses_are_valid(local, domain):
    assert valid_email(f"{local}@{domain}")
    assert normalize_email(f" {local}@{domain.upper()} ") == f"{local}@{domain}"


@pytest.mark.parametrize(
    "written",
    [
        "3175550101",
        "(317) 555-0101",
        "317.555.0101",
        "317-555-0101",
        "317 555 0101",
        "+1 317 555 0101",
        "+1 (317) 555-0101",
        "1-317-555-0101",
        "13175550101",
        "+13175550101",
        " (317)555-0101 ",
    ],
)
def test_r7_cell_numbers_written_any_common_way_become_ten_digits(written):
    assert normalize_us_cell(written) == "3175550101"


@pytest.mark.parametrize(
    "written",
    [
        "",
        "555-0101",
        "317555010",
        "317555010100",
        "(317 555-0101",
        "317) 555-0101",
        "+44 317 555 0101",
        "+2 317 555 0101",
        "017 555 0101",
        "117 555 0101",
        "317 055 0101",
        "317 155 0101",
        "317-555-0101 x12",
        "3l7-555-0101",
        "317--555-0101",
        "317_555_0101",
        "٣١٧٥٥٥٠١٠١",
    ],
)
def test_r7_things_that_are_not_us_cell_numbers_are_refused(written):
    assert normalize_us_cell(written) is None


@given(
    N,
    DIGIT,
    DIGIT,
    N,
    DIGIT,
    DIGIT,
    st.lists(DIGIT, min_size=4, max_size=4),
    st.sampled_from(
        ["{a}{e}{l}", "({a}) {e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}", "1-{a}-{e}-{l}"]
    ),
)
def test_r7_every_nxx_nxx_xxxx_number_is_accepted_in_every_layout(
    a1, a2, a3, e1, e2, e3, line, layout
):
    area, exchange, last = a1 + a2 + a3, e1 + e2 + e3, "".join(line)
    assert normalize_us_cell(layout.format(a=area, e=exchange, l=last)) == area + exchange + last


@given(st.text(max_size=25))
def test_r7_normalize_us_cell_returns_ten_ascii_digits_or_none(text):
    cell = normalize_us_cell(text)
    assert cell is None or (
        len(cell) == 10 and cell.isascii() and cell.isdigit() and cell[0] in "23456789"
    )


def test_format_us_cell_reads_like_a_phone_number():
    assert format_us_cell("3175550101") == "(317) 555-0101"
