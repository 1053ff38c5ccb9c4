"""The set-based writes the synchronisation makes (COPY on PostgreSQL, executemany on SQLite):
every value comes back as it went in, whatever characters it holds."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from learners.models import LearnerQualification
from smartassessor.models import SyncChange, SyncRun
from smartassessor.services.sync.writes import rows_insert, rows_update
from tests.factories import LearnerFactory, LearnerQualificationFactory

pytestmark = pytest.mark.django_db

AWKWARD = [
    "",
    "plain",
    'a "quoted" word, and a comma',
    "tab\there, new line\nthere, return\r, backslash \\ and \\N",
    "Zoë Ó'Brien — 学生 🎓",
    '""',
    "NULL",
]


def test_inserted_rows_come_back_as_they_went_in():
    run = SyncRun.objects.create(trigger=SyncRun.Trigger.DAILY)
    learner = LearnerFactory()
    at = timezone.now()
    values = [None, {"session": "s-1", "notes": AWKWARD[3]}, "45.50", [1, "two"], "", 0]
    rows = [
        (learner.pk if n % 2 else None, "learner", "pull", text, text, text, "Field", "attr",
         values[n % 6], n if n % 3 else None, bool(n % 2), False, run.pk, at)
        for n, text in enumerate(AWKWARD * 3)
    ]  # fmt: skip
    names = ("learner", "target", "direction", "record", "old_value", "new_value", "field",
             "attr", "value", "record_id", "in_history", "left_out", "run", "at")  # fmt: skip

    with transaction.atomic():
        rows_insert(SyncChange, names, rows)

    stored = list(
        SyncChange.objects.filter(run=run)
        .order_by("id")
        .values_list(
            "learner_id", "target", "direction", "record", "old_value", "new_value", "field",
            "attr", "value", "record_id", "in_history", "left_out", "run_id", "at",
        )
    )  # fmt: skip
    assert stored == rows


def test_updated_rows_take_each_value_given():
    lq = LearnerQualificationFactory()

    with transaction.atomic():
        written = rows_update(
            LearnerQualification,
            {lq.pk: {"progress_percent": Decimal("45.50"), "actual_end_date": dt.date(2027, 1, 2)}},
        )

    lq.refresh_from_db()
    assert written == 1
    assert lq.progress_percent == Decimal("45.50")
    assert lq.actual_end_date == dt.date(2027, 1, 2)


def test_a_duplicate_insert_raises_djangos_integrity_error_and_writes_nothing():
    from django.db import IntegrityError

    from learners.models import Review
    from smartassessor.models import ReviewLink
    from smartassessor.services.sync.writes import rows_insert_returning
    from tests.factories import ReviewFactory

    review = ReviewFactory()
    ReviewLink.objects.create(review=review, session_id="s-1")
    learner = review.learner
    at = timezone.now()
    rows = [(learner.pk, None, None, at, None, "unknown", "") for _ in range(3)]

    with pytest.raises(IntegrityError), transaction.atomic():
        ids = rows_insert_returning(
            Review,
            ("learner", "review_type", "reviewer", "proposed_at", "actual_at", "attendance",
             "notes"),
            rows,
        )  # fmt: skip
        assert len(ids) == 3 and len(set(ids)) == 3
        rows_insert(ReviewLink, ("review", "session_id"), [(ids[0], "s-2"), (ids[1], "s-1")])

    assert Review.objects.count() == 1 and ReviewLink.objects.count() == 1
