"""The reminder's words (W3): sent a few days before a family's PINs expire, with no PIN in it.

It says which children can still be registered, where the family's PIN is (the email or text
message it came in, or the slip the desk printed, and when) and the last day it works. English and
Spanish, in the welcome's pattern (:mod:`kiosk.messages.welcome`); names are data, put on one
line and HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from kiosk.messages.welcome import Welcome
from kiosk.terms import language_of, long_date
from kiosk.validate import one_line

# {practice}, {url}, {date} (the last day), {names}, {sent} (when the PIN was given), {to} (masked
# address or the cell's last digits) are filled in.
_WORDS = {
    "en": {
        "subject": "{practice}: a reminder to finish your patient portal registration",
        "still": "This is a reminder from {practice}: you can still register {names} on the patient "
        "portal until {date}.",
        "where_email": "Your registration PIN is in the email we sent to {to} on {sent}.",
        "where_text": "Your registration PIN is in the text message we sent to the cell ending in "
        "{to} on {sent}.",
        "where_slip": "Your registration PIN is on the printed slip the front desk gave you on {sent}.",
        "where_desk": "The front desk gave you your registration PIN on {sent}.",
        "where_question": "You register with the verification question you set with the front desk "
        "on {sent}.",
        "go_pin": "Go to {url} and enter your child's date of birth and PIN.",
        "go_question": "Go to {url}, enter your child's date of birth and answer the question.",
        "no_pin": "For your security, this reminder does not repeat the PIN.",
        "after": "After {date}, ask the front desk to set up registration again.",
        "closing": "If you have already registered, or did not expect this message, please call "
        "{practice}.",
        "sms": "{practice} portal: register {names} at {url} by {date}. {where}",
        "and": "and",
    },
    "es": {
        "subject": "{practice}: recordatorio para completar su registro en el portal de pacientes",
        "still": "Le recordamos de parte de {practice} que todavía puede registrar a {names} en el "
        "portal de pacientes hasta el {date}.",
        "where_email": "Su PIN de registro está en el correo electrónico que enviamos a {to} el {sent}.",
        "where_text": "Su PIN de registro está en el mensaje de texto que enviamos al celular que "
        "termina en {to} el {sent}.",
        "where_slip": "Su PIN de registro está en la hoja impresa que le dio la recepción el {sent}.",
        "where_desk": "La recepción le dio su PIN de registro el {sent}.",
        "where_question": "Usted se registra con la pregunta de verificación que acordó con la "
        "recepción el {sent}.",
        "go_pin": "Vaya a {url} e ingrese la fecha de nacimiento de su hijo o hija y el PIN.",
        "go_question": "Vaya a {url}, ingrese la fecha de nacimiento de su hijo o hija y responda la "
        "pregunta.",
        "no_pin": "Por su seguridad, este recordatorio no repite el PIN.",
        "after": "Después del {date}, pida en la recepción que preparen el registro de nuevo.",
        "closing": "Si ya se registró o no esperaba este mensaje, llame a {practice}.",
        "sms": "Portal de {practice}: registre a {names} en {url} a más tardar el {date}. {where}",
        "and": "y",
    },
}

WHERE = ("email", "text", "slip", "desk", "question")  # where the family's PIN (or question) is


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
    words = _WORDS[language_of(language)]
    names = [one_line(name) for name in children]
    joined = ", ".join(names[:-1]) + f" {words['and']} {names[-1]}" if len(names) > 1 else names[0]
    fill = {
        "practice": practice_name,
        "url": portal_url,
        "date": long_date(expires_on, language),
        "sent": long_date(given_on, language),
        "names": joined,
        "to": to,
    }
    go = "go_question" if where == "question" else "go_pin"
    keys = ["still", f"where_{where}", go, *(["no_pin"] if where != "question" else [])]
    paragraphs = [words[key] for key in [*keys, "after", "closing"]]
    text = "\n\n".join(p.format(**fill) for p in paragraphs) + "\n"
    safe = {key: escape(value) for key, value in fill.items()}
    safe["url"] = f'<a href="{safe["url"]}">{safe["url"]}</a>'
    subject = words["subject"].format(**fill)
    html = (
        f'<!DOCTYPE html>\n<html lang="{language_of(language)}"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head><body>\n"
        + "\n".join(f"<p>{escape(p).format(**safe)}</p>" for p in paragraphs)
        + "\n</body></html>\n"
    )
    sms = words["sms"].format(where=words[f"where_{where}"].format(**fill), **fill)
    return Welcome(subject, text, html, sms)
