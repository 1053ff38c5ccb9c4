"""Each validation rule of the learner data, as a person entering data meets it: through
``full_clean()``, with the message they read. The last tests check that the database refuses
what validation refuses, for writes that skip validation."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from learners.models import (
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    Placement,
)
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    OfficerRoleFactory,
    OrganisationFactory,
    PlacementFactory,
    QualificationFactory,
)

pytestmark = pytest.mark.django_db

ULN_FORMAT = "A ULN is 10 digits, the first not 0."
ULN_CHECK_DIGIT = "This ULN's check digit is wrong: check it against the Learner Record Service."
NI_NUMBER = (
    "Enter a National Insurance number like AB123456C: two letters, six digits and A, B, C or D."
)
POSTCODE = "Enter a UK postcode, for example S1 2AB."
EMAIL = "Enter an email address like name@example.co.uk (one @, no spaces)."
PLANNED_END = "The planned end date must be after the start date."
ACTUAL_END = "The actual end date cannot be before the start date."

START = datetime.date(2026, 9, 1)


def validation_errors(instance) -> dict[str, list[str]]:
    try:
        instance.full_clean()
    except ValidationError as error:
        return error.message_dict
    return {}


def learner(**values) -> Learner:
    """An unsaved learner whose other fields are valid."""
    return LearnerFactory.build(main_officer=None, **values)


def plan_entry(**values) -> LearnerQualification:
    """An unsaved qualification on a saved learner's plan, its other fields valid."""
    return LearnerQualificationFactory.build(
        learner=LearnerFactory(), qualification=QualificationFactory(), **values
    )


# --- ULN -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uln",
    [
        "1234567899",  # weighted sum 210, 210 mod 11 = 1, check 10 - 1 = 9
        "9999999998",  # 486 mod 11 = 2, check 8
        "1000000000",  # 10 mod 11 = 10, check 0
        "",  # the ULN is optional
    ],
)
def test_a_uln_with_the_right_check_digit_is_accepted(uln):
    assert validation_errors(learner(uln=uln)) == {}


def test_a_uln_with_a_wrong_check_digit_is_refused():
    assert validation_errors(learner(uln="1234567890")) == {"uln": [ULN_CHECK_DIGIT]}


@pytest.mark.parametrize("last_digit", "0123456789")
def test_a_uln_whose_check_would_be_10_is_refused_whatever_its_last_digit(last_digit):
    # 2*10 + 1*2 = 22, 22 mod 11 = 0: the check would be 10, which no digit can be.
    assert validation_errors(learner(uln=f"200000001{last_digit}")) == {"uln": [ULN_CHECK_DIGIT]}


@pytest.mark.parametrize(
    "uln",
    ["123456789", "12345A7899", "0123456789", "1234 67899"],
    ids=["nine digits", "a letter", "leading zero", "a space"],
)
def test_a_uln_that_is_not_ten_digits_starting_1_to_9_is_refused(uln):
    assert validation_errors(learner(uln=uln)) == {"uln": [ULN_FORMAT]}


# --- NI number -------------------------------------------------------------------------------


@pytest.mark.parametrize("ni_number", ["AB123456C", "JT654321D", "OA000001A", "ZY999999B", ""])
def test_a_well_formed_ni_number_is_accepted(ni_number):
    assert validation_errors(learner(ni_number=ni_number)) == {}


@pytest.mark.parametrize("first_letter", "DFIQUV")
def test_an_ni_number_with_a_forbidden_first_letter_is_refused(first_letter):
    errors = validation_errors(learner(ni_number=f"{first_letter}A123456C"))
    assert errors == {"ni_number": [NI_NUMBER]}


@pytest.mark.parametrize("second_letter", "DFIOQUV")
def test_an_ni_number_with_a_forbidden_second_letter_is_refused(second_letter):
    errors = validation_errors(learner(ni_number=f"A{second_letter}123456C"))
    assert errors == {"ni_number": [NI_NUMBER]}


@pytest.mark.parametrize("prefix", ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"])
def test_an_ni_number_with_a_forbidden_prefix_is_refused(prefix):
    errors = validation_errors(learner(ni_number=f"{prefix}123456C"))
    assert errors == {"ni_number": [NI_NUMBER]}


@pytest.mark.parametrize(
    "ni_number",
    ["AB123456E", "AB1234567", "AB12345C", "AB123456"],
    ids=["suffix E", "suffix digit", "five digits", "no suffix"],
)
def test_an_ni_number_with_a_bad_suffix_or_digits_is_refused(ni_number):
    assert validation_errors(learner(ni_number=ni_number)) == {"ni_number": [NI_NUMBER]}


@pytest.mark.parametrize("typed", ["ab123456c", "AB 12 34 56 C", " ab 123456 c "])
def test_an_ni_number_typed_in_lower_case_or_with_spaces_is_normalised(typed):
    entered = learner(ni_number=typed)
    assert validation_errors(entered) == {}
    assert entered.ni_number == "AB123456C"


# --- Postcode --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("ls14ap", "LS1 4AP"),
        ("GIR0AA", "GIR 0AA"),
        ("sw1a 1aa", "SW1A 1AA"),
        (" M1   1AE ", "M1 1AE"),
        ("S1 2AB", "S1 2AB"),
    ],
)
def test_a_postcode_is_stored_in_upper_case_with_one_space(typed, stored):
    entered = learner(postcode=typed)
    assert validation_errors(entered) == {}
    assert entered.postcode == stored


def test_an_organisation_postcode_is_normalised_too():
    organisation = OrganisationFactory.build(postcode="ne11pg")
    assert validation_errors(organisation) == {}
    assert organisation.postcode == "NE1 1PG"


@pytest.mark.parametrize("postcode", ["LS1", "1LS 4AP", "LS1 AAP", "LS1 4A", "ABC1 4AP", "12345"])
def test_a_postcode_that_is_not_a_uk_one_is_refused(postcode):
    assert validation_errors(learner(postcode=postcode)) == {"postcode": [POSTCODE]}


def test_an_organisation_needs_a_postcode():
    errors = validation_errors(OrganisationFactory.build(postcode=""))
    assert errors == {"postcode": ["This field cannot be blank."]}


# --- Email -----------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["amelia.hughes@mail.example", "a+b@sub.example.co.uk", ""])
def test_a_plausible_email_is_accepted(email):
    assert validation_errors(learner(email=email)) == {}


@pytest.mark.parametrize(
    "email",
    ["amelia.hughes", "amelia@@mail.example", "a@b@mail.example", "amelia@localhost", "a b@x.uk"],
)
def test_an_email_without_one_at_a_dotted_domain_or_with_spaces_is_refused(email):
    assert validation_errors(learner(email=email)) == {"email": [EMAIL]}


def test_an_officer_email_follows_the_same_rule():
    officer = OfficerFactory.build(email="helen.whitaker@provider")
    assert validation_errors(officer) == {"email": [EMAIL]}


# --- LRN, EDRS -------------------------------------------------------------------------------


def test_an_lrn_of_12_characters_is_accepted():
    assert validation_errors(learner(lrn="123456789012")) == {}


def test_an_lrn_over_12_characters_is_refused_once():
    errors = validation_errors(learner(lrn="1234567890123"))
    assert errors == {"lrn": ["Ensure this value has at most 12 characters (it has 13)."]}


@pytest.mark.parametrize("edrs_number", ["10458231A", "1045 8231"])
def test_an_edrs_number_of_other_than_digits_is_refused(edrs_number):
    errors = validation_errors(OrganisationFactory.build(edrs_number=edrs_number))
    assert errors == {"edrs_number": ["An EDRS number is up to 9 digits."]}


# --- Dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "planned_end", [START, START - datetime.timedelta(days=1)], ids=["same day", "day before"]
)
def test_a_planned_end_not_after_the_start_is_refused_on_the_planned_end(planned_end):
    errors = validation_errors(learner(start_date=START, planned_end_date=planned_end))
    assert errors == {"planned_end_date": [PLANNED_END]}


def test_an_actual_end_before_the_start_is_refused_on_the_actual_end():
    entered = learner(start_date=START, actual_end_date=START - datetime.timedelta(days=1))
    assert validation_errors(entered) == {"actual_end_date": [ACTUAL_END]}


def test_an_actual_end_on_the_start_day_is_accepted():
    assert validation_errors(learner(start_date=START, actual_end_date=START)) == {}


def test_a_qualification_planned_end_not_after_its_start_is_refused():
    entry = plan_entry(start_date=START, planned_end_date=START)
    assert validation_errors(entry) == {"planned_end_date": [PLANNED_END]}


def test_a_qualification_actual_end_before_its_start_is_refused():
    entry = plan_entry(start_date=START, actual_end_date=START - datetime.timedelta(days=1))
    assert validation_errors(entry) == {"actual_end_date": [ACTUAL_END]}


def test_a_placement_ending_before_it_starts_is_refused():
    placement = PlacementFactory.build(
        learner=LearnerFactory(),
        organisation=OrganisationFactory(),
        start_date=START,
        end_date=START - datetime.timedelta(days=1),
    )
    assert validation_errors(placement) == {
        "end_date": ["A placement cannot end before it starts."]
    }


@pytest.mark.parametrize("percent", [Decimal("-1"), Decimal("100.01")])
def test_a_progress_figure_outside_0_to_100_is_refused(percent):
    assert list(validation_errors(plan_entry(progress_percent=percent))) == ["progress_percent"]


# --- Uniqueness ------------------------------------------------------------------------------


def test_a_learner_ident_already_in_use_is_refused():
    LearnerFactory(ident="PW000101", first_name="Sam", surname="Taylor")
    errors = validation_errors(learner(ident="PW000101"))
    assert errors == {
        "ident": [
            "Another learner already has this Learner Ident. It belongs to Sam Taylor "
            "(PW000101); capitals and small letters count as the same."
        ]
    }


def test_a_qualification_goes_on_a_plan_once():
    existing = LearnerQualificationFactory()
    again = LearnerQualificationFactory.build(
        learner=existing.learner, qualification=existing.qualification
    )
    assert validation_errors(again) == {
        "__all__": ["This qualification is already on the learner's plan."]
    }


def test_the_same_qualification_on_two_learners_plans_is_accepted():
    existing = LearnerQualificationFactory()
    other = LearnerQualificationFactory.build(
        learner=LearnerFactory(), qualification=existing.qualification
    )
    assert validation_errors(other) == {}


def test_a_learner_has_one_officer_per_role():
    role = OfficerRoleFactory(name="Second Assessor")
    first = LearnerOfficerRole.objects.create(
        learner=LearnerFactory(), officer=OfficerFactory(), role=role
    )
    second = LearnerOfficerRole(learner=first.learner, officer=OfficerFactory(), role=role)
    assert validation_errors(second) == {
        "__all__": ["This learner already has an officer in that role."]
    }


# --- The database refuses what skips validation ----------------------------------------------


def learner_row(**values) -> dict:
    return {
        "ident": "PW000999",
        "first_name": "Sam",
        "surname": "Taylor",
        "date_of_birth": datetime.date(2000, 5, 17),
        "start_date": START,
        "planned_end_date": START + datetime.timedelta(days=365),
        **values,
    }


def assert_refused_by_the_database(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_the_database_refuses_a_learner_planned_end_not_after_the_start():
    assert_refused_by_the_database(
        lambda: Learner.objects.create(**learner_row(planned_end_date=START))
    )


def test_the_database_refuses_a_learner_actual_end_before_the_start():
    assert_refused_by_the_database(
        lambda: Learner.objects.create(
            **learner_row(actual_end_date=START - datetime.timedelta(days=1))
        )
    )


def test_the_database_refuses_a_second_learner_with_the_same_ident():
    Learner.objects.create(**learner_row())
    assert_refused_by_the_database(lambda: Learner.objects.create(**learner_row()))


def test_the_database_refuses_a_placement_ending_before_it_starts():
    learner_saved, organisation = LearnerFactory(), OrganisationFactory()
    assert_refused_by_the_database(
        lambda: Placement.objects.create(
            learner=learner_saved,
            organisation=organisation,
            start_date=START,
            end_date=START - datetime.timedelta(days=1),
        )
    )


def test_the_database_refuses_a_qualification_planned_end_not_after_its_start():
    learner_saved, qualification = LearnerFactory(), QualificationFactory()
    assert_refused_by_the_database(
        lambda: LearnerQualification.objects.create(
            learner=learner_saved,
            qualification=qualification,
            start_date=START,
            planned_end_date=START,
        )
    )


@pytest.mark.parametrize(
    "figure", ["progress_percent", "assessed_percent", "mapped_percent", "timeline_percent"]
)
def test_the_database_refuses_a_progress_figure_over_100(figure):
    learner_saved, qualification = LearnerFactory(), QualificationFactory()
    assert_refused_by_the_database(
        lambda: LearnerQualification.objects.create(
            learner=learner_saved,
            qualification=qualification,
            start_date=START,
            planned_end_date=START + datetime.timedelta(days=365),
            **{figure: Decimal("100.5")},
        )
    )


def test_the_database_refuses_a_qualification_twice_on_a_plan():
    existing = LearnerQualificationFactory()
    assert_refused_by_the_database(
        lambda: LearnerQualification.objects.create(
            learner=existing.learner,
            qualification=existing.qualification,
            start_date=START,
            planned_end_date=START + datetime.timedelta(days=365),
        )
    )


def test_the_database_refuses_two_officers_in_one_role_for_a_learner():
    role = OfficerRoleFactory(name="Mentor")
    learner_saved = LearnerFactory()
    LearnerOfficerRole.objects.create(learner=learner_saved, officer=OfficerFactory(), role=role)
    assert_refused_by_the_database(
        lambda: LearnerOfficerRole.objects.create(
            learner=learner_saved, officer=OfficerFactory(), role=role
        )
    )


def test_valid_rows_are_accepted_by_the_database():
    """The refusals above come from the constraints, not from rows broken in another way."""
    saved = Learner.objects.create(**learner_row(actual_end_date=START))
    assert Learner.objects.filter(pk=saved.pk).exists()
