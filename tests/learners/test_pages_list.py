import datetime
import re

import pytest
from django.utils import timezone

from learners.models import LearnerStatus, RiskBand
from tests.factories import LearnerFactory, OfficerFactory, PlacementFactory

pytestmark = pytest.mark.django_db


def idents_on(response) -> list[str]:
    """The Learner Idents in the table, in the order shown."""
    return re.findall(r'<td><a href="/learners/([^/]+)/delivery-plan/">', response.content.decode())


@pytest.fixture
def three_learners():
    return [
        LearnerFactory(
            ident="A-1",
            lrn="LRN100",
            uln="9999999999",
            first_name="Priya",
            surname="Shah",
            start_date=datetime.date(2026, 1, 5),
            planned_end_date=datetime.date(2027, 6, 1),
            status=LearnerStatus.COMPLETED,
            main_officer=OfficerFactory(forenames="Zoe", surname="Young"),
        ),
        LearnerFactory(
            ident="C-3",
            lrn="LRN300",
            uln="1000000004",
            first_name="Ben",
            surname="Adams",
            start_date=datetime.date(2026, 3, 1),
            planned_end_date=datetime.date(2027, 1, 1),
            status=LearnerStatus.IN_LEARNING,
            main_officer=OfficerFactory(forenames="Amy", surname="Baker"),
        ),
        LearnerFactory(
            ident="B-2",
            lrn="LRN200",
            first_name="Carla",
            surname="Mendes",
            start_date=datetime.date(2026, 2, 1),
            planned_end_date=datetime.date(2028, 1, 1),
            status=LearnerStatus.WITHDRAWN,
            main_officer=OfficerFactory(forenames="Kim", surname="Lee"),
        ),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("priya", ["A-1"]),
        ("ADAMS", ["C-3"]),
        ("Carla Mendes", ["B-2"]),
        ("Mendes, Carla", ["B-2"]),
        ("c-3", ["C-3"]),
        ("LRN200", ["B-2"]),
        ("9999999999", ["A-1"]),
        ("nobody", []),
    ],
)
def test_search_by_name_ident_lrn_or_uln(staff_client, three_learners, query, expected):
    response = staff_client.get("/learners/", {"q": query})

    assert idents_on(response) == expected
    if not expected:
        assert "No learner matches these filters." in response.content.decode()


def test_filter_by_status(staff_client, three_learners):
    response = staff_client.get("/learners/", {"status": LearnerStatus.WITHDRAWN})

    assert idents_on(response) == ["B-2"]


def test_filter_by_main_officer(staff_client, three_learners):
    officer = three_learners[0].main_officer

    page = staff_client.get("/learners/")
    response = staff_client.get("/learners/", {"officer": officer.pk})

    assert f'<option value="{officer.pk}">Zoe Young</option>' in page.content.decode()
    assert idents_on(response) == ["A-1"]


def test_a_nonsense_filter_value_is_ignored(staff_client, three_learners):
    response = staff_client.get("/learners/", {"status": "asleep", "officer": "x", "sort": "shoe"})

    assert response.status_code == 200
    assert idents_on(response) == ["C-3", "B-2", "A-1"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["C-3", "B-2", "A-1"]),
        ("ident", ["A-1", "B-2", "C-3"]),
        ("start", ["A-1", "B-2", "C-3"]),
        ("planned_end", ["C-3", "A-1", "B-2"]),
        ("status", ["A-1", "C-3", "B-2"]),
        ("officer", ["C-3", "B-2", "A-1"]),
    ],
)
def test_sort_each_column_both_ways(staff_client, three_learners, sort, expected):
    ascending = staff_client.get("/learners/", {"sort": sort})
    descending = staff_client.get("/learners/", {"sort": f"-{sort}"})

    assert idents_on(ascending) == expected
    assert idents_on(descending) == expected[::-1]


def test_sort_links_keep_the_filters_and_turn_the_order_round(staff_client, three_learners):
    page = staff_client.get(
        "/learners/", {"status": "in_learning", "sort": "ident", "page": "1"}
    ).content.decode()

    assert (
        '<th scope="col" aria-sort="ascending"><a href="?status=in_learning&amp;sort=-ident">'
        in page
    )
    assert '<a href="?status=in_learning&amp;sort=start">' in page
    assert '<input type="hidden" name="sort" value="ident"' in page  # the filters keep the order


def test_the_list_shows_each_learners_row(staff_client):
    today = timezone.localdate()
    learner = LearnerFactory(
        first_name="Priya",
        surname="Shah",
        ident="A-1",
        lrn="LRN100",
        risk_band=RiskBand.HIGH,
        start_date=datetime.date(2026, 1, 5),
        main_officer=OfficerFactory(forenames="Zoe", surname="Young"),
    )
    PlacementFactory(
        learner=learner,
        organisation__name="Old Employer",
        start_date=today - datetime.timedelta(days=400),
        end_date=today - datetime.timedelta(days=30),
    )
    PlacementFactory(
        learner=learner,
        organisation__name="Acme Widgets",
        start_date=today - datetime.timedelta(days=29),
    )

    page = staff_client.get("/learners/").content.decode()

    assert '<a href="/learners/A-1/delivery-plan/">Priya Shah</a>' in page
    assert "<td>LRN100</td>" in page
    assert '<span class="badge badge--info">In learning</span>' in page
    assert '<span class="badge badge--bad">High</span>' in page
    assert ">Zoe Young</a>" in page
    assert ">Acme Widgets</a>" in page
    assert "Old Employer" not in page
    assert '<td class="date">5 Jan 2026</td>' in page
    assert '<a class="button" href="/learners/add/">Add learner</a>' in page


@pytest.mark.parametrize(
    ("band", "words", "tone"),
    [("not_set", "Not set", "neutral"), ("low", "Low", "good"), ("medium", "Medium", "warning")],
)
def test_risk_band_is_a_badge_with_its_word(staff_client, band, words, tone):
    LearnerFactory(risk_band=band)

    page = staff_client.get("/learners/").content.decode()

    assert f'<span class="badge badge--{tone}">{words}</span>' in page


def test_paging_25_a_page_with_links_that_keep_the_filters(staff_client):
    officer = OfficerFactory()
    LearnerFactory.create_batch(30, main_officer=officer)
    LearnerFactory.create_batch(3)

    first = staff_client.get("/learners/", {"officer": officer.pk, "sort": "-ident"})
    second = staff_client.get("/learners/", {"officer": officer.pk, "sort": "-ident", "page": 2})

    assert len(idents_on(first)) == 25
    assert len(idents_on(second)) == 5
    assert not set(idents_on(first)) & set(idents_on(second))
    assert f'href="?officer={officer.pk}&amp;sort=-ident&amp;page=2" rel="next"' in (
        first.content.decode()
    )
    assert "Showing 26–30 of 30" in second.content.decode()


def test_without_a_list_action_there_are_no_checkboxes(staff_client, three_learners):
    page = staff_client.get("/learners/").content.decode()

    assert 'name="learners"' not in page
    assert 'id="learner-actions"' not in page


def test_a_user_without_rights_cannot_see_the_list(nobody_client):
    assert nobody_client.get("/learners/").status_code == 403
