"""Sending welcome messages over SMTP: email, and text messages through carrier gateways (R7).

Imported only when something is sent (smtplib, ssl and email are slow to load). One SMTP
session serves a whole delivery run; the server's errors are turned into
:class:`kiosk.messages.outbox.SendFailure` with words the front desk can act on.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from functools import partial

from kiosk.config import SmtpConfig
from kiosk.messages.outbox import Outgoing, Sender, SendFailure
from kiosk.terms import Channel, SmtpSecurity


class SmtpLink:
    """One SMTP session, opened on first use, checked before each message, closed at the end."""

    def __init__(self, config: SmtpConfig):
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage, recipient: str) -> None:
        try:
            smtp = self._connection()
            smtp.send_message(message, from_addr=self.config.sender, to_addrs=[recipient])
        except (smtplib.SMTPException, OSError) as error:
            if not isinstance(
                error, smtplib.SMTPRecipientsRefused
            ):  # the session is still good after that one
                self.close()
            raise failure_from(error, self.config) from None

    def greet(self) -> None:
        """Connect, say EHLO (and STARTTLS and log in as configured), and leave: no mail (kiosk doctor)."""
        try:
            self._connection().ehlo_or_helo_if_needed()
        except (smtplib.SMTPException, OSError) as error:
            raise failure_from(error, self.config) from None
        finally:
            self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        self._smtp = self._open()
        return self._smtp

    def _open(self) -> smtplib.SMTP:
        c = self.config
        context = tls_context(c) if c.security != SmtpSecurity.NONE else None
        if c.security == SmtpSecurity.SSL:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                c.host, c.port, timeout=c.timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_seconds)
        try:
            if c.security == SmtpSecurity.STARTTLS:
                smtp.starttls(context=context)
            if c.username:
                smtp.login(c.username, c.password)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _settings_fault(reason: str) -> SendFailure:
    """The server or kiosk's smtp settings are wrong: trying again will not help, and the run stops
    instead of failing every message."""
    return SendFailure(reason, permanent=True, stop=True)


def tls_context(config: SmtpConfig) -> ssl.SSLContext:
    """Certificates checked and host names verified, always: against ``smtp.ca_file`` when it is
    set (only those certificates are trusted), else against the system's trust store."""
    if not config.ca_file:
        return ssl.create_default_context()
    path = os.path.expanduser(config.ca_file)
    try:
        return ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError) as error:
        why = (
            getattr(error, "reason", None)
            or getattr(error, "strerror", None)
            or type(error).__name__
        )
        raise _settings_fault(
            f"smtp.ca_file {config.ca_file} is not a certificate file kiosk can read ({why})"
        ) from None


def failure_from(error: Exception, config: SmtpConfig) -> SendFailure:
    """What went wrong, whether trying again can help, and whether the server itself is the problem."""
    server = f"{config.host}:{config.port}"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return _settings_fault(
            f"the mail server refused kiosk's login ({_reply(error)}): check smtp.username and "
            "smtp.password"
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return _settings_fault(
            f"the mail server {server} does not offer what smtp.security asks for ({error}): "
            "check smtp.security and smtp.port"
        )
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        permanent = code >= 500
        return SendFailure(
            f"the mail server refused the address ({code} {_text(text)})"
            + ("" if permanent else ": will try again"),
            permanent=permanent,
        )
    if isinstance(error, smtplib.SMTPSenderRefused):
        return SendFailure(
            f"the mail server refused the sender address {config.sender} ({_reply(error)}): "
            "check smtp.sender",
            permanent=error.smtp_code >= 500,
            stop=True,
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        # smtplib reports a server that never answered as a closed connection ("... timed out")
        silent = str(error).endswith("timed out")
        what = (
            f"did not answer in {config.timeout_seconds:g} s" if silent else "closed the connection"
        )
        return SendFailure(
            f"the mail server {server} {what}: will try again",
            permanent=False,
            stop=True,
        )
    if isinstance(error, smtplib.SMTPResponseException):
        permanent = error.smtp_code >= 500
        greeting = isinstance(error, (smtplib.SMTPConnectError, smtplib.SMTPHeloError))
        what = (  # a failed greeting (a web server on that port, a busy server): no message yet
            f"{server} did not greet kiosk as a mail server does ({_reply(error)})"
            if greeting
            else f"did not take the message ({_reply(error)})"
        )
        return SendFailure(
            f"the mail server {what}" + ("" if permanent else ": will try again"),
            permanent=permanent,
            stop=isinstance(error, (smtplib.SMTPConnectError, smtplib.SMTPHeloError)),
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        trusted = (
            f"the certificates in smtp.ca_file {config.ca_file}"
            if config.ca_file
            else "the system's trusted certificates"
        )
        return _settings_fault(
            f"the mail server {server} showed a certificate kiosk does not trust "
            f"({error.verify_message or error.reason}): check smtp.host, and that {trusted} "
            "include the server's"
        )
    if isinstance(error, ssl.SSLError):
        return _settings_fault(
            f"could not make a secure connection to {server} ({error.reason or error}): check "
            "smtp.security and smtp.port"
        )
    if isinstance(error, OSError):
        why = error.strerror or type(error).__name__
        return SendFailure(
            f"could not reach the mail server {server} ({why}): will try again",
            permanent=False,
            stop=True,
        )
    return SendFailure(f"sending failed ({type(error).__name__})", permanent=False, stop=True)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reply(error: smtplib.SMTPResponseException) -> str:
    return f"{error.smtp_code} {_text(error.smtp_error)}".strip()


def _headers(message: Outgoing, sender: str, display_name: str = "") -> EmailMessage:
    email = EmailMessage()
    email["From"] = Address(display_name=display_name, addr_spec=sender) if display_name else sender
    email["To"] = message.recipient
    email["Date"] = formatdate(localtime=True)
    email["Message-ID"] = message.message_id  # stable: a retry is recognisably the same message
    email["Auto-Submitted"] = "auto-generated"
    return email


def build_email(message: Outgoing, sender: str, practice_name: str) -> EmailMessage:
    """The welcome email: subject, plain text, and the HTML alternative."""
    email = _headers(message, sender, practice_name)
    email["Subject"] = message.subject
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    email["Content-Language"] = (
        message.language
    )  # after the body: set_content replaces Content-* headers
    return email


def build_text(message: Outgoing, sender: str) -> EmailMessage:
    """A text message through a carrier's email-to-SMS gateway: the short body only, no subject."""
    email = _headers(message, sender)
    email.set_content(message.text)
    return email


class LinkSender:
    """A Sender over the shared SMTP session; ``build`` makes the email from a message and the
    configured sender address (email, or R7's carrier gateway text: an SMS provider is another Sender)."""

    def __init__(self, link: SmtpLink, build: Callable[[Outgoing, str], EmailMessage]):
        self.link, self.build = link, build

    def send(self, message: Outgoing) -> str:
        self.link.send(self.build(message, self.link.config.sender), message.recipient)
        return ""

    def close(self) -> None:
        self.link.close()


def smtp_senders(config: SmtpConfig, *, practice_name: str) -> dict[str, Sender]:
    """Email and text senders sharing one SMTP session."""
    link = SmtpLink(config)
    return {
        Channel.EMAIL: LinkSender(link, partial(build_email, practice_name=practice_name)),
        Channel.TEXT: LinkSender(link, build_text),
    }
