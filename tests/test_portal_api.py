"""The portal's redemption API (P1), tested as a portal uses it (P4): uvicorn on 127.0.0.1, a real
HTTP client (httpx), the training families in a fresh store. The engine's own rules (R9-R13, S4,
S8) are tested in test_portal.py and test_guessing.py; here, that the API reaches them."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from kiosk import cli
from kiosk.people.patients import family_for
from kiosk.registration import portal
from kiosk.registration.engine import IssueRequest, issue_pins
from kiosk.store.models import RedemptionAttempt
from kiosk.web import tokens as portal_tokens
from kiosk.web.server import create_app, openapi_text, uvicorn_config

from conftest import TODAY, find_patient

OPENAPI_FILE = Path(__file__).parent.parent / "docs" / "portal-openapi.json"
PASSWORD = "Sunflower-meadow-42"


def run_server(config) -> tuple[uvicorn.Server, threading.Thread, str]:
    """uvicorn serving kiosk on a free loopback port, in a thread of this process (same store)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn_config(
            config,
            create_app(config),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def live(front_desk, config):
    """The base URL of a running server on the training store."""
    server, thread, url = run_server(config)
    yield url
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def token(live):
    return portal_tokens.create_token("main-portal")


@pytest.fixture
def api(live, token):
    with httpx.Client(
        base_url=f"{live}/api/v1", headers={"authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        yield client


def issue_family(desk, given="Rosemary", family="Testkiddo", **options):
    fam = family_for(find_patient(given, family).id, today=TODAY)
    recipient = next(c for c in fam.caregivers if c.has_authority)
    values = dict(
        patient_ids=[c.id for c in fam.children], recipient_id=recipient.id, delivery="none"
    )
    values.update(options)
    return issue_pins(desk, IssueRequest(**values), today=TODAY)


def pin_of(result, given):
    return next(p.pin for p in result.pins if p.given_name == given)


def new_account(api, email="cindy.testkiddo@example.com", name="Cindy Testkiddo"):
    reply = api.post("/accounts", json={"email": email, "display_name": name, "password": PASSWORD})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_p1_a_portal_redeems_a_pin_into_a_new_account_and_reads_it_back(api, front_desk):
    result = issue_family(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = new_account(api)
    reply = api.post(
        f"/accounts/{account['id']}/redemptions",
        json={"dob": rosemary.dob.isoformat(), "pin": pin_of(result, "Rosemary").lower()},
    )
    assert reply.status_code == 201
    assert reply.json() == {
        "patient_id": rosemary.id,
        "given_name": "Rosemary",
        "access": "Full Access",
    }
    assert api.get(f"/accounts/{account['id']}/children").json() == [reply.json()]
    state = api.get(f"/registrations/{rosemary.id}").json()
    assert state["portal_status"] == "Registered" and state["accounts"] == 1
    assert state["pins"][0]["redemptions"] == 1 and "pin_hash" not in json.dumps(state)


def test_p1_an_existing_account_signs_in_and_adds_another_child(api, front_desk):
    result = issue_family(front_desk)
    new_account(api)
    login = api.post(
        "/sign-in", json={"email": "Cindy.Testkiddo@example.com", "password": PASSWORD}
    ).json()
    for given in ("Rosemary", "Basil"):
        child = find_patient(given, "Testkiddo")
        assert (
            api.post(
                f"/accounts/{login['id']}/redemptions",
                json={"dob": child.dob.isoformat(), "pin": pin_of(result, given)},
            ).status_code
            == 201
        )
    assert sorted(c["given_name"] for c in api.get(f"/accounts/{login['id']}/children").json()) == [
        "Basil",
        "Rosemary",
    ]
    wrong = api.post(
        "/sign-in", json={"email": "cindy.testkiddo@example.com", "password": "not it at all"}
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "Email or password is not right."


def test_p1_check_names_the_child_and_links_nothing(api, front_desk):
    result = issue_family(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    reply = api.post(
        "/check", json={"dob": rosemary.dob.isoformat(), "pin": pin_of(result, "Rosemary")}
    )
    assert reply.status_code == 200 and reply.json()["given_name"] == "Rosemary"
    state = api.get(f"/registrations/{rosemary.id}").json()
    assert state["accounts"] == 0 and state["portal_status"] != "Registered"
    assert RedemptionAttempt.select().where(RedemptionAttempt.outcome == "checked").count() == 1


def test_r9_the_access_level_comes_back_with_the_redemption(api, front_desk):
    result = issue_family(front_desk, access="limited")
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = new_account(api)
    reply = api.post(
        f"/accounts/{account['id']}/redemptions",
        json={"dob": rosemary.dob.isoformat(), "pin": pin_of(result, "Rosemary")},
    )
    assert reply.json()["access"] == "Limited: No Chart Access"


def test_s8_every_wrong_try_gets_the_one_uniform_reply(api, front_desk):
    result = issue_family(front_desk)
    rosemary, basil = find_patient("Rosemary", "Testkiddo"), find_patient("Basil", "Testkiddo")
    account = new_account(api)
    url = f"/accounts/{account['id']}/redemptions"
    tries = [
        {"dob": rosemary.dob.isoformat(), "pin": "ZZZZ-2222"},  # no such PIN
        {"dob": "2001-01-01", "pin": pin_of(result, "Rosemary")},  # the wrong date
        {"dob": basil.dob.isoformat(), "pin": pin_of(result, "Rosemary")},  # a sibling's date
        {"dob": rosemary.dob.isoformat(), "pin": "not a pin"},
    ]
    replies = [api.post(url, json=body) for body in tries]
    assert {(r.status_code, r.text) for r in replies} == {
        (400, json.dumps({"error": portal.GENERIC, "field": ""}, separators=(",", ":")))
    }
    assert api.post("/check", json=tries[1]).json()["error"] == portal.GENERIC


def test_p1_a_malformed_request_names_the_field_and_never_echoes_it(api):
    reply = api.post("/check", json={"dob": "2019-13-45", "pin": "ABCD-2345"})
    assert reply.status_code == 422 and reply.json()["field"] == "dob"
    assert "2019-13-45" not in reply.text and "ABCD" not in reply.text


def test_r10_the_question_route_through_the_api(api, front_desk):
    issue_family(
        front_desk,
        method="question",
        question="Favourite stuffed animal?",
        answer="Mr Bear",
        patient_ids=[find_patient("Rosemary", "Testkiddo").id],
    )
    rosemary = find_patient("Rosemary", "Testkiddo")
    asked = api.post(
        "/question", json={"dob": rosemary.dob.isoformat(), "family_name": "testkiddo"}
    ).json()
    assert asked == {"question": "Favourite stuffed animal?"}
    assert api.post("/question", json={"dob": "2001-01-01", "family_name": "Nobody"}).json() == {
        "question": None
    }
    account = new_account(api)
    reply = api.post(
        f"/accounts/{account['id']}/redemptions",
        json={"dob": rosemary.dob.isoformat(), "family_name": "Testkiddo", "answer": "mr  BEAR"},
    )
    assert reply.status_code == 201 and reply.json()["given_name"] == "Rosemary"


def test_p1_no_token_a_wrong_token_and_a_revoked_token_are_refused(live, token, api):
    anonymous = httpx.get(f"{live}/api/v1/registrations/1")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    forged = httpx.get(
        f"{live}/api/v1/registrations/1", headers={"authorization": "Bearer kpt_made-up"}
    )
    assert forged.status_code == 401
    assert api.get("/registrations/1").status_code == 200
    portal_tokens.revoke_token("main-portal")
    assert api.get("/registrations/1").status_code == 401


def test_r13_two_parents_redeem_the_same_pin_at_the_same_moment(api, front_desk):
    """Both parents get the child (the practice allows two per PIN); a third is refused after."""
    result = issue_family(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    accounts = [new_account(api, f"parent{i}@example.com", f"Parent Number{i}") for i in range(3)]
    body = {"dob": rosemary.dob.isoformat(), "pin": pin_of(result, "Rosemary")}
    start = threading.Barrier(2)
    replies: dict[int, httpx.Response] = {}

    def parent(account_id: int) -> None:
        start.wait()
        replies[account_id] = api.post(f"/accounts/{account_id}/redemptions", json=body)

    threads = [threading.Thread(target=parent, args=(a["id"],)) for a in accounts[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in replies.values()) == [201, 201]
    state = api.get(f"/registrations/{rosemary.id}").json()
    assert state["accounts"] == 2 and state["pins"][0]["state"] == "redeemed"
    third = api.post(f"/accounts/{accounts[2]['id']}/redemptions", json=body)
    assert third.status_code == 400 and third.json()["error"] == portal.GENERIC


def test_s8_a_guessing_client_is_refused_once_its_limit_is_reached(api, front_desk):
    """After TERMINAL_FAILURES wrong tries from one address, even a right PIN is refused from it, with
    the same words; the tries are kept against api:<address>/<token name>."""
    result = issue_family(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = new_account(api)
    url = f"/accounts/{account['id']}/redemptions"
    for n in range(portal.TERMINAL_FAILURES):
        assert (
            api.post(url, json={"dob": "2001-01-01", "pin": f"ZZZZ-{2222 + n}"}).status_code == 400
        )
    right = api.post(url, json={"dob": rosemary.dob.isoformat(), "pin": pin_of(result, "Rosemary")})
    assert right.status_code == 400 and right.json()["error"] == portal.GENERIC
    last = RedemptionAttempt.select().order_by(RedemptionAttempt.id.desc()).first()
    assert (last.terminal, last.outcome) == (
        "api:127.0.0.1/main-portal",
        "refused: terminal paused",
    )


def test_p1_the_served_openapi_document_is_the_one_in_the_repo(live, config):
    served = httpx.get(f"{live}/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(OPENAPI_FILE.read_text(encoding="utf-8")), (
        "docs/portal-openapi.json is stale: kiosk portal openapi --out docs/portal-openapi.json"
    )
    assert openapi_text(create_app(config)) == OPENAPI_FILE.read_text(encoding="utf-8")


def test_p1_api_replies_carry_the_security_headers(api):
    reply = api.get("/registrations/999999")
    assert reply.status_code == 400
    assert (
        reply.headers["cache-control"] == "no-store" and reply.headers["x-frame-options"] == "DENY"
    )


def test_p1_token_commands_create_list_and_revoke(config, store, capsys):
    assert cli.main(["--db", config.database, "portal", "token", "create", "main-portal"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("kpt_") and portal_tokens.authenticate(token) == "main-portal"
    assert token not in Path(config.database).read_bytes().decode("latin-1")  # S2: only its digest
    assert cli.main(["--db", config.database, "portal", "token", "create", "main-portal"]) == 2
    assert "already a token named" in capsys.readouterr().err
    assert cli.main(["--db", config.database, "portal", "token", "list"]) == 0
    assert "main-portal" in capsys.readouterr().out
    assert cli.main(["--db", config.database, "portal", "token", "revoke", "main-portal"]) == 0
    assert portal_tokens.authenticate(token) is None


@pytest.mark.parametrize(
    "proxy, counted",
    [("127.0.0.1", "api:203.0.113.7/behind-proxy"), ("10.9.9.9", "api:127.0.0.1/behind-proxy")],
)
def test_p3_the_limits_count_the_address_the_proxy_passes_on(front_desk, config, proxy, counted):
    """Behind the proxy (serve.forwarded_allow_ips) a try counts against the parent's address; from
    anyone else X-Forwarded-For is ignored and the caller's own address counts."""
    from dataclasses import replace

    from kiosk.config import ServeConfig

    server, thread, url = run_server(replace(config, serve=ServeConfig(forwarded_allow_ips=proxy)))
    try:
        token = portal_tokens.create_token("behind-proxy")
        reply = httpx.post(
            f"{url}/api/v1/check",
            json={"dob": "2001-01-01", "pin": "ZZZZ-2222"},
            headers={"authorization": f"Bearer {token}", "x-forwarded-for": "203.0.113.7"},
        )
        assert reply.status_code == 400
        last = RedemptionAttempt.select().order_by(RedemptionAttempt.id.desc()).first()
        assert last.terminal == counted
    finally:
        server.should_exit = True
        thread.join(10)


def test_s9_an_unexpected_error_is_a_plain_500_and_its_text_stays_out_of_the_server_log(
    api, config, monkeypatch, capfd
):
    def broken(account_id):
        raise RuntimeError("while reading PIN QWERT-ZXCVB for 2019-04-30")

    monkeypatch.setattr(portal, "children_of", broken)
    monkeypatch.setattr(portal, "account", lambda account_id: object())
    reply = api.get("/accounts/1/children")
    assert reply.status_code == 500 and "QWERT" not in reply.text
    assert reply.headers["cache-control"] == "no-store"
    assert "QWERT-ZXCVB" not in capfd.readouterr().err
    assert "RuntimeError" in Path(config.error_log).read_text(encoding="utf-8")


def test_s8_kiosk_serve_with_two_workers_counts_one_address_exactly(front_desk, config):
    """P1 with ``kiosk serve --workers 2``: wrong tries sent at once from one address, to either
    process, count exactly TERMINAL_FAILURES failures and the rest are refused; a right PIN from
    that address is then refused with the same words (S8: the limits live in the database)."""
    import os
    import subprocess
    import sys

    result = issue_family(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    token = portal_tokens.create_token("two-workers")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).parent.parent
    command = [sys.executable, "-m", "kiosk.cli", "--db", config.database, "serve"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = {"authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        extra = 6
        replies: list[httpx.Response] = []
        start = threading.Barrier(portal.TERMINAL_FAILURES + extra)

        def guess(n: int) -> None:
            start.wait()
            body = {"dob": "2001-01-01", "pin": f"ZZZZ-{2222 + n}"}
            replies.append(httpx.post(f"{base}/check", json=body, headers=headers, timeout=60))

        threads = [
            threading.Thread(target=guess, args=(n,))
            for n in range(portal.TERMINAL_FAILURES + extra)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        right = {"dob": rosemary.dob.isoformat(), "pin": pin_of(result, "Rosemary")}
        last = httpx.post(f"{base}/check", json=right, headers=headers, timeout=60)
    finally:
        server.terminate()
        server.wait(30)
    assert len(children) >= 2  # the two workers (and multiprocessing's resource tracker)
    assert {(r.status_code, r.json()["error"]) for r in [*replies, last]} == {(400, portal.GENERIC)}
    outcomes = [
        a.outcome
        for a in RedemptionAttempt.select()
        .where(RedemptionAttempt.terminal == "api:127.0.0.1/two-workers")
        .order_by(RedemptionAttempt.id)
    ]
    assert outcomes == ["no match"] * portal.TERMINAL_FAILURES + ["refused: terminal paused"] * (
        extra + 1
    )


def test_p3_one_portal_guessing_never_pauses_another_portal_at_the_same_address(api, front_desk):
    """S8 per portal token and address: a guesser through one portal's token pauses that portal at
    that address only; another portal calling from the same address still redeems."""
    result = issue_family(front_desk)
    rosemary = find_patient("Rosemary", "Testkiddo")
    account = new_account(api)
    url = f"/accounts/{account['id']}/redemptions"
    for n in range(portal.TERMINAL_FAILURES):
        api.post(url, json={"dob": "2001-01-01", "pin": f"ZZZZ-{2222 + n}"})
    right = {"dob": rosemary.dob.isoformat(), "pin": pin_of(result, "Rosemary")}
    assert api.post(url, json=right).json()["error"] == portal.GENERIC
    other = portal_tokens.create_token("second-portal")
    reply = api.post(url, json=right, headers={"authorization": f"Bearer {other}"})
    assert reply.status_code == 201 and reply.json()["given_name"] == "Rosemary"
