import datetime
import re

import pytest
from django.utils import timezone

from learners.models import (
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    Officer,
    Organisation,
    Placement,
    Review,
)
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    OfficerRoleFactory,
    OrganisationFactory,
    PlacementFactory,
    QualificationFactory,
    ReviewFactory,
    ReviewTypeFactory,
)

pytestmark = pytest.mark.django_db


def learner_data(**changes) -> dict:
    data = {
        "ident": "NEW1",
        "lrn": "LRN777",
        "uln": "1234567899",
        "first_name": "Priya",
        "surname": "Shah",
        "date_of_birth": "2004-05-17",
        "sex": "female",
        "ni_number": "",
        "email": "priya@learner.example",
        "postcode": "",
        "start_date": "2026-09-01",
        "planned_end_date": "2028-03-01",
        "status": "in_learning",
        "risk_band": "not_set",
        "main_officer": "",
    }
    return {**data, **changes}


def field_error(page: str, field: str) -> str:
    """The error shown next to a field, or "" when there is none."""
    marker = (
        f'<p class="field-error" id="id_{field}_error"><span class="visually-hidden">Error: </span>'
    )
    if marker not in page:
        return ""
    return page.split(marker)[1].split("</p>")[0]


def test_adding_a_learner_normalises_and_goes_to_the_delivery_plan(staff_client):
    officer = OfficerFactory(forenames="Zoe", surname="Young")

    response = staff_client.post(
        "/learners/add/",
        learner_data(postcode="s12ab", ni_number="ab 12 34 56 c", main_officer=officer.pk),
        follow=True,
    )

    learner = Learner.objects.get(ident="NEW1")
    assert response.redirect_chain == [("/learners/NEW1/delivery-plan/", 302)]
    assert learner.postcode == "S1 2AB"
    assert learner.ni_number == "AB123456C"
    assert learner.main_officer == officer
    assert "Priya Shah was added." in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("uln", "1234567890", "This ULN&#x27;s check digit is wrong"),
        ("uln", "12345", "A ULN is 10 digits, the first not 0."),
        ("ni_number", "QQ123456E", "Enter a National Insurance number like AB123456C"),
        ("postcode", "S1", "Enter a UK postcode, for example S1 2AB."),
        ("planned_end_date", "2026-08-01", "The planned end date must be after the start date."),
        ("email", "priya@", "Enter an email address like name@example.co.uk"),
    ],
)
def test_bad_learner_data_is_shown_next_to_its_field_and_nothing_is_saved(
    staff_client, field, value, message
):
    response = staff_client.post("/learners/add/", learner_data(**{field: value}))

    page = response.content.decode()
    assert response.status_code == 200
    assert message in field_error(page, field)
    assert "Nothing was saved: please correct this" in page
    assert f'<a href="#id_{field}">' in page
    described_by = re.search(f'<input[^>]*name="{field}"[^>]*aria-describedby="([^"]*)"', page)
    assert f"id_{field}_error" in described_by.group(1).split()
    assert not Learner.objects.exists()


def test_an_ident_already_taken_is_refused(staff_client):
    LearnerFactory(ident="NEW1")

    page = staff_client.post("/learners/add/", learner_data()).content.decode()

    assert "Another learner already has this Learner Ident." in field_error(page, "ident")


def test_editing_a_learner_keeps_the_ident(staff_client):
    learner = LearnerFactory(ident="L-1", first_name="Priya")

    response = staff_client.post(
        "/learners/L-1/edit/",
        learner_data(ident="CHANGED", first_name="Priyanka", risk_band="high"),
    )

    learner.refresh_from_db()
    assert response["Location"] == "/learners/L-1/delivery-plan/"
    assert (learner.ident, learner.first_name, learner.risk_band) == ("L-1", "Priyanka", "high")
    form = staff_client.get("/learners/L-1/edit/").content.decode()
    assert 'value="2026-09-01"' in form and 'type="date"' in form
    ident_input = form.split('name="ident"')[1].split(">")[0]
    assert 'value="L-1"' in ident_input and "disabled" in ident_input


def test_adding_an_officer_with_roles(staff_client):
    assessor = OfficerRoleFactory(name="Assessor")
    OfficerRoleFactory(name="Mentor")

    response = staff_client.post(
        "/officers/add/",
        {
            "title": "Mr",
            "forenames": "Kim",
            "surname": "Lee",
            "email": "kim@provider.example",
            "roles": [assessor.pk],
            "is_active": "on",
        },
    )

    officer = Officer.objects.get(surname="Lee")
    assert response["Location"] == f"/officers/{officer.pk}/"
    assert list(officer.roles.all()) == [assessor]
    assert officer.is_active


def test_editing_an_officer_can_clear_roles_and_deactivate(staff_client):
    officer = OfficerFactory()
    officer.roles.add(OfficerRoleFactory(name="Assessor"))

    staff_client.post(
        f"/officers/{officer.pk}/edit/", {"forenames": "Kim", "surname": "Lee", "email": ""}
    )

    officer.refresh_from_db()
    assert officer.full_name == "Kim Lee"
    assert not officer.roles.exists()
    assert not officer.is_active


def test_a_bad_officer_email_is_refused(staff_client):
    page = staff_client.post(
        "/officers/add/", {"forenames": "Kim", "surname": "Lee", "email": "kim at home"}
    ).content.decode()

    assert "Enter an email address" in field_error(page, "email")
    assert not Officer.objects.exists()


def test_adding_and_editing_an_organisation(staff_client):
    response = staff_client.post(
        "/organisations/add/",
        {"name": "Acme Widgets", "address_line1": "1 Mill Lane", "postcode": "s38bt"},
    )
    organisation = Organisation.objects.get()
    assert response["Location"] == f"/organisations/{organisation.pk}/"
    assert organisation.postcode == "S3 8BT"

    page = staff_client.post(
        f"/organisations/{organisation.pk}/edit/",
        {"name": "Acme", "address_line1": "1 Mill Lane", "postcode": "S3", "edrs_number": "x"},
    ).content.decode()

    assert "Enter a UK postcode" in field_error(page, "postcode")
    assert "An EDRS number is up to 9 digits." in field_error(page, "edrs_number")
    organisation.refresh_from_db()
    assert organisation.name == "Acme Widgets"


def qualification_data(qualification, **changes) -> dict:
    data = {
        "qualification": qualification.pk,
        "start_date": "2026-09-01",
        "planned_end_date": "2027-09-01",
        "status": "in_progress",
        "progress_percent": "10",
        "assessed_percent": "0",
        "mapped_percent": "0",
        "timeline_percent": "5",
    }
    return {**data, **changes}


def test_adding_a_qualification_from_the_catalogue(staff_client):
    learner = LearnerFactory(ident="L-1")
    qualification = QualificationFactory(reference="603/5074/9", title="Software Developer")

    form = staff_client.get("/learners/L-1/qualifications/add/").content.decode()
    response = staff_client.post(
        "/learners/L-1/qualifications/add/", qualification_data(qualification), follow=True
    )

    assert f'<option value="{qualification.pk}">603/5074/9 Software Developer</option>' in form
    assert response.redirect_chain == [("/learners/L-1/delivery-plan/", 302)]
    assert learner.qualifications.get().qualification == qualification
    assert "603/5074/9 Software Developer was added to the delivery plan." in (
        response.content.decode()
    )


def test_a_qualification_already_on_the_plan_is_refused(staff_client):
    entry = LearnerQualificationFactory(learner=LearnerFactory(ident="L-1"))

    page = staff_client.post(
        "/learners/L-1/qualifications/add/", qualification_data(entry.qualification)
    ).content.decode()

    assert "This qualification is already on the learner&#x27;s plan." in page
    assert LearnerQualification.objects.count() == 1


def test_editing_a_qualification_checks_its_dates_and_percentages(staff_client):
    entry = LearnerQualificationFactory(learner=LearnerFactory(ident="L-1"))
    url = f"/learners/L-1/qualifications/{entry.pk}/edit/"

    page = staff_client.post(
        url,
        qualification_data(
            entry.qualification, planned_end_date="2026-01-01", progress_percent="120"
        ),
    ).content.decode()
    assert "The planned end date must be after the start date." in field_error(
        page, "planned_end_date"
    )
    assert "less than or equal to 100" in field_error(page, "progress_percent")

    staff_client.post(url, qualification_data(entry.qualification, progress_percent="55.5"))
    entry.refresh_from_db()
    assert str(entry.progress_percent) == "55.50"


def test_a_qualification_of_another_learner_is_not_found(staff_client):
    LearnerFactory(ident="L-1")
    other = LearnerQualificationFactory()

    assert staff_client.get(f"/learners/L-1/qualifications/{other.pk}/edit/").status_code == 404


def test_adding_editing_and_ending_a_placement(staff_client):
    learner = LearnerFactory(ident="L-1")
    acme = OrganisationFactory(name="Acme Widgets")

    staff_client.post(
        "/learners/L-1/placements/add/", {"organisation": acme.pk, "start_date": "2026-09-01"}
    )
    placement = learner.placements.get()
    assert placement.organisation == acme

    end_form = staff_client.get(f"/learners/L-1/placements/{placement.pk}/end/").content.decode()
    assert f'value="{timezone.localdate():%Y-%m-%d}"' in end_form

    refused = staff_client.post(
        f"/learners/L-1/placements/{placement.pk}/end/", {"end_date": "2026-08-01"}
    ).content.decode()
    assert "A placement cannot end before it starts." in field_error(refused, "end_date")

    response = staff_client.post(
        f"/learners/L-1/placements/{placement.pk}/end/", {"end_date": "2027-01-31"}, follow=True
    )
    placement.refresh_from_db()
    assert placement.end_date == datetime.date(2027, 1, 31)
    assert "The placement at Acme Widgets ends on 31 Jan 2027." in response.content.decode()


def test_editing_a_placement(staff_client):
    placement = PlacementFactory(learner=LearnerFactory(ident="L-1"))
    other = OrganisationFactory()

    staff_client.post(
        f"/learners/L-1/placements/{placement.pk}/edit/",
        {"organisation": other.pk, "start_date": "2026-10-01", "end_date": ""},
    )

    placement.refresh_from_db()
    assert (placement.organisation, placement.start_date) == (other, datetime.date(2026, 10, 1))


def test_adding_editing_and_removing_an_officer_role(staff_client):
    learner = LearnerFactory(ident="L-1")
    mentor_role = OfficerRoleFactory(name="Mentor")
    first, second = OfficerFactory(), OfficerFactory()

    staff_client.post("/learners/L-1/officers/add/", {"role": mentor_role.pk, "officer": first.pk})
    link = learner.officer_roles.get()
    duplicate = staff_client.post(
        "/learners/L-1/officers/add/", {"role": mentor_role.pk, "officer": second.pk}
    ).content.decode()
    staff_client.post(
        f"/learners/L-1/officers/{link.pk}/edit/", {"role": mentor_role.pk, "officer": second.pk}
    )
    link.refresh_from_db()
    confirm = staff_client.get(f"/learners/L-1/officers/{link.pk}/remove/").content.decode()
    response = staff_client.post(f"/learners/L-1/officers/{link.pk}/remove/", follow=True)

    assert "This learner already has an officer in that role." in duplicate
    assert link.officer == second
    assert f"will no longer have {second.full_name} as Mentor" in confirm
    assert not LearnerOfficerRole.objects.exists()
    assert f"{second.full_name} is no longer Mentor." in response.content.decode()


def test_adding_and_editing_a_review(staff_client):
    learner = LearnerFactory(ident="L-1")
    review_type = ReviewTypeFactory(name="Progress Review")

    staff_client.post(
        "/learners/L-1/reviews/add/",
        {
            "review_type": review_type.pk,
            "proposed_at": "2026-10-05T10:00",
            "attendance": "unknown",
            "notes": "First review",
        },
    )
    review = learner.reviews.get()
    assert timezone.localtime(review.proposed_at).strftime("%d %H:%M") == "05 10:00"

    form = staff_client.get(f"/learners/L-1/reviews/{review.pk}/edit/").content.decode()
    assert 'type="datetime-local"' in form and 'value="2026-10-05T10:00"' in form

    staff_client.post(
        f"/learners/L-1/reviews/{review.pk}/edit/",
        {
            "review_type": review_type.pk,
            "proposed_at": "2026-10-05T10:00",
            "actual_at": "2026-10-05T10:30",
            "attendance": "attended",
            "notes": "Went well",
        },
    )
    review.refresh_from_db()
    assert (review.attendance, review.notes) == ("attended", "Went well")


def _edit_pages():
    learner = LearnerFactory(ident="L-1")
    officer = learner.main_officer
    organisation = OrganisationFactory()
    entry = LearnerQualificationFactory(learner=learner)
    placement = PlacementFactory(learner=learner, organisation=organisation)
    role = LearnerOfficerRole.objects.create(
        learner=learner, officer=officer, role=OfficerRoleFactory()
    )
    review = ReviewFactory(learner=learner)
    return [
        "/learners/add/",
        "/learners/L-1/edit/",
        "/officers/add/",
        f"/officers/{officer.pk}/edit/",
        "/organisations/add/",
        f"/organisations/{organisation.pk}/edit/",
        "/learners/L-1/qualifications/add/",
        f"/learners/L-1/qualifications/{entry.pk}/edit/",
        "/learners/L-1/placements/add/",
        f"/learners/L-1/placements/{placement.pk}/edit/",
        f"/learners/L-1/placements/{placement.pk}/end/",
        "/learners/L-1/officers/add/",
        f"/learners/L-1/officers/{role.pk}/edit/",
        f"/learners/L-1/officers/{role.pk}/remove/",
        "/learners/L-1/reviews/add/",
        f"/learners/L-1/reviews/{review.pk}/edit/",
    ]


def test_a_user_in_no_group_gets_403_on_every_edit_page(nobody_client):
    for url in _edit_pages():
        assert nobody_client.get(url).status_code == 403, url
        assert nobody_client.post(url, {}).status_code == 403, url
    assert LearnerOfficerRole.objects.exists()


def test_staff_can_open_every_edit_page(staff_client):
    for url in _edit_pages():
        assert staff_client.get(url).status_code == 200, url


def test_anonymous_visitors_are_sent_to_log_in_from_edit_pages(client, db):
    response = client.post("/learners/add/", learner_data())

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Learner.objects.exists()


def test_every_input_has_a_label(staff_client):
    page = staff_client.get("/learners/add/").content.decode()

    for field in learner_data():
        assert f'<label for="id_{field}">' in page, field


def test_nothing_is_written_by_a_refused_post(staff_client):
    organisation = OrganisationFactory(name="Acme")

    staff_client.post(f"/organisations/{organisation.pk}/edit/", {"name": ""})

    assert Organisation.objects.get().name == "Acme"
    assert not Placement.objects.exists() and not Review.objects.exists()
