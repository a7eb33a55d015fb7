"""Configuration: a TOML file, then environment variables, over defaults that start anywhere.

Precedence, lowest first: built-in defaults, the TOML file (``--config``, ``KIOSK_CONFIG``, or
``config.toml`` in the platform config directory when it exists), then ``KIOSK_*`` variables.
A bad value raises :class:`ConfigError` naming the key, so the CLI can print one clear line.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from kiosk.people.contact import valid_email
from kiosk.terms import (  # LANGUAGES: the catalogs there are (I1)
    LANGUAGES,
    Access,
    Glyphs,
    IdCheck,
    SmtpSecurity,
    is_one_of,
)

APP_NAME = "kiosk"

T = TypeVar("T")


class ConfigError(ValueError):
    """One bad configuration value: ``key`` is the dotted name the user wrote."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config {key}: {message}")
        self.key = key


def _within(low: float, high: float, default: float) -> Any:
    """A number setting and the range it must fall in (checked at load with the key named)."""
    return field(default=default, metadata={"range": (low, high)})


@dataclass(frozen=True)
class PracticeConfig:
    name: str = "Sunny Hills Pediatrics"
    portal_url: str = "https://portal.example.org/register"
    # what the slip's QR code opens, with {pin} for the first child's PIN; empty: portal_url
    qr_url: str = ""
    pin_lifetime_days: int = _within(1, 365, 30)
    idle_lock_minutes: float = _within(0.25, 60, 2.0)
    reminder_days: int = _within(0, 60, 0)  # W3: remind this many days before PINs expire; 0: off
    teen_age: int = _within(1, 21, 12)  # T1, T2: Send to Minor; parents' teen access
    majority_age: int = _within(2, 25, 18)  # T2: parents' associations end
    teen_parent_access: str = "limited"  # T1, T2: an Access, parents' access to a teen
    id_check_default: str = "photo id"  # T5: an IdCheck, the register screen's starting choice


@dataclass(frozen=True)
class SmtpConfig:
    host: str = ""
    port: int = _within(1, 65535, 587)
    security: str = SmtpSecurity.STARTTLS  # a SmtpSecurity
    username: str = ""
    password: str = ""
    sender: str = "portal@example.org"
    # 0, a negative number or nan would leave a message claimed as "sending" and never answered
    timeout_seconds: float = _within(1, 600, 20.0)
    ca_file: str = (
        ""  # PEM file of certificates to trust for STARTTLS/SSL; empty: the system's trust store
    )


@dataclass(frozen=True)
class SmsConfig:
    """A Twilio-style Messages REST API for text messages (I2). Set ``account_sid`` to use it."""

    account_sid: str = ""  # the account's SID (AC...), the user name of the API's Basic auth
    auth_token: str = field(default="", repr=False)  # a secret: never shown, logged or written
    from_number: str = ""  # the sending number in E.164 (+13175550100) ...
    messaging_service_sid: str = ""  # ... or a messaging service (MG...) that picks one
    base_url: str = "https://api.twilio.com"
    # the public https address of `kiosk serve`'s status route (/sms/status), handed to the
    # provider with each message; empty: delivery is read back by polling (kiosk outbox send)
    status_callback: str = ""
    timeout_seconds: float = _within(1, 120, 20.0)

    @property
    def configured(self) -> bool:
        return bool(self.account_sid)


@dataclass(frozen=True)
class PrinterConfig:
    name: str = ""  # CUPS queue for `lp -d`; empty means save the PDF and say where
    layout: str = "letter"  # letter | a4 | receipt
    output_dir: str = ""  # where slip PDFs are saved; empty means the data directory
    # D1, S11: the group whose members (the staff who reprint) may open saved slips in output_dir;
    # empty: kiosk's user only
    output_group: str = ""
    keep_minutes: float = _within(
        0, 7 * 24 * 60, 60.0
    )  # a saved slip PDF holds PINs: deleted after this (S11)
    # I1: font files (FILE, or FILE.ttc#N for a face of a collection) for the scripts the shipped
    # fonts lack, tried in order; empty: Noto Sans CJK from fonts-noto-cjk when it is installed
    fonts: tuple[str, ...] = ()


@dataclass(frozen=True)
class TerminalConfig:
    """One desk, ``[terminals.NAME]`` (D1): its printer and slip layout (empty: the [printer] ones),
    the language of its slips and messages when a family has none, and the SSH source addresses
    (an address or a network such as 10.1.2.0/24) that pick it when nothing else names a terminal."""

    printer: str = ""
    layout: str = ""
    language: str = ""
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServeConfig:
    """`kiosk serve`, the portal's API and the parents' registration page (P1-P3)."""

    host: str = "127.0.0.1"  # behind the TLS proxy (P3): loopback unless the proxy is elsewhere
    port: int = _within(1, 65535, 8800)
    # P3: the proxies whose X-Forwarded-For is believed (uvicorn's forwarded_allow_ips): the limits
    # count the parent's address only when it comes from one of these
    forwarded_allow_ips: str = "127.0.0.1"
    form_minutes: float = _within(
        1, 120, 15.0
    )  # how long a page's form, and a PIN moved into it, stay good
    session_minutes: float = _within(1, 24 * 60, 30.0)  # a parent signed in on the page (P2)
    # P1: requests served at once per worker process, each with its own database connection (on
    # PostgreSQL, workers x threads of the server's connections)
    threads: int = _within(1, 64, 8)


@dataclass(frozen=True)
class Config:
    database: str = ""  # a file path or a database URL; empty means the platform data directory
    pin_key_file: str = ""  # key that makes PIN hashes irreversible without it
    log_file: str = ""  # the error log (S9); empty means errors.log in the data directory
    audit_anchor_file: str = (
        ""  # where `kiosk audit anchor` appends (S10); empty: beside the database
    )
    training: bool = False
    terminal: str = (
        ""  # this desk's name (D1): --terminal, KIOSK_TERMINAL, or chosen from [terminals]
    )
    language: str = (
        ""  # slips and messages for a family with no language of its own (I1); empty: en
    )
    glyphs: str = Glyphs.AUTO  # a Glyphs: the Linux console's characters and colours, or all
    practice: PracticeConfig = field(default_factory=PracticeConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    sms: SmsConfig = field(default_factory=SmsConfig)
    printer: PrinterConfig = field(default_factory=PrinterConfig)
    terminals: dict[str, TerminalConfig] = field(default_factory=dict)
    serve: ServeConfig = field(default_factory=ServeConfig)

    @property
    def data_dir(self) -> Path:
        return default_data_dir()

    @property
    def error_log(self) -> Path:
        """Where unexpected errors are written (0600, secrets scrubbed: kiosk.errors.log_error)."""
        return Path(self.log_file).expanduser() if self.log_file else self.data_dir / "errors.log"

    def with_database(self, database: str) -> Config:
        return replace(self, database=database)


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


# Environment variables and the dotted key each one sets.
ENV_KEYS = {
    "KIOSK_DB": "database",
    "KIOSK_PIN_KEY_FILE": "pin_key_file",
    "KIOSK_LOG_FILE": "log_file",
    "KIOSK_AUDIT_ANCHOR_FILE": "audit_anchor_file",
    "KIOSK_TERMINAL": "terminal",
    "KIOSK_LANGUAGE": "language",
    "KIOSK_GLYPHS": "glyphs",
    "KIOSK_PRACTICE_NAME": "practice.name",
    "KIOSK_PORTAL_URL": "practice.portal_url",
    "KIOSK_QR_URL": "practice.qr_url",
    "KIOSK_PIN_LIFETIME_DAYS": "practice.pin_lifetime_days",
    "KIOSK_IDLE_LOCK_MINUTES": "practice.idle_lock_minutes",
    "KIOSK_REMINDER_DAYS": "practice.reminder_days",
    "KIOSK_TEEN_AGE": "practice.teen_age",
    "KIOSK_MAJORITY_AGE": "practice.majority_age",
    "KIOSK_TEEN_PARENT_ACCESS": "practice.teen_parent_access",
    "KIOSK_ID_CHECK_DEFAULT": "practice.id_check_default",
    "KIOSK_SMTP_HOST": "smtp.host",
    "KIOSK_SMTP_PORT": "smtp.port",
    "KIOSK_SMTP_SECURITY": "smtp.security",
    "KIOSK_SMTP_USERNAME": "smtp.username",
    "KIOSK_SMTP_PASSWORD": "smtp.password",
    "KIOSK_SMTP_SENDER": "smtp.sender",
    "KIOSK_SMTP_CA_FILE": "smtp.ca_file",
    "KIOSK_SMTP_TIMEOUT_SECONDS": "smtp.timeout_seconds",
    "KIOSK_SMS_ACCOUNT_SID": "sms.account_sid",
    "KIOSK_SMS_AUTH_TOKEN": "sms.auth_token",
    "KIOSK_SMS_FROM_NUMBER": "sms.from_number",
    "KIOSK_SMS_MESSAGING_SERVICE_SID": "sms.messaging_service_sid",
    "KIOSK_SMS_BASE_URL": "sms.base_url",
    "KIOSK_SMS_STATUS_CALLBACK": "sms.status_callback",
    "KIOSK_SMS_TIMEOUT_SECONDS": "sms.timeout_seconds",
    "KIOSK_PRINTER": "printer.name",
    "KIOSK_SLIP_LAYOUT": "printer.layout",
    "KIOSK_SLIP_DIR": "printer.output_dir",
    "KIOSK_SLIP_GROUP": "printer.output_group",
    "KIOSK_SLIP_KEEP_MINUTES": "printer.keep_minutes",
    "KIOSK_SLIP_FONTS": "printer.fonts",
    "KIOSK_SERVE_HOST": "serve.host",
    "KIOSK_SERVE_PORT": "serve.port",
    "KIOSK_FORWARDED_ALLOW_IPS": "serve.forwarded_allow_ips",
}

_DATABASE_SCHEMES = {"postgres", "postgresql", "sqlite"}
_SECTIONS = {
    "practice": PracticeConfig,
    "smtp": SmtpConfig,
    "sms": SmsConfig,
    "printer": PrinterConfig,
    "serve": ServeConfig,
}


def load_config(
    path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Read the config file (if any) and the environment; raise ConfigError on a bad value."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    explicit = path or env.get("KIOSK_CONFIG")
    file = Path(explicit) if explicit else default_config_path()
    if explicit and not file.is_file():
        raise ConfigError(
            "file", f"{file} " + ("is a folder, not a file" if file.is_dir() else "does not exist")
        )
    if file.is_file():
        raw = _read_toml(file)
    for var, key in ENV_KEYS.items():
        if var in env:
            section, _, name = key.rpartition(".")
            (raw.setdefault(section, {}) if section else raw)[name] = env[var]
    return config_from_mapping(raw)


def _read_toml(file: Path) -> dict[str, Any]:
    import tomllib  # only when there is a file: most desks start on defaults and KIOSK_* variables

    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("file", f"{file} is not valid TOML ({error})") from None
    except UnicodeDecodeError:
        raise ConfigError("file", f"{file} is not UTF-8 text") from None
    except OSError as error:
        raise ConfigError("file", f"cannot read {file}: {error.strerror or error}") from None


def config_from_mapping(raw: Mapping[str, Any]) -> Config:
    top: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "terminals":
            top[key] = _terminals(value)
        elif key in _SECTIONS:
            if not isinstance(value, Mapping):
                raise ConfigError(key, "must be a table of settings")
            settings = dict(value)
            fonts = settings.pop("fonts", None) if key == "printer" else None
            top[key] = _build(_SECTIONS[key], settings, key + ".")
            if fonts is not None:
                top[key] = replace(top[key], fonts=_fonts("printer.fonts", fonts))
        elif key in {f.name for f in fields(Config)}:
            top[key] = _coerce(Config, key, value, "")
        else:
            raise ConfigError(key, "is not a setting kiosk knows")
    config = Config(**top)
    _validate(config)
    return config


TERMINAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _terminals(value: Any) -> dict[str, TerminalConfig]:
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ConfigError("terminals", "must be tables like [terminals.front-1]")
    desks = {}
    for name, settings in value.items():
        if not TERMINAL_NAME.fullmatch(name):
            raise ConfigError(
                f"terminals.{name}",
                "a terminal name is letters, digits, '.', '_' or '-' (at most 64)",
            )
        fixed = dict(settings)
        addresses = fixed.pop("addresses", [])
        desks[name] = replace(
            _build(TerminalConfig, fixed, f"terminals.{name}."),
            addresses=_addresses(f"terminals.{name}.addresses", addresses),
        )
    return desks


def _addresses(key: str, value: Any) -> tuple[str, ...]:
    import ipaddress

    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError(
            key, f'must be a list of addresses like ["10.1.2.7", "10.1.3.0/24"], not {value!r}'
        )
    for item in items:
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise ConfigError(key, f"{item!r} is not an IP address or network") from None
    return tuple(i.strip() for i in items)


def _build(cls: type[T], values: Mapping[str, Any], prefix: str) -> T:
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]  # cls is one of the dataclasses
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(prefix + key, "is not a setting kiosk knows")
        kwargs[key] = _coerce(cls, key, value, prefix)
    return cls(**kwargs)


def _coerce(cls: type, key: str, value: Any, prefix: str) -> Any:
    """``value`` as the type the setting is declared with. A TOML file gives typed values, which
    must be that type (``database = 5`` is refused, not made the file name "5"); the environment
    gives text, which is converted. Numbers must be finite and within the declared range."""
    spec = {f.name: f for f in fields(cls)}[key]
    kind, name = spec.type, prefix + key
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, str) else None
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(name, f"must be true or false, not {value!r}")
    if kind in {"int", "float"}:
        return _number(name, kind, value, spec.metadata.get("range"))
    if not isinstance(value, str):
        raise ConfigError(name, f"must be text (in quotes), not {value!r}")
    text = value.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ConfigError(name, "must not contain control characters (a line break, a tab, NUL)")
    return text


def _number(name: str, kind: str, value: Any, bounds: tuple[float, float] | None) -> int | float:
    whole = kind == "int"
    wanted = f"must be a {'whole ' if whole else ''}number"
    if (
        isinstance(value, bool)
        or not isinstance(value, (str, int, float))
        or (whole and isinstance(value, float))
    ):
        raise ConfigError(name, f"{wanted}, not {value!r}")
    try:
        number = (int if whole else float)(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise ConfigError(name, f"{wanted}, not {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(name, f"{wanted}, not {value!r}")
    if bounds is not None and not bounds[0] <= number <= bounds[1]:
        raise ConfigError(name, f"must be between {bounds[0]:g} and {bounds[1]:g}")
    return number


def _validate(config: Config) -> None:
    practice = config.practice
    if not practice.name:
        raise ConfigError("practice.name", "must not be empty")
    url = urlparse(practice.portal_url)
    if url.scheme not in {"http", "https"} or not url.netloc:
        raise ConfigError(
            "practice.portal_url", f"must be an http(s) URL, not {practice.portal_url!r}"
        )
    _validate_qr_url(practice.qr_url)
    if practice.teen_age >= practice.majority_age:
        raise ConfigError(
            "practice.teen_age",
            f"must be below practice.majority_age ({practice.majority_age}), not {practice.teen_age}",
        )
    if not is_one_of(Access, practice.teen_parent_access):
        raise ConfigError(
            "practice.teen_parent_access",
            f"must be full or limited, not {practice.teen_parent_access!r}",
        )
    if not is_one_of(IdCheck, practice.id_check_default):
        raise ConfigError(
            "practice.id_check_default",
            f"must be one of {', '.join(repr(str(c)) for c in IdCheck)}, "
            f"not {practice.id_check_default!r}",
        )
    if not is_one_of(SmtpSecurity, config.smtp.security):
        raise ConfigError(
            "smtp.security", f"must be none, starttls or ssl, not {config.smtp.security!r}"
        )
    if (
        config.database
        and "://" not in config.database
        and Path(config.database).expanduser().is_dir()
    ):
        raise ConfigError(
            "database",
            f"{config.database} is a folder; give the database file's path or a postgresql:// URL",
        )
    if (
        config.database
        and "://" in config.database
        and urlparse(config.database).scheme not in _DATABASE_SCHEMES
    ):
        raise ConfigError(
            "database",
            f"must be a file path or a postgresql:// URL, not a "
            f"{urlparse(config.database).scheme}:// URL",
        )
    for key, what in (
        ("pin_key_file", "key file"),
        ("log_file", "error log"),
        ("audit_anchor_file", "anchor file"),
    ):
        value = getattr(config, key)
        if value and Path(value).expanduser().is_dir():
            raise ConfigError(key, f"{value} is a folder; give the {what}'s path")
    if any(ch.isspace() or ch in "/@" for ch in config.smtp.host):
        raise ConfigError(
            "smtp.host", f"must be a host name like smtp.example.org, not {config.smtp.host!r}"
        )
    if not valid_email(config.smtp.sender):
        raise ConfigError(
            "smtp.sender",
            f"must be an email address like portal@example.org, not {config.smtp.sender!r}",
        )
    if config.smtp.ca_file and not Path(config.smtp.ca_file).expanduser().is_file():
        raise ConfigError(
            "smtp.ca_file",
            f"{config.smtp.ca_file} is not a file (give a PEM certificate file, or "
            "leave it empty to trust the system's certificates)",
        )
    _validate_sms(config.sms)
    if any(ch.isspace() or ch in "/#" for ch in config.printer.name):
        raise ConfigError(
            "printer.name",
            f"must be a CUPS queue name (no spaces, / or #), not {config.printer.name!r}",
        )
    if config.printer.output_dir and Path(config.printer.output_dir).expanduser().is_file():
        raise ConfigError(
            "printer.output_dir",
            f"{config.printer.output_dir} is a file; give a folder for slip PDFs",
        )
    if config.printer.output_group:
        _validate_slip_group(config.printer)
    if any(ch.isspace() or ch in "/@" for ch in config.serve.host) or not config.serve.host:
        raise ConfigError(
            "serve.host",
            f"must be an address to listen on like 127.0.0.1, not {config.serve.host!r}",
        )
    if config.serve.forwarded_allow_ips.strip() != "*":  # P3: the proxies believed, or * for any
        _addresses("serve.forwarded_allow_ips", config.serve.forwarded_allow_ips)
    if config.printer.layout not in {"letter", "a4", "receipt"}:
        raise ConfigError(
            "printer.layout", f"must be letter, a4 or receipt, not {config.printer.layout!r}"
        )
    if not is_one_of(Glyphs, config.glyphs):
        raise ConfigError("glyphs", f"must be one of {', '.join(Glyphs)}, not {config.glyphs!r}")
    if config.language not in {"", *LANGUAGES}:
        raise ConfigError(
            "language", f"must be one of {', '.join(LANGUAGES)}, not {config.language!r}"
        )
    if config.terminal and not TERMINAL_NAME.fullmatch(config.terminal):
        raise ConfigError(
            "terminal",
            f"a terminal name is at most 64 letters, digits, '.', '_' or '-', not {config.terminal!r}",
        )
    for name, desk in config.terminals.items():
        if any(ch.isspace() or ch in "/#" for ch in desk.printer):
            raise ConfigError(
                f"terminals.{name}.printer", f"must be a CUPS queue name, not {desk.printer!r}"
            )
        if desk.layout not in {"", "letter", "a4", "receipt"}:
            raise ConfigError(
                f"terminals.{name}.layout", f"must be letter, a4 or receipt, not {desk.layout!r}"
            )
        if desk.language not in {"", *LANGUAGES}:
            raise ConfigError(
                f"terminals.{name}.language",
                f"must be one of {', '.join(LANGUAGES)}, not {desk.language!r}",
            )


E164 = re.compile(r"\+[1-9]\d{7,14}")


def _validate_slip_group(printer: PrinterConfig) -> None:
    """D1: a shared slip folder needs a folder of its own (not kiosk's data folder, in its home)
    and a group that exists on this server."""
    import grp

    if not printer.output_dir:
        raise ConfigError(
            "printer.output_group",
            "needs printer.output_dir: a folder outside kiosk's home, such as /srv/kiosk/slips",
        )
    try:
        grp.getgrnam(printer.output_group)
    except KeyError:
        raise ConfigError(
            "printer.output_group", f"there is no group {printer.output_group!r} on this server"
        ) from None


def _validate_sms(sms: SmsConfig) -> None:
    """I2: the SMS provider's settings, each checked with its key named (the token never shown)."""
    for key in ("base_url", "status_callback"):
        value = getattr(sms, key)
        url = urlparse(value)
        if value and (url.scheme not in {"http", "https"} or not url.netloc):
            raise ConfigError(f"sms.{key}", f"must be an http(s) URL, not {value!r}")
    if not sms.base_url:
        raise ConfigError("sms.base_url", "must not be empty")
    if sms.from_number and not E164.fullmatch(sms.from_number):
        raise ConfigError(
            "sms.from_number",
            f"must be a number in E.164 form like +13175550100, not {sms.from_number!r}",
        )
    for key in ("account_sid", "messaging_service_sid"):
        if getattr(sms, key) and not (getattr(sms, key).isascii() and getattr(sms, key).isalnum()):
            raise ConfigError(f"sms.{key}", "a SID is letters and digits only")
    if not sms.configured:
        return
    if not sms.auth_token:
        raise ConfigError("sms.auth_token", "is needed with sms.account_sid (KIOSK_SMS_AUTH_TOKEN)")
    if not sms.from_number and not sms.messaging_service_sid:
        raise ConfigError(
            "sms.from_number", "or sms.messaging_service_sid is needed with sms.account_sid"
        )


def _validate_qr_url(template: str) -> None:
    """The QR's address (practice.qr_url): an http(s) URL holding ``{pin}`` once, no other braces."""
    if not template:
        return
    url = urlparse(template.replace("{pin}", "PIN"))
    if url.scheme not in {"http", "https"} or not url.netloc:
        raise ConfigError("practice.qr_url", f"must be an http(s) URL, not {template!r}")
    rest = template.replace("{pin}", "", 1)
    if "{pin}" not in template or "{" in rest or "}" in rest:
        raise ConfigError(
            "practice.qr_url",
            "must hold {pin} once and no other braces, like https://portal.example.org/register?pin={pin}",
        )


def _fonts(key: str, value: Any) -> tuple[str, ...]:
    """printer.fonts (I1): a list of font files, or comma-separated in the environment; each a
    .ttf, .otf or .ttc file that exists (a .ttc may name its face: FILE.ttc#2)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError(
            key, f'must be a list of font files like ["/path/Font.ttf"], not {value!r}'
        )
    fonts = tuple(i.strip() for i in items if i.strip())
    for font in fonts:
        name, _, number = font.rpartition("#") if "#" in font else (font, "", "0")
        path = Path(name).expanduser()
        if path.suffix.lower() not in {".ttf", ".otf", ".ttc"} or not number.isdigit():
            raise ConfigError(key, f"{font!r} is not a .ttf, .otf or .ttc font file (FILE.ttc#N)")
        if not path.is_file():
            raise ConfigError(key, f"{name} does not exist")
    return fonts
