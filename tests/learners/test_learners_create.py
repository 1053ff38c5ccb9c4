"""``learners_create``: many learners with their records in a few statements, validated as the
one-by-one services validate them, and each record told to the subscribers."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from learners import services, signals
from learners.models import (
    BreakInLearning,
    Learner,
    LearnerQualification,
    Placement,
    QualificationStatus,
)
from tests.factories import LearnerFactory, OrganisationFactory, QualificationFactory
from tests.imports.ilr_files import uln

pytestmark = pytest.mark.django_db

ULN = uln(7)  # a ULN whose check digit holds

START = datetime.date(2025, 9, 1)


def _new(ident, uln="", *, planned=datetime.date(2027, 9, 1), on_break=False):
    learner = Learner(
        ident=ident,
        lrn=ident,
        uln=uln,
        first_name="Ada",
        surname="Lovelace",
        date_of_birth=datetime.date(2005, 1, 1),
        start_date=START,
        planned_end_date=planned,
    )
    held = LearnerQualification(
        qualification=QualificationFactory(),
        start_date=START,
        planned_end_date=datetime.date(2027, 9, 1),
        status=QualificationStatus.BREAK_IN_LEARNING
        if on_break
        else QualificationStatus.IN_PROGRESS,
    )
    brk = BreakInLearning(start_date=datetime.date(2026, 3, 1)) if on_break else None
    placement = Placement(organisation=OrganisationFactory(), start_date=START)
    return services.NewLearner(learner, [(held, brk)], [placement])


def test_learners_are_created_with_their_records_and_each_is_told(django_assert_max_num_queries):
    heard = []

    def listen(sender, record, changes, created, **kwargs):
        heard.append((sender.__name__, created, changes["id"][1] == record.pk))

    records = [_new(f"B{n:04d}", on_break=n == 0) for n in range(20)]
    signals.record_saved.connect(listen)
    try:
        # Whatever the number of learners: the checks, the four inserts, the break's overlap
        # check (a query a break), and the current employers read and stored.
        with django_assert_max_num_queries(13):
            services.learners_create(records=records)
    finally:
        signals.record_saved.disconnect(listen)

    assert Learner.objects.count() == 20
    assert LearnerQualification.objects.count() == 20 and Placement.objects.count() == 20
    assert not Learner.objects.filter(current_employer=None).exists()
    brk = BreakInLearning.objects.get()
    assert brk.learner_qualification.learner.ident == "B0000" and brk.end_date is None
    assert heard[:3] == [
        ("Learner", True, True),
        ("BreakInLearning", True, True),
        ("LearnerQualification", True, True),
    ]
    assert len(heard) == 20 + 1 + 20


def test_a_record_the_services_would_refuse_is_refused_naming_the_learner_and_nothing_is_written():
    bad = _new("B0002", planned=START)  # the planned end is not after the start

    with pytest.raises(ValidationError) as refused:
        services.learners_create(records=[_new("B0001"), bad])

    assert "B0002" in refused.value.message_dict
    assert "The planned end date must be after the start date." in str(refused.value)
    assert not Learner.objects.exists()


@pytest.mark.parametrize(
    ("records", "stored", "who"),
    [
        (lambda: [_new("B0001"), _new("b0001")], None, "b0001"),
        (lambda: [_new("B0001")], {"ident": "b0001"}, "b0001"),
        (lambda: [_new("B0001", ULN), _new("B0002", ULN)], None, "B0002"),
        (lambda: [_new("B0001", ULN)], {"uln": ULN}, "B0001"),
    ],
    ids=["ident-in-the-batch", "ident-stored", "uln-in-the-batch", "uln-stored"],
)
def test_an_ident_or_uln_taken_is_refused(records, stored, who):
    if stored:
        LearnerFactory(**stored)
    before = Learner.objects.count()

    with pytest.raises(ValidationError) as refused:
        services.learners_create(records=records())

    assert who in refused.value.message_dict
    assert Learner.objects.count() == before
