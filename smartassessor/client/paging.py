"""Iterators over paged lists and change feeds (contract §4), one page in memory at a time.

A ``Listing`` reads a list by ``Page``, a ``Feed`` a change feed by keyset, and a ``Scan`` is
a Listing of what could have been a change feed (for a Smart Assessor without feeds), as
tolerant of a malformed item as a Feed. All check that the server's answers agree with each
other before their items are trusted: a server that ignores ``Page``, repeats a keyset
position, sends more items than asked for, more than its ``TotalCount`` allows, or an empty
page while its ``TotalCount`` says more remain breaks off the iteration with a
``ProtocolError``. A caller that acts on a whole list (Refresh Qualification Links unlinks what
is not in it) must never act on one that was cut short.
"""

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import ProtocolError
from .types import FeedPosition, MalformedItem, Page

T = TypeVar("T")

# A feed read from no position starts here: every object was modified after it.
FEED_ORIGIN = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# The most pages one list or feed may take: 1,000,000 items at the largest page size, far
# beyond any provider's, yet a server that never ends a list is stopped.
DEFAULT_MAX_PAGES = 2000
# How far a list's TotalCount may move between its pages (objects created or deleted while it
# is read) before the answers contradict each other: a tenth of the first count, at least 10.
COUNT_DRIFT_SHARE = 0.1
COUNT_DRIFT_MIN = 10


def _checked_size(page: Page, page_size: int, *, path: str) -> None:
    if len(page.items) > page_size:
        raise ProtocolError(
            f"a page held {len(page.items)} items, more than the {page_size} asked for",
            method="GET",
            path=path,
        )


def _id_order(value: int | str) -> tuple:
    """The contract's order of ids (§4): numbers numerically, GUIDs as lower-case strings."""
    return (0, value, "") if isinstance(value, int) else (1, 0, str(value).lower())


class Listing(Generic[T]):
    """Every item of a list, fetched page by page (``Page`` = 1, 2, ...) while iterating.

    ``total_count`` is the server's count, known once the first page has arrived. ``id_of``
    gives an item's id, by which the contract orders lists (None for an item whose id cannot
    be read, which is then not checked): a page that does not start after the previous one
    ended is a page repeated. Objects created or deleted while the list is read may move its
    TotalCount a little, not more: a list whose count jumps, or that holds more items than
    its count allows (a page past the end must be empty), is not the list it said it was.
    """

    def __init__(
        self,
        *,
        fetch_page: Callable[[int], Page[T]],
        page_size: int,
        max_pages: int = DEFAULT_MAX_PAGES,
        id_of: Callable[[T], int | str | None] | None = None,
        path: str = "",
    ):
        self._fetch_page = fetch_page
        self._page_size = page_size
        self._max_pages = max_pages
        self._id_of = id_of
        self._path = path
        self.total_count: int | None = None

    def _error(self, detail: str) -> ProtocolError:
        return ProtocolError(detail, method="GET", path=self._path)

    def __iter__(self) -> Iterator[T]:
        read = 0
        last_id: int | str | None = None
        for number in range(1, self._max_pages + 1):
            page = self._fetch_page(number)
            _checked_size(page, self._page_size, path=self._path)
            if page.page != number:
                raise self._error(f"asked for page {number}, Smart Assessor sent page {page.page}")
            if number == 1:
                self.total_count = page.total_count
            self._check_count(page, number, read=read + len(page.items))
            last_id = self._check_order(page, number, last_id)
            read += len(page.items)
            yield from page.items
            if len(page.items) < self._page_size:
                if read < page.total_count:
                    raise self._error(
                        f"the list ended after {read} items (page {number} held "
                        f"{len(page.items)}), but its TotalCount is {page.total_count}"
                    )
                return
        raise self._error(f"the list did not end within {self._max_pages} pages")

    def _check_count(self, page: Page[T], number: int, *, read: int) -> None:
        assert self.total_count is not None, "set from the first page"
        drift = max(COUNT_DRIFT_MIN, self.total_count * COUNT_DRIFT_SHARE)
        if abs(page.total_count - self.total_count) > drift:
            raise self._error(
                f"the TotalCount went from {self.total_count} to {page.total_count} "
                f"while the list was read (page {number})"
            )
        if read > page.total_count + drift:
            raise self._error(
                f"the list held {read} items by page {number}, more than its TotalCount of "
                f"{page.total_count} allows"
            )

    def _check_order(
        self, page: Page[T], number: int, last_id: int | str | None
    ) -> int | str | None:
        """The last id of this page (or of the pages before, if it has none readable)."""
        if self._id_of is None:
            return None
        ids = [found for found in map(self._id_of, page.items) if found is not None]
        if not ids:
            return last_id
        if last_id is not None and _id_order(ids[0]) <= _id_order(last_id):
            raise self._error(
                f"page {number} starts with {ids[0]!r}, which an earlier page had "
                "already passed: a page was sent again"
            )
        return ids[-1]


class Scan(Listing[T | MalformedItem]):
    """A full read of a list that could have been a change feed, for a Smart Assessor without
    feeds: every item, page by page, checked as a ``Listing`` is.

    An item that does not have the documented shape comes out as a ``MalformedItem`` in its
    place, as a feed's does, and the scan goes on past it (a page number, unlike a keyset,
    does not depend on the items read). ``position`` is always None, so that code written
    for a ``Feed`` can read either: a scan has no watermark to store.
    """

    position: None = None

    def __init__(
        self,
        *,
        fetch_page: Callable[[int], Page[T | MalformedItem]],
        id_of: Callable[[T], int | str],
        page_size: int,
        max_pages: int = DEFAULT_MAX_PAGES,
        path: str = "",
    ):
        def any_id_of(item: T | MalformedItem) -> int | str | None:
            return item.smart_assessor_id if isinstance(item, MalformedItem) else id_of(item)

        super().__init__(
            fetch_page=fetch_page,
            page_size=page_size,
            max_pages=max_pages,
            id_of=any_id_of,
            path=path,
        )


def _position_order(position: FeedPosition | dt.datetime) -> tuple:
    if isinstance(position, dt.datetime):  # a start: every item at or after it is new
        return (position, (-1, 0, ""))
    return (position.modified_at, _id_order(position.smart_assessor_id))


class Feed(Generic[T]):
    """The objects changed since a point, in (ModifiedAt, id) order, read by keyset.

    Each request continues after the last item received (``ModifiedSince`` = its ModifiedAt,
    ``AfterId`` = its id) until a page holds fewer items than asked for. ``position`` is the
    last item handed out (or the start position), ready to be stored as a watermark and given
    back as ``since`` to read on from there; ``remaining`` is the count the server gave with
    the first page. Every item must come strictly after the one before it (an item changed
    meanwhile comes again later, with a later ModifiedAt), so a server that repeats a position
    is stopped at once.

    An item that does not have the documented shape comes out as a ``MalformedItem`` in its
    place, and the feed goes on past it: one bad record must not stop every later read. One
    whose own ModifiedAt or id is unreadable has no place in the order: it is handed out
    unchecked and the feed continues after the last item of the page it can place; only a
    full page of such items, which asking again would bring back, stops the feed.
    """

    def __init__(
        self,
        *,
        fetch_page: Callable[[FeedPosition | dt.datetime], Page[T | MalformedItem]],
        position_of: Callable[[T], FeedPosition],
        since: FeedPosition | dt.datetime | None,
        page_size: int,
        max_pages: int = DEFAULT_MAX_PAGES,
        path: str = "",
    ):
        self._fetch_page = fetch_page
        self._position_of = position_of
        self._since = since if since is not None else FEED_ORIGIN
        self._page_size = page_size
        self._max_pages = max_pages
        self._path = path
        self.position: FeedPosition | None = since if isinstance(since, FeedPosition) else None
        self.remaining: int | None = None

    def _error(self, detail: str) -> ProtocolError:
        return ProtocolError(detail, method="GET", path=self._path)

    def __iter__(self) -> Iterator[T | MalformedItem]:
        cursor = self._since
        for number in range(1, self._max_pages + 1):
            page = self._fetch_page(cursor)
            _checked_size(page, self._page_size, path=self._path)
            if number == 1:
                self.remaining = page.total_count
            previous = cursor
            for item in page.items:
                position = (
                    item.position if isinstance(item, MalformedItem) else self._position_of(item)
                )
                if position is None:  # a record without a readable place is handed out as is
                    yield item
                    continue
                if _position_order(position) <= _position_order(previous):
                    raise self._error(
                        f"the change feed did not move on from {_shown(previous)}: it sent "
                        f"{_shown(position)} after it"
                    )
                previous = self.position = position
                yield item
            if len(page.items) < self._page_size:
                if page.total_count > len(page.items):
                    raise self._error(
                        f"the change feed ended with a page of {len(page.items)} items, but "
                        f"its TotalCount says {page.total_count} remain"
                    )
                return
            if previous is cursor:
                # A full page of records none of which can be placed: asking again from the
                # same place would bring the same page back, so this feed stops here.
                raise self._error(
                    f"the change feed sent a page of {len(page.items)} items after "
                    f"{_shown(cursor)} none of which has a readable ModifiedAt and id: it "
                    "cannot go on past them"
                )
            cursor = previous
        raise self._error(f"the change feed did not end within {self._max_pages} pages")


def _shown(position: FeedPosition | dt.datetime) -> str:
    if isinstance(position, dt.datetime):
        return position.isoformat()
    return f"{position.modified_at.isoformat()} / {position.smart_assessor_id}"
