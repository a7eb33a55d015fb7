"""The message a parent gets when their access ends because the patient came of age (T2).

One message per parent, through the outbox (O3), in the parent's language (the catalogs of
:mod:`kiosk.i18n`, I1). Like the welcome it names the patient by first name only: no date of
birth, age or chart number (S7). Names are data, put on one line and HTML-escaped.
"""

from __future__ import annotations

from html import escape

from kiosk.i18n import catalog
from kiosk.messages.welcome import Welcome
from kiosk.validate import one_line


def compose_majority_notice(*, practice_name: str, given_name: str, language: str) -> Welcome:
    """T2: the words a parent reads when the patient's majority ends their access."""
    t = catalog(language)
    fill = {"practice": one_line(practice_name), "name": one_line(given_name)}
    paragraphs = [
        t.gettext(
            "{name} has reached the age of majority, so your access to {name}'s record in the "
            "{practice} patient portal has ended."
        ),
        t.gettext("{name} can ask the front desk for a portal account of their own."),
        t.gettext("If you have questions, please call {practice}."),
    ]
    subject = t.gettext("{practice}: your portal access for {name} has ended").format(**fill)
    safe = {key: escape(value) for key, value in fill.items()}
    html = (
        f'<!DOCTYPE html>\n<html lang="{t.language}"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head><body>\n"
        + "\n".join(f"<p>{escape(p).format(**safe)}</p>" for p in paragraphs)
        + "\n</body></html>\n"
    )
    return Welcome(
        subject,
        "\n\n".join(p.format(**fill) for p in paragraphs) + "\n",
        html,
        t.gettext("{practice}: your portal access for {name} has ended.").format(**fill),
    )
