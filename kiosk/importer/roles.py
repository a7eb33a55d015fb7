"""The practice's table from relationship codes to caregiver roles and default authority (data/roles.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kiosk import DATA_DIR
from kiosk.terms import Authority, CaregiverRole, is_one_of

ROLES_FILE = DATA_DIR / "roles.toml"
OTHER = CaregiverRole.OTHER
ROLE_NAMES = ", ".join(CaregiverRole)


class RolesError(ValueError):
    """The roles table is unreadable or names a role or authority kiosk does not know."""


@dataclass(frozen=True)
class RoleMatch:
    role: str
    authority: str
    unknown_codes: tuple[str, ...] = ()  # codes the table does not list (imported as Other)


@dataclass
class RoleTable:
    authority: dict[str, str] = field(default_factory=dict)  # role -> default authority
    codes: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # CODE -> {gender or "default": role}

    def match(self, codes: list[str], gender: str = "") -> RoleMatch:
        """The most specific role among ``codes`` (a parent role beats "next of kin")."""
        known, unknown = [], []
        for raw in codes:
            code = str(raw).strip()
            if not code:
                continue
            role = self.role_for(code, gender)
            if role is None:
                unknown.append(code)
            else:
                known.append(role)
        role = next((r for r in known if r != OTHER), OTHER)
        return RoleMatch(role, self.authority[role], tuple(unknown))

    def role_for(self, code: str, gender: str = "") -> str | None:
        by_gender = self.codes.get(code.upper())
        if by_gender is None:
            return next((role for role in CaregiverRole if role.lower() == code.lower()), None)
        return by_gender.get(gender.lower()) or by_gender["default"]


def load_roles(override: str | Path | None = None) -> RoleTable:
    """data/roles.toml, with ``override`` (a file of changes) read over it."""
    table = RoleTable()
    for path in [ROLES_FILE] + ([Path(override)] if override else []):
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
        except OSError as error:
            raise RolesError(f"roles table {path}: {error.strerror or error}") from None
        except tomllib.TOMLDecodeError as error:
            raise RolesError(f"roles table {path} is not valid TOML ({error})") from None
        _merge(table, raw, path)
    missing = [role for role in CaregiverRole if role not in table.authority]
    if missing:
        raise RolesError(f"roles table: no default authority for {', '.join(missing)}")
    return table


def _merge(table: RoleTable, raw: dict, path: str | Path) -> None:
    for role, authority in raw.get("authority", {}).items():
        if not is_one_of(CaregiverRole, role):
            raise RolesError(
                f"roles table {path}: [authority] {role!r} is not a role ({ROLE_NAMES})"
            )
        if not is_one_of(Authority, authority):
            raise RolesError(
                f"roles table {path}: {role} = {authority!r} is not Joint, Sole or None"
            )
        table.authority[role] = authority
    for code, target in raw.get("codes", {}).items():
        by_gender = dict(target) if isinstance(target, dict) else {"default": target}
        by_gender.setdefault("default", OTHER)
        for role in by_gender.values():
            if not is_one_of(CaregiverRole, role):
                raise RolesError(
                    f"roles table {path}: code {code} -> {role!r} is not a role ({ROLE_NAMES})"
                )
        table.codes[str(code).upper()] = {k.lower(): v for k, v in by_gender.items()}
