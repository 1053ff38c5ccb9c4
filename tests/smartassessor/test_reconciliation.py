"""The reconciliation report (F24) against the sandbox over HTTP: each category found from
Smart Assessor's full lists, Link through F12's rules and the look-up's, who may do what, the
page, the API, the command, and a failed build that keeps the report before it."""

import datetime as dt
import io
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from smartassessor.client import LearnerInput
from smartassessor.models import (
    AuditEntry,
    Enrolment,
    OfficerLink,
    OrganisationLink,
    Reconciliation,
    ReconciliationFinding,
)
from smartassessor.services import reconciliation
from tests.factories import LearnerFactory, OfficerFactory, OrganisationFactory

from .sync_helpers import client, enrolled_learner, sa_id

pytestmark = pytest.mark.django_db

Category = ReconciliationFinding.Category
PAGE = "/smartassessor/reconciliation/"
API = "/api/reconciliation/"
VALID_ULN = "1234567899"
BORN = dt.date(2001, 4, 9)


def sa_learner(mis_id: str, given: str, family: str, *, born=BORN, uln=None) -> str:
    """A learner made in Smart Assessor directly (not by our enrolment); its SA id."""
    created = client().learner_create(
        learner=LearnerInput(
            mis_learner_id=mis_id,
            given_names=given,
            family_name=family,
            date_of_birth=born,
            uln=uln,
            email=f"{mis_id.lower()}@sa.example",
            start_date=timezone.localdate() - dt.timedelta(days=30),
        ),
        idempotency_key=f"test-{uuid.uuid4()}",
    )
    return created.smart_assessor_id


def link_by_hand(learner, sa_learner_id: str) -> Enrolment:
    return Enrolment.objects.create(
        learner=learner,
        source=Enrolment.Source.MANUAL,
        state=Enrolment.State.ENROLLED,
        sa_learner_id=sa_learner_id,
        enrolled_at=timezone.now(),
    )


@pytest.fixture
def scenario(sa_sandbox):
    """One MIS and one Smart Assessor that disagree in every way the report knows."""
    fine = enrolled_learner()
    gone = LearnerFactory(ident="GONE01")
    link_by_hand(gone, str(uuid.uuid4()))  # the sandbox cannot delete: an id SA never had
    named = LearnerFactory(ident="NAMED01")
    named_sa = sa_learner("NAMED01", "Someone", "Else")
    first, second = enrolled_learner(), enrolled_learner()
    first_sa, second_sa = sa_id(first), sa_id(second)
    Enrolment.objects.filter(learner=second).update(sa_learner_id="")
    Enrolment.objects.filter(learner=first).update(sa_learner_id=second_sa)
    Enrolment.objects.filter(learner=second).update(sa_learner_id=first_sa)
    by_uln = LearnerFactory(ident="ULN01", uln=VALID_ULN, first_name="Priti", surname="Patel")
    by_uln_sa = sa_learner("SA-ONLY-1", "Preeti", "Patel-Shah", uln=VALID_ULN)
    by_names = LearnerFactory(
        ident="NAMES01", first_name="Zoe", surname="Bronte", date_of_birth=BORN, uln=""
    )
    by_names_sa = sa_learner("SA-ONLY-2", "ZOË", "brontë")
    nobody_sa = sa_learner("SA-ONLY-3", "Nobody", "Known", born=dt.date(1990, 1, 1))
    # The seed's employers and assessors: one found by EDRS number, one by name and postcode,
    # one by email; and links to records Smart Assessor does not have.
    by_edrs = OrganisationFactory(name="Pennine Care", edrs_number="104558231")
    by_name = OrganisationFactory(
        name="SEVERN DIGITAL SOLUTIONS LTD.", postcode="sy12dj", edrs_number=""
    )
    by_email = OfficerFactory(email="Priya.Shah@Assessors.Example")
    employer_gone = OrganisationFactory()
    OrganisationLink.objects.create(organisation=employer_gone, employer_id=999_001)
    assessor_gone = OfficerFactory()
    OfficerLink.objects.create(officer=assessor_gone, assessor_id=999_002)
    return {
        "fine": fine,
        "gone": gone,
        "named": named,
        "named_sa": named_sa,
        "swapped": (first, second, first_sa, second_sa),
        "by_uln": (by_uln, by_uln_sa),
        "by_names": (by_names, by_names_sa),
        "nobody_sa": nobody_sa,
        "by_edrs": by_edrs,
        "by_name": by_name,
        "by_email": by_email,
        "employer_gone": employer_gone,
        "assessor_gone": assessor_gone,
    }


def built() -> Reconciliation:
    report = reconciliation.reconciliation_build_now()
    assert report.state == Reconciliation.State.SUCCEEDED, report.error
    return report


def line(category, **where) -> ReconciliationFinding:
    return ReconciliationFinding.objects.get(category=category, **where)


def test_each_category_is_found_with_its_likely_match(scenario):
    report = built()

    assert report.sa_learners == 7 and report.sa_employers >= 4 and report.sa_assessors >= 3
    assert line(Category.LEARNER_GONE).learner == scenario["gone"]
    named = line(Category.LEARNER_NAMED)
    assert (named.learner, named.sa_id) == (scenario["named"], scenario["named_sa"])
    assert named.match and named.sa_name == "Someone Else"
    first, second, first_sa, second_sa = scenario["swapped"]
    swapped = line(Category.LEARNER_SWAPPED)
    assert {swapped.learner, swapped.linked_learner} == {first, second}
    assert {swapped.sa_id, swapped.linked_sa_id} == {first_sa, second_sa}
    assert not swapped.match, "a swap is for a person to undo, never linked in one step"
    by_uln, by_uln_sa = scenario["by_uln"]
    assert line(Category.LEARNER_UNLINKED, sa_id=by_uln_sa).learner == by_uln
    assert line(Category.LEARNER_UNLINKED, sa_id=by_uln_sa).match == "same ULN"
    by_names, by_names_sa = scenario["by_names"]
    accents = line(Category.LEARNER_UNLINKED, sa_id=by_names_sa)
    assert (accents.learner, accents.match) == (by_names, "same names and date of birth")
    assert accents.sa_date_of_birth == BORN and accents.sa_mis_id == "SA-ONLY-2"
    nobody = line(Category.LEARNER_UNLINKED, sa_id=scenario["nobody_sa"])
    assert nobody.learner is None and not nobody.match
    assert line(Category.EMPLOYER_UNLINKED, sa_id="1001").organisation == scenario["by_edrs"]
    assert line(Category.EMPLOYER_UNLINKED, sa_id="1001").match == "same EDRS number"
    assert line(Category.EMPLOYER_UNLINKED, sa_id="1002").organisation == scenario["by_name"]
    assert line(Category.EMPLOYER_UNLINKED, sa_id="1002").match == "same name and postcode"
    assert line(Category.ASSESSOR_UNLINKED, sa_id="5001").officer == scenario["by_email"]
    assert line(Category.ASSESSOR_UNLINKED, sa_id="5001").match == "same email"
    assert line(Category.EMPLOYER_GONE).organisation == scenario["employer_gone"]
    assert line(Category.ASSESSOR_GONE).officer == scenario["assessor_gone"]
    # The learner whose link holds is nowhere, and nothing was mended on its own.
    assert not ReconciliationFinding.objects.filter(learner=scenario["fine"]).exists()
    assert not ReconciliationFinding.objects.filter(linked_learner=scenario["fine"]).exists()
    assert Enrolment.objects.get(learner=scenario["gone"], is_current=True).sa_learner_id
    assert not Enrolment.objects.filter(learner=by_uln).exists()
    assert not OrganisationLink.objects.filter(organisation=scenario["by_edrs"]).exists()


def test_support_links_a_likely_match_through_f12_and_it_is_audited(scenario, support_client):
    report = built()
    by_uln, by_uln_sa = scenario["by_uln"]
    finding = line(Category.LEARNER_UNLINKED, sa_id=by_uln_sa)

    response = support_client.post(
        f"/smartassessor/reconciliation/findings/{finding.pk}/link/", follow=True
    )

    assert f"{by_uln} is linked to Smart Assessor learner {by_uln_sa}." in (
        response.content.decode()
    )
    assert Enrolment.objects.get(learner=by_uln, is_current=True).sa_learner_id == by_uln_sa
    audit = AuditEntry.objects.get(action="Smart Assessor ID set by hand", object_id=by_uln.pk)
    assert audit.reason == reconciliation.link_reason(report)
    assert audit.reason.startswith("Linked from the reconciliation report of ")
    assert audit.actor.username == "support" and audit.changes == {"sa_learner_id": ["", by_uln_sa]}
    finding.refresh_from_db()
    assert finding.linked_at is not None and finding.linked_by.username == "support"
    again = support_client.post(
        f"/smartassessor/reconciliation/findings/{finding.pk}/link/", follow=True
    )
    assert "linked from the report already" in again.content.decode()


def test_link_refuses_an_sa_learner_already_linked_to_another_learner(scenario, support_client):
    built()
    finding = line(Category.LEARNER_NAMED)
    meanwhile = LearnerFactory()
    link_by_hand(meanwhile, scenario["named_sa"])

    response = support_client.post(
        f"/smartassessor/reconciliation/findings/{finding.pk}/link/", follow=True
    )

    assert f"is already linked to {meanwhile}" in response.content.decode()
    assert not Enrolment.objects.filter(learner=scenario["named"]).exists()
    assert not AuditEntry.objects.filter(object_id=scenario["named"].pk).exists()


def test_employers_and_assessors_are_linked_by_an_integration_admin(
    scenario, support_user, admin_user
):
    support_client, admin_client_ia = Client(), Client()
    support_client.force_login(support_user)
    admin_client_ia.force_login(admin_user)
    built()
    employer = line(Category.EMPLOYER_UNLINKED, sa_id="1001")
    assessor = line(Category.ASSESSOR_UNLINKED, sa_id="5001")
    learner = line(Category.LEARNER_NAMED)
    link = "/smartassessor/reconciliation/findings/{}/link/"

    assert support_client.post(link.format(employer.pk)).status_code == 403
    assert admin_client_ia.post(link.format(learner.pk)).status_code == 403
    assert not OrganisationLink.objects.filter(organisation=scenario["by_edrs"]).exists()

    admin_client_ia.post(link.format(employer.pk))
    admin_client_ia.post(link.format(assessor.pk))

    assert OrganisationLink.objects.get(organisation=scenario["by_edrs"]).employer_id == 1001
    assert OfficerLink.objects.get(officer=scenario["by_email"]).assessor_id == 5001
    audited = AuditEntry.objects.get(
        action="Smart Assessor link set", object_id=scenario["by_edrs"].pk
    )
    assert audited.reason.startswith("Linked from the reconciliation report of")
    assert not Enrolment.objects.filter(learner=scenario["named"]).exists()


def test_the_page_is_for_support_and_integration_admins(scenario, client, staff_user):
    built()
    client.force_login(staff_user)
    assert client.get(PAGE).status_code == 403
    assert client.post("/smartassessor/reconciliation/build/").status_code == 403
    assert "Reconciliation</a>" not in client.get("/learners/").content.decode()
    client.logout()
    assert client.get(PAGE).status_code == 302


@pytest.mark.parametrize("who", ["support_client", "admin_client_ia"])
def test_the_page_shows_the_report_in_a_fixed_number_of_queries(
    request, scenario, who, django_assert_max_num_queries
):
    browser = request.getfixturevalue(who)
    built()
    for _ in range(30):
        sa_learner(f"SA-MORE-{_}", "More", f"Learner{_}")
    built()

    with django_assert_max_num_queries(12):
        page = browser.get(PAGE).content.decode()

    assert "Reconciliation</a>" in page and "Report built" in page
    assert "SA learners no MIS learner is linked to" in page
    assert page.count("<tr>") >= 40
    # Linking learners is Support's, employers and assessors the Integration admin's.
    assert ("Support links learners." in page) is (who == "admin_client_ia")
    assert "Link</button>" in page
    assert ("An Integration admin links employers." in page) is (who == "support_client")
    filtered = browser.get(PAGE, {"category": Category.LEARNER_UNLINKED, "q": "zoë"})
    assert "brontë" in filtered.content.decode() and "Nobody" not in filtered.content.decode()


def test_the_build_is_queued_and_shows_its_progress(
    sa_sandbox, support_client, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("smartassessor.tasks.build_reconciliation.delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post("/smartassessor/reconciliation/build/", follow=True)
        support_client.post("/smartassessor/reconciliation/build/")

    report = Reconciliation.objects.get()
    assert queued == [report.pk], "one build at a time"
    assert 'hx-trigger="every 2s"' in response.content.decode()
    reconciliation.reconciliation_build(report_id=report.pk)
    status = support_client.get(
        f"/smartassessor/reconciliation/builds/{report.pk}/", headers={"HX-Request": "true"}
    )
    assert status["HX-Refresh"] == "true" and "Built" in status.content.decode()
    report.refresh_from_db()
    assert report.state == Reconciliation.State.SUCCEEDED and report.finished_at
    assert (report.pages_read, report.pages_total) == (1, 1)


def test_a_build_that_fails_keeps_the_report_before_it(scenario, sa_sandbox):
    before = built()
    kept = before.findings.count()

    sa_sandbox.faults(Rules=[{"Method": "GET", "Path": "^/api/v1/employers$", "Status": 503}])
    failed = reconciliation.reconciliation_build_now()

    assert failed.state == Reconciliation.State.FAILED
    assert "Build the report again later" in failed.error and "503" in failed.error
    assert Reconciliation.objects.get(state=Reconciliation.State.SUCCEEDED) == before
    assert before.findings.count() == kept
    sa_sandbox.faults(Rules=[])
    after = built()
    assert list(Reconciliation.objects.all()) == [after], "a new report replaces the others"


def test_the_command_builds_the_report_and_prints_its_counts(scenario, sa_sandbox):
    out = io.StringIO()
    call_command("smartassessor", "reconcile", stdout=out)

    printed = out.getvalue()
    assert "built from 7 learners" in printed
    assert "SA learners no MIS learner is linked to: 3" in printed
    assert "MIS learners linked the wrong way round: 1" in printed
    sa_sandbox.faults(ErrorRate=1.0, ErrorStatus=503)
    with pytest.raises(CommandError, match="Build the report again later"):
        call_command("smartassessor", "reconcile", stdout=io.StringIO())


def test_the_api_builds_and_lists_the_report(
    scenario, client, support_user, staff_user, django_capture_on_commit_callbacks, monkeypatch
):
    client.force_login(staff_user)
    assert client.get(API).status_code == 403
    client.force_login(support_user)
    assert client.get(API).json() == {
        "build": None,
        "report": None,
        "counts": {value: 0 for value in Category.values},
    }
    queued = []
    monkeypatch.setattr("smartassessor.tasks.build_reconciliation.delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(API)
    assert started.status_code == 202 and started.json()["build"]["state"] == "queued"
    assert client.post(API).status_code == 200
    reconciliation.reconciliation_build(report_id=queued[0])

    state = client.get(API).json()
    assert state["report"]["state"] == "succeeded" and state["report"]["sa_learners"] == 7
    assert state["counts"][Category.LEARNER_UNLINKED] == 3
    rows = client.get(API + "rows/", {"category": Category.LEARNER_UNLINKED}).json()
    assert rows["count"] == 3 and {row["category"] for row in rows["results"]} == {
        Category.LEARNER_UNLINKED
    }
    by_uln = next(row for row in rows["results"] if row["match"] == "same ULN")
    assert by_uln["learner"] == "ULN01" and by_uln["sa_uln"] == VALID_ULN
    assert client.get(API + "rows/", {"category": "nonsense"}).status_code == 400
    linked = client.post(API + f"rows/{by_uln['id']}/link/")
    assert linked.status_code == 200 and linked.json()["linked_by"] == "support"
    employer = line(Category.EMPLOYER_UNLINKED, sa_id="1001")
    assert client.post(API + f"rows/{employer.pk}/link/").status_code == 403
    schema = client.get("/api/schema/").content.decode()
    assert "/api/reconciliation/rows/" in schema
