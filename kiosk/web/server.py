"""`kiosk serve`: the portal's redemption API (P1) and the parents' registration page (P2).

FastAPI under uvicorn (the optional extra ``portal``): FastAPI checks every request body against
typed models and writes the OpenAPI document from the same code, so the document kept in the
repo (docs/portal-openapi.json, ``kiosk portal openapi``) cannot drift from what is served
without a test failing. The endpoints are plain functions: FastAPI runs them in its thread pool,
and each thread has its own database connection (peewee keeps them per thread).

Every try goes through kiosk.registration.portal, the engine parent mode uses, with ``terminal`` set to
``api:<address>`` (``web:<address>`` for the page): the guessing limits (S4, S8) count per
source address, per child, and across the practice, and the replies are the engine's uniform
ones. Behind the TLS proxy (P3) the address is the parent's, from X-Forwarded-For, believed only
from ``serve.forwarded_allow_ips``. Secrets never reach a log: uvicorn's access log is off (the
QR's address carries the PIN), and unexpected errors go to the scrubbed error log (S9).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kiosk import __version__, validate
from kiosk.config import Config
from kiosk.registration import portal
from kiosk.web import tokens as portal_tokens

API = "/api/v1"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'"
    ),
    "cache-control": "no-store",
    "pragma": "no-cache",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


class Problem(BaseModel):
    """A refusal: ``error`` is what to show the parent, ``field`` the input it belongs next to."""

    error: str
    field: str = ""


class Attempt(BaseModel):
    """A birth date with the child's PIN, or with the family name and the answer to its question."""

    dob: dt.date
    pin: str = Field("", max_length=32)
    family_name: str = Field("", max_length=validate.NAME)
    answer: str = Field("", max_length=validate.ANSWER)


class QuestionLookup(BaseModel):
    dob: dt.date
    family_name: str = Field(max_length=validate.NAME)


class QuestionOut(BaseModel):
    question: str | None = Field(
        description="null when none can be shown (the same reply for every reason)"
    )


class NewAccount(BaseModel):
    email: str = Field(max_length=validate.EMAIL)
    display_name: str = Field(max_length=validate.DISPLAY_NAME)
    password: str = Field(max_length=validate.PASSWORD)


class SignIn(BaseModel):
    email: str = Field(max_length=validate.EMAIL)
    password: str = Field(max_length=validate.PASSWORD)


class AccountOut(BaseModel):
    id: int
    email: str
    display_name: str


class ChildOut(BaseModel):
    patient_id: int
    given_name: str
    access: str = Field(description="Full Access or Limited: No Chart Access (R9)")


class PinOut(BaseModel):
    method: str
    state: str
    access: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    redemptions: int


class RegistrationOut(BaseModel):
    patient_id: int
    portal_status: str
    accounts: int
    parents_per_pin: int
    pins: list[PinOut]
    locked_until: dt.datetime | None


REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "refused: the engine's uniform words"},
    401: {"model": Problem, "description": "no live API token"},
}


def client_address(request: Request) -> str:
    """The caller's address: the parent's behind the proxy (uvicorn --proxy-headers, P3)."""
    return (request.client.host if request.client else "") or "unknown"


_bearer = HTTPBearer(auto_error=False, description="a token from kiosk portal token create NAME")


class Unauthorized(Exception):
    pass


def portal_client(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The token's name; a missing, unknown or revoked token is refused (401)."""
    name = portal_tokens.authenticate(credentials.credentials) if credentials else None
    if name is None:
        raise Unauthorized
    return name


Client = Annotated[str, Depends(portal_client)]


def _terminal(request: Request, client: str) -> str:
    """Whose budget a try counts against (S8, P3): the address the proxy passed on, per portal token,
    so one portal's guessing never pauses another portal calling from the same address (nor the
    page, ``web:<address>``). The engine keeps 64 characters: the address comes first."""
    return f"api:{client_address(request)}/{client}"


def _child(redeemed: portal.Redeemed | portal.Child) -> ChildOut:
    return ChildOut(
        patient_id=redeemed.patient_id, given_name=redeemed.given_name, access=redeemed.access
    )


def _account(login: portal.PortalLogin) -> AccountOut:
    return AccountOut(id=login.id, email=login.email, display_name=login.display_name)


def build_api(app: FastAPI) -> None:
    """The JSON endpoints (P1)."""

    @app.post(f"{API}/check", response_model=ChildOut, responses=REFUSED, tags=["redeem"])
    def check(body: Attempt, request: Request, client: Client) -> ChildOut:
        """Whether a birth date and PIN (or family name and answer) would redeem now, and for which
        child; links nothing. Counted, audited and limited like a redemption (S4, S8)."""
        return _child(
            portal.check(
                body.dob,
                pin=body.pin,
                family_name=body.family_name,
                answer=body.answer,
                terminal=_terminal(request, client),
            )
        )

    @app.post(f"{API}/question", response_model=QuestionOut, responses=REFUSED, tags=["redeem"])
    def question(body: QuestionLookup, request: Request, client: Client) -> QuestionOut:
        """The verification question set for a child (R10), for the question route."""
        return QuestionOut(
            question=portal.question_for(
                body.dob, body.family_name, terminal=_terminal(request, client)
            )
        )

    @app.post(
        f"{API}/accounts",
        response_model=AccountOut,
        status_code=201,
        responses=REFUSED,
        tags=["accounts"],
    )
    def create_account(body: NewAccount, _: Client) -> AccountOut:
        """A new portal account (R12); the password policy is the engine's (S12)."""
        return _account(portal.create_account(body.email, body.display_name, body.password))

    @app.post(f"{API}/sign-in", response_model=AccountOut, responses=REFUSED, tags=["accounts"])
    def sign_in(body: SignIn, request: Request, client: Client) -> AccountOut:
        """An existing account by email and password; wrong passwords slow the email down (S12)."""
        return _account(
            portal.sign_in(body.email, body.password, terminal=_terminal(request, client))
        )

    @app.post(
        f"{API}/accounts/{{account_id}}/redemptions",
        response_model=ChildOut,
        status_code=201,
        responses=REFUSED,
        tags=["redeem"],
    )
    def redeem(account_id: int, body: Attempt, request: Request, client: Client) -> ChildOut:
        """Tie the child to the account with the access level its PIN carries (R9, R12); a second
        parent redeems the same PIN into their own account (R13)."""
        if portal.account(account_id) is None:
            raise portal.PortalError("There is no such account.", "account")
        return _child(
            portal.redeem(
                account_id,
                body.dob,
                pin=body.pin,
                family_name=body.family_name,
                answer=body.answer,
                terminal=_terminal(request, client),
            )
        )

    @app.get(
        f"{API}/accounts/{{account_id}}/children",
        response_model=list[ChildOut],
        responses=REFUSED,
        tags=["accounts"],
    )
    def children(account_id: int, _: Client) -> list[ChildOut]:
        """The children an account is tied to, with each one's access level."""
        if portal.account(account_id) is None:
            raise portal.PortalError("There is no such account.", "account")
        return [_child(c) for c in portal.children_of(account_id)]

    @app.get(
        f"{API}/registrations/{{patient_id}}",
        response_model=RegistrationOut,
        responses=REFUSED,
        tags=["registrations"],
    )
    def registration(patient_id: int, _: Client) -> RegistrationOut:
        """Where a child's registration stands: status, tied accounts, PINs (no secret), lock (S4)."""
        state = portal.registration_state(patient_id)
        if state is None:
            raise portal.PortalError("There is no such patient.", "patient")
        return RegistrationOut(
            patient_id=state.patient_id,
            portal_status=state.portal_status,
            accounts=state.accounts,
            parents_per_pin=state.parents_per_pin,
            locked_until=state.locked_until,
            pins=[
                PinOut(
                    method=p.method,
                    state=p.state,
                    access=p.access,
                    issued_at=p.issued_at,
                    expires_at=p.expires_at,
                    redemptions=p.redemptions,
                )
                for p in state.pins
            ],
        )


class Guard:
    """Around everything (P2, S9): every reply carries SECURITY_HEADERS (nothing cached, never
    framed), and an unexpected error becomes a plain 500 here, written to the scrubbed error log
    only. Left to Starlette, the error would go on up to uvicorn, which prints its traceback, and
    with it the exception's text (a PIN, a birth date), to standard error."""

    def __init__(self, app: ASGIApp, config: Config):
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode().lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception as error:  # noqa: BLE001  (the last line of defence: logged scrubbed, S9)
            if started:  # the reply is under way: nothing else can be said
                return
            await _unexpected(self.config, scope, error)(scope, receive, with_headers)


def _unexpected(config: Config, scope: Scope, error: Exception) -> JSONResponse:
    from kiosk.errors import database_problem, log_error
    from kiosk.store.db import TransactionConflict

    problem = database_problem(error)
    if isinstance(error, TransactionConflict) or problem is not None:
        words = str(error) if problem is None else problem.words
        return JSONResponse({"error": words, "field": ""}, status_code=503)
    log_error(
        config.error_log,
        error,
        f"kiosk serve {scope.get('method', '')} {scope.get('path', '')}",
        secrets=(config.sms.auth_token, config.smtp.password),
    )
    return JSONResponse(
        {"error": "Something went wrong on our side; try again.", "field": ""}, status_code=500
    )


SMS_STATUS = "/sms/status"


def build_sms_status(app: FastAPI, config: Config) -> None:
    """I2: the SMS provider's status callback. The provider posts each delivery status of a text
    kiosk sent (MessageSid, MessageStatus, ErrorCode) to ``sms.status_callback``, signed with the
    account's auth token; an unsigned or wrongly signed post changes nothing (403)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    from kiosk.messages.outbox import record_delivery
    from kiosk.messages.sms import signature_ok

    @app.post(SMS_STATUS, include_in_schema=False)
    async def sms_status(request: Request) -> Response:
        if not config.sms.configured:
            return Response(status_code=404)
        form = await request.form()
        params = {name: str(value) for name, value in form.items()}
        # the address the provider signed: the public one it was given (behind the TLS proxy
        # the request arrives at another), else this request's own
        url = config.sms.status_callback or str(request.url)
        given = request.headers.get("X-Twilio-Signature", "")
        if not signature_ok(config.sms.auth_token, url, params, given):
            return Response(status_code=403)
        await run_in_threadpool(
            record_delivery,
            params.get("MessageSid", ""),
            params.get("MessageStatus", ""),
            params.get("ErrorCode", ""),
        )
        return Response(status_code=204)


def create_app(config: Config) -> FastAPI:
    """The whole service on the open store (kiosk.store.practice.open_store was called)."""
    app = FastAPI(
        lifespan=_thread_pool(config.serve.threads),
        title="kiosk portal API",
        version=__version__,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,
        redoc_url=None,
        description="Redeem registration PINs for a practice's patient portal (P1). Every call "
        "needs an API token: Authorization: Bearer kpt_...",
    )
    build_api(app)
    from kiosk.web import page as portal_page

    portal_page.build_page(app, config)
    build_sms_status(app, config)
    _handle_errors(app, config)
    app.add_middleware(Guard, config=config)
    return app


def _thread_pool(threads: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Size the thread pool the endpoints run in (serve.threads): each thread holds a database
    connection, and more threads than the database can serve at once only wait on its locks while
    they take the GIL from the ones working."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan


def _handle_errors(app: FastAPI, config: Config) -> None:
    @app.exception_handler(Unauthorized)
    def unauthorized(request: Request, error: Unauthorized) -> JSONResponse:
        return JSONResponse(
            {"error": "A live API token is needed (Authorization: Bearer ...).", "field": ""},
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )

    @app.exception_handler(portal.PortalError)
    def refused(request: Request, error: portal.PortalError) -> JSONResponse:
        return JSONResponse({"error": str(error), "field": error.field}, status_code=400)

    @app.exception_handler(RequestValidationError)
    def malformed(request: Request, error: RequestValidationError) -> JSONResponse:
        # which field, never its value: pydantic's own reply echoes the input (a PIN, a birth date)
        first = error.errors()[0] if error.errors() else {}
        field = str((first.get("loc") or ("", ""))[-1])
        return JSONResponse(
            {"error": f"{field or 'The request'} is missing or not valid.", "field": field},
            status_code=422,
        )


def openapi_text(app: FastAPI) -> str:
    """The OpenAPI document as kept in docs/portal-openapi.json."""
    import json

    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def uvicorn_config(
    config: Config,
    app: FastAPI | str,
    *,
    host: str | None = None,
    port: int | None = None,
    **overrides: Any,
) -> Any:
    """How kiosk runs uvicorn (P3): the client's address from X-Forwarded-For only when it comes from
    ``serve.forwarded_allow_ips``; no access log (the QR's address carries a PIN, S9)."""
    settings: dict[str, Any] = dict(
        host=host or config.serve.host,
        port=port or config.serve.port,
        proxy_headers=True,
        forwarded_allow_ips=config.serve.forwarded_allow_ips,
        access_log=False,
        server_header=False,
        log_level="info",
    )
    return uvicorn.Config(app, **{**settings, **overrides})


def serve(
    config: Config, *, host: str | None = None, port: int | None = None, workers: int = 1
) -> None:
    """Run the service until interrupted. ``workers`` > 1 runs that many processes on one socket
    (uvicorn's supervisor), each with its own connections: nothing is kept in a process (the page's
    form state is sealed in cookies; every limit, S4 and S8, is counted in the database, so it
    holds across processes as across threads)."""
    if workers <= 1:
        uvicorn.Server(uvicorn_config(config, create_app(config), host=host, port=port)).run()
        return
    from uvicorn.supervisors import Multiprocess

    settings = uvicorn_config(config, "kiosk.web.server:create_app", host=host, port=port)
    worker = WorkerConfig(
        settings.app,
        kiosk_config=config,
        **{k: getattr(settings, k) for k in _PASSED_ON},
        workers=workers,
    )
    Multiprocess(worker, sockets=[worker.bind_socket()]).run()


_PASSED_ON = (
    "host",
    "port",
    "proxy_headers",
    "forwarded_allow_ips",
    "access_log",
    "server_header",
    "log_level",
)


class WorkerConfig(uvicorn.Config):
    """What each worker process of ``serve(workers=N)`` is given: uvicorn's settings and kiosk's
    config, from which the worker opens the store and makes the app when uvicorn loads it there."""

    def __init__(self, app: Any, *, kiosk_config: Config, **settings: Any):
        super().__init__(app, **settings)
        self.kiosk_config = kiosk_config

    def load(self) -> None:
        from kiosk.store.practice import open_store

        open_store(self.kiosk_config)
        self.app = create_app(self.kiosk_config)
        super().load()
