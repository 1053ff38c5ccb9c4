"""Scans and the feed probe against the real sandbox, with its change feeds on and off: a
Smart Assessor without feeds is read in full, and the probe tells the two apart."""

import pytest

from smartassessor.client import (
    MalformedItem,
    Scan,
    ValidationFailed,
)

PAGE_SIZE = 7
READS = [
    ("learner_feed", "learner_scan"),
    ("learner_course_feed", "learner_course_scan"),
    ("session_feed", "session_scan"),
    ("smart_coach_feed", "smart_coach_scan"),
]


def ordered(value):
    return (0, value, "") if isinstance(value, int) else (1, 0, str(value).lower())


def key_of(item):
    return getattr(item, "smart_assessor_id", None) or item.learner_smart_assessor_id


@pytest.fixture
def live(sandbox, sandbox_client):
    """A client of the sandbox holding learners with courses, sessions and Smart Coach scores."""
    sandbox.seed(9, courses_per_learner=2, prefix="SCAN")
    sandbox.advance(120)
    return sandbox_client


def test_has_feeds_tells_a_smart_assessor_with_feeds_from_one_without(live, sandbox):
    assert live.has_feeds() is True

    sandbox.feeds(False)
    assert live.has_feeds() is False

    sandbox.feeds(True)
    assert live.has_feeds() is True


@pytest.mark.parametrize(("feed", "scan"), READS)
def test_a_scan_reads_what_the_feed_reads_with_feeds_on_and_off(live, sandbox, feed, scan):
    from_feed = {key_of(item): item for item in getattr(live, feed)(page_size=PAGE_SIZE)}
    assert len(from_feed) > PAGE_SIZE, "the seed should fill more than one page"

    read_with_feeds = list(getattr(live, scan)(page_size=PAGE_SIZE))
    sandbox.feeds(False)
    reader = getattr(live, scan)(page_size=PAGE_SIZE)
    read_without = list(reader)

    assert isinstance(reader, Scan) and reader.position is None
    assert reader.total_count == len(from_feed)
    for items in (read_with_feeds, read_without):
        assert not [item for item in items if isinstance(item, MalformedItem)]
        keys = [key_of(item) for item in items]
        assert keys == sorted(keys, key=ordered)
        assert {key: item for key, item in zip(keys, items, strict=True)} == from_feed


@pytest.mark.parametrize("feed", [feed for feed, _ in READS])
def test_without_feeds_the_feed_is_refused_as_an_unknown_parameter(live, sandbox, feed):
    sandbox.feeds(False)

    with pytest.raises(ValidationFailed) as refused:
        list(getattr(live, feed)(page_size=PAGE_SIZE))

    assert refused.value.status == 400
    assert refused.value.code == "unknown_field"
    assert refused.value.errors[0].field == "ModifiedSince"
