"""The message a parent gets when their access ends because the patient came of age (T2).

One message per parent, through the outbox (O3), in the parent's language. Like the welcome it
names the patient by first name only: no date of birth, age or chart number (S7).
"""

from __future__ import annotations

from html import escape

from kiosk.messages.welcome import Welcome
from kiosk.terms import language_of
from kiosk.validate import one_line

_WORDS = {
    "en": {
        "subject": "{practice}: your portal access for {name} has ended",
        "body": (
            "{name} has reached the age of majority, so your access to {name}'s record in the "
            "{practice} patient portal has ended."
        ),
        "own": "{name} can ask the front desk for a portal account of their own.",
        "closing": "If you have questions, please call {practice}.",
        "sms": "{practice}: your portal access for {name} has ended ({name} is now an adult).",
    },
    "es": {
        "subject": "{practice}: su acceso al portal para {name} ha terminado",
        "body": (
            "{name} ha alcanzado la mayoría de edad, por lo que su acceso al expediente de {name} "
            "en el portal de pacientes de {practice} ha terminado."
        ),
        "own": "{name} puede pedir en la recepción una cuenta propia en el portal.",
        "closing": "Si tiene preguntas, llame a {practice}.",
        "sms": "{practice}: su acceso al portal para {name} ha terminado ({name} ya es adulto).",
    },
}


def compose_majority_notice(*, practice_name: str, given_name: str, language: str) -> Welcome:
    """T2: the words a parent reads when the patient's majority ends their access."""
    words = _WORDS[language_of(language)]
    fill = {"practice": one_line(practice_name), "name": one_line(given_name)}
    sentences = [words[key].format(**fill) for key in ("body", "own", "closing")]
    html_fill = {key: escape(value) for key, value in fill.items()}
    html = "".join(f"<p>{words[key].format(**html_fill)}</p>" for key in ("body", "own", "closing"))
    return Welcome(
        words["subject"].format(**fill),
        "\n\n".join(sentences) + "\n",
        f"<html><body>{html}</body></html>",
        words["sms"].format(**fill),
    )
