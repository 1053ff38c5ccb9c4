"""Learners enrolled in the running sandbox through the enrolment service, for sync tests."""

import datetime as dt

from django.utils import timezone

from learners.models import ReviewType
from smartassessor.connection import client_from_settings
from smartassessor.models import (
    Enrolment,
    IntegrationSettings,
    QualificationLink,
    ReviewTypeMapping,
)
from smartassessor.services import enrolment_requests as enrolment_service
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    PlacementFactory,
    QualificationFactory,
)

# Sandbox course ids (its seed): 101 ST0070, 102 ST0072.
BUSINESS_ADMIN = ("ST0070", "Business Administrator", 101)
CUSTOMER_SERVICE = ("ST0072", "Customer Service Practitioner", 102)


def linked_qualification(reference: str, title: str, course_id: int):
    qualification = QualificationFactory(reference=reference, title=title)
    QualificationLink.objects.get_or_create(
        qualification=qualification, defaults={"course_id": course_id, "course_title": title}
    )
    return qualification


def enrolled_learner(**overrides):
    """A learner 100 days into a year's programme, enrolled in the sandbox on ST0070."""
    today = timezone.localdate()
    start = today - dt.timedelta(days=100)
    learner = LearnerFactory(
        start_date=start, planned_end_date=start + dt.timedelta(days=365), **overrides
    )
    PlacementFactory(learner=learner, start_date=start)
    LearnerQualificationFactory(
        learner=learner,
        qualification=linked_qualification(*BUSINESS_ADMIN),
        start_date=start,
        planned_end_date=start + dt.timedelta(days=365),
    )
    enrolment, _ = enrolment_service.enrolment_request(learner=learner, actor=None)
    enrolment = enrolment_service.enrolment_run(enrolment_id=enrolment.pk)
    assert enrolment.state == Enrolment.State.ENROLLED, enrolment.last_error
    return learner


def sa_id(learner) -> str:
    return Enrolment.objects.get(learner=learner, is_current=True).sa_learner_id


def map_event_types(**codes: str | None) -> None:
    """``PR="Progress Review"`` maps a code; ``AV=None`` ignores it on purpose."""
    for code, name in codes.items():
        review_type = ReviewType.objects.get_or_create(name=name)[0] if name else None
        ReviewTypeMapping.objects.update_or_create(
            event_type_code=code, defaults={"review_type": review_type}
        )


def set_settings(**values) -> IntegrationSettings:
    settings = IntegrationSettings.load()
    for name, value in values.items():
        setattr(settings, name, value)
    settings.save()
    return settings


def client():
    return client_from_settings()
