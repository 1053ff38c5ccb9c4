"""Lists by page and feeds by keyset, streamed page by page."""

import datetime as dt

import pytest
from responses import matchers

from smartassessor.client import FeedPosition, ProtocolError
from smartassessor.client.types import parse_datetime

from . import wire


def learner_ids(count, start=0):
    return [f"00000000-0000-4000-8000-{n:012d}" for n in range(start, start + count)]


def test_a_list_is_read_page_by_page_until_a_short_page(http, api):
    for number, count in ((1, 3), (2, 3), (3, 1)):
        http.get(
            wire.API + "/courses",
            json=wire.page(
                [wire.course(SmartAssessorId=number * 10 + i) for i in range(count)],
                page=number,
                page_size=3,
                total=7,
            ),
            match=[matchers.query_param_matcher({"Page": str(number), "PageSize": "3"})],
        )

    listing = api.course_list(page_size=3)
    ids = [course.smart_assessor_id for course in listing]

    assert ids == [10, 11, 12, 20, 21, 22, 30]
    assert listing.total_count == 7


def test_a_list_that_fills_its_last_page_stops_at_the_empty_page_after_it(http, api):
    http.get(
        wire.API + "/courses",
        json=wire.page([wire.course(), wire.course(SmartAssessorId=8)], page_size=2),
        match=[matchers.query_param_matcher({"Page": "1", "PageSize": "2"})],
    )
    http.get(
        wire.API + "/courses",
        json=wire.page([], page=2, page_size=2, total=2),
        match=[matchers.query_param_matcher({"Page": "2", "PageSize": "2"})],
    )

    assert len(list(api.course_list(page_size=2))) == 2
    assert [c.request.params.get("Page") for c in http.calls[1:]] == ["1", "2"]


def test_a_list_streams_one_page_at_a_time(http, api):
    http.get(
        wire.API + "/courses",
        json=wire.page([wire.course(SmartAssessorId=1)], page_size=1),
        match=[matchers.query_param_matcher({"Page": "1", "PageSize": "1"})],
    )

    iterator = iter(api.course_list(page_size=1))
    first = next(iterator)

    assert first.smart_assessor_id == 1
    assert len([c for c in http.calls if "courses" in c.request.url]) == 1


def test_a_feed_continues_by_keyset_from_the_last_item_of_each_page(http, api):
    ids = learner_ids(5)
    stamps = [
        "2026-11-01T08:00:00.000000Z",
        "2026-11-01T08:00:00.000000Z",
        "2026-11-02T09:00:00.250000Z",
        "2026-11-03T10:00:00.000000Z",
        "2026-11-03T10:00:00.000000Z",
    ]
    items = [
        wire.learner(SmartAssessorId=i, ModifiedAt=s) for i, s in zip(ids, stamps, strict=True)
    ]
    http.get(
        wire.API + "/learners",
        json=wire.page(items[:2], page_size=2, total=5),
        match=[
            matchers.query_param_matcher(
                {"ModifiedSince": "2026-10-31T00:00:00.000000Z", "PageSize": "2"}
            )
        ],
    )
    http.get(
        wire.API + "/learners",
        json=wire.page(items[2:4], page_size=2, total=3),
        match=[
            matchers.query_param_matcher(
                {"ModifiedSince": stamps[1], "AfterId": ids[1], "PageSize": "2"}
            )
        ],
    )
    http.get(
        wire.API + "/learners",
        json=wire.page(items[4:], page_size=2, total=1),
        match=[
            matchers.query_param_matcher(
                {"ModifiedSince": stamps[3], "AfterId": ids[3], "PageSize": "2"}
            )
        ],
    )

    feed = api.learner_feed(since=dt.datetime(2026, 10, 31, tzinfo=dt.UTC), page_size=2)
    read = [learner.smart_assessor_id for learner in feed]

    assert read == ids
    assert feed.remaining == 5
    assert feed.position == FeedPosition(
        modified_at=parse_datetime(stamps[4]), smart_assessor_id=ids[4]
    )
    assert "Page" not in http.calls[-1].request.params


def test_a_feed_resumes_from_a_stored_position(http, api):
    position = FeedPosition(
        modified_at=parse_datetime("2026-11-03T10:00:00.000000Z"), smart_assessor_id=30
    )
    http.get(
        wire.API + "/learner-courses",
        json=wire.page([], total=0),
        match=[
            matchers.query_param_matcher(
                {"ModifiedSince": "2026-11-03T10:00:00.000000Z", "AfterId": "30", "PageSize": "100"}
            )
        ],
    )

    feed = api.learner_course_feed(since=position)

    assert list(feed) == []
    assert feed.position == position  # nothing new: the watermark stays


def test_a_feed_from_nowhere_starts_at_the_origin(http, api):
    http.get(
        wire.API + "/sessions",
        json=wire.page([wire.session()]),
        match=[
            matchers.query_param_matcher(
                {"ModifiedSince": "1970-01-01T00:00:00.000000Z", "PageSize": "100"}
            )
        ],
    )

    feed = api.session_feed()

    assert feed.position is None
    assert len(list(feed)) == 1
    assert feed.position.smart_assessor_id == wire.SESSION_ID


def test_the_feed_position_follows_the_items_handed_out(http, api):
    ids = learner_ids(3)
    http.get(
        wire.API + "/learners",
        json=wire.page([wire.learner(SmartAssessorId=i) for i in ids], page_size=100),
    )

    feed = api.learner_feed()
    iterator = iter(feed)
    next(iterator)
    next(iterator)

    assert feed.position.smart_assessor_id == ids[1]


def test_a_feed_that_does_not_move_on_is_an_error_not_a_loop(http, api):
    item = wire.learner()
    http.get(wire.API + "/learners", json=wire.page([item], page_size=1))

    with pytest.raises(ProtocolError, match="did not move on"):
        list(api.learner_feed(page_size=1))
