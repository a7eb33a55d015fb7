"""Reading FHIR R4 JSON: a single resource, a Bundle, or an NDJSON bulk-export file.

From a Patient: the chart number (the MR identifier, else the official or usual one, else the
first; else the resource id), the official or usual name, birthDate, gender, the preferred
communication language, every contact (as a caregiver of this patient) and link (a
``replaced-by`` link means a merged record, which is not imported). From a RelatedPerson: its
patient reference, relationship codes, name, phone and email. References are looked up in the
same file first (``Patient/id`` or a Bundle ``fullUrl``), then in the other files of the import.
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

from kiosk import validate
from kiosk.importer import clean
from kiosk.importer.records import CaregiverIn, Collected, LinkIn, PatientIn, placeholder_given_name
from kiosk.importer.report import Progress
from kiosk.importer.roles import RoleMatch, RoleTable
from kiosk.people.names import is_placeholder_name
from kiosk.terms import fold
from kiosk.validate import InputProblem

ANIMAL = "http://hl7.org/fhir/StructureDefinition/patient-animal"
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_NAME_USES = ("official", "usual", None, "temp", "nickname", "anonymous", "maiden", "old")
_GENDERS = {"female": "F", "male": "M", "other": "O", "unknown": "U"}


# json.loads stops at Python's recursion limit (about 1000 levels); a real resource is a few deep.
TOO_DEEP = (
    "nested too deep to be a FHIR resource (JSON objects and lists inside each other ~1000 times)"
)
MAX_BUNDLE_DEPTH = 5  # a Bundle inside a Bundle inside...: transaction responses go two deep


class Rejected(Exception):
    """This resource is not imported; the message is the reason."""


def read_fhir(
    name: str, text: str, into: Collected, roles: RoleTable, progress: Progress | None = None
) -> bool:
    """Read every resource of a JSON or NDJSON file; False (and a rejection) when it is neither."""
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        into.reject(
            name,
            "line 1",
            "not FHIR JSON (a FHIR file starts with '{') and not a CSV with a header",
        )
        return False
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        lines = text.splitlines()
        if len([line for line in lines if line.strip()]) < 2:
            if isinstance(error, RecursionError):
                into.reject(name, "line 1", TOO_DEEP)
            else:
                into.reject(name, f"line {error.lineno}", f"not valid JSON ({error.msg})")
            return False
        return _read_ndjson(name, lines, into, roles, progress)
    _read_resource(name, document, "", into, roles, fullurl=None)
    return True


def _read_ndjson(
    name: str, lines: list[str], into: Collected, roles: RoleTable, progress: Progress | None
) -> bool:
    total = len(lines)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as error:
            into.reject(name, f"line {number}", f"not valid JSON ({error.msg})")
            continue
        except RecursionError:
            into.reject(name, f"line {number}", TOO_DEEP)
            continue
        _read_resource(name, resource, f"line {number}", into, roles, fullurl=None)
        if progress and number % 2000 == 0:
            progress(f"Reading {name}", number, total)
    return True


def _label(resource: Any) -> str:
    if isinstance(resource, dict) and resource.get("resourceType"):
        return (
            f"{resource['resourceType']}/{resource['id']}"
            if resource.get("id")
            else str(resource["resourceType"])
        )
    return "resource"


def _read_resource(
    name: str,
    resource: Any,
    where: str,
    into: Collected,
    roles: RoleTable,
    fullurl: str | None,
    depth: int = 0,
) -> None:
    label = _label(resource)
    where = f"{where} ({label})" if where else label
    try:
        if not isinstance(resource, dict):
            raise Rejected("not a FHIR resource (a JSON object with a resourceType)")
        kind = resource.get("resourceType")
        if kind == "Bundle":
            if depth >= MAX_BUNDLE_DEPTH:
                raise Rejected(f"a Bundle inside {MAX_BUNDLE_DEPTH} others: not read")
            entries = resource.get("entry") or []
            if not isinstance(entries, list):
                raise Rejected("Bundle.entry is not a list")
            for number, entry in enumerate(entries, start=1):
                if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                    into.reject(name, f"{where} entry {number}", "entry has no resource")
                    continue
                _read_resource(
                    name,
                    entry["resource"],
                    f"{where} entry {number}",
                    into,
                    roles,
                    fullurl=entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None,
                    depth=depth + 1,
                )
        elif kind == "Patient":
            _read_patient(name, where, resource, into, roles, fullurl)
        elif kind == "RelatedPerson":
            _read_related_person(name, where, resource, into, roles)
        elif kind:
            raise Rejected(
                f"{kind} resources are not imported (only Patient, RelatedPerson and Bundle)"
            )
        else:
            raise Rejected("no resourceType: not a FHIR resource")
    except (Rejected, InputProblem) as why:
        into.reject(name, where, str(why))


def _refs(resource: dict, fullurl: str | None) -> tuple[str, ...]:
    refs = []
    if isinstance(resource.get("id"), str):
        refs.append(f"Patient/{resource['id']}")
    if fullurl:
        refs.append(fullurl)
    return tuple(refs)


def _read_patient(
    name: str,
    where: str,
    resource: dict[str, Any],
    into: Collected,
    roles: RoleTable,
    fullurl: str | None,
) -> None:
    refs = _refs(resource, fullurl)
    try:
        patient = _patient(name, where, resource, into)
    except Rejected as why:
        for ref in refs:
            into.rejected_refs[(name, ref)] = f"its patient {ref} was rejected: {why}"
        raise
    if not into.add_patient(patient, refs):
        return
    for number, contact in enumerate(_list(resource, "contact"), start=1):
        _read_contact(name, f"{where} contact {number}", patient, contact, into, roles)


def _patient(name: str, where: str, resource: dict[str, Any], into: Collected) -> PatientIn:
    try:
        return _patient_in(name, where, resource, into)
    except InputProblem as problem:
        raise Rejected(str(problem)) from None


def _patient_in(name: str, where: str, resource: dict[str, Any], into: Collected) -> PatientIn:
    if any(isinstance(e, dict) and e.get("url") == ANIMAL for e in _list(resource, "extension")):
        raise Rejected("is an animal (patient-animal extension)")
    for number, link in enumerate(_list(resource, "link"), start=1):
        other = link.get("other") if isinstance(link, dict) else None
        ref = other.get("reference") if isinstance(other, dict) else None
        if not isinstance(ref, str) or not ref:
            into.warn(
                name,
                where,
                f"link {number} ignored: malformed reference {clean.shown(other)} "
                "(must be an object with a reference)",
            )
        elif link.get("type") == "replaced-by":
            raise Rejected(f"replaced by {ref} (a merged record)")
    chart = clean.text(_chart_number(resource), "chart number", validate.CHART_NUMBER)
    if not chart:
        raise Rejected("no identifier and no id: no chart number")
    if not any(isinstance(i, dict) and i.get("value") for i in _list(resource, "identifier")):
        into.warn(name, where, f"no identifier; chart number is the resource id {chart!r}")
    birth = resource.get("birthDate")
    if birth is not None and not isinstance(birth, str):
        raise Rejected(f"birth date {clean.shown(birth)} is not written as a date (YYYY-MM-DD)")
    dob = validate.parse_birth_date(birth)
    gender = resource.get("gender")
    sex = _GENDERS.get(gender) if isinstance(gender, str) else None
    given, family = _name(resource)
    if not given:
        given = placeholder_given_name(sex, dob)
    language = _language(resource)
    return PatientIn(
        name, where, chart, given, family, dob, sex, language, is_placeholder_name(given)
    )


def _chart_number(resource: dict) -> str:
    identifiers = [
        i
        for i in _list(resource, "identifier")
        if isinstance(i, dict) and isinstance(i.get("value"), str) and i["value"].strip()
    ]

    def is_mr(identifier: dict[str, Any]) -> bool:
        codings = (
            (identifier.get("type") or {}).get("coding") or []
            if isinstance(identifier.get("type"), dict)
            else []
        )
        return any(isinstance(c, dict) and c.get("code") == "MR" for c in codings)

    for test in (
        is_mr,
        lambda i: i.get("use") == "official",
        lambda i: i.get("use") == "usual",
        lambda i: True,
    ):
        chosen = next((i for i in identifiers if test(i)), None)
        if chosen:
            return chosen["value"].strip()
    return str(resource.get("id") or "").strip()


def _name(resource: dict) -> tuple[str, str]:
    """(given, family) from the official name, else the usual one, else any; "" when unnamed."""
    names = [n for n in _list(resource, "name") if isinstance(n, dict)]
    for use in _NAME_USES:
        for name in names:
            if name.get("use") != use:
                continue
            given, family = (
                _words(name.get("given"), "given name"),
                _words(name.get("family"), "family name"),
            )
            if not (given or family) and isinstance(name.get("text"), str):
                parts = clean.text(name["text"], "name", 2 * validate.NAME).split()
                given, family = (
                    (" ".join(parts[:-1]), parts[-1]) if len(parts) > 1 else (" ".join(parts), "")
                )
            if given or family:
                return given, family
    return "", ""


def _words(value: Any, label: str) -> str:
    """A name part: a string, or a list of strings (given names; DSTU2's family list) joined."""
    parts = value if isinstance(value, list) else [value]
    return clean.text(" ".join(part for part in parts if isinstance(part, str)), label)


def _language(resource: dict) -> str | None:
    found: list[str] = []
    for item in _list(resource, "communication"):
        if not isinstance(item, dict) or not isinstance(item.get("language"), dict):
            continue
        language = item["language"]
        codes = [c.get("code") for c in language.get("coding") or [] if isinstance(c, dict)] + [
            language.get("text")
        ]
        code = next(
            (
                clean.language_code(c)
                for c in codes
                if isinstance(c, str) and clean.language_code(c)
            ),
            None,
        )
        if code:
            found.insert(0, code) if item.get("preferred") else found.append(code)
    return found[0] if found else None


def _codes(relationships: Any) -> list[str]:
    codes = []
    for concept in relationships if isinstance(relationships, list) else [relationships]:
        if not isinstance(concept, dict):
            continue
        codes += [
            c["code"]
            for c in concept.get("coding") or []
            if isinstance(c, dict) and isinstance(c.get("code"), str)
        ]
        if not codes and isinstance(concept.get("text"), str):
            codes.append(concept["text"])
    return codes


def _telecom(resource: dict) -> tuple[str, str]:
    """(raw phone, raw email): a mobile number first."""
    phones, emails = [], []
    for point in _list(resource, "telecom"):
        if not isinstance(point, dict) or not isinstance(point.get("value"), str):
            continue
        if point.get("system") in ("phone", "sms"):
            phones.append(
                (point.get("use") != "mobile" and point.get("system") != "sms", point["value"])
            )
        elif point.get("system") == "email":
            emails.append(point["value"])
    phones.sort(key=lambda p: p[0])
    return (phones[0][1] if phones else ""), (emails[0] if emails else "")


def _caregiver(
    name: str,
    where: str,
    key: str,
    given: str,
    family: str,
    resource: dict[str, Any],
    into: Collected,
) -> CaregiverIn:
    raw_phone, raw_email = _telecom(resource)
    cell, email = clean.contact(
        raw_phone, raw_email, partial(into.warn, name, where), cell_label="phone"
    )
    return into.add_caregiver(
        CaregiverIn(
            name,
            where,
            key,
            given,
            family,
            email,
            cell,
            "",
            _language(resource),
            phone=clean.digits(raw_phone),
        )
    )


def _role(
    name: str, where: str, resource: dict[str, Any], into: Collected, roles: RoleTable
) -> RoleMatch:
    gender = resource.get("gender")
    match = roles.match(
        _codes(resource.get("relationship")), gender if isinstance(gender, str) else ""
    )
    if match.unknown_codes:
        into.warn(
            name,
            where,
            f"relationship code {', '.join(match.unknown_codes)} not in the roles table; "
            f"imported as {match.role}",
        )
    return match


def _read_contact(
    name: str, where: str, patient: PatientIn, contact: Any, into: Collected, roles: RoleTable
) -> None:
    if not isinstance(contact, dict):
        into.reject(name, where, "contact is not an object")
        return
    try:
        given, family = _name(
            {"name": [contact["name"]]} if isinstance(contact.get("name"), dict) else {}
        )
    except InputProblem as problem:
        into.reject(name, where, f"contact not imported: {problem} (the patient was imported)")
        return
    if not (given or family):
        into.reject(name, where, "contact not imported: it has no name (the patient was imported)")
        return
    match = _role(name, where, contact, into, roles)
    key = f"fhir-contact:{patient.chart}:{fold(given)}:{fold(family)}"
    caregiver = _caregiver(name, where, key, given, family, contact, into)
    into.add_link(LinkIn(name, where, caregiver, match.role, match.authority, chart=patient.chart))


def _read_related_person(
    name: str, where: str, resource: dict[str, Any], into: Collected, roles: RoleTable
) -> None:
    patient = resource.get("patient")
    ref = patient.get("reference") if isinstance(patient, dict) else None
    if not isinstance(ref, str) or not ref.strip():
        raise Rejected(
            f"malformed patient reference {clean.shown(patient)} (must be an object with a reference)"
        )
    ref = ref.strip()
    local = _PATIENT_REF.search(ref)
    if not local and not ref.startswith(("urn:uuid:", "urn:oid:", "http://", "https://")):
        raise Rejected(f"malformed patient reference {clean.shown(ref)} (expected Patient/<id>)")
    given, family = _name(resource)
    if not (given or family):
        raise Rejected("no name")
    identifier = next(
        (
            i
            for i in _list(resource, "identifier")
            if isinstance(i, dict) and isinstance(i.get("value"), str) and i["value"].strip()
        ),
        None,
    )
    if identifier:
        key = clean.text(
            f"fhir:{identifier.get('system') or ''}|{identifier['value'].strip()}",
            "identifier",
            validate.IDENTIFIER,
        )
    elif isinstance(resource.get("id"), str):
        key = clean.text(f"fhir:RelatedPerson/{resource['id']}", "id", validate.IDENTIFIER)
    else:
        key = clean.text(
            f"fhir-contact:{ref}:{fold(given)}:{fold(family)}",
            "patient reference",
            validate.IDENTIFIER,
        )
    match = _role(name, where, resource, into, roles)
    caregiver = _caregiver(name, where, key, given, family, resource, into)
    # A full URL may be a Bundle fullUrl; else it is looked up as the plain Patient/id.
    refs = (
        (ref, f"Patient/{local.group(1)}")
        if local and ref != f"Patient/{local.group(1)}"
        else (ref,)
    )
    into.add_link(
        LinkIn(name, where, caregiver, match.role, match.authority, patient_refs=refs, scope=name)
    )


def _list(resource: dict, key: str) -> list:
    value = resource.get(key)
    return value if isinstance(value, list) else []
