"""A change feed hands out an item it cannot read as a ``MalformedItem`` and goes on past it;
everything else about a page stays as strict as before (F22)."""

import pytest
from responses import matchers

from smartassessor.client import FeedPosition, LearnerCourse, MalformedItem, ProtocolError
from smartassessor.client.types import parse_datetime

from . import wire

FIRST, BAD, LAST, NEXT = (f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 5))
BAD_LEARNER = "6f1c2b1e-8a54-4f0e-9a52-000000000002"


def course(sa_id, second, **overrides):
    stamp = {"ModifiedAt": f"2026-11-28T10:00:0{second}.000000Z"}
    return wire.learner_course(**({"SmartAssessorId": sa_id} | stamp | overrides))


def after(stamp, sa_id, *, page_size):
    """Matches the keyset request that continues after (stamp, sa_id), or from the origin."""
    if stamp is None:
        params = {"ModifiedSince": "1970-01-01T00:00:00.000000Z"}
    else:
        params = {"ModifiedSince": stamp, "AfterId": sa_id}
    return matchers.query_param_matcher(params | {"PageSize": str(page_size)})


def test_a_malformed_item_in_the_middle_is_handed_out_as_such_and_the_feed_goes_on(http, api):
    bad = course(BAD, 2, LearnerSmartAssessorId=BAD_LEARNER, ProgressPercent="lots")
    http.get(
        wire.API + "/learner-courses",
        json=wire.page([course(FIRST, 1), bad, course(LAST, 3)], page_size=3),
        match=[after(None, None, page_size=3)],
    )
    http.get(
        wire.API + "/learner-courses",
        json=wire.page([course(NEXT, 4)], page_size=3, total=1),
        match=[after("2026-11-28T10:00:03.000000Z", LAST, page_size=3)],
    )

    feed = api.learner_course_feed(page_size=3)
    iterator = iter(feed)
    first, malformed = next(iterator), next(iterator)

    assert isinstance(first, LearnerCourse) and first.smart_assessor_id == FIRST
    assert malformed == MalformedItem(
        raw=bad,
        error="ProgressPercent: expected a number, got 'lots'",
        modified_at=parse_datetime("2026-11-28T10:00:02.000000Z"),
        smart_assessor_id=BAD,
        learner_id=BAD_LEARNER,
        sent_id=BAD,
    )
    assert feed.position == malformed.position
    assert [item.smart_assessor_id for item in iterator] == [LAST, NEXT]
    assert feed.position.smart_assessor_id == NEXT


def test_a_malformed_item_last_on_a_page_is_where_the_next_page_starts(http, api):
    http.get(
        wire.API + "/learner-courses",
        json=wire.page([course(FIRST, 1), course(BAD, 2, Status=None)], page_size=2),
        match=[after(None, None, page_size=2)],
    )
    http.get(
        wire.API + "/learner-courses",
        json=wire.page([], page_size=2, total=0),
        match=[after("2026-11-28T10:00:02.000000Z", BAD, page_size=2)],
    )

    items = list(api.learner_course_feed(page_size=2))

    assert [type(item) for item in items] == [LearnerCourse, MalformedItem]
    assert items[1].error == "Status is null"
    assert len([c for c in http.calls if "learner-courses" in c.request.url]) == 2


def test_a_malformed_item_naming_no_usable_learner_still_keeps_its_place(http, api):
    http.get(
        wire.API + "/sessions",
        json=wire.page([wire.session(LearnerSmartAssessorId=42)]),
    )

    (item,) = api.session_feed()

    assert isinstance(item, MalformedItem)
    assert item.learner_id is None
    assert item.error == "LearnerSmartAssessorId: expected a string, got 42"
    assert item.smart_assessor_id == wire.SESSION_ID


def test_a_malformed_smart_coach_score_is_placed_by_its_learner(http, api):
    http.get(wire.API + "/smart-coach", json=wire.page([wire.smart_coach(Band=3)]))

    feed = api.smart_coach_feed()
    (item,) = feed

    assert isinstance(item, MalformedItem) and item.learner_id == wire.LEARNER_ID
    assert feed.position == FeedPosition(
        modified_at=parse_datetime(wire.smart_coach()["ModifiedAt"]),
        smart_assessor_id=wire.LEARNER_ID,
    )


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        (course(BAD, 2, ModifiedAt="yesterday"), "ModifiedAt: expected a date-time"),
        (course(BAD, 2, ModifiedAt=None), "ModifiedAt is null"),
        (course(BAD, 2, SmartAssessorId=17), "SmartAssessorId: expected a string"),
        ({"Status": "InTraining"}, "SmartAssessorId is missing"),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_an_item_without_a_usable_position_is_skipped_and_the_feed_goes_on(
    http, api, broken, error
):
    http.get(
        wire.API + "/learner-courses",
        json=wire.page([course(FIRST, 1), broken, course(LAST, 3)], page_size=3),
        match=[after(None, None, page_size=3)],
    )
    http.get(
        wire.API + "/learner-courses",
        json=wire.page([course(NEXT, 4)], page_size=3, total=1),
        match=[after("2026-11-28T10:00:03.000000Z", LAST, page_size=3)],
    )

    feed = api.learner_course_feed(page_size=3)
    items = list(feed)

    kinds = [LearnerCourse, MalformedItem, LearnerCourse, LearnerCourse]
    assert [type(item) for item in items] == kinds
    assert items[1].position is None and error in items[1].error and items[1].raw == broken
    assert feed.position.smart_assessor_id == NEXT


def test_a_page_ending_in_unplaceable_items_continues_after_its_last_placeable_one(http, api):
    http.get(
        wire.API + "/learner-courses",
        json=wire.page([course(FIRST, 1), course(BAD, 2, ModifiedAt="soon")], page_size=2),
        match=[after(None, None, page_size=2)],
    )
    http.get(
        wire.API + "/learner-courses",
        json=wire.page([course(LAST, 3)], page_size=2, total=1),
        match=[after("2026-11-28T10:00:01.000000Z", FIRST, page_size=2)],
    )

    feed = api.learner_course_feed(page_size=2)
    items = list(feed)

    assert [type(item) for item in items] == [LearnerCourse, MalformedItem, LearnerCourse]
    assert items[1].sent_id == BAD and feed.position.smart_assessor_id == LAST


def test_a_full_page_of_unplaceable_items_stops_the_feed(http, api):
    http.get(
        wire.API + "/learner-courses",
        json=wire.page(
            [course(FIRST, 1, ModifiedAt="soon"), course(BAD, 2, SmartAssessorId=9)], page_size=2
        ),
    )

    with pytest.raises(ProtocolError, match="none of which has a readable ModifiedAt and id"):
        list(api.learner_course_feed(page_size=2))
    assert len([c for c in http.calls if "learner-courses" in c.request.url]) == 1


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        (
            {"Items": {"0": wire.session()}, "Page": 1, "PageSize": 100, "TotalCount": 1},
            "Items: expected a list",
        ),
        (
            {"Items": [wire.session()], "Page": 1, "PageSize": 100},
            "TotalCount: expected an integer",
        ),
    ],
)
def test_a_feed_page_with_a_broken_envelope_is_still_an_error(http, api, envelope, message):
    http.get(wire.API + "/sessions", json=envelope)

    with pytest.raises(ProtocolError, match=message):
        list(api.session_feed())


def test_a_list_stays_strict_about_every_item(http, api):
    http.get(
        wire.API + f"/learners/{wire.LEARNER_ID}/courses",
        json=wire.page([course(FIRST, 1), course(BAD, 2, ProgressPercent="lots")]),
    )

    with pytest.raises(ProtocolError, match=r"Items\[1\]\.ProgressPercent: expected a number"):
        list(api.learner_course_list(learner_id=wire.LEARNER_ID))
