"""The parents' registration page (P2): what the slip's QR code opens.

Plain server-rendered HTML (Jinja2, autoescaped), mobile-first, no JavaScript, in English and
Spanish. A parent types the child's birth date and PIN, makes an account or signs in, and sees the
children now on it; signed in, they add another child the same way.

State lives in sealed cookies (AES-GCM under the practice key, kiosk.security.seal), never in
the address: the QR's ``?pin=`` is moved into the form state and the browser sent back to the
clean address at once (303), so the PIN leaves neither history nor a Referer behind. The form
state also holds the CSRF token every form carries; a post without the matching state is refused.
Cookies are HttpOnly, SameSite=Strict, scoped to /register, and Secure over HTTPS. Every try is
the engine's (kiosk.registration.portal) with ``terminal="web:<address>"``, so its limits and replies apply.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kiosk import validate
from kiosk.config import Config
from kiosk.registration import portal
from kiosk.security import UnsealError, seal, unseal

PAGE = "/register"
FORM_COOKIE, SESSION_COOKIE, LANG_COOKIE = "kiosk_form", "kiosk_session", "kiosk_lang"
LANGUAGES = ("en", "es")
TEMPLATES = Path(__file__).with_name("templates")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Register for the patient portal",
        "intro": "Enter your child's date of birth and the "
        "PIN from the slip or message the front desk gave you.",
        "dob": "Child's date of birth",
        "pin": "PIN",
        "pin_hint": "Like ABCD-2345",
        "new": "I am new: make my account",
        "existing": "I already have an account",
        "name": "Your name",
        "email": "Email",
        "password": "Password",
        "password_hint": "At least 15 characters",
        "register": "Register",
        "children_title": "Your children",
        "none_yet": "No children on your account yet.",
        "add_title": "Add another child",
        "add": "Add child",
        "sign_out": "Sign out",
        "signed_in_as": "Signed in as",
        "added": "Done: your account now includes the child below.",
        "expired_title": "This page has expired",
        "expired": "For your safety the form is only good for a short while. Start again.",
        "start_again": "Start again",
        "other_language": "Español",
        "access": "Access",
        "dob_problem": "Enter the date of birth, like 2019-04-30.",
        "account": "Your account",
    },
    "es": {
        "title": "Regístrese en el portal de pacientes",
        "intro": "Escriba la fecha de nacimiento de su hijo "
        "o hija y el PIN de la hoja o del mensaje que le dio la recepción.",
        "dob": "Fecha de nacimiento",
        "pin": "PIN",
        "pin_hint": "Como ABCD-2345",
        "new": "Soy nuevo: crear mi cuenta",
        "existing": "Ya tengo una cuenta",
        "name": "Su nombre",
        "email": "Correo electrónico",
        "password": "Contraseña",
        "password_hint": "Al menos 15 caracteres",
        "register": "Registrar",
        "children_title": "Sus hijos",
        "none_yet": "Aún no hay niños en su cuenta.",
        "add_title": "Agregar otro hijo o hija",
        "add": "Agregar",
        "sign_out": "Cerrar sesión",
        "signed_in_as": "Sesión de",
        "added": "Listo: su cuenta ahora incluye al niño de abajo.",
        "expired_title": "Esta página caducó",
        "expired": "Por su seguridad, el formulario vale por poco tiempo. Empiece de nuevo.",
        "start_again": "Empezar de nuevo",
        "other_language": "English",
        "access": "Acceso",
        "dob_problem": "Escriba la fecha de nacimiento, como 2019-04-30.",
        "account": "Su cuenta",
    },
}
# The engine's words a parent can meet, in Spanish; any other is shown as the engine says it.
ENGINE_ES = {
    portal.GENERIC: "La fecha de nacimiento y el PIN no coinciden con un registro que podamos usar ahora. "
    "Revise ambos y vuelva a intentarlo; después de varios intentos, espere 15 minutos o "
    "pregunte en la recepción.",
    portal.EXPIRED: "Este PIN caducó. Pida uno nuevo en la recepción.",
    "Email or password is not right.": "El correo o la contraseña no son correctos.",
    "An account with this email already exists: sign in instead.": "Ya existe una cuenta con este correo: inicie sesión.",
    "Enter your name.": "Escriba su nombre.",
    "Enter a valid email address, like name@example.com.": "Escriba un correo válido, como nombre@ejemplo.com.",
    "Full Access": "Acceso completo",
    "Limited: No Chart Access": "Limitado: sin acceso al expediente",
}

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))


def _language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE, "")
    if asked in LANGUAGES:
        return asked
    accepted = request.headers.get("accept-language", "").lower()
    return "es" if accepted.startswith("es") else "en"


def _say(lang: str, words: str) -> str:
    return ENGINE_ES.get(words, words) if lang == "es" else words


class _State:
    """One sealed cookie's contents: a JSON object with an expiry (``exp``, epoch seconds)."""

    @staticmethod
    def read(request: Request, name: str) -> dict[str, Any] | None:
        stored = request.cookies.get(name, "")
        if not stored:
            return None
        try:
            state = json.loads(unseal("portal page", stored, name))
        except (UnsealError, ValueError, TypeError):
            return None
        return state if isinstance(state, dict) and state.get("exp", 0) > time.time() else None

    @staticmethod
    def write(
        response: Response, request: Request, name: str, state: dict[str, Any], minutes: float
    ) -> None:
        state = {**state, "exp": time.time() + minutes * 60}
        response.set_cookie(
            name,
            seal("portal page", json.dumps(state), name),
            max_age=int(minutes * 60),
            path=PAGE,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def build_page(app: FastAPI, config: Config) -> None:
    form_minutes, session_minutes = config.serve.form_minutes, config.serve.session_minutes

    def render(
        request: Request,
        template: str,
        lang: str,
        form: dict[str, Any],
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        page = _env.get_template(template).render(
            t=TEXT[lang],
            lang=lang,
            other="es" if lang == "en" else "en",
            csrf=form["csrf"],
            practice=portal_practice_name(),
            say=lambda words: _say(lang, words),
            **values,
        )
        response = HTMLResponse(page, status_code=status)
        _State.write(response, request, FORM_COOKIE, form, form_minutes)
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 86400,
            path=PAGE,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    def fresh_form(request: Request) -> dict[str, Any]:
        return _State.read(request, FORM_COOKIE) or {"csrf": secrets.token_urlsafe(24)}

    def signed_in(request: Request) -> portal.PortalLogin | None:
        session = _State.read(request, SESSION_COOKIE)
        return portal.account(int(session["account"])) if session and "account" in session else None

    async def posted(request: Request) -> tuple[dict[str, str], dict[str, Any] | None]:
        """The form's fields, and its state when its CSRF token matches (else None)."""
        data = await request.form()
        fields = {k: v for k, v in data.items() if isinstance(v, str)}
        form = _State.read(request, FORM_COOKIE)
        if form is None or not hmac.compare_digest(
            str(form.get("csrf", "")), fields.get("csrf", "")
        ):
            return fields, None
        return fields, form

    def expired(request: Request, lang: str) -> HTMLResponse:
        return render(
            request, "expired.html", lang, {"csrf": secrets.token_urlsafe(24)}, status=403
        )

    def terminal(request: Request) -> str:
        from kiosk.web.server import client_address

        return f"web:{client_address(request)}"

    @app.get(PAGE, response_class=HTMLResponse, include_in_schema=False)
    def start(request: Request) -> Response:
        lang = _language(request)
        form = fresh_form(request)
        if (
            "pin" in request.query_params
        ):  # the QR's address: keep the PIN in the form state, clean the bar
            form = {**form, "pin": validate.one_line(request.query_params["pin"])[:32]}
            response: Response = RedirectResponse(f"{PAGE}?lang={lang}", status_code=303)
            _State.write(response, request, FORM_COOKIE, form, form_minutes)
            return response
        return render(
            request,
            "register.html",
            lang,
            form,
            account=signed_in(request),
            values={},
            pin=form.get("pin", ""),
            problem=None,
        )

    @app.post(PAGE, response_class=HTMLResponse, include_in_schema=False)
    async def register(request: Request) -> Response:
        lang = _language(request)
        fields, form = await posted(request)
        if form is None:
            return expired(request, lang)
        login = signed_in(request)
        values = {k: fields.get(k, "") for k in ("dob", "name", "email", "mode")}
        pin = fields.get("pin", "")

        def again(problem: str, field: str) -> HTMLResponse:
            response = render(
                request,
                "register.html",
                lang,
                form,
                status=400,
                account=login,
                values=values,
                pin=pin,
                problem={"error": _say(lang, problem), "field": field},
            )
            if (
                login is not None
            ):  # the account is made (or signed in to) even when the PIN is refused
                _State.write(
                    response, request, SESSION_COOKIE, {"account": login.id}, session_minutes
                )
            return response

        dob = validate.parse_date(fields.get("dob", ""))
        if dob is None:
            return again(TEXT[lang]["dob_problem"], "dob")
        try:
            if login is None:
                email, password = fields.get("email", ""), fields.get("password", "")
                if fields.get("mode") == "existing":
                    login = await _in_thread(
                        portal.sign_in, email, password, terminal=terminal(request)
                    )
                else:
                    login = await _in_thread(
                        portal.create_account, email, fields.get("name", ""), password
                    )
            await _in_thread(portal.redeem, login.id, dob, pin=pin, terminal=terminal(request))
        except portal.PortalError as error:
            return again(str(error), error.field or "pin")
        response = RedirectResponse(f"{PAGE}/children?lang={lang}&added=1", status_code=303)
        _State.write(response, request, SESSION_COOKIE, {"account": login.id}, session_minutes)
        _State.write(
            response, request, FORM_COOKIE, {"csrf": form["csrf"]}, form_minutes
        )  # the PIN is spent
        return response

    @app.get(f"{PAGE}/children", response_class=HTMLResponse, include_in_schema=False)
    def children(request: Request) -> Response:
        lang = _language(request)
        login = signed_in(request)
        if login is None:
            return RedirectResponse(f"{PAGE}?lang={lang}", status_code=303)
        return render(
            request,
            "children.html",
            lang,
            fresh_form(request),
            account=login,
            children=portal.children_of(login.id),
            added=request.query_params.get("added") == "1",
        )

    @app.post(f"{PAGE}/sign-out", include_in_schema=False)
    async def sign_out(request: Request) -> Response:
        lang = _language(request)
        _, form = await posted(request)
        if form is None:
            return expired(request, lang)
        response = RedirectResponse(f"{PAGE}?lang={lang}", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PAGE)
        return response

    @app.get(f"{PAGE}/style.css", include_in_schema=False)
    def style() -> Response:
        return Response(
            (TEMPLATES / "style.css").read_text(encoding="utf-8"), media_type="text/css"
        )


async def _in_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """The engine blocks (the database, password hashing, the reply floor): off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args, **kwargs)


def portal_practice_name() -> str:
    from kiosk.store.models import Practice

    row = Practice.select(Practice.name).first()
    return row.name if row else ""
