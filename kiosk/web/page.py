"""The parents' registration page (P2): what the slip's QR code opens.

Plain server-rendered HTML (Jinja2, autoescaped), mobile-first, no JavaScript, in every language
kiosk has a catalog for (I1: the templates' ``_("...")`` and the engine's messages are msgids). A parent types the child's birth date and PIN, makes an account or signs in, and sees the
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

from kiosk import i18n, validate
from kiosk.config import Config
from kiosk.i18n import LANGUAGES, N_
from kiosk.registration import portal
from kiosk.security import UnsealError, seal, unseal

PAGE = "/register"
FORM_COOKIE, SESSION_COOKIE, LANG_COOKIE = "kiosk_form", "kiosk_session", "kiosk_lang"
TEMPLATES = Path(__file__).with_name("templates")

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))


def _language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE, "")
    if asked in LANGUAGES:
        return asked
    # The browser's languages in the order it lists them (its q-values rarely reorder them).
    for tag in request.headers.get("accept-language", "").split(","):
        offered = i18n.offered(tag.split(";")[0])
        if offered is not None:
            return offered
    return i18n.SOURCE


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
        t = i18n.catalog(lang)
        page = _env.get_template(template).render(
            _=t.gettext,
            say=t.say,
            lang=lang,
            others=[(code, i18n.catalog(code).name) for code in LANGUAGES if code != lang],
            min_password=portal.MIN_PASSWORD,
            csrf=form["csrf"],
            practice=portal_practice_name(),
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
                problem={"error": i18n.catalog(lang).say(problem), "field": field},
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
            return again(N_("Enter the date of birth, like 2019-04-30."), "dob")
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
            return again(error.message, error.field or "pin")
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
