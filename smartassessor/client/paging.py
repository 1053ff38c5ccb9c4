"""Iterators over paged lists and change feeds (contract §4), one page in memory at a time."""

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import ProtocolError
from .types import FeedPosition, MalformedItem, Page

T = TypeVar("T")

# A feed read from no position starts here: every object was modified after it.
FEED_ORIGIN = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Listing(Generic[T]):
    """Every item of a list, fetched page by page (``Page`` = 1, 2, ...) while iterating.

    ``total_count`` is the server's count, known once the first page has arrived.
    """

    def __init__(self, *, fetch_page: Callable[[int], Page[T]], page_size: int):
        self._fetch_page = fetch_page
        self._page_size = page_size
        self.total_count: int | None = None

    def __iter__(self) -> Iterator[T]:
        number = 1
        while True:
            page = self._fetch_page(number)
            if number == 1:
                self.total_count = page.total_count
            yield from page.items
            if len(page.items) < self._page_size:
                return
            number += 1


class Feed(Generic[T]):
    """The objects changed since a point, in (ModifiedAt, id) order, read by keyset.

    Each request continues after the last item received (``ModifiedSince`` = its ModifiedAt,
    ``AfterId`` = its id) until a page holds fewer items than asked for. ``position`` is the
    last item handed out (or the start position), ready to be stored as a watermark and given
    back as ``since`` to read on from there; ``remaining`` is the count the server gave with
    the first page.

    An item that does not have the documented shape comes out as a ``MalformedItem`` in its
    place, and the feed goes on past it: one bad record must not stop every later read.
    """

    def __init__(
        self,
        *,
        fetch_page: Callable[[FeedPosition | dt.datetime], Page[T | MalformedItem]],
        position_of: Callable[[T], FeedPosition],
        since: FeedPosition | dt.datetime | None,
        page_size: int,
    ):
        self._fetch_page = fetch_page
        self._position_of = position_of
        self._since = since if since is not None else FEED_ORIGIN
        self._page_size = page_size
        self.position: FeedPosition | None = since if isinstance(since, FeedPosition) else None
        self.remaining: int | None = None

    def __iter__(self) -> Iterator[T | MalformedItem]:
        cursor = self._since
        first = True
        while True:
            page = self._fetch_page(cursor)
            if first:
                self.remaining = page.total_count
                first = False
            for item in page.items:
                if isinstance(item, MalformedItem):
                    self.position = item.position
                else:
                    self.position = self._position_of(item)
                yield item
            if len(page.items) < self._page_size:
                return
            if self.position == cursor:
                raise ProtocolError(f"the change feed did not move on from {cursor}")
            cursor = self.position
