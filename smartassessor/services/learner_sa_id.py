"""Set or clear a learner's Smart Assessor ID by hand (F12): Support's link to an SA learner
made outside Create in Smart Assessor, or removed. Nothing is written to Smart Assessor."""

from django.db import transaction
from django.utils import timezone

from learners.models import Learner
from picsweb.errors import ApplicationError

from ..audit import Actor, actor_user, audit_record
from ..client import Learner as SALearner
from ..connection import client_from_settings
from ..errors import smart_assessor_errors
from ..models import CourseEnrolment, Enrolment


def sa_learner_lookup(*, sa_learner_id: str) -> SALearner:
    """The SA learner with that id, for a person to confirm; clear errors otherwise."""
    sa_learner_id = sa_learner_id.strip().lower()
    client = client_from_settings()
    with smart_assessor_errors(
        prefix="Smart Assessor could not be asked: ",
        not_found=f"Smart Assessor has no learner with ID {sa_learner_id}.",
    ):
        return client.learner_get(learner_id=sa_learner_id)


def learner_sa_id_set(
    *, learner: Learner, sa_learner_id: str, reason: str, actor: Actor
) -> Enrolment:
    """Link a learner to an existing SA learner by hand, ending any current enrolment, then
    refresh the learner so its courses, progress and reviews come across (F12)."""
    from .sync import learner_refresh_request

    if not reason.strip():
        raise ApplicationError("Say why the Smart Assessor ID is being set.")
    sa_learner = sa_learner_lookup(sa_learner_id=sa_learner_id)
    sa_learner_id = sa_learner.smart_assessor_id
    with transaction.atomic():
        other = (
            Enrolment.objects.filter(sa_learner_id=sa_learner_id, is_current=True)
            .exclude(learner=learner)
            .select_related("learner")
            .first()
        )
        if other is not None:
            raise ApplicationError(
                f"Smart Assessor ID {sa_learner_id} is already linked to {other.learner}."
            )
        current = (
            Enrolment.objects.select_for_update().filter(learner=learner, is_current=True).first()
        )
        old_id = current.sa_learner_id if current else ""
        if current is not None:
            _end(current, actor=actor, reason=reason)
        enrolment = Enrolment.objects.create(
            learner=learner,
            source=Enrolment.Source.MANUAL,
            state=Enrolment.State.ENROLLED,
            sa_learner_id=sa_learner_id,
            requested_by=actor_user(actor),
            enrolled_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="Smart Assessor ID set by hand",
            instance=learner,
            changes={"sa_learner_id": (old_id, sa_learner_id)},
            reason=reason,
        )
        learner_refresh_request(learner=learner, actor=actor)
    return enrolment


def learner_sa_id_clear(*, learner: Learner, reason: str, actor: Actor) -> None:
    """Unlink a learner from SA (nothing is deleted there); the enrolment stays as history."""
    if not reason.strip():
        raise ApplicationError("Say why the Smart Assessor link is being cleared.")
    with transaction.atomic():
        current = (
            Enrolment.objects.select_for_update().filter(learner=learner, is_current=True).first()
        )
        if current is None:
            raise ApplicationError("The learner is not linked to Smart Assessor.")
        _end(current, actor=actor, reason=reason)
        audit_record(
            actor=actor,
            action="Smart Assessor ID cleared",
            instance=learner,
            changes={"sa_learner_id": (current.sa_learner_id, "")},
            reason=reason,
        )


def _end(enrolment: Enrolment, *, actor: Actor, reason: str) -> None:
    """End the enrolment, keeping it and its courses as history; called within a transaction."""
    Enrolment.objects.filter(pk=enrolment.pk).update(
        is_current=False, ended_at=timezone.now(), ended_by=actor_user(actor), end_reason=reason
    )
    CourseEnrolment.objects.filter(enrolment=enrolment).update(is_current=False)
