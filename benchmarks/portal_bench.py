"""The portal API under load (P1, P4): redemptions per second, p95 latency, and the guessing limit.

    python benchmarks/portal_bench.py [--clients 50] [--seconds 10] [--workers 1] [--url postgresql://...]
    (PostgreSQL also when KIOSK_BENCH_PG_URL or KIOSK_TEST_PG_URL is set: that database is emptied)

Builds the training families in a throwaway database, issues their PINs (parents_per_pin raised so
every client's account may redeem every PIN), makes one portal account per client and an API
token, then starts ``kiosk serve`` in its own process on 127.0.0.1 exactly as deployed (uvicorn,
--workers N, default one, the 50 ms reply floor of refusals in force) and drives it with httpx:

  1. flat out: CLIENTS concurrent clients redeem for SECONDS; every reply must be 201;
  2. paced: 100 redemptions/s spread over the same clients for SECONDS (the target rate);
  3. guessing: meanwhile a client from another source address (127.0.0.2) sends wrong PINs at its
     own pace, then right ones: once TERMINAL_FAILURES wrong ones are counted, every try from that
     address must be refused (S8), while the paced clients keep redeeming.

Prints one figure a line (NAME VALUE UNIT), targets in the comments:
  portal_redeem_per_s[_postgres]        flat-out redemptions per second
  portal_redeem_p95_ms[_postgres]       p95 latency flat out
  portal_server_cpu_ms[_postgres]       server CPU per redemption flat out (what load hardly changes)
  portal_paced_p95_ms[_postgres]   <= 50 p95 latency at 100 requests/s
  portal_guess_refused_pct[_postgres] = 100  share of the guessing client's tries refused once limited
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(
    target: str, key_file: str, clients: int
) -> tuple[str, list[tuple[str, str]], list[int]]:
    """The database with PINs, accounts and a token: (token, [(dob, pin)], [account ids])."""
    from kiosk import security
    from kiosk.config import Config, PracticeConfig
    from kiosk.ops.training import load_training_data
    from kiosk.people.patients import family_for
    from kiosk.people.staff import authenticate
    from kiosk.registration import portal
    from kiosk.registration.engine import IssueRequest, RegistrationError, issue_pins
    from kiosk.store.db import close_database, database, open_database
    from kiosk.store.models import ALL_MODELS, Patient, Practice
    from kiosk.store.practice import open_store
    from kiosk.terms import Delivery
    from kiosk.web import tokens as portal_tokens

    security.SCRYPT_N = 2**10  # making the accounts is not what is measured
    if "://" in target:  # the tables of an earlier run hold PINs made with another key file
        open_database(target)
        database.drop_tables(ALL_MODELS, cascade=True)
        close_database()
    open_store(
        Config(
            database=target,
            pin_key_file=key_file,
            practice=PracticeConfig(name="Bench", portal_url="https://portal.example.org"),
        )
    )
    today = dt.date.today()
    load_training_data(today=today)
    Practice.update(parents_per_pin=1_000_000).execute()
    desk = authenticate("maria", "training1")
    assert desk is not None
    tries: list[tuple[str, str]] = []
    done: set[int] = set()
    for patient in Patient.select().order_by(Patient.id):
        if patient.id in done:
            continue
        family = family_for(patient.id, today=today)
        done.update(c.id for c in family.children)
        recipient = next((c for c in family.caregivers if c.has_authority), None)
        if recipient is None:
            continue
        try:
            result = issue_pins(
                desk,
                IssueRequest(
                    patient_ids=[c.id for c in family.children],
                    recipient_id=recipient.id,
                    delivery=Delivery.NONE,
                ),
                today=today,
            )
        except (
            RegistrationError
        ):  # a training family that cannot be issued for (a rule says why): skip it
            continue
        dobs = {c.id: c.dob for c in family.children}
        tries += [(dobs[p.patient_id].isoformat(), p.pin) for p in result.pins]
    accounts = [
        portal.create_account(f"bench{i}@example.org", f"Bench Parent{i}", "Sunflower-meadow-42").id
        for i in range(clients)
    ]
    token = portal_tokens.create_token("bench")
    close_database()
    return token, tries, accounts


def start_server(
    target: str, key_file: str, port: int, workers: int = 1
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KIOSK_PIN_KEY_FILE": key_file,
        # no config of the machine's own; the key file's folder goes when the run ends
        "XDG_CONFIG_HOME": str(Path(key_file).parent / "config"),
    }
    command = [sys.executable, "-m", "kiosk.cli", "--db", target, "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if server.poll() is not None:
                said = server.stderr.read().decode() if server.stderr else ""
                raise SystemExit(f"kiosk serve stopped: {said}") from None
            time.sleep(0.1)
    raise SystemExit("kiosk serve did not start within 60 s")


def server_cpu_seconds(pid: int) -> float | None:
    """CPU time used so far by the server and its worker processes (Linux /proc), else None. Unlike
    the rates, it hardly depends on what else the machine is running."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for each in [pid, *map(int, children)]:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, ValueError, IndexError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values, default=0.0)


async def flat_out(
    base: str, token: str, tries: list[tuple[str, str]], accounts: list[int], seconds: float
) -> tuple[int, list[float], int]:
    import httpx

    headers = {"authorization": f"Bearer {token}"}
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def client(index: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        n = index
        while time.monotonic() < stop:
            dob, pin = tries[n % len(tries)]
            n += len(accounts)
            started = time.perf_counter()
            try:
                reply = await http.post(
                    f"/api/v1/accounts/{accounts[index]}/redemptions", json={"dob": dob, "pin": pin}
                )
                errors += reply.status_code != 201
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=len(accounts))
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
        began = time.monotonic()
        await asyncio.gather(*(client(i, http) for i in range(len(accounts))))
        elapsed = time.monotonic() - began
    return int(len(latencies) / elapsed), latencies, errors


async def paced_with_guesser(
    base: str,
    token: str,
    tries: list[tuple[str, str]],
    accounts: list[int],
    seconds: float,
    rate: float,
) -> tuple[list[float], int, int, int]:
    """(latencies at ``rate``, errors, the guesser's tries after its limit, how many were refused)."""
    import httpx

    from kiosk.registration.portal import GENERIC, TERMINAL_FAILURES

    headers = {"authorization": f"Bearer {token}"}
    latencies: list[float] = []
    errors = 0
    guessed_after = refused_after = 0
    total = int(seconds * rate)

    async def one(i: int, http: httpx.AsyncClient, start: float) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        dob, pin = tries[i % len(tries)]
        began = time.perf_counter()
        try:
            reply = await http.post(
                f"/api/v1/accounts/{accounts[i % len(accounts)]}/redemptions",
                json={"dob": dob, "pin": pin},
            )
            errors += reply.status_code != 201
        except httpx.HTTPError:  # the server over its capacity: counted, and the run goes on
            errors += 1
        latencies.append((time.perf_counter() - began) * 1000)

    async def guesser() -> None:
        nonlocal guessed_after, refused_after
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with httpx.AsyncClient(
            base_url=base, headers=headers, transport=transport, timeout=60
        ) as http:
            account = accounts[0]
            for n in range(TERMINAL_FAILURES + 100):
                if n < TERMINAL_FAILURES or n % 2:  # wrong PINs, then right ones among them
                    body = {"dob": "2001-01-01", "pin": f"ZZZZ-{2222 + n}"}
                else:
                    dob, pin = tries[n % len(tries)]
                    body = {"dob": dob, "pin": pin}
                reply = await http.post(f"/api/v1/accounts/{account}/redemptions", json=body)
                if n >= TERMINAL_FAILURES:
                    guessed_after += 1
                    # a right PIN refused, or a wrong one: either way the uniform words, never a link
                    refused_after += (
                        reply.status_code == 400 and reply.json().get("error") == GENERIC
                    )
                await asyncio.sleep(seconds / (TERMINAL_FAILURES + 100))

    limits = httpx.Limits(max_connections=len(accounts))
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
        start = time.monotonic()
        await asyncio.gather(guesser(), *(one(i, http, start) for i in range(total)))
    return latencies, errors, guessed_after, refused_after


def run(
    target: str, clients: int, seconds: float, suffix: str, rate: float = 100.0, workers: int = 1
) -> None:
    with tempfile.TemporaryDirectory(prefix="kiosk-portal-bench-") as folder:
        measure(target, str(Path(folder) / "pin.key"), clients, seconds, suffix, rate, workers)


def measure(
    target: str,
    key_file: str,
    clients: int,
    seconds: float,
    suffix: str,
    rate: float,
    workers: int,
) -> None:
    token, tries, accounts = prepare(target, key_file, clients)
    port = _free_port()
    server = start_server(target, key_file, port, workers)
    base = f"http://127.0.0.1:{port}"
    try:
        cpu_before = server_cpu_seconds(server.pid)
        per_s, latencies, errors = asyncio.run(flat_out(base, token, tries, accounts, seconds))
        cpu_after = server_cpu_seconds(server.pid)
        print(
            f"# {len(tries)} PINs, {clients} clients, {len(latencies)} redemptions in {seconds:g} s, "
            f"{errors} not 201"
        )
        print(f"portal_redeem_per_s{suffix} {per_s} /s")
        print(f"portal_redeem_p95_ms{suffix} {p95(latencies):.1f} ms")
        if cpu_before is not None and cpu_after is not None and latencies:
            used = (cpu_after - cpu_before) / len(latencies) * 1000
            print(f"portal_server_cpu_ms{suffix} {used:.2f} ms")
        paced, paced_errors, after, refused = asyncio.run(
            paced_with_guesser(base, token, tries, accounts, seconds, rate)
        )
        print(
            f"# paced: {len(paced)} redemptions at {rate:g}/s, {paced_errors} not 201, while 127.0.0.2 guessed"
        )
        print(f"portal_paced_p95_ms{suffix} {p95(paced):.1f} ms")
        print(f"portal_guess_refused_pct{suffix} {100 * refused / max(1, after):.0f} %")
        sys.stdout.flush()
    finally:
        server.terminate()
        server.wait(30)


def main(argv: list[str] | None = None) -> int:
    from kiosk.cli import whole_between

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=whole_between(1, 1_000), default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--url", help="a PostgreSQL database to use as well (emptied first)")
    parser.add_argument(
        "--rate", type=float, default=100.0, help="paced redemptions per second (target 100)"
    )
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument(
        "--workers", type=whole_between(1, 64), default=1, help="kiosk serve --workers N"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kiosk-portal-bench-") as folder:
        sqlite = str(Path(folder) / "kiosk.sqlite3")
        run(sqlite, args.clients, args.seconds, "", args.rate, args.workers)
    url = args.url or os.environ.get("KIOSK_BENCH_PG_URL") or os.environ.get("KIOSK_TEST_PG_URL")
    if url and not args.sqlite_only:
        run(url, args.clients, args.seconds, "_postgres", args.rate, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
