"""W4 on screen at 80x24: F8 from the search screen opens the enrollment report; statuses, the
weeks with their chart (full blocks and shades, no half blocks, no colour needed) and the staff
rows are read from the screen; a new start date reloads it, a bad one stays with why."""

from __future__ import annotations

from textual.widgets import Input

from kiosk_screens.report import BAD_SINCE, ReportScreen
from kiosk_screens.search import SearchScreen

from conftest import desk_app, screen_text, settle
from test_report import PASSWORD, build_practice
from test_ui_staff import sign_in

SIZE = (80, 24)
HALF_BLOCKS = "▀▄▌▐▁▔"


async def open_report(app, pilot) -> ReportScreen:
    await sign_in(app, pilot, "maria", PASSWORD)
    assert isinstance(app.screen, SearchScreen)
    await pilot.press("f8")
    await settle(app, pilot)
    assert isinstance(app.screen, ReportScreen)
    return app.screen


async def test_w4_report_screen_at_80x24_shows_statuses_weeks_chart_and_staff(config, store):
    build_practice(config)
    app = desk_app(config)  # the tests' clock: today is Sunday 11/22/2026
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_report(app, pilot)
        shown = screen_text(app)
        lines = shown.splitlines()
        assert "Enrollment report since 08/31/2026" in lines[1] and "to 11/22/2026" in lines[1]
        assert any("Pending Registration" in line and "16.7%" in line for line in lines)
        assert any("Registered" in line and "83.3%" in line and "█" in line for line in lines)
        assert "█ registered  ░ not registered" in shown
        assert not set(HALF_BLOCKS) & set(shown)
        assert "F8" not in shown and "Back" in lines[-1]  # the report's own keys in the footer
        # the body scrolls to the weeks that had PINs: 3 issued, 2 registered in the week of 11/02
        screen.query_one("#weeks").scroll_visible(animate=False)
        await settle(app, pilot)
        week = next(line for line in screen_text(app).splitlines() if "11/02/2026" in line)
        assert week.split()[1:5] == ["3", "2", "66.7%", "3.5"]
        assert "██" in week and "░" in week  # two registered of three: solid, then shaded
        screen.query_one("#staff").scroll_visible(animate=False)
        await settle(app, pilot)
        shown = screen_text(app)
        assert "Lee Park" in shown and "Maria Lopez" in shown
        assert max(len(line.rstrip()) for line in shown.splitlines()) <= 80


async def test_w4_d1_at_60x20_each_status_and_its_bar_keep_one_line(config, store):
    """W4, D1: at 60x20 each status's bar fits beside its figures (no bar wrapped onto a line of
    its own) and the chart's legend says its short words whole; back at 80 the long ones."""
    build_practice(config)
    app = desk_app(config)
    async with app.run_test(size=(60, 20)) as pilot:
        await open_report(app, pilot)
        lines = screen_text(app).splitlines()
        assert not any(
            line.strip() and set(line.strip()) <= {"█", "▁", "▃", "▅", "▇"} for line in lines
        )
        assert any("Registered" in line and "83.3%" in line and "█" in line for line in lines)
        assert any(line.strip() == "By week   █ registered  ░ not registered" for line in lines)
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        assert "Issued to registered, by week   █ registered  ░ not registered" in screen_text(app)


async def test_w4_d1_at_60x20_the_weeks_and_staff_tables_fit_in_shorter_words(config, store):
    """W4, D1: at 60x20 the weeks' table and the staff table fit the window (nothing off to the
    right), their columns said in shorter words and the chart's bars narrower; every figure of a
    week and its bar are in sight. Back at 80x24 the long words and the full bars return."""
    from textual.widgets import DataTable

    build_practice(config)
    app = desk_app(config)
    async with app.run_test(size=(60, 20)) as pilot:
        screen = await open_report(app, pilot)
        weeks, staff = screen.query_one("#weeks", DataTable), screen.query_one("#staff", DataTable)
        for table in (weeks, staff):
            assert table.virtual_size.width <= table.size.width, table.id
            assert table.region.right <= 60 - 2  # left of the body's scrollbar
        weeks.scroll_visible(animate=False, top=True)
        await settle(app, pilot)
        lines = screen_text(app).splitlines()
        header = next(line for line in lines if "Week" in line and "Issued" in line)
        assert header.split() == ["Week", "Issued", "Reg'd", "Rate", "Median", "Chart"]
        week = next(line for line in lines if "11/02/2026" in line)
        assert week.split()[1:5] == ["3", "2", "66.7%", "3.5"]
        assert week.rstrip().endswith("░") and "█" in week  # the bar whole, to its last shade
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        weeks.scroll_visible(animate=False, top=True)
        await settle(app, pilot)
        lines = screen_text(app).splitlines()
        header = next(line for line in lines if "Week" in line and "Issued" in line)
        assert header.split()[:6] == ["Week", "of", "Issued", "Registered", "Rate", "Median"]
        assert weeks.virtual_size.width <= weeks.size.width


async def test_w4_a_new_start_date_reloads_and_a_bad_one_stays_with_why(config, store):
    build_practice(config)
    app = desk_app(config)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_report(app, pilot)
        await pilot.press("f2")
        box = screen.query_one("#since", Input)
        assert screen.focused is box
        await pilot.press(*"someday", "enter")
        await settle(app, pilot)
        assert BAD_SINCE in screen_text(app) and box.value == "someday"
        box.value = ""
        await pilot.press(*"11/16/2026", "enter")
        await settle(app, pilot)
        shown = screen_text(app)
        assert BAD_SINCE not in shown and "since 11/16/2026" in shown
        assert screen.report is not None and [w.label for w in screen.report.weeks] == [
            "2026-11-16"
        ]
        total = next(row for row in shown.splitlines() if row.split()[:2] == ["All", "1"])
        assert total.split()[1:5] == ["1", "1", "100.0%", "3"]
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, SearchScreen)
