"""Each ILR rule refuses the learner, naming the rule, the LearnRefNumber's line and why; and
what a second month's file does: changes, conflicts, breaks in learning."""

import datetime

import pytest

from imports import services
from learners import services as learner_services
from learners.models import BreakInLearning, Learner, QualificationStatus
from tests.factories import OrganisationFactory

from . import ilr_files as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("learner", "rule"),
    [
        (f.learner(uln_value="1061484935"), "ULN_04"),
        (f.learner(born="2020-01-01"), "DateOfBirth_plausible"),
        (f.learner(deliveries=f.delivery(start="2015-07-31")), "LearnStartDate_02"),
        (f.learner(deliveries=f.delivery(planned_end="2025-08-31")), "LearnPlanEndDate_02"),
        (f.learner(deliveries=f.delivery(planned_end="2025-09-01")), "MIS_PlanEndAfterStart"),
        (f.learner(deliveries=f.delivery(comp_status=2)), "CompStatus_02"),
        (f.learner(deliveries=f.delivery(comp_status=3)), "CompStatus_02"),
        (f.learner(deliveries=f.delivery(actual_end="2026-01-01")), "CompStatus_04"),
        (
            f.learner(deliveries=f.delivery(comp_status=2, actual_end="2025-08-31")),
            "LearnActEndDate_01",
        ),
    ],
)
def test_a_rule_refuses_the_learner_and_names_itself_and_the_line(
    tmp_path, catalogue, learner, rule
):
    path = f.write(tmp_path / "ilr.xml", f.learner("OK1", number=5), learner)

    rows = services.plan(path).rows

    assert rows[0].outcome == "new"
    assert rows[1].outcome == "refused"
    assert rows[1].reasons[0].startswith(f"{rule} (line 13)")


def test_an_aim_taken_twice_not_as_a_restart_is_refused_as_the_mis_holds_it_once(
    tmp_path, catalogue
):
    twice = f.delivery("60146242", std_code=None) + f.delivery(
        "60146242", sequence=2, start="2026-01-05", std_code=None
    )
    path = f.write(tmp_path / "ilr.xml", f.learner(deliveries=twice))

    (row,) = services.plan(path).rows

    assert row.outcome == "refused"
    assert row.reasons[0].startswith("MIS_QualificationOnce: the aim 60146242 is in the file twice")


def test_the_limits_of_the_rules_let_a_learner_through(tmp_path, catalogue):
    path = f.write(
        tmp_path / "ilr.xml",
        f.learner(uln_value="9999999999", deliveries=f.delivery(start="2015-08-01")),
        f.learner("L2", number=2, deliveries=f.delivery(comp_status=2, actual_end="2026-01-05")),
    )

    assert services.plan(path).counts == {"new": 2}


def _import(tmp_path, user, *learners):
    path = f.write(tmp_path / "ilr.xml", *learners)
    return services.commit(path, user=user, file_name=path.name)


def test_next_months_file_changes_what_changed(tmp_path, catalogue, admin_user):
    _import(tmp_path, admin_user, f.learner(family="Before"))

    path = f.write(tmp_path / "next.xml", f.learner(family="After"))
    row = services.plan(path).rows[0]
    assert row.outcome == "changed"
    assert row.changes == [("learner.surname", "Before", "After")]

    services.commit(path, user=admin_user, file_name=path.name)
    assert Learner.objects.get().surname == "After"


def test_a_learner_edited_in_the_mis_since_the_import_is_a_conflict_left_as_it_is(
    tmp_path, catalogue, admin_user
):
    _import(tmp_path, admin_user, f.learner(family="Imported"))
    learner_services.learner_update(learner=Learner.objects.get(), data={"surname": "Typed"})

    record = _import(tmp_path, admin_user, f.learner(family="Next"))

    assert record.counts["conflict"] == 1
    assert Learner.objects.get().surname == "Typed"


def test_a_learner_typed_in_the_mis_before_any_import_is_a_conflict(
    tmp_path, catalogue, admin_user
):
    path = f.write(tmp_path / "ilr.xml", f.learner())
    services.commit(path, user=admin_user, file_name=path.name)
    Learner.objects.get().delete()
    learner_services.learner_create(
        data={
            "ident": "L0001",
            "first_name": "Hand",
            "surname": "Typed",
            "date_of_birth": datetime.date(2000, 1, 15),
            "start_date": datetime.date(2025, 9, 1),
            "planned_end_date": datetime.date(2027, 3, 1),
        }
    )
    services.IlrImportedLearner.objects.all().delete()

    row = services.plan(path).rows[0]

    assert row.outcome == "conflict"
    assert row.reasons == ["in the MIS already, not from an import"]


def test_a_break_and_its_restart_are_one_qualification_with_a_break(
    tmp_path, catalogue, admin_user
):
    on_break = f.delivery(comp_status=6, actual_end="2025-12-01")
    _import(tmp_path, admin_user, f.learner(deliveries=on_break))

    brk = BreakInLearning.objects.get()
    assert (brk.start_date, brk.end_date) == (datetime.date(2025, 12, 1), None)
    assert brk.learner_qualification.status == QualificationStatus.BREAK_IN_LEARNING

    restart = f.delivery(sequence=2, start="2026-02-01", planned_end="2027-06-01")
    record = _import(tmp_path, admin_user, f.learner(deliveries=on_break + restart))

    assert record.counts["changed"] == 1
    brk.refresh_from_db()
    assert brk.end_date == datetime.date(2026, 2, 1)
    assert brk.learner_qualification.status == QualificationStatus.IN_PROGRESS
    assert brk.learner_qualification.planned_end_date == datetime.date(2027, 6, 1)
    assert (
        _import(tmp_path, admin_user, f.learner(deliveries=on_break + restart)).counts["unchanged"]
        == 1
    )


def test_an_employer_is_matched_by_its_edrs_number_or_made_as_a_placeholder(
    tmp_path, catalogue, admin_user
):
    known = OrganisationFactory(edrs_number="123456789")
    _import(
        tmp_path,
        admin_user,
        f.learner(employer="123456789"),
        f.learner("L2", number=2, employer="987654321"),
    )

    assert Learner.objects.get(ident="L0001").placements.get().organisation == known
    placeholder = Learner.objects.get(ident="L2").placements.get().organisation
    assert placeholder.name == "EDRS 987654321 (from the ILR)"
    assert placeholder.postcode == services.PLACEHOLDER_POSTCODE
