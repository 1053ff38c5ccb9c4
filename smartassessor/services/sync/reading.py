"""Reading Smart Assessor: its change feeds by keyset from the watermarks, or, for a Smart
Assessor without feeds, its full paged lists (compared with the MIS, they give the same plan).

Each page is handed to a planning handler; a record SA sent malformed is logged with what SA
sent and skipped, and the reading moves past it (F22)."""

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from queue import Full, Queue
from typing import Any

from django.db import transaction

from ...client import MalformedItem, ProtocolError
from ...models import SyncRun
from . import locks
from .chunks import chunks
from .context import RunContext

logger = logging.getLogger(__name__)

PAGE_SIZE = 500
FEED_LEARNERS = "learners"
FEED_COURSES = "learner_courses"
FEED_SESSIONS = "sessions"
FEED_SMART_COACH = "smart_coach"
FEEDS = "feeds"
LISTS = "lists"
# How a feed's record is named in a run's errors, given its keyset id.
FEED_RECORDS = {
    FEED_LEARNERS: "Learner {}",
    FEED_COURSES: "Learner course {}",
    FEED_SESSIONS: "Session {}",
    FEED_SMART_COACH: "Smart Coach score of learner {}",
}
FEED_NAMES = {
    FEED_LEARNERS: "learners",
    FEED_COURSES: "learner courses",
    FEED_SESSIONS: "sessions",
    FEED_SMART_COACH: "Smart Coach scores",
}
# How much of a malformed record's raw data a run's error shows.
RAW_SHOWN = 500
# How often a reader waiting to hand over its next page checks that the run still wants it.
HAND_OVER_S = 0.1

Handler = Callable[[RunContext, list[Any]], object]


def read_mode(context: RunContext) -> str:
    """Feeds or lists, as the settings say; "auto" asks Smart Assessor whether it has feeds."""
    mode = context.settings.read_mode
    if mode in (FEEDS, LISTS):
        return mode
    try:
        return FEEDS if context.client.has_feeds() else LISTS
    except ProtocolError:
        # It took the feed's parameters but answered out of shape: a server with feeds, whose
        # feed reading then reports the break as an error of the run (and reads the others).
        return FEEDS


def _opener(context: RunContext, name: str, mode: str) -> Callable[[], Iterable[Any]]:
    client = context.client
    if mode == LISTS:
        scans: dict[str, Callable[..., Iterable[Any]]] = {
            FEED_LEARNERS: client.learner_scan,
            FEED_COURSES: client.learner_course_scan,
            FEED_SESSIONS: client.session_scan,
            FEED_SMART_COACH: client.smart_coach_scan,
        }
        return lambda: scans[name](page_size=PAGE_SIZE)
    feeds: dict[str, Callable[..., Iterable[Any]]] = {
        FEED_LEARNERS: client.learner_feed,
        FEED_COURSES: client.learner_course_feed,
        FEED_SESSIONS: client.session_feed,
        FEED_SMART_COACH: client.smart_coach_feed,
    }
    since = locks.watermark(name)
    return lambda: feeds[name](since=since, page_size=PAGE_SIZE)


def _cut(text: str) -> str:
    return text if len(text) <= RAW_SHOWN else text[: RAW_SHOWN - 1] + "…"


def _skip_malformed(context: RunContext, name: str, page: list) -> list:
    """The page without the records Smart Assessor sent malformed, each failing its learner
    (re-read one by one in the next runs), or logged against the run when it names no learner.
    A malformed record of a learner outside the scope is ignored, as a good one would be."""
    malformed = [item for item in page if isinstance(item, MalformedItem)]
    if not malformed:
        return page
    enrolments = context.enrolments_for(item.learner_id for item in malformed if item.learner_id)
    for item in malformed:
        shown = item.smart_assessor_id if item.smart_assessor_id is not None else item.sent_id
        subject = FEED_RECORDS[name].format(shown if shown is not None else "without an id")
        message = (
            f"{subject}: Smart Assessor sent it malformed ({item.error}); it was skipped. "
            f"Smart Assessor sent: {_cut(json.dumps(item.raw, default=str))}"
        )
        if item.learner_id is None:
            context.fail_record(subject, message)
            continue
        enrolment = enrolments.get(item.learner_id)
        if enrolment is None:
            logger.info("Sync run %s ignored, out of scope: %s", context.run.pk, message)
        elif context.usable(enrolment):
            context.fail(enrolment, message)
    return [item for item in page if not isinstance(item, MalformedItem)]


def read(context: RunContext, name: str, mode: str, handler: Handler) -> None:
    """Reads one feed (or list) page by page into the plan, noting how far a feed got after
    each page. One whose answers break the contract stops there, as an error of the run: the
    other feeds are still read, and this one is read again from where it got to next time."""
    try:
        _read_pages(context, name, mode, handler)
    except ProtocolError as exc:
        logger.warning("Sync run %s: the %s feed stopped: %s", context.run.pk, name, exc)
        context.fail_record(
            f"The {FEED_NAMES[name]} feed",
            f"Reading Smart Assessor's {FEED_NAMES[name]} stopped: {exc}. The changes after "
            "the last page read are read again in the next run.",
        )
        context.save_counts()


def _read_pages(context: RunContext, name: str, mode: str, handler: Handler) -> None:
    run = context.run
    for page, position in _pages_ahead(_opener(context, name, mode)(), name):
        # A page's plan, how far the feed got and the counts: one transaction.
        with transaction.atomic():
            handler(context, _skip_malformed(context, name, page))
            if position is not None:  # None while nothing the feed sent could be placed
                run.positions[name] = [
                    position.modified_at.isoformat(),
                    position.smart_assessor_id,
                ]
                SyncRun.objects.filter(pk=run.pk).update(positions=run.positions)
            context.save_counts()
        locks.keep_alive(run)


class _Raised:
    """What the reading raised, handed to the run."""

    def __init__(self, exc: BaseException):
        self.exc = exc


_END = object()


def _pages_ahead(records: Iterable[Any], name: str) -> Iterator[tuple[list[Any], Any]]:
    """The pages of a feed or list, each with the feed's position after it, read one page
    ahead in a thread of their own while the page before is planned: the run waits for Smart
    Assessor only when its planning is quicker than SA's answers. Whatever the reading raised
    is raised here, where it happened, after the pages before it. The thread only reads (the
    client, never the database) and is waited for before this returns."""
    queue: Queue[Any] = Queue(maxsize=1)
    stop = threading.Event()

    def hand(item: Any) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=HAND_OVER_S)
                return True
            except Full:
                continue
        return False

    def read() -> None:
        try:
            for page in chunks(records, PAGE_SIZE):
                if not hand((page, getattr(records, "position", None))):
                    return
        except BaseException as exc:  # raised in the run, not lost in the thread
            hand(_Raised(exc))
            return
        hand(_END)

    reader = threading.Thread(target=read, name=f"sync-read-{name}", daemon=True)
    reader.start()
    try:
        while (item := queue.get()) is not _END:
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        reader.join()
