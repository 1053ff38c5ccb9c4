"""How a local officer or organisation is compared with a Smart Assessor assessor or employer.

Two questions, asked where people link or create records: is an SA record that carries
another MIS id (or none) likely the same employer or person (the enrolment preview warns of a
second record being created), and do a local record's names clearly differ from the SA record
it is about to be linked to (the look-up window warns beside the choice).
"""

import re
import unicodedata

from learners.models import Officer, Organisation
from learners.validators import normalise_postcode

from .client import Assessor, Employer
from .linked_records import Owner

# Words of a company's legal form, which one system writes and the other leaves out.
_LEGAL_FORM_WORDS = frozenset({"ltd", "limited"})


def _words(text: str | None) -> list[str]:
    """Lower-case words without accents or punctuation: "Café-Bar Ltd." is cafe, bar, ltd."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.findall(r"[^\W_]+", plain.casefold())


def organisation_name_key(name: str | None) -> str:
    """A company name as compared: case, accents, spaces, punctuation and "Ltd"/"Limited" aside."""
    return "".join(word for word in _words(name) if word not in _LEGAL_FORM_WORDS)


def _compact(text: str | None) -> str:
    return "".join(_words(text))


def _first_names_agree(ours: str, theirs: str) -> bool:
    """The same first name, or one the short form of the other (Alex, Alexandra)."""
    mine, other = _words(ours)[:1], _words(theirs)[:1]
    if not mine or not other:
        return not mine and not other
    return mine[0].startswith(other[0]) or other[0].startswith(mine[0])


def sa_names_differ(owner: Owner, sa_record: Employer | Assessor) -> bool:
    """Whether the SA record's name is clearly not the local record's."""
    if isinstance(owner, Organisation) and isinstance(sa_record, Employer):
        return organisation_name_key(owner.name) != organisation_name_key(sa_record.name)
    if isinstance(owner, Officer) and isinstance(sa_record, Assessor):
        return _compact(owner.surname) != _compact(sa_record.last_name) or not (
            _first_names_agree(owner.forenames, sa_record.first_name)
        )
    raise TypeError(f"{type(sa_record).__name__} is not the SA record of a {type(owner).__name__}")


def duplicate_search_text(owner: Owner) -> str | None:
    """What to ``Search`` SA for to find the likely duplicates of the local record, or None when
    it has nothing to find them by.

    An employer is searched by its postcode: SA keeps postcodes in the one upper-case form with
    one space that the MIS writes, so the search finds every employer at that address, which
    catches a record typed in by hand (name and postcode are all SA requires). One with the same
    EDRS number at another postcode is left to the reconciliation report (F24), since a look-up
    makes one search. An assessor is searched by email, their SA login.
    """
    if isinstance(owner, Organisation):
        return normalise_postcode(owner.postcode) or None
    return owner.email.strip() or None


def duplicate_compared_values(owner: Owner) -> tuple[str, ...]:
    """The local values ``is_likely_duplicate`` compares."""
    if isinstance(owner, Organisation):
        return (owner.name, owner.postcode, owner.edrs_number)
    return (owner.email,)


def is_likely_duplicate(owner: Owner, sa_record: Employer | Assessor) -> bool:
    """Whether an SA record without the owner's MIS id is likely the same employer or person:
    the same EDRS number, or the same name and postcode; for an assessor the same email."""
    if isinstance(owner, Organisation) and isinstance(sa_record, Employer):
        if sa_record.mis_employer_id == str(owner.pk):
            return False
        same_edrs = bool(owner.edrs_number) and _compact(owner.edrs_number) == _compact(
            sa_record.eds_id
        )
        same_place = organisation_name_key(owner.name) == organisation_name_key(
            sa_record.name
        ) and _compact(owner.postcode) == _compact(sa_record.address_post_code)
        return same_edrs or same_place
    if isinstance(owner, Officer) and isinstance(sa_record, Assessor):
        if sa_record.mis_assessor_id == str(owner.pk):
            return False
        email = owner.email.strip().casefold()
        return bool(email) and email == (sa_record.email or "").strip().casefold()
    raise TypeError(f"{type(sa_record).__name__} is not the SA record of a {type(owner).__name__}")


def sa_record_name(sa_record: Employer | Assessor) -> str:
    if isinstance(sa_record, Employer):
        return sa_record.name
    return f"{sa_record.first_name} {sa_record.last_name}"


def sa_record_identified_by(sa_record: Employer | Assessor) -> str:
    """What a person recognises the record by beside its name: a postcode, an email."""
    if isinstance(sa_record, Employer):
        return sa_record.address_post_code or ""
    return sa_record.email or ""


def sa_record_mis_id(sa_record: Employer | Assessor) -> str | None:
    if isinstance(sa_record, Employer):
        return sa_record.mis_employer_id
    return sa_record.mis_assessor_id
