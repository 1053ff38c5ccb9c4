"""The learner list sorts by every column it shows a sort link for, searches and pages, in the
same number of queries whatever the data; the officer and organisation lists page the same way.
"""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from learners import selectors
from learners.models import Learner, RiskBand
from learners.selectors import LEARNER_SORTS
from tests.factories import LearnerFactory, OfficerFactory, OrganisationFactory, PlacementFactory

pytestmark = pytest.mark.django_db


def idents_on(response) -> list[str]:
    return re.findall(r'<td><a href="/learners/([^/]+)/delivery-plan/">', response.content.decode())


def names_on(response, kind: str) -> list[str]:
    return re.findall(rf'<td><a href="/{kind}/\d+/">([^<]+)</a></td>', response.content.decode())


@pytest.fixture
def four_learners():
    """Four learners whose LRN, risk band and current employer each sort them differently."""
    today = timezone.localdate()
    zebra = OrganisationFactory(name="Zebra Logistics")
    acme = OrganisationFactory(name="Acme Widgets")
    moss = OrganisationFactory(name="Moss Care Homes")
    learners = {
        ident: LearnerFactory(ident=ident, lrn=lrn, risk_band=risk, surname=surname)
        for ident, lrn, risk, surname in (
            ("A1", "LRN300", RiskBand.HIGH, "Adams"),
            ("B2", "LRN100", RiskBand.NOT_SET, "Baker"),
            ("C3", "", RiskBand.LOW, "Clark"),
            ("D4", "LRN200", RiskBand.MEDIUM, "Dixon"),
        )
    }
    PlacementFactory(learner=learners["A1"], organisation=zebra, start_date=today)
    # B2 moved from Zebra to Acme: the later of two current placements is the employer.
    PlacementFactory(
        learner=learners["B2"], organisation=zebra, start_date=today - dt.timedelta(days=90)
    )
    PlacementFactory(
        learner=learners["B2"], organisation=acme, start_date=today - dt.timedelta(days=10)
    )
    # C3's only placement ended: no current employer.
    PlacementFactory(
        learner=learners["C3"],
        organisation=acme,
        start_date=today - dt.timedelta(days=200),
        end_date=today - dt.timedelta(days=1),
    )
    PlacementFactory(learner=learners["D4"], organisation=moss, start_date=today)
    return learners


@pytest.mark.parametrize(
    ("sort", "ascending", "descending"),
    [
        # A blank LRN is the smallest.
        ("lrn", ["C3", "B2", "D4", "A1"], ["A1", "D4", "B2", "C3"]),
        # From no band to the highest, not in the alphabet's order.
        ("risk", ["B2", "C3", "D4", "A1"], ["A1", "D4", "C3", "B2"]),
        # A learner without a current employer comes last both ways.
        ("employer", ["B2", "D4", "A1", "C3"], ["A1", "D4", "B2", "C3"]),
    ],
)
def test_lrn_risk_and_current_employer_sort_both_ways(
    staff_client, four_learners, sort, ascending, descending
):
    assert idents_on(staff_client.get("/learners/", {"sort": sort})) == ascending
    assert idents_on(staff_client.get("/learners/", {"sort": f"-{sort}"})) == descending


def test_every_column_with_a_value_has_a_sort_link(staff_client, four_learners):
    page = staff_client.get("/learners/").content.decode()

    headers = re.findall(r'<th scope="col" aria-sort="[a-z]+"><a href="\?sort=([a-z_]+)">', page)
    assert headers == [key for key in LEARNER_SORTS if key != "name"]
    assert '<th scope="col" aria-sort="ascending"><a href="?sort=-name">' in page


def test_ties_are_broken_by_name(staff_client):
    for surname in ("Young", "Adams", "Mills"):
        LearnerFactory(surname=surname, risk_band=RiskBand.LOW)

    page = staff_client.get("/learners/", {"sort": "risk"}).content.decode()

    assert [name.split()[-1] for name in re.findall(r'delivery-plan/">([^<]+)</a>', page)] == [
        "Adams",
        "Mills",
        "Young",
    ]


def _queries(client, params: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/learners/", params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("sort", [*LEARNER_SORTS, *(f"-{key}" for key in LEARNER_SORTS)])
def test_each_sort_costs_the_same_queries_for_3_learners_or_80(staff_client, sort):
    officer = OfficerFactory()
    today = timezone.localdate()
    for learner in LearnerFactory.create_batch(3, main_officer=officer):
        PlacementFactory(learner=learner, start_date=today - dt.timedelta(days=5))
    few = {page: _queries(staff_client, {"sort": sort, "page": page}) for page in ("1", "last")}
    for learner in LearnerFactory.create_batch(77):
        PlacementFactory(learner=learner, start_date=today - dt.timedelta(days=5))
        PlacementFactory(learner=learner, start_date=today - dt.timedelta(days=1))

    many = {page: _queries(staff_client, {"sort": sort, "page": page}) for page in ("1", "last")}

    assert many == few


@pytest.mark.parametrize(
    "sort", ["name", "-name", "risk", "employer", "-employer", "officer", "-officer", "-lrn"]
)
def test_the_pages_read_from_either_end_make_up_the_whole_list_in_order(staff_client, sort):
    """Pages past the middle are read in the reversed order and turned round: together the
    pages are the list, each learner once, in the order of the sort."""
    today = timezone.localdate()
    # Two officers and two employers of one name: their learners are sorted together.
    officers = [OfficerFactory(surname=surname, forenames="Sam") for surname in ("Ng", "Ng", "Li")]
    employers = [OrganisationFactory(name=name) for name in ("Acme", "Birch", "Acme", "Cedar")]
    for number in range(83):
        learner = LearnerFactory(
            surname=f"Surname{number % 9}",
            first_name=f"First{number % 5}",
            lrn=f"LRN{number % 11:03d}" if number % 6 else "",
            risk_band=list(RiskBand)[number % 4],
            main_officer=officers[number % 3] if number % 7 else None,
        )
        if number % 5:
            PlacementFactory(learner=learner, organisation=employers[number % 4], start_date=today)
    # The whole list in one read, without paging.
    expected = [learner.ident for learner in selectors.learner_list(sort=sort)]

    pages = [idents_on(staff_client.get("/learners/", {"sort": sort, "page": n})) for n in "1234"]

    assert [len(page) for page in pages] == [25, 25, 25, 8]
    assert [ident for page in pages for ident in page] == expected
    last = staff_client.get("/learners/", {"sort": sort, "page": "last"})
    assert idents_on(last) == pages[-1]
    assert "Showing 76–83 of 83" in last.content.decode()


@pytest.mark.parametrize("query", ["Hughes", "ugh", "ug", "Olivia Hughes", "hughes, ol"])
def test_search_finds_the_same_by_trigram_or_by_reading_the_list(staff_client, query):
    """Terms of three characters or more are looked up through the trigram indexes
    (PostgreSQL), shorter ones read the list: either way every match, in the sort's order."""
    for number in range(30):
        LearnerFactory(
            first_name=("Olivia", "Ben", "Ughur")[number % 3],
            surname=("Hughes", "Vaughan", "Smith")[number % 3 if number % 2 else 2],
        )
    terms = [term for term in re.split(r"[\s,]+", query) if term]
    expected = [
        learner.ident
        for learner in Learner.objects.all()
        if all(
            any(
                term.casefold() in value.casefold()
                for value in (learner.first_name, learner.surname, learner.ident, learner.lrn)
            )
            for term in terms
        )
    ]

    found = idents_on(staff_client.get("/learners/", {"q": query, "sort": "name"}))
    found += idents_on(staff_client.get("/learners/", {"q": query, "sort": "name", "page": 2}))

    assert expected
    assert sorted(found) == sorted(expected)
    assert found == [
        learner.ident
        for learner in Learner.objects.filter(ident__in=expected).order_by(
            "surname", "first_name", "id"
        )
    ]


def test_a_search_on_a_later_page_keeps_the_search_and_the_sort(staff_client):
    LearnerFactory.create_batch(30, surname="Hughes")
    LearnerFactory.create_batch(5, surname="Smith")

    second = staff_client.get("/learners/", {"q": "hughes", "sort": "-ident", "page": "last"})

    assert len(idents_on(second)) == 5
    assert "Showing 26–30 of 30" in second.content.decode()
    assert idents_on(second) == sorted(idents_on(second), reverse=True)


def test_the_officer_and_organisation_lists_page_from_either_end(staff_client):
    for number in range(60):
        OfficerFactory(surname=f"Officer{number:02d}", forenames="Sam")
        OrganisationFactory(name=f"Employer {number:02d}")

    officers = [
        names_on(staff_client.get("/officers/", {"page": n}), "officers") for n in (1, 2, 3)
    ]
    organisations = [
        names_on(staff_client.get("/organisations/", {"page": n}), "organisations")
        for n in (1, 2, 3)
    ]

    assert [name for page in officers for name in page] == [
        f"Sam Officer{number:02d}" for number in range(60)
    ]
    assert [name for page in organisations for name in page] == [
        f"Employer {number:02d}" for number in range(60)
    ]
    with CaptureQueriesContext(connection) as first:
        staff_client.get("/officers/")
    with CaptureQueriesContext(connection) as last:
        staff_client.get("/officers/", {"page": "last"})
    assert len(first) == len(last)


def test_an_officers_count_of_main_learners_is_right_on_every_page(staff_client):
    busy = OfficerFactory(surname="Aaron")
    LearnerFactory.create_batch(3, main_officer=busy)
    OfficerFactory.create_batch(30)

    first = staff_client.get("/officers/").content.decode()
    last = staff_client.get("/officers/", {"page": "last"}).content.decode()

    assert "<td>3 learners</td>" in first
    assert "<td>0 learners</td>" in last


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's trigram indexes")
def test_the_search_uses_the_trigram_indexes_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'learners_learner' "
            "AND indexdef LIKE '%gin_trgm_ops%'"
        )
        names = {row[0] for row in cursor.fetchall()}
    assert names == {
        f"learner_{column}_trgm" for column in ("first_name", "surname", "ident", "lrn", "uln")
    }


@pytest.mark.parametrize("chosen", [None, 1])
def test_the_quick_select_draws_what_djangos_select_draws(chosen):
    from django import forms

    from learners.models import Officer
    from learners.widgets import QuickSelect

    officers = OfficerFactory.create_batch(3)
    value = {} if chosen is None else {"officer": str(officers[chosen].pk)}

    def drawn(widget) -> str:
        class Filter(forms.Form):
            officer = forms.ModelChoiceField(
                queryset=Officer.objects.all(), required=False, empty_label="Anyone", widget=widget
            )

        html = Filter(value)["officer"].as_widget(attrs={"aria-describedby": "hint"})
        return re.sub(r">\s+<", "><", html)

    assert drawn(QuickSelect) == drawn(forms.Select)
    assert drawn(QuickSelect).count(" selected") == 1
