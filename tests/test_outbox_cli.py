"""`kiosk outbox send --limit N`, `list` and `retry ID` from the command line (O3)."""

from __future__ import annotations

import pytest

from kiosk.store.models import OutboxMessage

from test_cli import run
from test_outbox_smtp import queue, row, server


@pytest.fixture
def cli_config(tmp_path, config, server):
    """A config file pointing at the loopback server; the database is the test store's."""
    file = tmp_path / "kiosk.toml"
    file.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
        f'sender = "portal@sunnyhills.example"\ntimeout_seconds = 5\n'
    )
    return ["--config", str(file), "--db", config.database]


def kiosk(cli_config, *args):
    return run(*cli_config, "outbox", *args)


def one_error_line(result) -> str:
    assert result.returncode != 0 and result.stdout == ""
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    return result.stderr.strip()


def test_o3_send_with_a_limit_sends_that_many_and_the_rest_wait(store, cli_config, server):
    ids = [queue([(f"Kid{i}", "JFKAY-TTJYV")], to=f"parent{i}@example.com") for i in range(3)]

    result = kiosk(cli_config, "send", "--limit", "2")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 sent, 0 to retry later, 0 failed"
    assert len(server.received) == 2
    assert sorted(row(i).state for i in ids) == ["queued", "sent", "sent"]
    rest = kiosk(cli_config, "send")
    assert rest.stdout.strip() == "1 sent, 0 to retry later, 0 failed" and len(server.received) == 3


def test_o3_send_limit_must_be_a_positive_number(store, cli_config):
    assert (
        one_error_line(kiosk(cli_config, "send", "--limit", "0"))
        == "kiosk: --limit must be at least 1"
    )
    assert "invalid int value: 'some'" in one_error_line(
        kiosk(cli_config, "send", "--limit", "some")
    )


def test_o3_list_shows_one_line_per_message_masked_with_its_reason(store, cli_config):
    queue([("Ava", "JFKAY-TTJYV")])
    failed = OutboxMessage.get()
    reason = "the mail server refused the address (550 5.1.1)"
    OutboxMessage.update(state="failed", attempts=1, last_error=reason).execute()

    result = kiosk(cli_config, "list", "--state", "failed")

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert line.split()[:2] == [str(failed.id), "failed"]
    assert "c***@example.com" in line and "cindy" not in line and "JFKAY" not in line
    assert line.endswith(f"1 try  {reason}")
    assert kiosk(cli_config, "list", "--state", "sent").stdout == ""


def test_o3_retry_queues_a_failed_message_again_in_one_line(store, cli_config, server):
    message_id = queue([("Ava", "JFKAY-TTJYV")])
    OutboxMessage.update(state="failed", attempts=12, last_error="gave up after 12 tries").execute()
    number = row(message_id).id

    result = kiosk(cli_config, "retry", str(number))

    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == f"Message {number} to c***@example.com is queued again: it goes with the next delivery.\n"
    )
    assert (row(message_id).state, row(message_id).attempts, row(message_id).last_error) == (
        "queued",
        0,
        "",
    )
    assert kiosk(cli_config, "send").stdout.strip() == "1 sent, 0 to retry later, 0 failed"
    assert server.received[0][1]["Message-ID"] == message_id

    sent = one_error_line(kiosk(cli_config, "retry", str(number)))
    assert sent == f"kiosk: cannot retry message {number}: this message was already sent"


def test_o3_retry_of_an_unknown_message_is_one_line_and_non_zero(store, cli_config):
    unknown = one_error_line(kiosk(cli_config, "retry", "999"))
    assert unknown == "kiosk: cannot retry message 999: there is no message 999"
    assert "invalid int value: 'abc'" in one_error_line(kiosk(cli_config, "retry", "abc"))
