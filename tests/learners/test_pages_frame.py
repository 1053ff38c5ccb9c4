import pytest

from tests.factories import LearnerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_log_in_and_back(client):
    UserFactory(username="sam", groups=["Staff"])

    response = client.get("/learners/?q=Taylor")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/learners/%3Fq%3DTaylor"
    response = client.post(
        "/accounts/login/",
        {"username": "sam", "password": "demo-password-for-tests", "next": "/learners/?q=Taylor"},
    )
    assert response["Location"] == "/learners/?q=Taylor"


def test_login_page_labels_its_inputs_and_says_when_sign_in_fails(client):
    page = client.get("/accounts/login/").content.decode()
    assert '<label for="id_username">Username' in page
    assert '<label for="id_password">Password' in page

    failed = client.post("/accounts/login/", {"username": "x", "password": "wrong"})

    assert failed.status_code == 200
    assert "You could not be signed in" in failed.content.decode()


def test_every_page_has_the_frame(staff_client):
    page = staff_client.get("/officers/").content.decode()

    assert '<a class="topbar__brand" href="/">picsweb</a>' in page
    assert 'action="/learners/"' in page and 'name="q"' in page
    assert "Signed in as <strong>staff</strong>" in page
    assert '<form method="post" action="/accounts/logout/">' in page
    assert '<a href="/officers/" aria-current="page">Officers</a>' in page
    assert '<a href="/learners/">Learners</a>' in page
    assert '<a href="/organisations/">Organisations</a>' in page


def test_staff_see_no_integration_menu_and_admins_do(client, staff_user, admin_user):
    client.force_login(staff_user)
    staff_page = client.get("/learners/").content.decode()
    client.force_login(admin_user)
    admin_page = client.get("/learners/").content.decode()

    assert 'href="/smartassessor/"' not in staff_page
    assert 'href="/admin/"' not in staff_page
    assert '<a href="/smartassessor/">Smart Assessor</a>' in admin_page
    assert '<a href="/admin/">Admin</a>' in admin_page


def test_sign_out_is_a_post_that_ends_the_session(staff_client):
    response = staff_client.post("/accounts/logout/")

    assert response["Location"] == "/accounts/login/"
    assert staff_client.get("/learners/").status_code == 302


def test_quick_search_finds_a_learner_by_ident(staff_client):
    LearnerFactory(ident="ABC123", first_name="Priya", surname="Shah")
    LearnerFactory(first_name="Other", surname="Person")

    page = staff_client.get("/learners/", {"q": "abc123"}).content.decode()

    assert "Priya Shah" in page
    assert "Other Person" not in page


def test_a_missing_page_keeps_the_frame(staff_client):
    missing = staff_client.get("/learners/NOPE/delivery-plan/")

    assert missing.status_code == 404
    page = missing.content.decode()
    assert "Page not found" in page
    assert 'aria-label="Main menu"' in page


def test_a_refused_page_says_why(nobody_client):
    refused = nobody_client.get("/learners/add/")

    assert refused.status_code == 403
    assert "You cannot open this page" in refused.content.decode()
