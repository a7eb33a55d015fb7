"""The welcome message's words: one message per family (R6), no DOB or chart number (S7).

:func:`compose_welcome` takes only what the parent needs: the practice, the portal URL, each
child's first name with the grouped PIN (``""`` when that child registers by verification
question, R10), the expiry date (S3) and the family's language. A PIN sent to the minor (T1)
speaks to the teen: their own PIN, their own account, no "your child". It returns a subject, a plain
text body, an HTML alternative, and a short body for a text message (R7). Names are data: they
are put on one line and HTML-escaped, never allowed to shape the message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from typing import Any

from kiosk.i18n import Catalog, catalog
from kiosk.validate import one_line

Block = tuple[
    str, Any
]  # (kind, content): the content's type goes with its kind, see compose_welcome


@dataclass(frozen=True)
class Welcome:
    subject: str
    text: str
    html: str
    sms: str = ""  # the short body for a text message (R7)


def compose_welcome(
    *,
    practice_name: str,
    portal_url: str,
    children: list[tuple[str, str]],
    expires_on: dt.date,
    language: str = "en",
    to_minor: bool = False,
) -> Welcome:
    """``children`` is (first name, grouped PIN) for every child registered together; PIN "" = question.

    ``to_minor``: Send to Minor (T1), one patient reading about their own account."""
    t = catalog(language)
    fill = {"practice": practice_name, "url": portal_url, "date": t.date(expires_on)}
    with_pin = [(one_line(name), pin) for name, pin in children if pin]
    by_question = [one_line(name) for name, pin in children if not pin]

    # The message as blocks: ("p", sentence), ("h", heading of the list below), ("pins", [(name, pin)]), ("names", [name]), ("ol", [step]).
    # Sentences keep their {practice}, {url}, {date} until rendered (escaped first for HTML).
    blocks: list[Block] = [("p", t.gettext("Welcome to the {practice} patient portal."))]
    if with_pin and to_minor:
        blocks += [("h", t.gettext("Your own registration PIN:")), ("pins", with_pin)]
    elif with_pin:
        heading = t.ngettext(
            "Your child's registration PIN:", "Your children's registration PINs:", len(with_pin)
        )
        blocks += [("h", heading), ("pins", with_pin)]
    if by_question:
        heading = t.gettext("Register with the verification question the front desk set with you:")
        blocks += [("h", heading), ("names", by_question)]
    create = (
        _own_step(t, bool(with_pin))
        if to_minor
        else _create_step(t, bool(with_pin), bool(by_question))
    )
    steps = [t.gettext("Go to {url}"), create]
    if len(children) > 1 and not to_minor:
        steps.append(_another_step(t))
    blocks += [("h", t.gettext("What to do next:")), ("ol", steps)]
    if with_pin:
        expiry = t.ngettext(
            "The PIN expires on {date}. After that, ask the front desk for a new one.",
            "The PINs expire on {date}. After that, ask the front desk for new ones.",
            len(with_pin),
        )
    else:
        expiry = t.gettext(
            "Please register by {date}. After that, ask the front desk to set up registration again."
        )
    if to_minor:
        own = t.gettext(
            "This is your own portal account, not your parent's: keep your PIN and password to "
            "yourself."
        )
        blocks.append(("p", own))
    blocks += [
        ("p", expiry),
        ("p", t.gettext("If you did not expect this message, please call {practice}.")),
    ]

    subject = t.gettext("{practice}: your patient portal registration").format(**fill)
    return Welcome(
        subject,
        _render_text(blocks, fill),
        _render_html(blocks, fill, subject, t.language),
        _compose_sms(t, fill, with_pin, by_question),
    )


def _create_step(t: Catalog, with_pin: bool, by_question: bool) -> str:
    if with_pin and by_question:
        return t.gettext(
            "Create your account: enter your child's date of birth and PIN (for a child listed "
            "without a PIN, answer the verification question the front desk set with you)."
        )
    if with_pin:
        return t.gettext("Create your account: enter your child's date of birth and PIN.")
    return t.gettext(
        "Create your account: enter your child's date of birth and answer the verification "
        "question the front desk set with you."
    )


def _own_step(t: Catalog, with_pin: bool) -> str:
    """T1: the teen makes their own account with their own date of birth."""
    if with_pin:
        return t.gettext("Create your own account: enter your date of birth and your PIN.")
    return t.gettext(
        "Create your own account: enter your last name, date of birth and the answer to the "
        "verification question the front desk set with you."
    )


def _another_step(t: Catalog) -> str:
    """Names the buttons by the labels the parent sees on them (I1): the same msgids as parent
    mode's and the portal page's, so a Spanish message never names an English button."""
    menu = " > ".join((t.gettext("My Account"), t.gettext("Add child/dependent")))
    return t.gettext(
        'Choose "{button}" to add each further child the same way. You can also do this later '
        "under {menu}."
    ).format(button=t.gettext("Add another child"), menu=menu)


def _render_text(blocks: list[Block], fill: dict[str, str]) -> str:
    lines: list[str] = []
    for kind, content in blocks:
        if kind == "p":
            lines += [content.format(**fill), ""]
        elif kind == "h":
            lines.append(content.format(**fill))
        elif kind == "pins":
            lines += [f"  {name}: {pin}" for name, pin in content] + [""]
        elif kind == "names":
            lines += [f"  {name}" for name in content] + [""]
        else:
            lines += [f"{n}. {step.format(**fill)}" for n, step in enumerate(content, 1)] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _render_html(blocks: list[Block], fill: dict[str, str], subject: str, language: str) -> str:
    url = escape(fill["url"])
    link = f'<a href="{url}">{url}</a>'
    safe = {key: escape(value) for key, value in fill.items()} | {"url": link}
    parts = [
        (
            f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8"><title>{escape(subject)}'
            "</title></head><body>"
        )
    ]
    for kind, content in blocks:
        if kind in ("p", "h"):
            parts.append(f"<p>{escape(content).format(**safe)}</p>")
        elif kind == "pins":
            parts.append(
                "<ul>"
                + "".join(
                    f"<li>{escape(name)}: <strong>{escape(pin)}</strong></li>"
                    for name, pin in content
                )
                + "</ul>"
            )
        elif kind == "names":
            parts.append("<ul>" + "".join(f"<li>{escape(name)}</li>" for name in content) + "</ul>")
        else:
            parts.append(
                "<ol>"
                + "".join(f"<li>{escape(step).format(**safe)}</li>" for step in content)
                + "</ol>"
            )
    return "\n".join(parts) + "\n</body></html>\n"


def _compose_sms(
    t: Catalog,
    fill: dict[str, str],
    with_pin: list[tuple[str, str]],
    by_question: list[str],
) -> str:
    """First names, PINs, URL and expiry: short enough for a text message."""
    if not with_pin:
        return t.gettext(
            "{practice} portal: register {items} at {url} by {date}, answering the verification "
            "question from the front desk."
        ).format(items=", ".join(by_question), **fill)
    no_pin = t.gettext("verification question")
    items = [f"{name} {pin}" for name, pin in with_pin] + [
        f"{name} ({no_pin})" for name in by_question
    ]
    return t.ngettext(
        "{practice} portal PIN: {items}. Register at {url} by {date}.",
        "{practice} portal PINs: {items}. Register at {url} by {date}.",
        len(with_pin),
    ).format(items=", ".join(items), **fill)
