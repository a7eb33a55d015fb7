"""The welcome message's words: one message per family (R6), no DOB or chart number (S7)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Welcome:
    subject: str
    text: str
    html: str


def compose_welcome(*, practice_name: str, portal_url: str, children: list[tuple[str, str]],
                    expires_on: dt.date, language: str = "en") -> Welcome:
    """``children`` is (first name, grouped PIN) for every child registered together."""
    lines = [f"  {name}: {pin}" for name, pin in children]
    subject = f"{practice_name}: your patient portal registration"
    text = "\n".join([
        f"Welcome to the {practice_name} patient portal.",
        "",
        f"Go to {portal_url} and create your account.",
        "Enter your child's date of birth and the PIN below. Use 'Add another child' for each further PIN.",
        "",
        *lines,
        "",
        f"These PINs expire on {expires_on:%B %d, %Y}.",
    ])
    items = "".join(f"<li>{escape(name)}: <b>{escape(pin)}</b></li>" for name, pin in children)
    html = (f"<p>Welcome to the {escape(practice_name)} patient portal.</p>"
            f"<p>Go to <a href=\"{escape(portal_url)}\">{escape(portal_url)}</a> and create your account.</p>"
            f"<ul>{items}</ul><p>These PINs expire on {expires_on:%B %d, %Y}.</p>")
    return Welcome(subject, text, html)
