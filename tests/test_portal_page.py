"""The parents' registration page (P2), through a running server and a real HTTP client (P4):
what a parent who follows the slip's QR code sees, in English and Spanish."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from kiosk.registration import portal

from conftest import find_patient
from test_portal_api import PASSWORD, issue_family, live, pin_of


@pytest.fixture
def browser(live):
    with httpx.Client(base_url=live, timeout=30, follow_redirects=False) as client:
        yield client


def text_of(reply: httpx.Response) -> str:
    """What the parent reads: the page without its tags."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", reply.text)))


def csrf_of(reply: httpx.Response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', reply.text).group(1)


def pin_field(reply: httpx.Response) -> str:
    return re.search(r'id="pin" name="pin"[^>]*value="([^"]*)"', reply.text).group(1)


def register(browser, dob, pin, *, lang="en", **account):
    page = browser.get(f"/register?lang={lang}")
    form = {
        "csrf": csrf_of(page),
        "dob": dob,
        "pin": pin,
        "mode": "new",
        "name": "Cindy Testkiddo",
        "email": "cindy.testkiddo@example.com",
        "password": PASSWORD,
        **account,
    }
    return browser.post(f"/register?lang={lang}", data=form)


def test_p2_the_qr_pin_moves_into_the_form_and_out_of_the_address_bar(browser, front_desk):
    result = issue_family(front_desk)
    pin = pin_of(result, "Rosemary")
    first = browser.get(f"/register?pin={pin}")
    assert first.status_code == 303 and first.headers["location"] == "/register?lang=en"
    assert pin not in first.headers["location"] and pin not in first.headers.get("set-cookie", "")
    page = browser.get(first.headers["location"])
    assert page.status_code == 200 and pin_field(page) == pin
    assert "Register for the patient portal" in text_of(page)


def test_p2_a_parent_registers_with_a_new_account_and_sees_the_child(browser, front_desk):
    result = issue_family(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    browser.get(f"/register?pin={pin_of(result, 'Rosemary')}")
    page = browser.get("/register?lang=en")
    done = browser.post(
        "/register?lang=en",
        data={
            "csrf": csrf_of(page),
            "dob": rosemary.dob.isoformat(),
            "pin": pin_field(page),
            "mode": "new",
            "name": "Cindy Testkiddo",
            "email": "cindy.testkiddo@example.com",
            "password": PASSWORD,
        },
    )
    assert done.status_code == 303
    children = browser.get(done.headers["location"])
    seen = text_of(children)
    assert "Your children" in seen and "Rosemary Full Access" in seen and "Cindy Testkiddo" in seen
    assert "Done: your account now includes the child below." in seen
    # add another child while signed in
    basil = find_patient("Basil", "Testkiddo")
    added = browser.post(
        "/register?lang=en",
        data={
            "csrf": csrf_of(children),
            "dob": basil.dob.isoformat(),
            "pin": pin_of(result, "Basil"),
        },
    )
    assert added.status_code == 303
    seen = text_of(browser.get(added.headers["location"]))
    assert "Rosemary Full Access" in seen and "Basil Full Access" in seen


def test_p2_an_existing_account_signs_in_on_the_page(browser, front_desk):
    result = issue_family(front_desk)
    portal.create_account("cindy.testkiddo@example.com", "Cindy Testkiddo", PASSWORD)
    rosemary = find_patient("Rosemary", "Testkiddo")
    done = register(
        browser, rosemary.dob.isoformat(), pin_of(result, "Rosemary"), mode="existing", name=""
    )
    assert done.status_code == 303
    assert "Rosemary" in text_of(browser.get(done.headers["location"]))
    browser.cookies.clear()  # another phone, not signed in
    wrong = register(
        browser,
        rosemary.dob.isoformat(),
        pin_of(result, "Basil"),
        mode="existing",
        password="not the password",
    )
    assert wrong.status_code == 400 and "Email or password is not right." in text_of(wrong)


def test_s8_p2_a_wrong_pin_gets_the_engine_words_and_keeps_what_was_typed(browser, front_desk):
    rosemary = find_patient("Rosemary", "Testkiddo")
    reply = register(browser, rosemary.dob.isoformat(), "ZZZZ-2222")
    assert reply.status_code == 400
    seen = text_of(reply)
    assert portal.GENERIC in seen and PASSWORD not in reply.text
    # the account was made: the parent stays signed in and tries again without making it twice
    assert "Signed in as Cindy Testkiddo" in seen and 'value="ZZZZ-2222"' in reply.text
    result = issue_family(front_desk)
    again = browser.post(
        "/register?lang=en",
        data={
            "csrf": csrf_of(reply),
            "dob": rosemary.dob.isoformat(),
            "pin": pin_of(result, "Rosemary"),
        },
    )
    assert again.status_code == 303


def test_p2_spanish_from_the_first_word_to_the_refusal(browser, live, front_desk):
    page = browser.get("/register?lang=es")
    assert 'lang="es"' in page.text and "Regístrese en el portal de pacientes" in text_of(page)
    reply = register(browser, "2001-01-01", "ZZZZ-2222", lang="es")
    assert "no coinciden con un registro" in text_of(reply) and portal.GENERIC not in text_of(reply)
    phone = httpx.get(f"{live}/register", headers={"accept-language": "es-MX,es;q=0.9"})
    assert "Fecha de nacimiento" in text_of(phone)


def test_p2_a_post_without_its_form_token_is_refused(browser, live, front_desk):
    rosemary = find_patient("Rosemary", "Testkiddo")
    browser.get("/register")
    forged = browser.post(
        "/register",
        data={
            "csrf": "guessed",
            "dob": rosemary.dob.isoformat(),
            "pin": "x",
            "email": "a@example.com",
            "password": PASSWORD,
        },
    )
    assert forged.status_code == 403 and "This page has expired" in text_of(forged)
    stranger = httpx.post(f"{live}/register", data={"dob": "2020-01-01", "pin": "x"})
    assert stranger.status_code == 403


def test_p2_the_page_is_never_cached_framed_or_referred(browser):
    reply = browser.get("/register")
    headers = reply.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store" and headers["referrer-policy"] == "no-referrer"
    assert "<script" not in reply.text  # P2: nothing needs JavaScript
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/register" in cookie
    assert browser.get("/register/style.css").headers["content-type"].startswith("text/css")


def test_p2_signed_out_parents_are_sent_to_the_start(browser, front_desk):
    assert browser.get("/register/children").headers["location"] == "/register?lang=en"
