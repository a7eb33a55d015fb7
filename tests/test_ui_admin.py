"""From the search screen: the outbox (O3, F6) and, for administrators, the import screen (O4, F4)."""

from __future__ import annotations

from textual.widgets import Input, Label

from kiosk.people.patients import search_patients
from kiosk.people.staff import authenticate
from kiosk_screens.import_screen import ImportScreen
from kiosk_screens.outbox_screen import OutboxScreen
from kiosk_screens.search import SearchScreen

from conftest import TODAY, desk_app, keys_handled, settle


async def _signed_in(app, pilot, username):
    app.signed_in(authenticate(username, "training1"))
    await settle(app, pilot)
    assert isinstance(app.screen, SearchScreen)


async def _import(app, pilot, path) -> None:
    """Type the file's path into the import screen and press Enter; wait for the import."""
    app.screen.query_one("#import-paths", Input).value = str(path)
    app.screen.query_one("#import-paths", Input).focus()
    await pilot.press("enter")
    await settle(app, pilot)


async def test_f6_opens_the_outbox_and_escape_returns(training, config):
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await _signed_in(app, pilot, "devon")
        await pilot.press("f6")
        await keys_handled(app, pilot)
        assert isinstance(app.screen, OutboxScreen)
        await pilot.press("escape")
        await keys_handled(app, pilot)
        assert isinstance(app.screen, SearchScreen)


async def test_o4_administrator_imports_a_csv_from_the_app(training, config, tmp_path):
    from kiosk.importer import write_template

    csv_file = write_template(tmp_path / "families.csv")
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await _signed_in(app, pilot, "maria")
        await pilot.press("f4")
        await keys_handled(app, pilot)
        assert isinstance(app.screen, ImportScreen)
        await _import(app, pilot, csv_file)
        summary = str(app.screen.query_one("#import-summary", Label).render())
        assert "patients added" in summary and "0 rejected" in summary
    assert len(search_patients("", "Unregistered", today=TODAY)) > 10


async def test_o4_import_is_not_offered_to_staff_who_are_not_administrators(training, config):
    app = desk_app(config)
    async with app.run_test(size=(100, 30)) as pilot:
        await _signed_in(app, pilot, "devon")
        await pilot.press("f4")
        await keys_handled(app, pilot)
        assert isinstance(app.screen, SearchScreen)


async def test_o4_import_summary_wraps_at_80_columns_and_training_shows(training, config, tmp_path):
    """The summary ended '...; 5 r' at 80 columns, and the import screen had no TRAINING banner."""
    from dataclasses import replace

    from kiosk.importer import write_template
    from kiosk_screens.widgets import TrainingBanner

    csv_file = write_template(tmp_path / "families.csv")
    app = desk_app(replace(config, training=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await _signed_in(app, pilot, "maria")
        await pilot.press("f4")
        await keys_handled(app, pilot)
        assert app.screen.query_one(TrainingBanner).display
        await _import(app, pilot, csv_file)
        summary = app.screen.query_one("#import-summary", Label)
        assert "rejected" in str(summary.render())
        assert summary.region.right <= 80 and summary.region.height >= 2


async def test_o4_import_screen_at_80_columns_hint_idle_bar_and_whole_error_lines(
    training, config, tmp_path
):
    """The placeholder reads as a hint, not a path already typed; no bar moves while nothing is
    imported; a rejected row longer than 80 columns wraps instead of being cut."""
    csv_file = tmp_path / ("a-long-folder-name-for-the-practice-exports" + "/families.csv")
    csv_file.parent.mkdir()
    csv_file.write_text("not,a,kiosk,csv\n1,2,3,4\n", encoding="utf-8")
    app = desk_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await _signed_in(app, pilot, "maria")
        await pilot.press("f4")
        await keys_handled(app, pilot)
        box = app.screen.query_one("#import-paths", Input)
        assert box.placeholder.startswith("type the paths")
        assert not app.screen.query_one("#import-progress").display
        await _import(app, pilot, csv_file)
        lines = app.screen.query_one("#problem-lines")
        text = str(lines.render())
        assert str(csv_file) in text and len(text) > 80
        assert lines.region.right <= 80 and lines.region.height >= 2
