import datetime
import json
import re
import stat
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import F

from learners import validators
from learners.demo import AS_AT, QUALIFICATIONS, demo_data_load
from learners.models import (
    Attendance,
    Learner,
    LearnerOfficerRole,
    LearnerStatus,
    Officer,
    OfficerRole,
    Organisation,
    Placement,
    Qualification,
    Review,
    ReviewType,
)

pytestmark = pytest.mark.django_db

CATALOGUE = {
    "ST0070": ("Business Administrator", 3),
    "ST0072": ("Customer Service Practitioner", 2),
    "ST0384": ("Team Leader or Supervisor", 3),
    "ST0385": ("Operations or Departmental Manager", 5),
    "ST0116": ("Software Developer", 4),
    "ST0118": ("Data Analyst", 4),
    "ST0122": ("Digital Marketer", 3),
    "ST0125": ("Infrastructure Technician", 3),
    "ST0005": ("Adult Care Worker", 2),
    "ST0006": ("Lead Adult Care Worker", 3),
    "ST0135": ("Early Years Educator", 3),
    "ST0228": ("Commis Chef", 2),
    "ST0213": ("Hair Professional", 2),
    "ST0310": ("Associate Project Manager", 4),
    "ZPROG001": ("Apprenticeship programme aim", None),
}
LOGIN_LINE = re.compile(r"^  (\S+) +(\S+) +(Staff|Support|Integration admin)$")


@pytest.fixture
def logins_file(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    # The demo passwords are real ones; a fast hasher keeps these tests quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return tmp_path / "demo-logins.json"


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def printed_logins(output: str) -> dict[str, tuple[str, str]]:
    matches = (LOGIN_LINE.match(line) for line in output.splitlines())
    return {m[1]: (m[2], m[3]) for m in matches if m}


def every_row() -> dict[str, list[dict]]:
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_app_config("learners").get_models()
    }


def age_on(born: datetime.date, day: datetime.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


# --- The command -----------------------------------------------------------------------------


def test_seeding_prints_the_totals_and_a_login_per_role(logins_file):
    output = seed()

    lines = output.splitlines()
    assert lines[0] == "Demo data ready: 40 learners, 6 employers, 6 officers, 15 qualifications."
    assert lines[1] == "Sign in at http://127.0.0.1:8000/ with a demo login (demo only):"
    logins = printed_logins(output)
    assert {name: group for name, (_, group) in logins.items()} == {
        "staff": "Staff",
        "support": "Support",
        "integration-admin": "Integration admin",
    }
    assert len(lines) == 5


def test_the_printed_logins_sign_in_with_their_role(logins_file, client):
    logins = printed_logins(seed())

    for username, (password, group) in logins.items():
        assert client.login(username=username, password=password), username
        user = User.objects.get(username=username)
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert not user.is_superuser
        assert not user.is_staff
    assert User.objects.count() == 3


def test_the_passwords_are_recorded_for_this_checkout_only(logins_file):
    logins = printed_logins(seed())

    assert json.loads(logins_file.read_text()) == {
        name: password for name, (password, _) in logins.items()
    }
    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600


def test_quiet_prints_nothing_but_still_loads(logins_file):
    assert seed("--quiet") == ""
    assert Learner.objects.count() == 40
    assert logins_file.exists()


def test_a_second_run_changes_no_row_and_prints_the_same_logins(logins_file):
    first = seed()
    rows = every_row()

    second = seed()

    assert every_row() == rows
    assert second == first
    assert User.objects.count() == 3


def test_records_changed_since_are_kept_and_missing_ones_come_back(logins_file):
    seed("--quiet")
    edited = Learner.objects.get(ident="PW000101")
    edited.email = "olivia.new@mail.example"
    edited.save()
    Learner.objects.filter(ident="PW000102").delete()

    seed("--quiet")

    assert Learner.objects.get(ident="PW000101").email == "olivia.new@mail.example"
    restored = Learner.objects.get(ident="PW000102")
    assert restored.qualifications.count() == 2
    assert LearnerOfficerRole.objects.filter(learner=restored).count() == 2
    assert Learner.objects.count() == 40


def test_without_the_recorded_logins_the_passwords_are_reset_and_recorded(logins_file, client):
    old = printed_logins(seed())
    logins_file.unlink()

    new = printed_logins(seed())

    for username in ("staff", "support", "integration-admin"):
        assert new[username][0] != old[username][0]
        assert not client.login(username=username, password=old[username][0])
        assert client.login(username=username, password=new[username][0])
    assert json.loads(logins_file.read_text())["staff"] == new["staff"][0]


def test_a_new_database_gets_the_recorded_passwords(logins_file, client):
    old = printed_logins(seed())
    User.objects.all().delete()

    assert printed_logins(seed()) == old
    assert client.login(username="support", password=old["support"][0])


def test_a_password_changed_by_hand_is_kept_and_not_shown(logins_file, client):
    recorded = printed_logins(seed())["staff"][0]
    staff = User.objects.get(username="staff")
    staff.set_password("my-own-staff-password")
    staff.save()

    output = seed()

    assert "  staff               (changed since; not shown)" in output
    assert recorded not in output
    assert client.login(username="staff", password="my-own-staff-password")


def test_an_unreadable_logins_file_is_reported_with_the_way_out(logins_file):
    logins_file.write_text("staff: secret\n")

    with pytest.raises(CommandError, match="Delete it to reset the demo passwords"):
        seed()


def test_production_is_refused_unless_allowed(logins_file, settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="--allow-production"):
        seed()
    assert Learner.objects.count() == 0
    assert User.objects.count() == 0

    seed("--quiet", "--allow-production")
    assert Learner.objects.count() == 40


# --- The data --------------------------------------------------------------------------------


@pytest.fixture(scope="class")
def demo_data(django_db_setup, django_db_blocker):
    """The demo data loaded once for the tests that only read it, rolled back after them."""
    with django_db_blocker.unblock(), transaction.atomic():
        demo_data_load()
        yield
        transaction.set_rollback(True)


@pytest.mark.usefixtures("demo_data")
class TestTheDemoData:
    def test_the_reference_data_is_the_providers_lists(self):
        assert set(OfficerRole.objects.values_list("name", flat=True)) == {
            "Assessor",
            "Training Adviser",
            "Internal Verifier",
            "Mentor",
            "Second Assessor",
        }
        assert set(ReviewType.objects.values_list("name", flat=True)) == {
            "Progress Review",
            "Induction",
            "Assessment Visit",
            "End Point Assessment Gateway",
            "Exit Review",
        }
        catalogue = {q.reference: (q.title, q.level) for q in Qualification.objects.all()}
        assert catalogue == CATALOGUE
        standards = Qualification.objects.exclude(reference="ZPROG001")
        assert all(q.awarding_body for q in standards)
        assert set(QUALIFICATIONS) == set(CATALOGUE)

    def test_the_officers_hold_roles_and_one_has_left(self):
        officers = Officer.objects.prefetch_related("roles")
        roles_by_officer = {o.full_name: {r.name for r in o.roles.all()} for o in officers}
        assert len(roles_by_officer) >= 5
        assert all(roles_by_officer.values())
        assert sum("Assessor" in held for held in roles_by_officer.values()) >= 3
        assert any("Second Assessor" in held for held in roles_by_officer.values())
        assert Officer.objects.filter(is_active=False).count() == 1
        for officer in officers:
            officer.full_clean()
            assert officer.email.endswith("@provider.example")

    def test_the_employers_are_across_england_with_valid_details(self):
        employers = list(Organisation.objects.all())
        assert len(employers) == 6
        assert len({e.address_line3 for e in employers}) == 6
        for employer in employers:
            employer.full_clean()
            assert re.fullmatch(r"[0-9]{9}", employer.edrs_number)
            assert employer.website and employer.size_band and employer.phone
        assert len({e.edrs_number for e in employers}) == 6

    def test_every_demo_record_passes_full_clean(self):
        for model in apps.get_app_config("learners").get_models():
            for instance in model.objects.all():
                instance.full_clean()

    def test_the_learners_look_like_a_real_providers(self):
        learners = list(Learner.objects.order_by("ident"))

        assert [learner.ident for learner in learners] == [f"PW000{n}" for n in range(101, 141)]
        assert all(validators.uln_is_valid(learner.uln) for learner in learners)
        assert len({learner.uln for learner in learners}) == 40
        assert len({learner.ni_number for learner in learners}) == 40
        assert len({(learner.first_name, learner.surname) for learner in learners}) == 40
        for learner in learners:
            assert age_on(learner.date_of_birth, learner.start_date) >= 16
            assert age_on(learner.date_of_birth, AS_AT) <= 45
            assert learner.start_date.year in (2025, 2026)
            assert learner.mobile.startswith("07700 900")
        statuses = [learner.status for learner in learners]
        assert statuses.count(LearnerStatus.IN_LEARNING) >= 30
        for status in (LearnerStatus.BREAK_IN_LEARNING, LearnerStatus.COMPLETED):
            assert statuses.count(status) >= 2
        assert statuses.count(LearnerStatus.WITHDRAWN) >= 1
        ended = [learner for learner in learners if learner.actual_end_date]
        assert {learner.status for learner in ended} == {
            LearnerStatus.COMPLETED,
            LearnerStatus.WITHDRAWN,
        }

    def test_plans_hold_one_to_three_qualifications_with_progress(self):
        counts = [learner.qualifications.count() for learner in Learner.objects.all()]
        assert sorted(set(counts)) == [0, 1, 2, 3]
        assert counts.count(0) == 1
        in_progress = Learner.objects.get(ident="PW000101").qualifications.get(
            qualification__reference="ST0070"
        )
        assert in_progress.get_status_display() == "In progress"
        # No demo learner is in Smart Assessor yet, so none in learning has progress of its
        # own that Smart Assessor's 0 % would undo once enrolled (tests/learners/
        # test_demo_story.py); ended programmes keep the figures they ended with.
        assert in_progress.progress_percent == in_progress.timeline_percent == 0

    def test_some_learners_have_a_second_assessor_and_a_mentor_who_hold_that_role(self):
        for role_name in ("Second Assessor", "Mentor"):
            assignments = LearnerOfficerRole.objects.filter(role__name=role_name)
            assert assignments.count() >= 3
            for assignment in assignments:
                assert assignment.officer.roles.filter(name=role_name).exists()

    def test_past_reviews_record_attendance_and_future_ones_are_proposed(self):
        past = Review.objects.filter(proposed_at__date__lte=AS_AT)
        future = Review.objects.filter(proposed_at__date__gt=AS_AT)

        assert not past.filter(attendance=Attendance.UNKNOWN).exists()
        assert past.filter(attendance=Attendance.ATTENDED).count() > past.count() // 2
        assert past.filter(attendance=Attendance.NOT_ATTENDED).exists()
        assert past.filter(attendance=Attendance.CANCELLED).exists()
        assert not past.filter(attendance=Attendance.ATTENDED, actual_at__isnull=True).exists()
        assert future.exists()
        assert set(future.values_list("attendance", flat=True)) == {Attendance.UNKNOWN}
        assert not future.filter(actual_at__isnull=False).exists()
        assert set(Review.objects.values_list("review_type__name", flat=True)) == {
            "Progress Review",
            "Induction",
            "Assessment Visit",
            "End Point Assessment Gateway",
            "Exit Review",
        }

    # The problems a real office has, one learner each.

    def test_one_learner_has_no_email(self):
        assert Learner.objects.filter(email="").count() == 1

    def test_one_learner_has_no_qualification(self):
        assert Learner.objects.filter(qualifications__isnull=True).count() == 1

    def test_one_learner_in_learning_has_only_an_ended_placement(self):
        current = Placement.objects.current(on=AS_AT).values("learner")
        without = Learner.objects.filter(status=LearnerStatus.IN_LEARNING).exclude(pk__in=current)

        assert without.count() == 1
        placements = list(without.get().placements.all())
        assert placements
        assert all(p.end_date and p.end_date < AS_AT for p in placements)

    def test_one_learner_has_only_a_qualification_smart_assessor_does_not_offer(self):
        only_st0125 = [
            learner
            for learner in Learner.objects.prefetch_related("qualifications__qualification")
            if [q.qualification.reference for q in learner.qualifications.all()] == ["ST0125"]
        ]
        assert len(only_st0125) == 1

    def test_one_learner_has_no_main_officer(self):
        assert Learner.objects.filter(main_officer__isnull=True).count() == 1

    def test_one_learner_has_their_main_officer_as_second_assessor(self):
        """The enrolment preview warns about it: SA gets that officer once, as primary."""
        same = LearnerOfficerRole.objects.filter(
            role__name="Second Assessor", officer=F("learner__main_officer")
        )
        assert same.count() == 1
