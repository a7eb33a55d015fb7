"""The parents' page in a real browser (P4): Debian's chromium, headless, driven by Playwright with
the system browser (none is downloaded), at a phone's width, in English and Spanish. Skipped when
there is no chromium (.ci/chromium.sh installs it). Screenshots land in the test's folder."""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import find_patient
from test_portal_api import PASSWORD, issue_family, live, pin_of

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium here (.ci/chromium.sh installs it)"
)


@pytest.fixture
def phone():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


def _fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_p4_a_parent_registers_from_the_qr_on_a_phone(phone, live, front_desk, tmp_path):
    result = issue_family(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    pin = pin_of(result, "Rosemary")
    page = phone.new_page(viewport=PHONE, locale="en-US", is_mobile=True)
    page.goto(f"{live}/register?pin={pin}")
    assert pin not in page.url and page.url.endswith("/register?lang=en")  # P2: the bar is clean
    assert page.input_value("#pin") == pin
    assert page.locator("h1").inner_text() == "Register for the patient portal"
    assert _fits_the_phone(page)
    page.screenshot(path=str(tmp_path / "register-en.png"), full_page=True)
    page.fill("#dob", rosemary.dob.isoformat())
    page.fill("#name", "Cindy Testkiddo")
    page.fill("#email", "cindy.testkiddo@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/register/children"))
    assert page.locator("h1").inner_text() == "Your children"
    assert "Rosemary" in page.locator(".children").inner_text()
    assert "Full Access" in page.locator(".children").inner_text()
    assert _fits_the_phone(page)
    page.screenshot(path=str(tmp_path / "children-en.png"), full_page=True)


def test_p4_the_page_in_spanish_on_a_phone_and_a_wrong_pin(phone, live, front_desk, tmp_path):
    rosemary = find_patient("Rosemary", "Testkiddo")
    page = phone.new_page(viewport=PHONE, locale="es-MX", is_mobile=True)
    page.goto(f"{live}/register")
    assert page.locator("h1").inner_text() == "Regístrese en el portal de pacientes"
    assert page.locator("label[for=dob]").inner_text() == "Fecha de nacimiento"
    page.fill("#dob", rosemary.dob.isoformat())
    page.fill("#pin", "ZZZZ-2222")
    page.fill("#name", "Cindy Testkiddo")
    page.fill("#email", "cindy.testkiddo@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    problem = page.locator("#problem")
    problem.wait_for()
    assert "no coinciden con un registro" in problem.inner_text()
    assert page.get_attribute("#pin", "aria-invalid") == "true"
    assert _fits_the_phone(page)
    page.screenshot(path=str(tmp_path / "refused-es.png"), full_page=True)
