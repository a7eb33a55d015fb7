"""I1: parent mode in the family's language, end to end at 80x24, with a switch on its first screen.

A Spanish-speaking parent is handed the kiosk: every screen, button, footer key and message is
in Spanish, the engine's replies too, and the buttons carry the labels the Spanish welcome names.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from textual.widgets import Button, Static

from kiosk.messages.welcome import compose_welcome
from kiosk.registration.portal import account as portal_account
from kiosk.store.models import PortalAccount
from kiosk_screens.parent import (
    ChildScreen,
    CreateAccountScreen,
    MyAccountScreen,
    ParentModeScreen,
)

from conftest import desk_app, keys_handled, settle, widget_text
from test_ui_parent import (
    PASSWORD,
    add_child,
    at_desk,
    dob_of,
    error,
    issue_testkiddo,
    kiddo_ids,
    snapshot_result,
    type_into,
    us_date,
)

SIZE = (80, 24)
ENGLISH_WORDS = ("Create a new account", "Sign in to my account", "New account", "I'm done")


def footer(app) -> list[str]:
    return [str(key.render()) for key in app.screen.query("FooterKey")]


def title(app) -> str:
    return str(app.screen.query_one(".parent-title", Static).render())


async def test_i1_a_spanish_family_completes_parent_mode_in_spanish(config, front_desk):
    result = dataclasses.replace(issue_testkiddo(front_desk), language="es")
    rosemary, basil = kiddo_ids()
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(app, pilot, front_desk, result)

        # The first screen: Spanish words, Spanish keys, and the switch named in English.
        assert title(app) == "¡Bienvenido! Vamos a preparar su portal de pacientes."
        shown = widget_text(app)
        assert "Crear una cuenta nueva (N)" in shown and "Terminé (F10)" in shown
        assert str(app.screen.query_one("#language", Button).label) == "English (L)"
        keys = " ".join(footer(app))
        assert "Cuenta nueva" in keys and "Idioma" in keys and "Terminé" in keys
        assert not any(word in shown for word in ENGLISH_WORDS)

        # A new account: Spanish labels, and the engine's password rule said in Spanish.
        await pilot.press("n")
        await keys_handled(app, pilot)
        assert isinstance(app.screen, CreateAccountScreen)
        assert title(app) == "Cree su cuenta del portal"
        assert "Elija una contraseña (15 caracteres o más)" in widget_text(app)
        await type_into(app, pilot, "name", "Cindy Testkiddo")
        await type_into(app, pilot, "email", "cindy.testkiddo@example.com")
        await type_into(app, pilot, "password", "short")
        await pilot.press("f2")
        await settle(app, pilot)
        assert error(app, "password") == "Use al menos 15 caracteres."
        await type_into(app, pilot, "password", PASSWORD)
        await pilot.press("f2")
        await settle(app, pilot)

        # The first child: whose PIN is filled in, a wrong date answered in Spanish.
        assert isinstance(app.screen, ChildScreen)
        help_text = str(app.screen.query_one("#child-help", Static).render())
        assert help_text == (
            "El PIN de Rosemary ya está escrito. Escriba la fecha de nacimiento de Rosemary."
        )
        assert app.screen.query_one("#dob").placeholder == "MM/DD/AAAA"
        await add_child(app, pilot, "13/45/2022")
        assert error(app, "dob") == "Escriba la fecha de nacimiento así: 05/17/2022 (mes/día/año)."
        wrong = dob_of(rosemary) + dt.timedelta(days=1)
        await add_child(app, pilot, f"{wrong:%m/%d/%Y}")
        assert error(app, "redeem").startswith("La fecha de nacimiento y el PIN no coinciden")
        await add_child(app, pilot, us_date(rosemary))

        # My Account: the name the welcome gives it, and the button it tells the parent to press.
        assert isinstance(app.screen, MyAccountScreen)
        assert title(app) == "Mi cuenta: Cindy Testkiddo"
        assert "Rosemary ya está en su cuenta (Acceso completo)." in widget_text(app)
        another = str(app.screen.query_one("#add-child", Button).label)
        assert another == "Agregar otro hijo (A)"
        welcome = compose_welcome(
            practice_name="Sunny Hills Pediatrics",
            portal_url="https://portal.example.org/register",
            children=[("Rosemary", "AAAAA-BBBBB"), ("Basil", "CCCCC-DDDDD")],
            expires_on=dt.date(2027, 1, 5),
            language="es",
        )
        assert '"Agregar otro hijo"' in welcome.text and "Mi cuenta >" in welcome.text
        assert "Add another child" not in welcome.text

        # The second child, then I'm done.
        await pilot.press("a")
        await keys_handled(app, pilot)
        assert isinstance(app.screen, ChildScreen) and title(app) == "Agregue a su hijo o hija"
        await add_child(app, pilot, us_date(basil))
        assert isinstance(app.screen, MyAccountScreen)
        children = str(app.screen.query_one("#children", Static).render())
        assert "Rosemary" in children and "Basil" in children and "Acceso completo" in children
        assert "Terminé" in " ".join(footer(app))
    cindy = PortalAccount.get(PortalAccount.email == "cindy.testkiddo@example.com")
    assert portal_account(cindy.id) is not None


async def test_i1_the_first_screen_switches_language_by_key_and_by_its_button(config, front_desk):
    result = issue_testkiddo(front_desk)  # an English family
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(app, pilot, front_desk, result)
        assert title(app) == "Welcome! Let's set up your patient portal."
        switch = app.screen.query_one("#language", Button)
        assert str(switch.label) == "Español (L)" and switch.region.height > 0  # visible at 80x24
        assert "Language" in " ".join(footer(app))

        await pilot.press("l")
        await keys_handled(app, pilot)
        assert isinstance(app.screen, ParentModeScreen)
        assert title(app) == "¡Bienvenido! Vamos a preparar su portal de pacientes."
        keys = " ".join(footer(app))
        assert "Idioma" in keys and "Language" not in keys and "New account" not in keys

        await pilot.click("#language")
        await pilot.pause()
        assert title(app) == "Welcome! Let's set up your patient portal."

        await pilot.press("l", "s")  # the choice goes with the parent to the next screen
        await keys_handled(app, pilot)
        assert title(app) == "Entre a su cuenta del portal"
        await pilot.press("escape")  # Back, in Spanish, keeps Spanish
        await keys_handled(app, pilot)
        assert isinstance(app.screen, ParentModeScreen)
        assert str(app.screen.query_one("#language", Button).label) == "English (L)"


def test_i1_spanish_first_screen_snapshot(snap_compare, config, training):
    """What a Spanish-speaking parent is handed, at 80x24."""
    result = snapshot_result("es")
    app = desk_app(config)

    async def open_parent_mode(pilot):
        app.start_parent_mode(result)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_parent_mode)


def test_i1_every_parent_screen_key_has_a_description_in_every_language():
    """Each key is bound once per language, described in that language (none left in English)."""
    from kiosk.i18n import LANGUAGES
    from kiosk_screens import parent

    for screen in (
        parent.ParentScreen,
        parent.ParentModeScreen,
        parent.CreateAccountScreen,
        parent.ParentSignInScreen,
        parent.ChildScreen,
        parent.MyAccountScreen,
    ):
        described: dict[str, dict[str, str]] = {}
        for binding in screen.BINDINGS:
            _, code, _, action, _ = binding.action.split("'")
            described.setdefault(f"{binding.key} {action}", {})[code] = binding.description
        for key, by_language in described.items():
            assert set(by_language) == set(LANGUAGES), (screen.__name__, key)
            assert by_language["es"] != by_language["en"], (screen.__name__, key, by_language)


async def test_i1_without_pins_from_the_desk_parent_mode_starts_in_the_desks_language(
    config, front_desk
):
    """Complete / Log In for a parent adding a child later: the desk's `language` (D1)."""
    app = desk_app(dataclasses.replace(config, language="es"))
    async with app.run_test(size=SIZE) as pilot:
        await at_desk(app, pilot, front_desk, None)
        assert title(app) == "¡Bienvenido! Vamos a preparar su portal de pacientes."
