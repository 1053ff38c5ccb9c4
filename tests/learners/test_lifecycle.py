"""The lifecycle of a learner's qualifications through the services: breaks in learning and
returns, the status rules, withdrawals (of a qualification, and of a learner with all of theirs),
and the domain signals the integration subscribes to."""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from learners import services, signals
from learners.models import (
    BreakInLearning,
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    QualificationStatus,
)
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    OfficerRoleFactory,
    OrganisationFactory,
    QualificationFactory,
)

pytestmark = pytest.mark.django_db

D = datetime.date
IN_PROGRESS = QualificationStatus.IN_PROGRESS
ON_A_BREAK = QualificationStatus.BREAK_IN_LEARNING
WITHDRAWN = QualificationStatus.WITHDRAWN


@dataclass
class Sent:
    signal: str
    sender: type
    record: Any
    changes: dict | None
    created: bool | None
    in_transaction: bool


@pytest.fixture
def sent():
    """What a subscriber to the domain's signals is told, in order."""
    received: list[Sent] = []

    def on_saved(sender, record, changes, created, **kwargs):
        in_transaction = transaction.get_connection().in_atomic_block
        received.append(Sent("saved", sender, record, changes, created, in_transaction))

    def on_deleted(sender, record, **kwargs):
        in_transaction = transaction.get_connection().in_atomic_block
        received.append(Sent("deleted", sender, record, None, None, in_transaction))

    signals.record_saved.connect(on_saved)
    signals.record_deleted.connect(on_deleted)
    yield received
    signals.record_saved.disconnect(on_saved)
    signals.record_deleted.disconnect(on_deleted)


def told(received: list[Sent]) -> list[tuple[str, str, dict | None]]:
    """Each signal as (kind, model, changes)."""
    return [(item.signal, item.sender.__name__, item.changes) for item in received]


def refusal(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.message_dict


@pytest.fixture
def entry():
    return LearnerQualificationFactory(
        qualification=QualificationFactory(reference="603/5074/9", title="Software Developer"),
        start_date=D(2026, 9, 1),
        status=IN_PROGRESS,
    )


BREAK_START = D(2026, 10, 5)


def on_a_break(entry, start=BREAK_START) -> BreakInLearning:
    return services.learner_qualification_break_start(learner_qualification=entry, start_date=start)


# --- A break and the return ------------------------------------------------------------------


def test_recording_a_break_saves_the_break_then_puts_the_qualification_on_a_break(entry, sent):
    found_by_the_subscriber = []
    signals.record_saved.connect(
        receiver := lambda sender, record, **kwargs: found_by_the_subscriber.append(
            record.breaks.filter(end_date__isnull=True).exists()
        ),
        sender=LearnerQualification,
    )
    try:
        brk = on_a_break(entry)
    finally:
        signals.record_saved.disconnect(receiver, sender=LearnerQualification)

    entry.refresh_from_db()
    assert entry.status == ON_A_BREAK
    assert (brk.start_date, brk.end_date) == (D(2026, 10, 5), None)
    assert told(sent) == [
        (
            "saved",
            "BreakInLearning",
            {
                "id": (None, brk.pk),
                "learner_qualification_id": (None, entry.pk),
                "start_date": (None, D(2026, 10, 5)),
                "end_date": (None, None),
            },
        ),
        ("saved", "LearnerQualification", {"status": (IN_PROGRESS, ON_A_BREAK)}),
    ]
    assert [item.created for item in sent] == [True, False]
    assert found_by_the_subscriber == [True]


def test_a_qualification_not_started_can_go_on_a_break(entry):
    entry.status = QualificationStatus.NOT_STARTED
    entry.save()

    on_a_break(entry)

    assert LearnerQualification.objects.get().status == ON_A_BREAK


@pytest.mark.parametrize(
    ("status", "name"), [("completed", "completed"), ("withdrawn", "withdrawn")]
)
def test_an_ended_qualification_cannot_go_on_a_break(entry, sent, status, name):
    entry.status, entry.actual_end_date = status, D(2026, 11, 20)
    entry.save()

    assert refusal(lambda: on_a_break(entry)) == {
        "start_date": [
            f"The qualification is {name}: a break can be recorded only on a qualification "
            "that is not started or in progress."
        ]
    }
    assert not BreakInLearning.objects.exists()
    assert sent == []


def test_a_qualification_on_a_break_cannot_go_on_another(entry, sent):
    on_a_break(entry)
    sent.clear()

    assert refusal(lambda: on_a_break(entry, D(2026, 11, 2))) == {
        "start_date": [
            "The qualification is on a break in learning already, from 5 Oct 2026 (ongoing): "
            "record the return before a new break."
        ]
    }
    assert BreakInLearning.objects.count() == 1
    assert sent == []


def test_a_break_the_model_refuses_changes_nothing(entry, sent):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    assert refusal(lambda: on_a_break(entry, tomorrow)) == {
        "start_date": ["A break cannot start in the future."]
    }
    entry.refresh_from_db()
    assert entry.status == IN_PROGRESS
    assert not BreakInLearning.objects.exists()
    assert sent == []


def test_the_return_ends_the_break_then_the_qualification_is_in_progress(entry, sent):
    brk = on_a_break(entry)
    sent.clear()

    services.learner_qualification_break_end(brk=brk, end_date=D(2026, 11, 2))

    brk.refresh_from_db()
    entry.refresh_from_db()
    assert brk.end_date == D(2026, 11, 2)
    assert entry.status == IN_PROGRESS
    assert told(sent) == [
        ("saved", "BreakInLearning", {"end_date": (None, D(2026, 11, 2))}),
        ("saved", "LearnerQualification", {"status": (ON_A_BREAK, IN_PROGRESS)}),
    ]


def test_a_learner_can_have_several_breaks(entry):
    first = on_a_break(entry, D(2026, 9, 10))
    services.learner_qualification_break_end(brk=first, end_date=D(2026, 9, 20))
    second = on_a_break(entry, D(2026, 10, 1))

    assert list(entry.breaks.values_list("start_date", "end_date")) == [
        (D(2026, 9, 10), D(2026, 9, 20)),
        (D(2026, 10, 1), None),
    ]
    assert entry.open_break == second


def test_a_return_cannot_be_recorded_twice(entry, sent):
    brk = on_a_break(entry)
    services.learner_qualification_break_end(brk=brk, end_date=D(2026, 11, 2))
    sent.clear()

    assert refusal(
        lambda: services.learner_qualification_break_end(brk=brk, end_date=D(2026, 11, 9))
    ) == {"end_date": ["The return from this break was recorded already, on 2 Nov 2026."]}
    assert BreakInLearning.objects.get().end_date == D(2026, 11, 2)
    assert sent == []


def test_a_return_before_the_break_is_refused_and_the_qualification_stays_on_it(entry):
    brk = on_a_break(entry)

    assert refusal(
        lambda: services.learner_qualification_break_end(brk=brk, end_date=D(2026, 10, 4))
    ) == {"end_date": ["The return cannot be before the start of the break."]}
    entry.refresh_from_db()
    assert entry.status == ON_A_BREAK
    assert BreakInLearning.objects.get().end_date is None


def test_a_value_written_meanwhile_is_not_written_back(entry, sent):
    """The synchronisation may write progress between a page's read and its write."""
    LearnerQualification.objects.filter(pk=entry.pk).update(progress_percent=Decimal("50"))

    on_a_break(entry)

    assert LearnerQualification.objects.get().progress_percent == Decimal("50")
    assert sent[-1].changes == {"status": (IN_PROGRESS, ON_A_BREAK)}


# --- The status rules of an update -------------------------------------------------------------


def update(entry, **data):
    return services.learner_qualification_update(learner_qualification=entry, data=data)


RECORD_A_BREAK = (
    "A break in learning is recorded with its start date: use Record a break on the Delivery "
    "Plan rather than the status."
)


def test_the_status_cannot_be_set_to_a_break_directly(entry, sent):
    assert refusal(lambda: update(entry, status=ON_A_BREAK)) == {"status": [RECORD_A_BREAK]}
    assert LearnerQualification.objects.get().status == IN_PROGRESS
    assert sent == []


def test_a_qualification_cannot_be_added_on_a_break():
    learner = LearnerFactory()

    assert refusal(
        lambda: services.learner_qualification_create(
            learner=learner,
            data={
                "qualification": QualificationFactory(),
                "start_date": D(2026, 9, 1),
                "planned_end_date": D(2027, 9, 1),
                "status": ON_A_BREAK,
            },
        )
    ) == {"status": [RECORD_A_BREAK]}
    assert not LearnerQualification.objects.exists()


@pytest.mark.parametrize(
    ("status", "extra"),
    [
        ("in_progress", {}),
        ("not_started", {}),
        ("completed", {"actual_end_date": D(2026, 11, 20)}),
    ],
)
def test_a_qualification_on_a_break_moves_on_only_by_the_return_or_a_withdrawal(
    entry, status, extra
):
    on_a_break(entry)

    assert refusal(lambda: update(entry, status=status, **extra)) == {
        "status": [
            "The qualification is on a break in learning from 5 Oct 2026 (ongoing): record "
            "the return on the Delivery Plan to move it on, or withdraw it."
        ]
    }
    assert LearnerQualification.objects.get().status == ON_A_BREAK


def test_a_qualification_on_a_break_keeps_its_other_details_editable(entry):
    on_a_break(entry)

    update(entry, status=ON_A_BREAK, planned_end_date=D(2028, 6, 1))

    assert LearnerQualification.objects.get().planned_end_date == D(2028, 6, 1)


def test_a_status_of_break_without_a_break_recorded_can_be_moved_on(entry):
    """Set by the synchronisation, or before breaks were recorded: there is no break to end."""
    LearnerQualification.objects.filter(pk=entry.pk).update(status=ON_A_BREAK)

    update(entry, status=IN_PROGRESS)

    assert LearnerQualification.objects.get().status == IN_PROGRESS


def test_a_withdrawal_on_a_break_ends_the_break_on_the_withdrawal_date(entry, sent):
    brk = on_a_break(entry)
    sent.clear()

    update(entry, status=WITHDRAWN, actual_end_date=D(2026, 11, 20))

    brk.refresh_from_db()
    entry.refresh_from_db()
    assert brk.end_date == D(2026, 11, 20)
    assert (entry.status, entry.actual_end_date) == (WITHDRAWN, D(2026, 11, 20))
    assert told(sent) == [
        ("saved", "BreakInLearning", {"end_date": (None, D(2026, 11, 20))}),
        (
            "saved",
            "LearnerQualification",
            {"status": (ON_A_BREAK, WITHDRAWN), "actual_end_date": (None, D(2026, 11, 20))},
        ),
    ]


def test_a_withdrawal_on_a_break_is_checked_against_the_new_actual_end_date(entry):
    """An actual end date entered earlier is replaced by the withdrawal's, not kept."""
    brk = on_a_break(entry)
    update(entry, status=ON_A_BREAK, actual_end_date=D(2026, 10, 10))

    update(entry, status=WITHDRAWN, actual_end_date=D(2026, 11, 20))

    brk.refresh_from_db()
    assert brk.end_date == D(2026, 11, 20)


@pytest.mark.parametrize(
    ("withdrawn_on", "message"),
    [
        (
            D(2026, 10, 4),
            "The qualification has been on a break in learning since 5 Oct 2026: it cannot be "
            "withdrawn before then.",
        ),
        (
            "tomorrow",
            "The qualification has been on a break in learning since 5 Oct 2026: the break ends "
            "on the withdrawal date, which cannot be in the future.",
        ),
        (None, "A withdrawn qualification needs its actual end date."),
    ],
)
def test_a_withdrawal_on_a_break_needs_a_date_the_break_can_end_on(
    entry, sent, withdrawn_on, message
):
    brk = on_a_break(entry)
    sent.clear()
    if withdrawn_on == "tomorrow":
        withdrawn_on = timezone.localdate() + datetime.timedelta(days=1)

    assert refusal(lambda: update(entry, status=WITHDRAWN, actual_end_date=withdrawn_on)) == {
        "actual_end_date": [message]
    }
    brk.refresh_from_db()
    assert brk.end_date is None
    assert LearnerQualification.objects.get().status == ON_A_BREAK
    assert sent == []


def test_a_withdrawal_needs_its_actual_end_date(entry):
    assert refusal(lambda: update(entry, status=WITHDRAWN)) == {
        "actual_end_date": ["A withdrawn qualification needs its actual end date."]
    }


# --- A learner's withdrawal ----------------------------------------------------------------------


@pytest.fixture
def plan():
    """A learner with a qualification in progress, one on a break and one completed."""
    learner = LearnerFactory(ident="L-1")
    in_progress = LearnerQualificationFactory(
        learner=learner, status=IN_PROGRESS, qualification__reference="A-IN-PROGRESS"
    )
    on_break = LearnerQualificationFactory(
        learner=learner, status=IN_PROGRESS, qualification__reference="B-ON-A-BREAK"
    )
    on_a_break(on_break)
    completed = LearnerQualificationFactory(
        learner=learner,
        status=QualificationStatus.COMPLETED,
        actual_end_date=D(2026, 10, 30),
        qualification__reference="C-COMPLETED",
    )
    return learner, in_progress, on_break, completed


def withdraw(learner, **data):
    return services.learner_update(
        learner=learner,
        data={"status": "withdrawn", "actual_end_date": D(2026, 11, 20), **data},
    )


def test_withdrawing_a_learner_withdraws_each_active_qualification(plan, sent):
    learner, in_progress, on_break, _ = plan
    sent.clear()

    withdraw(learner)

    statuses = dict(learner.qualifications.values_list("qualification__reference", "status"))
    assert statuses == {
        "A-IN-PROGRESS": "withdrawn",
        "B-ON-A-BREAK": "withdrawn",
        "C-COMPLETED": "completed",
    }
    ended = dict(learner.qualifications.values_list("qualification__reference", "actual_end_date"))
    assert ended == {
        "A-IN-PROGRESS": D(2026, 11, 20),
        "B-ON-A-BREAK": D(2026, 11, 20),
        "C-COMPLETED": D(2026, 10, 30),
    }
    assert on_break.breaks.get().end_date == D(2026, 11, 20)
    withdrawal = {"status": (IN_PROGRESS, WITHDRAWN), "actual_end_date": (None, D(2026, 11, 20))}
    assert told(sent) == [
        (
            "saved",
            "Learner",
            {"status": ("in_learning", "withdrawn"), "actual_end_date": (None, D(2026, 11, 20))},
        ),
        ("saved", "LearnerQualification", withdrawal),
        ("saved", "BreakInLearning", {"end_date": (None, D(2026, 11, 20))}),
        ("saved", "LearnerQualification", {**withdrawal, "status": (ON_A_BREAK, WITHDRAWN)}),
    ]
    assert [item.record.pk for item in sent] == [
        learner.pk,
        in_progress.pk,
        on_break.breaks.get().pk,
        on_break.pk,
    ]


def test_a_withdrawn_learner_needs_their_actual_end_date(plan, sent):
    learner, *_ = plan
    sent.clear()

    assert refusal(lambda: withdraw(learner, actual_end_date=None)) == {
        "actual_end_date": ["A withdrawn learner needs their actual end date."]
    }
    assert sent == []


def test_a_qualification_that_cannot_be_withdrawn_on_the_date_stops_the_whole_withdrawal(
    plan, sent
):
    learner, in_progress, *_ = plan
    LearnerQualificationFactory(
        learner=learner,
        start_date=D(2026, 11, 25),
        qualification__reference="D-LATER",
        qualification__title="Functional Skills",
    )
    sent.clear()

    assert refusal(lambda: withdraw(learner)) == {
        "actual_end_date": [
            "D-LATER Functional Skills cannot be withdrawn on this date: The actual end date "
            "cannot be before the start date."
        ]
    }
    assert Learner.objects.get().status == "in_learning"
    assert LearnerQualification.objects.get(pk=in_progress.pk).status == IN_PROGRESS
    assert BreakInLearning.objects.get().end_date is None


def test_a_learner_withdrawn_already_withdraws_nothing_more(plan):
    learner, *_ = plan
    withdraw(learner)
    added = LearnerQualificationFactory(learner=learner, status=IN_PROGRESS)

    withdraw(learner, first_name="Renamed")

    added.refresh_from_db()
    assert added.status == IN_PROGRESS


# --- The signals: what changed, and only then ----------------------------------------------------


def test_a_create_tells_every_field_with_no_old_value(sent):
    officer = OfficerFactory()

    learner = services.learner_create(
        data={
            "ident": "NEW1",
            "first_name": "Priya",
            "surname": "Shah",
            "date_of_birth": D(2004, 5, 17),
            "start_date": D(2026, 9, 1),
            "planned_end_date": D(2028, 3, 1),
            "main_officer": officer,
        }
    )

    [item] = sent
    assert (item.sender, item.record, item.created) == (Learner, learner, True)
    assert set(item.changes) == {field.attname for field in Learner._meta.concrete_fields}
    assert all(old is None for old, _ in item.changes.values())
    assert item.changes["id"] == (None, learner.pk)
    assert item.changes["main_officer_id"] == (None, officer.pk)
    assert item.changes["status"] == (None, "in_learning")


def test_an_update_tells_the_fields_that_changed_by_their_attname(sent):
    learner = LearnerFactory(first_name="Sam")
    old_officer, new_officer = learner.main_officer, OfficerFactory()
    # A ModelForm sets the new values on the instance before the service is called.
    learner.first_name = "Samuel"

    services.learner_update(
        learner=learner, data={"first_name": "Samuel", "main_officer": new_officer}
    )

    assert told(sent) == [
        (
            "saved",
            "Learner",
            {"first_name": ("Sam", "Samuel"), "main_officer_id": (old_officer.pk, new_officer.pk)},
        )
    ]
    assert sent[0].created is False


def test_a_save_that_changes_nothing_writes_and_tells_nothing(sent):
    learner = LearnerFactory(first_name="Sam")
    entry = LearnerQualificationFactory(learner=learner, status=IN_PROGRESS)
    stamped = Learner.objects.get().updated_at

    services.learner_update(learner=learner, data={"first_name": "Sam"})
    update(entry, status=IN_PROGRESS, progress_percent=Decimal("0.00"))

    assert sent == []
    assert Learner.objects.get().updated_at == stamped


def test_officer_roles_tell_their_creation_change_and_deletion(sent):
    learner = LearnerFactory()
    mentor, assessor = OfficerRoleFactory(name="Mentor"), OfficerRoleFactory(name="Assessor")
    first, second = OfficerFactory(), OfficerFactory()

    role = services.learner_officer_role_create(
        learner=learner, data={"role": mentor, "officer": first}
    )
    # As a ModelForm does, before the service is called.
    role.role, role.officer = assessor, second
    services.learner_officer_role_update(
        learner_officer_role=role, data={"role": assessor, "officer": second}
    )
    services.learner_officer_role_delete(learner_officer_role=role)

    assert [item.signal for item in sent] == ["saved", "saved", "deleted"]
    assert sent[0].changes["officer_id"] == (None, first.pk)
    assert sent[0].changes["role_id"] == (None, mentor.pk)
    assert sent[1].changes == {
        "officer_id": (first.pk, second.pk),
        "role_id": (mentor.pk, assessor.pk),
    }
    assert sent[2].sender is LearnerOfficerRole
    assert (sent[2].record.learner_id, sent[2].record.role_id) == (learner.pk, assessor.pk)
    assert not LearnerOfficerRole.objects.exists()


def test_records_outside_the_contract_tell_nothing(sent):
    learner = LearnerFactory()

    services.officer_create(data={"forenames": "Kim", "surname": "Lee"})
    services.placement_create(
        learner=learner, data={"organisation": OrganisationFactory(), "start_date": D(2026, 9, 1)}
    )

    assert sent == []


@pytest.mark.django_db(transaction=True)
def test_the_signals_are_sent_inside_the_writes_transaction(sent):
    """A transactional test: no test transaction around the call, so only the services' own
    makes the receivers run inside one."""
    entry = LearnerQualificationFactory(status=IN_PROGRESS, start_date=D(2026, 9, 1))
    role = LearnerOfficerRole.objects.create(
        learner=entry.learner, officer=OfficerFactory(), role=OfficerRoleFactory()
    )

    brk = on_a_break(entry)
    services.learner_qualification_break_end(brk=brk, end_date=D(2026, 11, 2))
    services.learner_update(learner=entry.learner, data={"first_name": "Renamed"})
    services.learner_officer_role_delete(learner_officer_role=role)

    assert len(sent) == 6
    assert all(item.in_transaction for item in sent)
    assert not transaction.get_connection().in_atomic_block


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_fails_undoes_the_write(entry):
    def refuse(**kwargs):
        raise RuntimeError("the subscriber could not store its intent")

    signals.record_saved.connect(refuse, sender=LearnerQualification)
    try:
        with pytest.raises(RuntimeError):
            on_a_break(entry)
    finally:
        signals.record_saved.disconnect(refuse, sender=LearnerQualification)

    assert not BreakInLearning.objects.exists()
    assert LearnerQualification.objects.get().status == IN_PROGRESS
