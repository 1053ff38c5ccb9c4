"""§4 of the contract: pages, search, exact filters and change feeds read by keyset."""

import threading

import pytest

from .helpers import EPOCH, assessor_body, employer_body, problems


def test_pages_follow_the_id_order_and_say_the_total(api):
    pages = [api.get("/courses", PageSize=5, Page=page).json() for page in (1, 2, 3, 4, 5)]

    ids = [course["SmartAssessorId"] for page in pages for course in page["Items"]]
    assert ids == list(range(101, 117))
    assert [len(page["Items"]) for page in pages] == [5, 5, 5, 1, 0]
    assert {page["TotalCount"] for page in pages} == {16}
    assert [page["Page"] for page in pages] == [1, 2, 3, 4, 5]
    assert {page["PageSize"] for page in pages} == {5}


def test_the_default_page_size_is_100(api):
    for _ in range(3):
        api.created("/employers", employer_body())

    page = api.get("/employers").json()

    assert page["PageSize"] == 100
    assert page["TotalCount"] == len(page["Items"]) == 7


def test_a_page_far_past_the_end_is_empty(api):
    page = api.get("/courses", Page="999999999999999999").json()

    assert page["Items"] == []
    assert page["TotalCount"] == 16


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"Page": "0"}, "Page"),
        ({"Page": "-1"}, "Page"),
        ({"Page": "one"}, "Page"),
        ({"PageSize": "0"}, "PageSize"),
        ({"PageSize": "501"}, "PageSize"),
        ({"PageSize": ""}, "PageSize"),
    ],
)
def test_page_and_page_size_must_be_in_range(api, params, field):
    response = api.get("/courses", **params)

    assert response.status_code == 400
    assert problems(response) == [("validation", field)]


def test_a_page_of_500_is_allowed(api):
    assert api.get("/courses", PageSize=500).status_code == 200


def test_guid_ids_are_ordered_as_lower_case_strings(api):
    learners = [api.learner()["SmartAssessorId"] for _ in range(8)]

    listed = [item["SmartAssessorId"] for item in api.get("/learners").json()["Items"]]

    assert listed == sorted(learners)
    assert all(item == item.lower() for item in listed)


def test_integer_ids_are_ordered_as_numbers(api):
    created = [api.created("/assessors", assessor_body())["SmartAssessorId"] for _ in range(3)]

    listed = [item["SmartAssessorId"] for item in api.get("/assessors").json()["Items"]]

    assert listed == sorted(listed)
    assert listed[-3:] == created


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("severn", ["Severn Digital Solutions Ltd"]),
        ("HX7", ["Pennine Valley Care Ltd"]),
        ("hx7 8ad", ["Pennine Valley Care Ltd"]),
        ("3119", ["Thameside Early Years Trust"]),
        ("LTD", ["Pennine Valley Care Ltd", "Severn Digital Solutions Ltd"]),
        ("Hull", []),  # only in an address line, which Search does not cover
    ],
)
def test_employer_search_matches_name_postcode_and_eds_id(api, search, expected):
    items = api.get("/employers", Search=search).json()["Items"]

    assert [item["Name"] for item in items] == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("shah", ["Priya"]),
        ("HUGHES", ["Tom"]),
        ("GRACE.OK", ["Grace"]),
        ("assessors.example", ["Priya", "Tom", "Grace"]),
        ("0113", []),  # a telephone number, which Search does not cover
    ],
)
def test_assessor_search_matches_names_and_email(api, search, expected):
    items = api.get("/assessors", Search=search).json()["Items"]

    assert [item["FirstName"] for item in items] == expected


def test_search_needs_a_value(api):
    response = api.get("/employers", Search=" Ltd")

    assert problems(response) == [("validation", "Search")]


def test_mis_id_filters_are_exact(api):
    learner = api.learner()

    assert api.get("/employers", MISEmployerId="SA-ONLY-EMP-002").json()["TotalCount"] == 1
    assert api.get("/employers", MISEmployerId="SA-ONLY-EMP").json()["TotalCount"] == 0
    assert api.get("/employers", MISEmployerId="sa-only-emp-002").json()["TotalCount"] == 0
    assert api.get("/assessors", MISAssessorId="SA-ONLY-ASR-003").json()["TotalCount"] == 1
    found = api.get("/learners", MISLearnerId=learner["MISLearnerId"]).json()
    assert found["Items"] == [learner]
    assert api.get("/learners", MISLearnerId=learner["MISLearnerId"][:-1]).json()["Items"] == []


def test_a_learners_courses_are_paged_too(api):
    learner = api.learner()["SmartAssessorId"]
    for course in (101, 102, 104):
        api.enrol(learner, CourseSmartAssessorId=course)

    first = api.get(f"/learners/{learner}/courses", PageSize=2).json()
    second = api.get(f"/learners/{learner}/courses", PageSize=2, Page=2).json()

    assert first["TotalCount"] == second["TotalCount"] == 3
    ids = [item["SmartAssessorId"] for item in first["Items"] + second["Items"]]
    assert ids == sorted(ids)


class TestFeeds:
    def test_a_feed_is_ordered_by_modified_at_then_id(self, api):
        created = [api.learner() for _ in range(5)]

        feed = api.get("/learners", ModifiedSince=EPOCH).json()

        assert [item["SmartAssessorId"] for item in feed["Items"]] == [
            item["SmartAssessorId"] for item in created
        ]
        assert feed["TotalCount"] == 5

    def test_modified_since_is_inclusive_and_after_id_is_strict(self, api):
        created = [api.learner() for _ in range(4)]
        third = created[2]

        inclusive = api.get("/learners", ModifiedSince=third["ModifiedAt"]).json()
        strict = api.get(
            "/learners", ModifiedSince=third["ModifiedAt"], AfterId=third["SmartAssessorId"]
        ).json()

        assert [item["MISLearnerId"] for item in inclusive["Items"]] == [
            item["MISLearnerId"] for item in created[2:]
        ]
        assert strict["Items"] == [created[3]]
        assert strict["TotalCount"] == 1

    def test_an_object_changed_during_a_read_moves_to_the_end_and_nothing_is_skipped(self, api):
        created = [api.learner() for _ in range(6)]
        first_page = api.get("/learners", ModifiedSince=EPOCH, PageSize=2).json()["Items"]
        changed = api.patch(
            f"/learners/{created[0]['SmartAssessorId']}", {"GivenNames": "Changed"}
        ).json()
        last = first_page[-1]

        rest = api.feed("/learners", since=last["ModifiedAt"], after_id=last["SmartAssessorId"])

        read = [item["SmartAssessorId"] for item in first_page + rest]
        assert read == [item["SmartAssessorId"] for item in created] + [changed["SmartAssessorId"]]
        assert rest[-1]["GivenNames"] == "Changed"

    def test_reading_by_keyset_pages_through_everything_once(self, api):
        created = [api.learner()["SmartAssessorId"] for _ in range(7)]

        read = api.feed("/learners", page_size=3)

        assert [item["SmartAssessorId"] for item in read] == created

    def test_total_count_counts_what_remains(self, api):
        created = [api.learner() for _ in range(5)]

        remaining = api.get(
            "/learners",
            ModifiedSince=created[1]["ModifiedAt"],
            AfterId=created[1]["SmartAssessorId"],
            PageSize=1,
        ).json()

        assert remaining["TotalCount"] == 3
        assert remaining["Items"] == [created[2]]

    def test_feed_filters_combine_with_modified_since(self, api):
        learner = api.learner()
        api.learner()

        feed = api.get(
            "/learners", ModifiedSince=EPOCH, MISLearnerId=learner["MISLearnerId"]
        ).json()

        assert feed["Items"] == [learner]

    def test_page_cannot_be_combined_with_modified_since(self, api):
        response = api.get("/learners", ModifiedSince=EPOCH, Page=1)

        assert response.status_code == 400
        assert problems(response) == [("validation", "Page")]

    def test_after_id_needs_modified_since_and_a_guid(self, api):
        without = api.get("/learners", AfterId="6f1c3d2e-0000-4000-8000-000000000000")
        not_guid = api.get("/learners", ModifiedSince=EPOCH, AfterId="42")

        assert problems(without) == [("validation", "AfterId")]
        assert problems(not_guid) == [("validation", "AfterId")]

    @pytest.mark.parametrize("path", ["/learner-courses", "/sessions", "/smart-coach"])
    def test_every_feed_reads_from_a_watermark(self, api, sandbox, path):
        learner = api.learner(StartDate="2025-01-06")["SmartAssessorId"]
        api.enrol(learner, StartDate="2025-01-06", PlannedEndDate="2026-12-31")
        sandbox.advance(1)
        everything = api.feed(path)
        watermark = everything[-1]["ModifiedAt"]

        sandbox.advance(100)
        later = api.feed(path, since=watermark)

        assert everything
        assert later
        assert all(item["ModifiedAt"] > watermark for item in later[1:])
        keys = [(item["ModifiedAt"], item.get("SmartAssessorId", "")) for item in later]
        assert keys == sorted(keys)

    def test_modified_at_is_unique_across_concurrent_writes(self, api):
        made = []

        def create():
            for _ in range(10):
                made.append(api.learner()["ModifiedAt"])

        threads = [threading.Thread(target=create) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(set(made)) == len(made) == 40
        feed = [item["ModifiedAt"] for item in api.feed("/learners", page_size=7)]
        assert feed == sorted(made)
