"""The Smart Assessor block, preview, Retry, bulk, support's manual ID, the API and the CLI."""

from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from smartassessor.models import AuditEntry, Enrolment, LinkRefresh, SyncRun
from smartassessor.services import enrolment_requests as service
from smartassessor.services import links
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    PlacementFactory,
    QualificationFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_tasks(django_capture_on_commit_callbacks):
    """Within the block, queued work runs once the request commits, as a worker would run it."""
    from picsweb.celery import app

    @contextmanager
    def running():
        app.conf.task_always_eager = True
        try:
            with django_capture_on_commit_callbacks(execute=True):
                yield
        finally:
            app.conf.task_always_eager = False

    return running


def _enrollable(ident="PW009101", **learner):
    learner = LearnerFactory(ident=ident, **learner)
    PlacementFactory(learner=learner)
    LearnerQualificationFactory(
        learner=learner, qualification=QualificationFactory(reference="ST0070")
    )
    return learner


@pytest.fixture
def enrollable(sa_sandbox):
    learner = _enrollable()
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    return learner


def _enrol_now(learner, user) -> Enrolment:
    enrolment, _ = service.enrolment_request(learner=learner, actor=user)
    return service.enrolment_run(enrolment_id=enrolment.pk)


# --- The block on the Delivery Plan (F7) ----------------------------------------------------


def test_the_block_offers_create_only_while_on_and_not_enrolled(
    staff_client, enrollable, staff_user
):
    page = staff_client.get(enrollable.get_absolute_url()).content.decode()
    assert "Create in Smart Assessor" in page

    enrolment = _enrol_now(enrollable, staff_user)
    page = staff_client.get(enrollable.get_absolute_url()).content.decode()
    assert "Create in Smart Assessor" not in page
    assert enrolment.sa_learner_id in page
    assert "ST0070" in page and "Enrolled" in page


def test_nothing_of_the_integration_shows_while_it_is_off(staff_client, db):
    learner = _enrollable()
    page = staff_client.get(learner.get_absolute_url()).content.decode()
    assert "Smart Assessor" not in page
    preview = reverse("smartassessor:enrol_preview", args=[learner.ident])
    assert staff_client.get(preview).status_code == 404


def test_a_user_without_the_right_cannot_enrol(client, enrollable):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody"))
    preview = reverse("smartassessor:enrol_preview", args=[enrollable.ident])
    confirm = reverse("smartassessor:enrol_confirm", args=[enrollable.ident])
    assert client.get(preview).status_code == 403
    assert client.post(confirm).status_code == 403
    assert not Enrolment.objects.exists()


# --- Preview and confirm (F8, F9) -----------------------------------------------------------


def test_the_preview_shows_what_will_be_sent(staff_client, enrollable):
    response = staff_client.get(
        reverse("smartassessor:enrol_preview", args=[enrollable.ident]), HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert enrollable.full_name in page and enrollable.email in page
    assert "ST0070" in page and "Available" in page
    assert "Employer" in page and "Assessor" in page
    assert "disabled" not in page.split("Create in Smart Assessor</button>")[0][-80:]


def test_the_preview_blocks_a_learner_without_email_with_a_fix_link(staff_client, sa_sandbox):
    learner = _enrollable(email="")
    page = staff_client.get(reverse("smartassessor:enrol_preview", args=[learner.ident]))
    text = page.content.decode()
    assert "no email address" in text
    assert reverse("learners:learner_edit", args=[learner.ident]) in text
    assert 'disabled aria-disabled="true">Create in Smart Assessor' in text
    confirm = staff_client.post(reverse("smartassessor:enrol_confirm", args=[learner.ident]))
    assert confirm.status_code == 302
    assert not Enrolment.objects.exists()


def test_confirming_twice_keeps_one_enrolment(staff_client, enrollable, run_tasks):
    url = reverse("smartassessor:enrol_confirm", args=[enrollable.ident])
    with run_tasks():
        staff_client.post(url)
    with run_tasks():
        staff_client.post(url)
    enrolment = Enrolment.objects.get()
    assert enrolment.state == Enrolment.State.ENROLLED
    assert enrolment.requested_by.username == "staff"
    assert AuditEntry.objects.filter(action="enrolment requested").count() == 1


def test_the_status_fragment_polls_while_in_progress(staff_client, enrollable, staff_user):
    service.enrolment_request(learner=enrollable, actor=staff_user)
    status = staff_client.get(reverse("smartassessor:enrol_status", args=[enrollable.ident]))
    assert 'hx-trigger="every 2s"' in status.content.decode()
    assert "Queued" in status.content.decode()


def test_retry_after_fixing_the_data_rebuilds_the_payload(
    staff_client, enrollable, staff_user, sa_sandbox, run_tasks
):
    sa_sandbox.faults(
        rules=[{"Method": "POST", "Path": "^/api/v1/learners$", "Status": 400, "Times": 1}]
    )
    enrolment = _enrol_now(enrollable, staff_user)
    assert enrolment.state == Enrolment.State.FAILED
    page = staff_client.get(enrollable.get_absolute_url()).content.decode()
    assert ">Retry</button>" in page

    enrollable.first_name = "Fixed"
    enrollable.save()
    with run_tasks():
        staff_client.post(reverse("smartassessor:enrol_retry", args=[enrollable.ident]))

    enrolment.refresh_from_db()
    assert enrolment.state == Enrolment.State.ENROLLED
    assert enrolment.payload["learner"]["GivenNames"] == "Fixed"


# --- Bulk (F23) -----------------------------------------------------------------------------


def test_bulk_preview_lists_blocks_and_enrols_the_rest(staff_client, sa_sandbox, run_tasks):
    ready = _enrollable("PW009201")
    blocked = _enrollable("PW009202", email="")
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    listing = staff_client.get(reverse("learners:list")).content.decode()
    assert "Create selected in Smart Assessor" in listing

    preview = staff_client.post(
        reverse("smartassessor:bulk_preview"), {"learners": [ready.ident, blocked.ident]}
    )
    text = preview.content.decode()
    assert "1 of 2 can be created now" in text
    assert "no email address" in text

    with run_tasks():
        confirmed = staff_client.post(
            reverse("smartassessor:bulk_confirm"), {"learners": [ready.ident]}
        )
    results = staff_client.get(confirmed.url)
    assert "1 of 1 finished" in results.content.decode()
    assert Enrolment.objects.get().learner == ready
    assert Enrolment.objects.get().state == Enrolment.State.ENROLLED


# --- Manually set the Smart Assessor ID (F12) -----------------------------------------------


def test_support_sets_checks_and_clears_the_id(support_client, enrollable, staff_user):
    other = _enrollable("PW009301", first_name="Other")
    sa_id = _enrol_now(other, staff_user).sa_learner_id
    url = reverse("smartassessor:set_sa_id", args=[enrollable.ident])

    refused = support_client.post(url, {"sa_learner_id": sa_id, "reason": "x", "action": "save"})
    assert f"already linked to {other}" in refused.content.decode()

    Enrolment.objects.filter(learner=other).update(is_current=False)
    check = support_client.post(url, {"sa_learner_id": sa_id, "reason": "", "action": "check"})
    assert "Other" in check.content.decode() and "born" in check.content.decode()

    saved = support_client.post(
        url, {"sa_learner_id": sa_id, "reason": "Found in SA", "action": "save"}
    )
    assert saved.status_code == 302
    current = Enrolment.objects.get(learner=enrollable, is_current=True)
    assert current.sa_learner_id == sa_id and current.source == Enrolment.Source.MANUAL
    assert SyncRun.objects.get(learner=enrollable).trigger == SyncRun.Trigger.LEARNER
    entry = AuditEntry.objects.get(action="Smart Assessor ID set by hand")
    assert entry.changes == {"sa_learner_id": ["", sa_id]} and entry.reason == "Found in SA"

    cleared = support_client.post(url, {"reason": "Wrong learner", "action": "clear"})
    assert cleared.status_code == 302
    assert not Enrolment.objects.filter(learner=enrollable, is_current=True).exists()
    assert Enrolment.objects.filter(learner=enrollable, end_reason="Wrong learner").exists()


def test_an_unknown_id_is_refused(support_client, enrollable):
    url = reverse("smartassessor:set_sa_id", args=[enrollable.ident])
    response = support_client.post(
        url, {"sa_learner_id": "00000000-0000-0000-0000-000000000000", "action": "check"}
    )
    assert "has no learner with ID" in response.content.decode()


@pytest.mark.parametrize("user_client", ["staff_client", "admin_client_ia"])
def test_only_support_may_set_the_id(request, user_client, enrollable):
    url = reverse("smartassessor:set_sa_id", args=[enrollable.ident])
    assert request.getfixturevalue(user_client).get(url).status_code == 403


# --- API and CLI ----------------------------------------------------------------------------


def test_the_api_starts_reads_and_retries(staff_client, enrollable, run_tasks):
    url = f"/api/learners/{enrollable.ident}/enrolment/"
    with run_tasks():
        started = staff_client.post(url)
    assert started.status_code == 201
    assert started.json()["state"] == "queued"
    assert staff_client.get(url).json()["state"] == "enrolled"
    again = staff_client.post(url)
    assert again.status_code == 200 and again.json()["id"] == started.json()["id"]
    read = staff_client.get(url).json()
    assert read["courses"][0]["reference"] == "ST0070"
    retry = staff_client.post(url + "retry/")
    assert retry.status_code == 400
    assert "Only a failed enrolment" in retry.json()["detail"]


def test_the_api_refuses_users_without_the_right(client, enrollable):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="nobody"))
    assert client.post(f"/api/learners/{enrollable.ident}/enrolment/").status_code == 403


def test_the_cli_enrols_and_waits(enrollable, capsys, run_tasks):
    with run_tasks():
        call_command("smartassessor", "enrol", enrollable.ident)
    call_command("smartassessor", "enrol", enrollable.ident, "--wait", "--timeout", "10")
    out = capsys.readouterr().out
    assert f"{enrollable.ident}: queued" in out
    assert f"{enrollable.ident}: already current" in out
    assert f"{enrollable.ident}: Enrolled" in out


def test_the_cli_exits_non_zero_when_one_cannot_enrol(sa_sandbox, capsys):
    blocked = _enrollable("PW009401", email="")
    with pytest.raises(CommandError, match="2 of 2 did not enrol"):
        call_command("smartassessor", "enrol", blocked.ident, "NOSUCH")
    errors = capsys.readouterr().err
    assert "NOSUCH: no such learner" in errors
    assert "PW009401: Smart Assessor would refuse this learner" in errors


def test_the_preview_of_an_enrolled_learner_cannot_be_confirmed(
    staff_client, enrollable, staff_user
):
    _enrol_now(enrollable, staff_user)
    page = staff_client.get(reverse("smartassessor:enrol_preview", args=[enrollable.ident]))
    text = page.content.decode()
    assert "is already in Smart Assessor" in text
    assert 'disabled aria-disabled="true">Create in Smart Assessor' in text


def test_a_poll_that_finds_the_work_done_reloads_the_page(staff_client, enrollable, staff_user):
    url = reverse("smartassessor:enrol_status", args=[enrollable.ident]) + "?polling=1"
    service.enrolment_request(learner=enrollable, actor=staff_user)
    assert staff_client.get(url, HTTP_HX_REQUEST="true").status_code == 200

    service.enrolment_run(enrolment_id=Enrolment.objects.get().pk)
    done = staff_client.get(url, HTTP_HX_REQUEST="true")
    assert done.status_code == 204
    assert done.headers["HX-Refresh"] == "true"
