"""Full-list reads of what could have been a change feed (a Smart Assessor without feeds), and
the probe that tells which of the two a Smart Assessor offers, against a mocked server."""

import pytest
from responses import matchers

from smartassessor.client import (
    Forbidden,
    Learner,
    LearnerCourse,
    MalformedItem,
    ProtocolError,
    Session,
    SmartCoachScore,
    ValidationFailed,
)

from . import wire

IDS = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 10)]
LEARNERS = [f"6f1c2b1e-8a54-4f0e-9a52-00000000000{n}" for n in range(1, 10)]


def page_of(number, page_size):
    return matchers.query_param_matcher({"Page": str(number), "PageSize": str(page_size)})


def courses(*numbers, **overrides):
    return [wire.learner_course(SmartAssessorId=IDS[n], **overrides) for n in numbers]


def serve(http, path, pages, *, page_size, total):
    """Pages 1, 2, ... of a list of ``total`` items, each matched on its Page and PageSize."""
    for number, items in enumerate(pages, start=1):
        http.get(
            wire.API + path,
            json=wire.page(items, page=number, page_size=page_size, total=total),
            match=[page_of(number, page_size)],
        )


def calls_to(http, path):
    return [call for call in http.calls if call.request.path_url.startswith("/api/v1" + path)]


def test_a_scan_reads_every_page_by_number_until_a_short_one(http, api):
    serve(
        http, "/learner-courses", [courses(0, 1), courses(2, 3), courses(4)], page_size=2, total=5
    )

    scan = api.learner_course_scan(page_size=2)
    items = list(scan)

    assert [item.smart_assessor_id for item in items] == IDS[:5]
    assert all(isinstance(item, LearnerCourse) for item in items)
    assert scan.total_count == 5
    assert scan.position is None
    assert "ModifiedSince" not in calls_to(http, "/learner-courses")[0].request.url


@pytest.mark.parametrize(
    ("open_scan", "path", "item", "kind"),
    [
        ("learner_scan", "/learners", wire.learner, Learner),
        ("session_scan", "/sessions", wire.session, Session),
    ],
)
def test_every_resource_with_a_feed_has_a_scan(http, api, open_scan, path, item, kind):
    serve(http, path, [[item(SmartAssessorId=IDS[0])]], page_size=50, total=1)

    (read,) = getattr(api, open_scan)(page_size=50)

    assert isinstance(read, kind) and read.smart_assessor_id == IDS[0]


def test_a_smart_coach_scan_is_ordered_by_learner(http, api):
    serve(
        http,
        "/smart-coach",
        [
            [wire.smart_coach(LearnerSmartAssessorId=LEARNERS[0])],
            [wire.smart_coach(LearnerSmartAssessorId=LEARNERS[0])],
        ],
        page_size=1,
        total=2,
    )

    with pytest.raises(ProtocolError, match="a page was sent again"):
        list(api.smart_coach_scan(page_size=1))


def test_a_smart_coach_scan_hands_out_a_malformed_score_keyed_by_its_learner(http, api):
    broken = wire.smart_coach(LearnerSmartAssessorId=LEARNERS[1], Band=3)
    serve(
        http,
        "/smart-coach",
        [[wire.smart_coach(LearnerSmartAssessorId=LEARNERS[0]), broken]],
        page_size=5,
        total=2,
    )

    good, malformed = api.smart_coach_scan(page_size=5)

    assert isinstance(good, SmartCoachScore)
    assert isinstance(malformed, MalformedItem)
    assert malformed.learner_id == malformed.smart_assessor_id == LEARNERS[1]
    assert malformed.raw == broken


def test_a_malformed_item_is_handed_out_in_its_place_and_the_scan_goes_on(http, api):
    broken = wire.learner_course(SmartAssessorId=IDS[1], ProgressPercent="lots")
    serve(
        http,
        "/learner-courses",
        [[*courses(0), broken], courses(2)],
        page_size=2,
        total=3,
    )

    first, malformed, last = api.learner_course_scan(page_size=2)

    assert isinstance(first, LearnerCourse) and isinstance(last, LearnerCourse)
    assert isinstance(malformed, MalformedItem)
    assert malformed.error == "ProgressPercent: expected a number, got 'lots'"
    assert malformed.smart_assessor_id == malformed.sent_id == IDS[1]
    assert malformed.learner_id == wire.LEARNER_ID


def test_a_malformed_item_keeps_its_place_by_id_without_a_readable_modified_at(http, api):
    """A scan is ordered by id alone: a record repeated on the next page is still caught."""
    broken = wire.learner_course(SmartAssessorId=IDS[1], ModifiedAt="yesterday")
    serve(http, "/learner-courses", [[*courses(0), broken], [broken]], page_size=2, total=3)

    with pytest.raises(ProtocolError, match="page 2 starts with"):
        list(api.learner_course_scan(page_size=2))


def test_a_page_of_items_without_a_readable_id_does_not_stop_the_scan(http, api):
    nameless = [{"Status": "InTraining"}, ["not", "an", "object"]]
    serve(http, "/learner-courses", [courses(0, 1), nameless, courses(2)], page_size=2, total=5)

    items = list(api.learner_course_scan(page_size=2))

    assert [type(item) for item in items] == [LearnerCourse] * 2 + [MalformedItem] * 2 + [
        LearnerCourse
    ]
    assert items[2].smart_assessor_id is None and items[3].raw == nameless[1]


def test_a_scan_whose_ids_go_back_across_pages_is_stopped(http, api):
    serve(http, "/learner-courses", [courses(2, 3), courses(1)], page_size=2, total=3)

    scan = iter(api.learner_course_scan(page_size=2))
    assert [next(scan).smart_assessor_id, next(scan).smart_assessor_id] == IDS[2:4]
    with pytest.raises(ProtocolError, match=f"page 2 starts with '{IDS[1]}'"):
        next(scan)


def test_a_server_that_ignores_page_is_stopped(http, api):
    http.get(
        wire.API + "/learner-courses",
        json=wire.page(courses(0, 1), page=1, page_size=2, total=4),
    )

    with pytest.raises(ProtocolError, match="asked for page 2, Smart Assessor sent page 1"):
        list(api.learner_course_scan(page_size=2))


def test_a_page_past_the_end_must_be_empty(http, api):
    """Items beyond the TotalCount (more than objects created meanwhile could explain)."""
    items = [
        wire.learner_course(SmartAssessorId=f"{n:08d}-0000-4000-8000-000000000000")
        for n in range(40)
    ]
    pages = [items[n : n + 2] for n in range(0, 40, 2)]
    serve(http, "/learner-courses", pages, page_size=2, total=2)

    with pytest.raises(ProtocolError, match="more than its TotalCount of 2 allows"):
        list(api.learner_course_scan(page_size=2))
    assert len(calls_to(http, "/learner-courses")) == 7  # 2 + 10 allowed for drift, then 14


def test_a_scan_cut_short_of_its_total_count_is_an_error(http, api):
    serve(http, "/learner-courses", [courses(0, 1), []], page_size=2, total=3)

    with pytest.raises(ProtocolError, match=r"ended after 2 items .* TotalCount is 3"):
        list(api.learner_course_scan(page_size=2))


def test_a_total_count_that_jumps_while_the_scan_is_read_is_an_error(http, api):
    http.get(
        wire.API + "/learner-courses",
        json=wire.page(courses(0, 1), page=1, page_size=2, total=4),
        match=[page_of(1, 2)],
    )
    http.get(
        wire.API + "/learner-courses",
        json=wire.page(courses(2, 3), page=2, page_size=2, total=400),
        match=[page_of(2, 2)],
    )

    with pytest.raises(ProtocolError, match="TotalCount went from 4 to 400"):
        list(api.learner_course_scan(page_size=2))


def test_a_page_with_more_items_than_asked_for_is_an_error(http, api):
    serve(http, "/learner-courses", [courses(0, 1, 2)], page_size=2, total=3)

    with pytest.raises(ProtocolError, match="held 3 items, more than the 2 asked for"):
        list(api.learner_course_scan(page_size=2))


def test_a_scan_that_never_ends_is_stopped_at_max_pages(http, make_client):
    http.post(wire.API + "/token", json=wire.token())
    items = [
        wire.learner_course(SmartAssessorId=f"{n:08d}-0000-4000-8000-000000000000")
        for n in range(10)
    ]
    serve(http, "/learner-courses", [[item] for item in items], page_size=1, total=1000)

    with pytest.raises(ProtocolError, match="did not end within 3 pages"):
        list(make_client(max_pages=3).learner_course_scan(page_size=1))
    assert len(calls_to(http, "/learner-courses")) == 3


@pytest.mark.parametrize("page_size", [0, 501])
def test_a_page_size_outside_the_contract_is_refused_before_any_request(http, api, page_size):
    with pytest.raises(ValueError, match="PageSize must be between 1 and 500"):
        api.session_scan(page_size=page_size)
    assert not calls_to(http, "/sessions")


def test_a_broken_envelope_is_still_an_error(http, api):
    http.get(wire.API + "/sessions", json={"Items": [wire.session()], "Page": 1, "PageSize": 100})

    with pytest.raises(ProtocolError, match="TotalCount: expected an integer"):
        list(api.session_scan())


def test_an_unlicensed_smart_coach_scan_raises_forbidden(http, api):
    http.get(
        wire.API + "/smart-coach",
        status=403,
        json=wire.errors("forbidden", "Smart Coach is not licensed."),
    )

    with pytest.raises(Forbidden):
        list(api.smart_coach_scan())


# --- has_feeds --------------------------------------------------------------------------------


def probe(http, **answer):
    http.get(
        wire.API + "/learner-courses",
        match=[matchers.query_param_matcher({"PageSize": "1"}, strict_match=False)],
        **answer,
    )


def test_has_feeds_is_true_when_the_feed_answers(http, api):
    probe(http, json=wire.page([], page_size=1, total=0))

    assert api.has_feeds() is True
    (call,) = calls_to(http, "/learner-courses")
    assert "ModifiedSince=" in call.request.url and "Page=" not in call.request.url


def test_has_feeds_is_false_when_modified_since_is_an_unknown_query_parameter(http, api):
    probe(
        http,
        status=400,
        json=wire.errors(
            "unknown_field", "ModifiedSince is not a known query parameter.", "ModifiedSince"
        ),
    )

    assert api.has_feeds() is False
    assert len(calls_to(http, "/learner-courses")) == 1


def test_has_feeds_raises_another_validation_error(http, api):
    probe(
        http,
        status=400,
        json=wire.errors("validation", "ModifiedSince must be a UTC date-time.", "ModifiedSince"),
    )

    with pytest.raises(ValidationFailed):
        api.has_feeds()


def test_has_feeds_raises_other_errors_as_usual(http, api):
    probe(http, status=403, json=wire.errors("forbidden", "Not for this key."))

    with pytest.raises(Forbidden):
        api.has_feeds()


def test_has_feeds_does_not_trust_an_answer_that_is_not_a_page(http, api):
    probe(http, json={"Items": "none"})

    with pytest.raises(ProtocolError, match="Items: expected a list"):
        api.has_feeds()


def test_a_scan_read_again_checks_against_its_new_counts(http, api):
    many = [
        wire.learner_course(SmartAssessorId=f"{n:08d}-0000-4000-8000-000000000000")
        for n in range(28)
    ]
    serve(http, "/learner-courses", [many[:2]], page_size=5, total=2)
    serve(
        http, "/learner-courses", [many[n : n + 5] for n in range(0, 28, 5)], page_size=5, total=28
    )
    scan = api.learner_course_scan(page_size=5)

    assert len(list(scan)) == 2
    assert len(list(scan)) == 28
    assert scan.total_count == 28
