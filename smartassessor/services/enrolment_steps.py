"""The worker's steps for one enrolment against Smart Assessor (F9, F20).

Employer, assessors, learner, then one course per available qualification. Each step first
uses what an earlier attempt stored (a link, the SA learner id, an enrolled course), so a
retry continues where the last attempt stopped. Every POST carries an idempotency key made of
the enrolment, the step and the payload; a 409 naming an existing record adopts it by the
product's rules. The durable row around the steps (claim, lease, attempts, outcome) is
``operations``'s, as ``enrolment_requests`` sets it up.
"""

import hashlib
import json
from typing import Any, TypeVar

from django.db import IntegrityError, transaction

from learners.models import Learner, LearnerQualification

from .. import mapping
from ..client import Conflict, NotFound, ProtocolError, SmartAssessorClient, ValidationFailed
from ..client import Learner as SALearner
from ..client.types import to_wire
from ..linked_records import ASSESSOR, EMPLOYER, LinkedRecordKind, Owner
from ..models import CourseEnrolment, Enrolment, IntegrationSettings
from ..selectors.enrolments import (
    learner_main_officer,
    learner_placement_current,
    learner_second_assessor,
)
from ..selectors.links import sa_link_get, sa_link_taken
from .operations import Refused


def enrolment_steps_run(*, client: SmartAssessorClient, enrolment: Enrolment) -> int:
    """Take every step not taken yet; returns how many courses Smart Assessor refused.

    Raises ``Refused`` for what waits for a person, and the client's errors for
    the caller to retry or fail the attempt by.
    """
    settings = IntegrationSettings.load()
    learner = enrolment.learner
    placement = learner_placement_current(learner=learner)
    prefix = enrolment_key_prefix(enrolment)
    employer_id = (
        sa_record_ensure(client, key_prefix=prefix, kind=EMPLOYER, owner=placement.organisation)
        if placement
        else None
    )
    main_officer = learner_main_officer(learner=learner)
    assessor_id = (
        sa_record_ensure(client, key_prefix=prefix, kind=ASSESSOR, owner=main_officer)
        if main_officer
        else None
    )
    second = learner_second_assessor(learner=learner, settings=settings)
    second_id = None
    if second is not None and (main_officer is None or second.pk != main_officer.pk):
        second_id = sa_record_ensure(client, key_prefix=prefix, kind=ASSESSOR, owner=second)

    sa_learner_id = enrolment.sa_learner_id or _ensure_learner(
        client, enrolment, settings, employer_id=employer_id, assessor_id=assessor_id
    )
    return _enrol_courses(
        client, enrolment, sa_learner_id, primary_id=assessor_id, secondary_id=second_id
    )


def enrolment_courses_add(*, client: SmartAssessorClient, enrolment: Enrolment) -> int:
    """Enrol an enrolled learner on the qualifications SA offers that have no course enrolment
    yet: added to the plan, or linked to a course, after enrolment (F20).

    Assessors are taken from the existing links only; returns how many courses SA refused.
    """
    settings = IntegrationSettings.load()
    learner = enrolment.learner
    main_officer = learner_main_officer(learner=learner)
    second = learner_second_assessor(learner=learner, settings=settings)
    if second is not None and main_officer is not None and second.pk == main_officer.pk:
        second = None
    return _enrol_courses(
        client,
        enrolment,
        enrolment.sa_learner_id,
        primary_id=ASSESSOR.sa_id_of(main_officer) if main_officer else None,
        secondary_id=ASSESSOR.sa_id_of(second) if second else None,
    )


def enrolment_key_prefix(enrolment: Enrolment) -> str:
    return f"enr{enrolment.pk}"


def _key(prefix: str, step: str, body: dict[str, Any]) -> str:
    """An Idempotency-Key of the operation (``prefix``), the step and the payload."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f"{prefix}-{step}-{digest[:20]}"


def _refused(exc: ValidationFailed, what: str) -> Refused:
    return Refused(
        f"Smart Assessor refused the {what}: " + "; ".join(exc.messages),
        {field or "": messages for field, messages in exc.field_messages.items()},
    )


SAId = TypeVar("SAId", int, str)


def _existing_id(
    exc: Conflict | ProtocolError, id_type: type[SAId], *, what: str, to_do: str
) -> SAId:
    """The id of the SA record a 409 names, to adopt it.

    A 409 that names none (the client reports it as a ProtocolError) cannot be adopted, and
    another attempt would get the same answer: the enrolment waits for a person, told what to
    do. Any other ProtocolError is raised again, as it came.
    """
    if isinstance(exc, Conflict) and isinstance(exc.existing_id, id_type):
        return exc.existing_id
    if isinstance(exc, ProtocolError) and exc.status != 409:
        raise exc
    raise Refused(
        f"Smart Assessor says the {what} already exists but not which of its records it is. "
        + to_do
    ) from exc


def _adopt_link(kind: LinkedRecordKind, owner: Owner, sa_id: int) -> int:
    """Store the link to an SA record, unless that record is linked to another local one."""
    taken = sa_link_taken(kind=kind, owner=owner, sa_id=sa_id)
    if taken is not None:
        raise Refused(
            f"Smart Assessor {kind.sa_name} {sa_id}, which carries {owner}'s MIS id, is already "
            f"linked to {getattr(taken, kind.owner_field)}. Ask support to check the links."
        )
    of_owner: dict[str, Any] = {kind.owner_field: owner}
    try:
        with transaction.atomic():
            kind.link_model.objects.update_or_create(**of_owner, defaults={kind.sa_id_field: sa_id})
    except IntegrityError:
        # Another worker linked it at the same moment; the database kept one link.
        pass
    return getattr(kind.link_model.objects.get(**of_owner), kind.sa_id_field)


def sa_record_ensure(
    client: SmartAssessorClient, *, key_prefix: str, kind: LinkedRecordKind, owner: Owner
) -> int:
    """The owner's SA id: its link; else the SA record with its MIS id; else a new record,
    created with an Idempotency-Key of the operation (``key_prefix``) that needs it."""
    link = sa_link_get(kind=kind, owner=owner)
    if link is not None:
        return getattr(link, kind.sa_id_field)
    found = kind.find_by_mis_id(client, str(owner.pk)).items
    if found:
        sa_id = found[0].smart_assessor_id
    else:
        payload = kind.payload(owner)
        key = _key(key_prefix, f"{kind.sa_name[:3]}{owner.pk}", to_wire(payload))
        try:
            sa_id = kind.create(client, payload, key).smart_assessor_id
        except (Conflict, ProtocolError) as exc:
            sa_id = _existing_id(
                exc,
                int,
                what=f"{kind.sa_name} {owner}",
                to_do=f"Find it in Smart Assessor, link it by hand with Look Up Smart Assessor "
                f"ID on the {owner._meta.verbose_name}'s page, then retry the enrolment.",
            )
        except ValidationFailed as exc:
            raise _refused(exc, f"{kind.sa_name} {owner}") from exc
    return _adopt_link(kind, owner, sa_id)


def _same_person(sa_learner: SALearner, learner: Learner) -> bool:
    def norm(value: str | None) -> str:
        return (value or "").strip().casefold()

    return (
        norm(sa_learner.given_names) == norm(learner.first_name)
        and norm(sa_learner.family_name) == norm(learner.surname)
        and sa_learner.date_of_birth == learner.date_of_birth
    )


def _store_learner_id(enrolment: Enrolment, sa_learner_id: str) -> str:
    try:
        with transaction.atomic():
            Enrolment.objects.filter(pk=enrolment.pk).update(sa_learner_id=sa_learner_id)
    except IntegrityError:
        raise Refused(
            f"Smart Assessor learner {sa_learner_id} is already linked to another learner. "
            "Ask support to check the links."
        ) from None
    enrolment.sa_learner_id = sa_learner_id
    return sa_learner_id


def _adopt_learner(client: SmartAssessorClient, enrolment: Enrolment, sa_learner_id: str) -> str:
    sa_learner = client.learner_get(learner_id=sa_learner_id)
    if not _same_person(sa_learner, enrolment.learner):
        raise Refused(
            f"Smart Assessor already has a learner with MIS id {enrolment.learner.ident} "
            f"({sa_learner.given_names} {sa_learner.family_name}, Smart Assessor ID "
            f"{sa_learner_id}) whose name or date of birth differ. Ask support to link it by hand."
        )
    return _store_learner_id(enrolment, sa_learner_id)


def _ensure_learner(
    client: SmartAssessorClient,
    enrolment: Enrolment,
    settings: IntegrationSettings,
    *,
    employer_id: int | None,
    assessor_id: int | None,
) -> str:
    learner = enrolment.learner
    if enrolment.attempts > 1 or enrolment.busy_since is not None:
        # An earlier attempt may have created the learner and lost the answer.
        found = client.learner_page(mis_learner_id=learner.ident, page_size=1).items
        if found:
            return _adopt_learner(client, enrolment, found[0].smart_assessor_id)
    payload = mapping.learner_payload(
        mapping.LearnerSource(
            learner=learner,
            set_student_id_to_lrn=settings.set_student_id_to_lrn,
            employer_id=employer_id,
            assessor_id=assessor_id,
        )
    )
    body = to_wire(payload) | {"SendWelcomeEmail": settings.send_welcome_email}
    try:
        created = client.learner_create(
            learner=payload,
            idempotency_key=_key(enrolment_key_prefix(enrolment), "learner", body),
            send_welcome_email=settings.send_welcome_email,
        )
    except (Conflict, ProtocolError) as exc:
        sa_learner_id = _existing_id(
            exc,
            str,
            what=f"learner {learner.full_name}",
            to_do="Find it in Smart Assessor and link it by hand with Set or clear the Smart "
            "Assessor ID on the learner's Delivery Plan.",
        )
        return _adopt_learner(client, enrolment, sa_learner_id)
    except ValidationFailed as exc:
        raise _refused(exc, "learner") from exc
    return _store_learner_id(enrolment, created.smart_assessor_id)


def _enrol_courses(
    client: SmartAssessorClient,
    enrolment: Enrolment,
    sa_learner_id: str,
    *,
    primary_id: int | None,
    secondary_id: int | None,
) -> int:
    """Enrol every available qualification not enrolled yet; returns how many were refused."""
    plan = LearnerQualification.objects.filter(
        learner=enrolment.learner, qualification__smartassessor_link__isnull=False
    ).select_related("qualification__smartassessor_link")
    done = {c.learner_qualification_id: c for c in enrolment.courses.all()}
    refused = 0
    for lq in plan:
        course = (
            done.get(lq.pk)
            or CourseEnrolment.objects.get_or_create(enrolment=enrolment, learner_qualification=lq)[
                0
            ]
        )
        if course.state == CourseEnrolment.State.ENROLLED:
            continue
        if course.state == CourseEnrolment.State.REFUSED:
            refused += 1
            continue
        payload = mapping.course_payload(
            mapping.CourseSource(
                learner_qualification=lq,
                course_id=lq.qualification.smartassessor_link.course_id,
                primary_assessor_id=primary_id,
                secondary_assessor_id=secondary_id,
            )
        )
        try:
            sa_course_id = client.learner_course_create(
                learner_id=sa_learner_id,
                enrolment=payload,
                idempotency_key=_key(
                    enrolment_key_prefix(enrolment), f"lq{lq.pk}", to_wire(payload)
                ),
            ).smart_assessor_id
        except (Conflict, ProtocolError) as exc:
            sa_course_id = _existing_id(
                exc,
                str,
                what=f"course {lq.qualification.reference} of learner {sa_learner_id}",
                to_do="Ask support to check the learner's courses in Smart Assessor, then "
                "retry the enrolment.",
            )
        except (ValidationFailed, NotFound) as exc:
            refused += 1
            course.state = CourseEnrolment.State.REFUSED
            course.error = "; ".join(exc.messages) or str(exc)
            course.save(update_fields=["state", "error"])
            continue
        course.state = CourseEnrolment.State.ENROLLED
        course.sa_learner_course_id = sa_course_id
        course.error = ""
        course.save(update_fields=["state", "sa_learner_course_id", "error"])
    return refused
