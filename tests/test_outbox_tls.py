"""Welcome messages over real TLS on loopback: STARTTLS and SMTPS with login, and certificate
problems named in plain words (O3, S2). The certificates are throwaway, self-signed, made here by
the ``openssl`` command; kiosk trusts them only through smtp.ca_file."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from kiosk.messages import outbox

from test_outbox_smtp import (
    PASSWORD,
    USER,
    Inbox,
    _authenticator,
    free_port,
    queue,
    row,
    smtp_config,
)

# aiosmtpd warns "AUTH while not requiring TLS" for its implicit-TLS server: that connection is all TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

CHILDREN = [("Ava", "JFKAY-TTJYV"), ("Ben", "ABCDE-FGHJK")]


def make_certificate(folder: Path, name: str, *, cn: str, san: str) -> tuple[Path, Path]:
    """A self-signed certificate and its key (EC P-256: made in milliseconds)."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={cn}",
            "-addext",
            f"subjectAltName={san}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """``loopback``: valid for 127.0.0.1 and localhost. ``elsewhere``: valid for mail.example.org only."""
    folder = tmp_path_factory.mktemp("certs")
    return {
        "loopback": make_certificate(
            folder, "loopback", cn="localhost", san="DNS:localhost,IP:127.0.0.1"
        ),
        "elsewhere": make_certificate(
            folder, "elsewhere", cn="mail.example.org", san="DNS:mail.example.org"
        ),
    }


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


class TlsServer:
    """A real SMTP server requiring login: STARTTLS (AUTH LOGIN only) or implicit TLS (AUTH PLAIN only)."""

    def __init__(self, certificate, *, implicit: bool):
        self.inbox, self.port = Inbox(), free_port()
        context = server_context(certificate)
        if implicit:  # aiosmtpd counts only STARTTLS as TLS for AUTH; this whole connection is TLS
            tls = {
                "ssl_context": context,
                "auth_require_tls": False,
                "auth_exclude_mechanism": ["LOGIN"],
            }
        else:
            tls = {
                "tls_context": context,
                "require_starttls": True,
                "auth_exclude_mechanism": ["PLAIN"],
            }
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=_authenticator,
            auth_required=True,
            **tls,
        )
        self.controller.start()

    def stop(self):
        self.controller.stop()


@pytest.fixture
def tls_server(certificates, request):
    """Parametrised by (certificate name, implicit TLS?)."""
    name, implicit = request.param
    running = TlsServer(certificates[name], implicit=implicit)
    yield running
    running.stop()


def tls_config(config, server: TlsServer, security: str, ca_file: Path | str):
    plain = smtp_config(config, server.port, username=USER, password=PASSWORD, ca_file=str(ca_file))
    return replace(plain, smtp=replace(plain.smtp, security=security))


STARTTLS, SMTPS = ("loopback", False), ("loopback", True)


@pytest.mark.parametrize(
    "tls_server, security",
    [(STARTTLS, "starttls"), (SMTPS, "ssl")],
    indirect=["tls_server"],
    ids=["starttls-login", "smtps-plain"],
)
def test_o3_welcome_goes_over_tls_with_login_to_a_server_trusted_through_ca_file(
    store, config, certificates, tls_server, security
):
    message_id = queue(CHILDREN)

    report = outbox.deliver_due(
        tls_config(config, tls_server, security, certificates["loopback"][0])
    )

    assert (report.sent, report.failed, report.problem) == (1, 0, "")
    [(envelope_to, message)] = tls_server.inbox.received
    assert envelope_to == ["cindy.testkiddo@example.com"] and message["Message-ID"] == message_id
    text = message.get_body(("plain",)).get_content()
    assert "Ava: JFKAY-TTJYV" in text and "Ben: ABCDE-FGHJK" in text
    assert (row(message_id).state, row(message_id).body_text) == ("sent", "")


@pytest.mark.parametrize(
    "tls_server, security",
    [(STARTTLS, "starttls"), (SMTPS, "ssl")],
    indirect=["tls_server"],
    ids=["starttls", "smtps"],
)
def test_o3_a_certificate_not_in_ca_file_fails_the_message_naming_the_certificate(
    store, config, certificates, tls_server, security
):
    message_id = queue(CHILDREN)
    wrong_ca = certificates["elsewhere"][0]

    report = outbox.deliver_due(tls_config(config, tls_server, security, wrong_ca))

    assert report.failed == 1 and tls_server.inbox.received == []
    reason = row(message_id).last_error
    assert reason == (
        f"the mail server 127.0.0.1:{tls_server.port} showed a certificate kiosk does not trust "
        f"(self-signed certificate): check smtp.host, and that the certificates in smtp.ca_file "
        f"{wrong_ca} include the server's"
    )
    assert report.problem == reason
    assert row(message_id).body_text  # not sent: kept for Retry once the setting is fixed


@pytest.mark.parametrize("tls_server", [STARTTLS], indirect=True)
def test_o3_verification_is_on_without_ca_file_too(store, config, tls_server):
    message_id = queue(CHILDREN)

    outbox.deliver_due(tls_config(config, tls_server, "starttls", ""))

    assert tls_server.inbox.received == []
    assert (
        "showed a certificate kiosk does not trust (self-signed certificate): check smtp.host, and that the "
        "system's trusted certificates include the server's"
    ) in row(message_id).last_error


@pytest.mark.parametrize(
    "tls_server, security",
    [(("elsewhere", False), "starttls"), (("elsewhere", True), "ssl")],
    indirect=["tls_server"],
    ids=["starttls", "smtps"],
)
def test_o3_a_certificate_for_another_host_name_fails_with_the_mismatch(
    store, config, certificates, tls_server, security
):
    message_id = queue(CHILDREN)

    report = outbox.deliver_due(
        tls_config(config, tls_server, security, certificates["elsewhere"][0])
    )

    assert report.failed == 1 and tls_server.inbox.received == []
    assert (
        "showed a certificate kiosk does not trust (IP address mismatch, certificate is not valid for "
        "'127.0.0.1'.): check smtp.host"
    ) in row(message_id).last_error


@pytest.mark.parametrize("tls_server", [STARTTLS], indirect=True)
def test_o3_a_ca_file_that_holds_no_certificate_fails_naming_the_setting(
    store, config, tls_server, tmp_path
):
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    message_id = queue(CHILDREN)

    report = outbox.deliver_due(tls_config(config, tls_server, "starttls", garbage))

    assert report.failed == 1 and tls_server.inbox.received == []
    assert row(message_id).last_error.startswith(
        f"smtp.ca_file {garbage} is not a certificate file kiosk can read ("
    )
