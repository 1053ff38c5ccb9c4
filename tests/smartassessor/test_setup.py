"""Integration setup (F1–F6, F11): permissions, the switch, secrets, links, Data Exchange."""

import logging
import socket

import pytest
from django.urls import reverse

from smartassessor import mapping
from smartassessor.client.types import to_wire
from smartassessor.models import (
    AuditEntry,
    IntegrationSettings,
    LinkRefresh,
    OfficerLink,
    OrganisationLink,
    QualificationLink,
)
from smartassessor.services import links
from tests.factories import OfficerFactory, OrganisationFactory, QualificationFactory

pytestmark = pytest.mark.django_db

ADMIN_PAGES = ["smartassessor:summary", "smartassessor:data_exchange"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Permissions and the switch -----------------------------------------------------------


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("name", ADMIN_PAGES)
@pytest.mark.parametrize("user_client", ["staff_client", "support_client"])
def test_staff_and_support_may_not_run_the_integration(request, name, user_client):
    assert request.getfixturevalue(user_client).get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_integration_admins_reach_the_pages_even_while_it_is_off(admin_client_ia, name):
    assert not IntegrationSettings.load().enabled
    assert admin_client_ia.get(reverse(name)).status_code == 200


def test_while_off_nothing_shows_and_actions_are_refused(admin_client_ia):
    officer = OfficerFactory()
    page = admin_client_ia.get(officer.get_absolute_url()).content.decode()
    assert "Look Up Smart Assessor ID" not in page
    lookup = reverse("smartassessor:officer_lookup", args=[officer.pk])
    response = admin_client_ia.get(lookup)
    assert response.status_code == 404
    assert "The Smart Assessor integration is switched off" in response.content.decode()
    assert admin_client_ia.post(reverse("smartassessor:refresh_links")).status_code == 404


def test_the_api_refuses_enrolment_while_off(staff_client):
    from tests.factories import LearnerFactory

    learner = LearnerFactory()
    response = staff_client.post(f"/api/learners/{learner.ident}/enrolment/")
    assert response.status_code == 403
    assert "switched off" in response.json()["detail"]


def test_staff_may_not_look_up_officers(staff_client, sa_settings):
    officer = OfficerFactory()
    url = reverse("smartassessor:officer_lookup", args=[officer.pk])
    assert staff_client.get(url).status_code == 403


# --- Secrets (F2) --------------------------------------------------------------------------


def test_secrets_are_never_rendered_logged_or_audited(admin_client_ia, sa_sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    settings = IntegrationSettings.load()
    admin_url = reverse("admin:smartassessor_integrationsettings_change", args=[settings.pk])
    pages = [
        admin_client_ia.get(admin_url),
        admin_client_ia.get(reverse("smartassessor:summary")),
        admin_client_ia.post(reverse("smartassessor:test_connection"), HTTP_HX_REQUEST="true"),
    ]
    form = pages[0].context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(
        username=settings.username,
        base_url=settings.base_url,
        enabled="on",
        password="a-new-secret-password",
        client_key="",
        learner_demographics_mode="none",
        officer_demographics_mode="none",
        second_assessor_role="",
    )
    saved = admin_client_ia.post(admin_url, data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    pages.append(admin_client_ia.get(admin_url))

    text = "".join(page.content.decode() for page in pages) + caplog.text
    audit = str(list(AuditEntry.objects.values_list("changes", flat=True)))
    for secret in (sa_sandbox.password, sa_sandbox.client_key, "a-new-secret-password"):
        assert secret not in text
        assert secret not in audit
    settings.refresh_from_db()
    assert settings.password == "a-new-secret-password"
    assert settings.client_key == sa_sandbox.client_key, "a blank input keeps the stored key"
    assert AuditEntry.objects.get(action="settings changed").changes["password"] == [
        "(changed)",
        "(changed)",
    ]


def test_stored_secrets_are_encrypted_at_rest(sa_settings):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT password, client_key FROM smartassessor_integrationsettings")
        stored = cursor.fetchone()
    assert "unit-test-password" not in stored[0]
    assert "unit-test-client-key" not in stored[1]


# --- Test connection (F3) ------------------------------------------------------------------


def _test_connection(admin_client_ia) -> str:
    response = admin_client_ia.post(
        reverse("smartassessor:test_connection"), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    return response.content.decode()


def test_test_connection_reports_courses_and_round_trip(admin_client_ia, sa_sandbox):
    result = _test_connection(admin_client_ia)
    assert "Connected to" in result
    assert "16 courses (14 active)" in result
    assert "round trip" in result


def test_test_connection_with_a_wrong_password_says_so(admin_client_ia, sa_sandbox):
    settings = IntegrationSettings.load()
    settings.password = "wrong-password"
    settings.save()
    result = _test_connection(admin_client_ia)
    assert "refused the username, password or client key" in result


def test_test_connection_to_nothing_says_it_could_not_reach(admin_client_ia, sa_settings):
    sa_settings.base_url = f"http://127.0.0.1:{_free_port()}"
    sa_settings.connect_timeout = 0.5
    sa_settings.save()
    assert "Could not reach Smart Assessor" in _test_connection(admin_client_ia)


def test_test_connection_while_sa_is_down(admin_client_ia, sa_sandbox):
    sa_sandbox.faults(rules=[{"Method": "GET", "Path": "^/api/v1/courses", "Status": 503}])
    assert "Could not reach Smart Assessor" in _test_connection(admin_client_ia)


# --- Refresh Qualification Links (F4) ------------------------------------------------------


def test_link_refresh_links_by_normalised_reference_and_counts(sa_sandbox):
    business = QualificationFactory(reference="ST0070", title="Business Administrator")
    team_leader = QualificationFactory(reference="ST0384", title="Team Leader")  # SA: "ST 0384"
    marketer = QualificationFactory(reference="ST0122", title="Digital Marketer")  # SA: "st0122"
    chef = QualificationFactory(reference="ST0228", title="Commis Chef")  # inactive in SA
    infrastructure = QualificationFactory(reference="ST0125", title="Infrastructure")  # not in SA

    first = links.qualification_links_refresh(refresh=LinkRefresh.objects.create())

    assert first.state == LinkRefresh.State.SUCCEEDED
    assert (first.linked, first.unlinked, first.unchanged) == (3, 0, 2)
    linked = set(QualificationLink.objects.values_list("qualification_id", flat=True))
    assert linked == {business.pk, team_leader.pk, marketer.pk}
    assert chef.pk not in linked and infrastructure.pk not in linked

    # A link SA no longer backs is cleared; the rest are unchanged.
    QualificationLink.objects.filter(qualification=business).update(course_id=999999)
    QualificationLink.objects.create(qualification=chef, course_id=424242, course_title="Old")
    second = links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    assert (second.linked, second.unlinked, second.unchanged) == (1, 1, 3)
    assert not QualificationLink.objects.filter(qualification=chef).exists()


def test_refresh_links_page_queues_the_work_and_shows_the_result(
    admin_client_ia, sa_sandbox, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from picsweb.celery import app

    app.conf.task_always_eager = True
    QualificationFactory(reference="ST0070")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client_ia.post(
                reverse("smartassessor:refresh_links"), HTTP_HX_REQUEST="true"
            )
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 200
    refresh = LinkRefresh.objects.get()
    assert refresh.state == LinkRefresh.State.SUCCEEDED
    status = admin_client_ia.get(reverse("smartassessor:link_refresh_status", args=[refresh.pk]))
    assert "1 linked, 0 unlinked, 0 unchanged" in status.content.decode()


# --- Look Up Smart Assessor ID (F5, F6) -----------------------------------------------------


def test_officer_look_up_searches_pages_and_saves(admin_client_ia, sa_sandbox):
    officer = OfficerFactory()
    url = reverse("smartassessor:officer_lookup", args=[officer.pk])
    everyone = admin_client_ia.get(url)
    page = everyone.context["page"]
    assert page.total_count >= 2
    target = page.items[0]
    searched = admin_client_ia.get(url, {"q": target.last_name.upper()})
    assert [a.smart_assessor_id for a in searched.context["page"].items] == [
        target.smart_assessor_id
    ]

    saved = admin_client_ia.post(url, {"sa_id": target.smart_assessor_id})

    assert saved.status_code == 302
    assert OfficerLink.objects.get(officer=officer).assessor_id == target.smart_assessor_id
    entry = AuditEntry.objects.get(action="Smart Assessor link set")
    assert entry.changes == {"assessor_id": [None, target.smart_assessor_id]}
    assert entry.actor.username == "integration-admin"


def test_an_sa_id_linked_to_another_record_is_refused(admin_client_ia, sa_sandbox):
    first, second = OrganisationFactory(), OrganisationFactory()
    url = reverse("smartassessor:organisation_lookup", args=[first.pk])
    employer = admin_client_ia.get(url).context["page"].items[0]
    OrganisationLink.objects.create(organisation=second, employer_id=employer.smart_assessor_id)

    response = admin_client_ia.post(url, {"sa_id": employer.smart_assessor_id})

    assert response.status_code == 200
    assert f"is already linked to {second.name}" in response.content.decode()
    assert not OrganisationLink.objects.filter(organisation=first).exists()


def test_an_sa_id_that_does_not_exist_is_refused(admin_client_ia, sa_sandbox):
    officer = OfficerFactory()
    url = reverse("smartassessor:officer_lookup", args=[officer.pk])
    response = admin_client_ia.post(url, {"sa_id": 987654})
    assert "has no record with id 987654" in response.content.decode()


# --- Data Exchange (F11) -------------------------------------------------------------------


def test_the_data_exchange_page_lists_exactly_what_enrolment_sends(admin_client_ia, sa_settings):
    from learners.demo import demo_data_load
    from learners.models import Learner

    demo_data_load()
    learner = Learner.objects.get(ident="PW000101")
    page = admin_client_ia.get(reverse("smartassessor:data_exchange")).content.decode()

    payload = to_wire(
        mapping.learner_payload(
            mapping.LearnerSource(
                learner=learner, set_student_id_to_lrn=True, employer_id=1, assessor_id=2
            )
        )
    ) | {"SendWelcomeEmail": False}
    listed = {field.sa_field for field in mapping.LEARNER_AT_ENROLMENT.fields}
    assert set(payload) == listed
    for field in listed:
        assert f"<code data-sa-field>{field}</code>" in page

    placement = learner.placements.first()
    employer_body = to_wire(mapping.employer_payload(placement.organisation))
    assert set(employer_body) == {f.sa_field for f in mapping.EMPLOYER_AT_ENROLMENT.fields}
    assessor_body = to_wire(mapping.assessor_payload(learner.main_officer))
    assert set(assessor_body) == {f.sa_field for f in mapping.ASSESSOR_AT_ENROLMENT.fields}


def test_while_on_officer_and_organisation_pages_show_their_link(admin_client_ia, sa_settings):
    officer, organisation = OfficerFactory(), OrganisationFactory()
    OrganisationLink.objects.create(organisation=organisation, employer_id=1234)
    officer_page = admin_client_ia.get(officer.get_absolute_url()).content.decode()
    assert "Not linked to a Smart Assessor assessor yet" in officer_page
    assert reverse("smartassessor:officer_lookup", args=[officer.pk]) in officer_page
    organisation_page = admin_client_ia.get(organisation.get_absolute_url()).content.decode()
    assert "Smart Assessor employer ID</dt><dd>1234" in organisation_page


def test_staff_see_the_link_but_not_the_look_up(staff_client, sa_settings):
    officer = OfficerFactory()
    page = staff_client.get(officer.get_absolute_url()).content.decode()
    assert "Not linked to a Smart Assessor assessor yet" in page
    assert "Look Up Smart Assessor ID" not in page
