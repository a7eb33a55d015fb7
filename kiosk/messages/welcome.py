"""The welcome message's words: one message per family (R6), no DOB or chart number (S7).

:func:`compose_welcome` takes only what the parent needs: the practice, the portal URL, each
child's first name with the grouped PIN (``""`` when that child registers by verification
question, R10), the expiry date (S3) and the family's language. It returns a subject, a plain
text body, an HTML alternative, and a short body for a text message (R7). Names are data: they
are put on one line and HTML-escaped, never allowed to shape the message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape
from typing import Any

from kiosk.terms import language_of, long_date
from kiosk.validate import one_line

# Every sentence of the message, per language. {practice}, {url}, {date} are filled in.
_WORDS = {
    "en": {
        "subject": "{practice}: your patient portal registration",
        "greeting": "Welcome to the {practice} patient portal.",
        "pins_one": "Your child's registration PIN:",
        "pins_many": "Your children's registration PINs:",
        "question_list": "Register with the verification question the front desk set with you:",
        "next": "What to do next:",
        "go": "Go to {url}",
        "create_pin": "Create your account: enter your child's date of birth and PIN.",
        "create_question": (
            "Create your account: enter your child's date of birth and answer the verification "
            "question the front desk set with you."
        ),
        "create_mixed": (
            "Create your account: enter your child's date of birth and PIN (for a child listed "
            "without a PIN, answer the verification question the front desk set with you)."
        ),
        "another": (
            'Choose "Add another child" to add each further child the same way. You can also do this '
            "later under My Account > Add child/dependent."
        ),
        "expires_one": "The PIN expires on {date}. After that, ask the front desk for a new one.",
        "expires_many": "The PINs expire on {date}. After that, ask the front desk for new ones.",
        "register_by": "Please register by {date}. After that, ask the front desk to set up registration again.",
        "closing": "If you did not expect this message, please call {practice}.",
        "sms_pins": "{practice} portal PIN{s}: {items}. Register at {url} by {date}.",
        "sms_question": (
            "{practice} portal: register {items} at {url} by {date}, answering the verification "
            "question from the front desk."
        ),
        "sms_no_pin": "verification question",
    },
    "es": {
        "subject": "{practice}: su registro en el portal de pacientes",
        "greeting": "Le damos la bienvenida al portal de pacientes de {practice}.",
        "pins_one": "PIN de registro de su hijo o hija:",
        "pins_many": "PIN de registro de sus hijos:",
        "question_list": "Regístrese con la pregunta de verificación que acordó con la recepción:",
        "next": "Qué hacer ahora:",
        "go": "Vaya a {url}",
        "create_pin": "Cree su cuenta: ingrese la fecha de nacimiento de su hijo o hija y el PIN.",
        "create_question": (
            "Cree su cuenta: ingrese la fecha de nacimiento de su hijo o hija y responda la "
            "pregunta de verificación que acordó con la recepción."
        ),
        "create_mixed": (
            "Cree su cuenta: ingrese la fecha de nacimiento de su hijo o hija y el PIN (para un niño "
            "que aparece sin PIN, responda la pregunta de verificación que acordó con la recepción)."
        ),
        "another": (
            'Elija "Add another child" (Agregar otro hijo) para agregar a cada uno de los demás niños de '
            "la misma manera. También puede hacerlo después en My Account > Add child/dependent."
        ),
        "expires_one": "El PIN vence el {date}. Después de esa fecha, pida uno nuevo en la recepción.",
        "expires_many": "Los PIN vencen el {date}. Después de esa fecha, pida otros nuevos en la recepción.",
        "register_by": (
            "Regístrese a más tardar el {date}. Después de esa fecha, pida en la recepción que "
            "preparen el registro de nuevo."
        ),
        "closing": "Si no esperaba este mensaje, llame a {practice}.",
        "sms_pins": "PIN del portal de {practice}: {items}. Regístrese en {url} a más tardar el {date}.",
        "sms_question": (
            "Portal de {practice}: registre a {items} en {url} a más tardar el {date}, respondiendo "
            "la pregunta de verificación de la recepción."
        ),
        "sms_no_pin": "pregunta de verificación",
    },
}


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
) -> Welcome:
    """``children`` is (first name, grouped PIN) for every child registered together; PIN "" = question."""
    words = _WORDS[language_of(language)]
    fill = {"practice": practice_name, "url": portal_url, "date": long_date(expires_on, language)}
    with_pin = [(one_line(name), pin) for name, pin in children if pin]
    by_question = [one_line(name) for name, pin in children if not pin]

    # The message as blocks: ("p", sentence), ("h", heading of the list below), ("pins", [(name, pin)]), ("names", [name]), ("ol", [step]).
    blocks: list[Block] = [("p", words["greeting"])]
    if with_pin:
        blocks += [
            ("h", words["pins_one" if len(with_pin) == 1 else "pins_many"]),
            ("pins", with_pin),
        ]
    if by_question:
        blocks += [("h", words["question_list"]), ("names", by_question)]
    create = (
        "create_mixed"
        if with_pin and by_question
        else "create_pin"
        if with_pin
        else "create_question"
    )
    steps = [words["go"], words[create]] + ([words["another"]] if len(children) > 1 else [])
    blocks += [("h", words["next"]), ("ol", steps)]
    expiry = (
        "register_by" if not with_pin else "expires_one" if len(with_pin) == 1 else "expires_many"
    )
    blocks += [("p", words[expiry]), ("p", words["closing"])]

    subject = words["subject"].format(**fill)
    return Welcome(
        subject,
        _render_text(blocks, fill),
        _render_html(blocks, fill, subject, language_of(language)),
        _compose_sms(words, fill, with_pin, by_question),
    )


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
    words: dict[str, str],
    fill: dict[str, str],
    with_pin: list[tuple[str, str]],
    by_question: list[str],
) -> str:
    """First names, PINs, URL and expiry: short enough for a text message."""
    if not with_pin:
        return words["sms_question"].format(items=", ".join(by_question), **fill)
    items = [f"{name} {pin}" for name, pin in with_pin] + [
        f"{name} ({words['sms_no_pin']})" for name in by_question
    ]
    return words["sms_pins"].format(
        items=", ".join(items), s="s" if len(with_pin) > 1 else "", **fill
    )
