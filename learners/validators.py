"""Validation rules for learner data, shared by forms, models and the API.

The rules are those of the Smart Assessor contract (§8), since data that SA would refuse is
wrong in the MIS too.
"""

import re

from django.core.exceptions import ValidationError

POSTCODE_PATTERN = re.compile(r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}|GIR 0AA)$")
NI_PATTERN = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$")
NI_FORBIDDEN_PREFIXES = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The ILR's rule for LearnRefNumber: the ident is sent to Smart Assessor as MISLearnerId and an
# ILR import maps LearnRefNumber onto it, so an ident that breaks it would be refused later on.
IDENT_MAX_LENGTH = 12
IDENT_CHARACTER = re.compile(r"[A-Za-z0-9 ]")


def normalise_ident(value: str) -> str:
    return (value or "").strip()


def _shown(character: str) -> str:
    return f"“{character}”" if character.isprintable() else f"U+{ord(character):04X}"


def validate_ident(value: str) -> None:
    """Letters A-Z and a-z, digits and spaces, 1 to 12 of them (after trimming)."""
    refused = sorted({c for c in value if not IDENT_CHARACTER.fullmatch(c)})
    if refused:
        raise ValidationError(
            "A Learner Ident may hold only the letters A to Z (capital or small), the digits "
            f"0 to 9 and spaces, not {', '.join(_shown(c) for c in refused)}: for example "
            "2026 001 or PW000101.",
            code="ident_characters",
        )
    if not value:
        raise ValidationError("Enter a Learner Ident.", code="ident_empty")
    if len(value) > IDENT_MAX_LENGTH:
        raise ValidationError(
            f"A Learner Ident is at most {IDENT_MAX_LENGTH} characters; this one has {len(value)}.",
            code="ident_length",
        )


def uln_is_valid(value: str) -> bool:
    if not re.fullmatch(r"[1-9][0-9]{9}", value):
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(value[:9], range(10, 1, -1), strict=True)
    )
    check = 10 - total % 11
    return check != 10 and check == int(value[9])


def validate_uln(value: str) -> None:
    if not re.fullmatch(r"[1-9][0-9]{9}", value or ""):
        raise ValidationError("A ULN is 10 digits, the first not 0.", code="uln_format")
    if not uln_is_valid(value):
        raise ValidationError(
            "This ULN's check digit is wrong: check it against the Learner Record Service.",
            code="uln_check_digit",
        )


def normalise_ni_number(value: str | None) -> str:
    return re.sub(r"\s+", "", value or "").upper()


def validate_ni_number(value: str) -> None:
    if not NI_PATTERN.fullmatch(value) or value[:2] in NI_FORBIDDEN_PREFIXES:
        raise ValidationError(
            "Enter a National Insurance number like AB123456C: two letters, six digits and "
            "A, B, C or D.",
            code="ni_number",
        )


def normalise_postcode(value: str | None) -> str:
    compact = re.sub(r"\s+", "", value or "").upper()
    if len(compact) < 5:
        return compact
    return f"{compact[:-3]} {compact[-3:]}"


def validate_postcode(value: str) -> None:
    if not POSTCODE_PATTERN.fullmatch(value):
        raise ValidationError("Enter a UK postcode, for example S1 2AB.", code="postcode")


def validate_email(value: str) -> None:
    if not EMAIL_PATTERN.fullmatch(value):
        raise ValidationError(
            "Enter an email address like name@example.co.uk (one @, no spaces).", code="email"
        )


def validate_edrs_number(value: str) -> None:
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise ValidationError("An EDRS number is up to 9 digits.", code="edrs")
