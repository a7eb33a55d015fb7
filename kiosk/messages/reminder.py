"""The reminder's words (W3): sent a few days before a family's PINs expire, with no PIN in it.

It says which children can still be registered, where the family's PIN is (the email or text
message it came in, or the slip the desk printed, and when) and the last day it works, in the
family's language (the catalogs of :mod:`kiosk.i18n`, I1). Names are data, put on one line and
HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from kiosk.i18n import Catalog, catalog
from kiosk.messages.welcome import Welcome
from kiosk.validate import one_line

WHERE = ("email", "text", "slip", "desk", "question")  # where the family's PIN (or question) is


def _where(t: Catalog, where: str) -> str:
    """Where the PIN is, and since when ({to}: the masked address or the cell's last digits)."""
    if where == "email":
        return t.gettext("Your registration PIN is in the email we sent to {to} on {sent}.")
    if where == "text":
        return t.gettext(
            "Your registration PIN is in the text message we sent to the cell ending in {to} on "
            "{sent}."
        )
    if where == "slip":
        return t.gettext(
            "Your registration PIN is on the printed slip the front desk gave you on {sent}."
        )
    if where == "question":
        return t.gettext(
            "You register with the verification question you set with the front desk on {sent}."
        )
    return t.gettext("The front desk gave you your registration PIN on {sent}.")


def compose_reminder(
    *,
    practice_name: str,
    portal_url: str,
    children: list[str],
    expires_on: dt.date,
    where: str,
    to: str = "",
    given_on: dt.date,
    language: str = "en",
) -> Welcome:
    """``children``: the first names still to register; ``where`` one of :data:`WHERE`; ``to`` the
    masked address (email) or the cell's last four digits (text). Never a PIN (W3)."""
    from babel.lists import format_list

    t = catalog(language)
    fill = {
        "practice": practice_name,
        "url": portal_url,
        "date": t.date(expires_on),
        "sent": t.date(given_on),
        "names": format_list([one_line(name) for name in children], locale=t.locale),
        "to": to,
    }
    paragraphs = [
        t.gettext(
            "This is a reminder from {practice}: you can still register {names} on the patient "
            "portal until {date}."
        ),
        _where(t, where),
    ]
    if where == "question":
        paragraphs.append(
            t.gettext("Go to {url}, enter your child's date of birth and answer the question.")
        )
    else:
        paragraphs += [
            t.gettext("Go to {url} and enter your child's date of birth and PIN."),
            t.gettext("For your security, this reminder does not repeat the PIN."),
        ]
    paragraphs += [
        t.gettext("After {date}, ask the front desk to set up registration again."),
        t.gettext(
            "If you have already registered, or did not expect this message, please call "
            "{practice}."
        ),
    ]
    text = "\n\n".join(p.format(**fill) for p in paragraphs) + "\n"
    safe = {key: escape(value) for key, value in fill.items()}
    safe["url"] = f'<a href="{safe["url"]}">{safe["url"]}</a>'
    subject = t.gettext("{practice}: a reminder to finish your patient portal registration")
    subject = subject.format(**fill)
    html = (
        f'<!DOCTYPE html>\n<html lang="{t.language}"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head><body>\n"
        + "\n".join(f"<p>{escape(p).format(**safe)}</p>" for p in paragraphs)
        + "\n</body></html>\n"
    )
    sms = t.gettext("{practice} portal: register {names} at {url} by {date}.").format(**fill)
    sms += " " + _where(t, where).format(**fill)
    return Welcome(subject, text, html, sms)
