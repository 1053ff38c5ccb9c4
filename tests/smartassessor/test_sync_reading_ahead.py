"""Reading one page ahead (sync.reading._pages_ahead): the pages come in order, each with the
feed's position after it; an error comes where it happened; a run that stops early stops the
reader."""

import threading

import pytest

from smartassessor.client import ProtocolError
from smartassessor.services.sync import reading


class Feed:
    """Records with the position a feed has after each one; fails after ``fail_after``."""

    def __init__(self, count: int, fail_after: int | None = None):
        self.count, self.fail_after, self.position, self.read = count, fail_after, None, 0

    def __iter__(self):
        for n in range(self.count):
            if n == self.fail_after:
                raise ProtocolError(f"record {n} is malformed")
            self.read, self.position = n + 1, f"at {n}"
            yield n


def test_pages_come_in_order_each_with_the_position_after_it(monkeypatch):
    monkeypatch.setattr(reading, "PAGE_SIZE", 2)

    pages = list(reading._pages_ahead(Feed(5), "learners"))

    assert pages == [([0, 1], "at 1"), ([2, 3], "at 3"), ([4], "at 4")]


def test_an_error_is_raised_after_the_pages_before_it(monkeypatch):
    monkeypatch.setattr(reading, "PAGE_SIZE", 2)
    pages = []

    with pytest.raises(ProtocolError, match="record 4"):
        for page in reading._pages_ahead(Feed(9, fail_after=4), "learners"):
            pages.append(page)

    assert pages == [([0, 1], "at 1"), ([2, 3], "at 3")]


def test_a_run_that_stops_early_stops_the_reader(monkeypatch):
    monkeypatch.setattr(reading, "PAGE_SIZE", 2)
    feed = Feed(1000)
    before = threading.active_count()

    with pytest.raises(RuntimeError):
        for _ in reading._pages_ahead(feed, "learners"):
            raise RuntimeError("the planning failed")

    assert threading.active_count() == before
    assert feed.read <= 6  # the page planned, one read ahead, and one waiting to be handed
