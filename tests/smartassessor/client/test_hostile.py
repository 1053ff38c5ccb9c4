"""A hostile Smart Assessor, over real HTTP: every answer it can give ends in a clear, typed
error within bounded time and memory, never a hang, a RecursionError or a loop."""

import time
import tracemalloc

import pytest

from smartassessor.client import (
    DEFAULT_MAX_BODY_BYTES,
    EmployerInput,
    LocalRateLimiter,
    ProtocolError,
    RetryPolicy,
    SmartAssessorClient,
    Transient,
    ValidationFailed,
)
from tests.fixtures import hostile

from . import wire


@pytest.fixture
def server():
    server = hostile.HostileSmartAssessor().start()
    yield server
    server.stop()


@pytest.fixture
def make_client(server):
    clients = []

    def make(**overrides):
        options = {
            "base_url": server.url,
            "username": server.username,
            "password": server.password,
            "client_key": server.client_key,
            "rate_limiter": LocalRateLimiter(rate=1e6),
            "retry": RetryPolicy(max_attempts=1),
        } | overrides
        clients.append(SmartAssessorClient(**options))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


class Bounded:
    """Time and peak memory (Python allocations, the server thread's included) of a block."""

    def __enter__(self):
        tracemalloc.start()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc_info):
        self.elapsed = time.monotonic() - self.started
        self.peak_mb = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()


MB = 1024 * 1024
EMPLOYER = EmployerInput(mis_employer_id="ORG-1", name="Cafe", address_post_code="S1 2AB")


def test_the_client_authenticates_and_reads_from_the_hostile_server(server, make_client):
    server.set("/courses", hostile.json_answer(wire.page([wire.course()])))

    assert [c.qan_code for c in make_client().course_list()] == ["ST0070"]


def test_a_huge_body_stops_at_the_limit_in_bounded_memory(server, make_client):
    server.set("/courses", hostile.huge(200 * MB))
    client = make_client(max_body_bytes=1 * MB)

    with Bounded() as bounded, pytest.raises(ProtocolError, match="larger than the 1048576 bytes"):
        list(client.course_list())

    assert bounded.elapsed < 5
    assert bounded.peak_mb < 6


def test_a_declared_huge_body_is_refused_before_it_is_read(server, make_client):
    server.set("/courses", hostile.Answer(b"[" + b" " * (2 * MB) + b"]"))

    with pytest.raises(ProtocolError, match="larger than"):
        list(make_client(max_body_bytes=1 * MB).course_list())


def test_the_default_size_limit_is_counted_after_decompression(server, make_client):
    server.set("/courses", hostile.gzip_bomb(megabytes=1024))  # 1 GiB inflated from ~1 MiB
    client = make_client()

    with Bounded() as bounded, pytest.raises(ProtocolError, match="larger than"):
        list(client.course_list())

    assert bounded.elapsed < 10
    assert bounded.peak_mb < DEFAULT_MAX_BODY_BYTES / MB * 2.5


def test_a_gzip_bomb_stops_at_the_limit_in_bounded_memory(server, make_client):
    server.set("/courses", hostile.gzip_bomb(megabytes=1024))
    client = make_client(max_body_bytes=1 * MB)

    with Bounded() as bounded, pytest.raises(ProtocolError, match="larger than the 1048576"):
        list(client.course_list())

    assert bounded.elapsed < 5
    assert bounded.peak_mb < 6


def test_a_gzipped_answer_within_the_limit_is_read(server, make_client):
    server.set("/courses", hostile.gzipped(wire.page([wire.course()])))

    assert len(list(make_client().course_list())) == 1


def test_an_answer_dripping_one_byte_every_two_seconds_ends_at_the_deadline(server, make_client):
    body = hostile.json_answer(wire.page([wire.course()])).body
    server.set("/courses", hostile.drip(body, every=2))
    client = make_client(read_timeout=5, deadline=2.5)

    started = time.monotonic()
    with pytest.raises(Transient, match=r"no complete answer within 2\.5 s") as caught:
        list(client.course_list())

    assert time.monotonic() - started < 3.5
    assert caught.value.ambiguous


def test_a_dripping_answer_is_not_retried_past_the_calls_deadline(server, make_client):
    body = hostile.json_answer(wire.page([wire.course()])).body
    server.set("/courses", hostile.drip(body, every=2))
    # Four tries of 1.5 s each would hold the call for more than 6 s.
    client = make_client(read_timeout=5, deadline=1.5, retry=RetryPolicy(max_attempts=4))

    started = time.monotonic()
    with pytest.raises(Transient, match=r"no complete answer within 1\.5 s"):
        list(client.course_list())

    assert time.monotonic() - started < client.call_deadline + 0.5


def test_quick_failures_are_retried_within_the_calls_deadline(server, make_client):
    server.set("/courses", hostile.json_answer({"Code": "unavailable"}, status=503))
    client = make_client(deadline=1.0, call_deadline=30, retry=RetryPolicy(max_attempts=3))

    with pytest.raises(Transient):
        list(client.course_list())

    assert len(server.asked("/courses")) == 3


def test_headers_that_never_finish_end_at_the_deadline(server, make_client):
    server.set("/courses", hostile.RawDrip(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100, every=0.5))
    client = make_client(read_timeout=5, deadline=1.5)

    started = time.monotonic()
    with pytest.raises(Transient, match=r"no complete answer within 1\.5 s"):
        list(client.course_list())

    assert time.monotonic() - started < 2.5


def test_deeply_nested_json_is_a_protocol_error_not_a_recursion_error(server, make_client):
    server.set("/courses", hostile.nested(100_000))

    started = time.monotonic()
    with pytest.raises(ProtocolError, match="nests 100000 levels deep"):
        list(make_client().course_list())

    assert time.monotonic() - started < 5


def test_nesting_in_strings_does_not_count(server, make_client):
    title = "[" * 50 + "{"
    server.set("/courses", hostile.json_answer(wire.page([wire.course(QualificationTitle=title)])))

    assert [c.qualification_title for c in make_client().course_list()] == [title]


def test_nan_is_not_a_number_smart_assessor_may_send(server, make_client):
    body = b'{"Items": [], "Page": 1, "PageSize": 100, "TotalCount": NaN}'
    server.set("/courses", hostile.Answer(body))

    with pytest.raises(ProtocolError, match="not JSON"):
        list(make_client().course_list())


def _full_page(query, *, total=1000, ignore_page=True):
    page_size = int(query["PageSize"][0])
    number = 1 if ignore_page else int(query["Page"][0])
    courses = [wire.course(SmartAssessorId=n + 1) for n in range(page_size)]
    return hostile.json_answer(wire.page(courses, page=number, page_size=page_size, total=total))


def test_a_server_that_ignores_page_is_stopped_on_the_second_page(server, make_client):
    server.set("/courses", _full_page)

    with pytest.raises(ProtocolError, match="asked for page 2, Smart Assessor sent page 1"):
        list(make_client().course_list(page_size=10))
    assert len(server.asked("/courses")) == 2


def test_a_server_that_sends_the_same_page_again_under_another_number_is_stopped(
    server, make_client
):
    server.set("/courses", lambda query: _full_page(query, ignore_page=False))

    with pytest.raises(ProtocolError, match="a page was sent again"):
        list(make_client().course_list(page_size=10))
    assert len(server.asked("/courses")) == 2


def test_a_list_that_never_ends_stops_at_the_page_cap(server, make_client):
    def endless(query):
        number, size = int(query["Page"][0]), int(query["PageSize"][0])
        courses = [wire.course(SmartAssessorId=number * size + n) for n in range(size)]
        return hostile.json_answer(wire.page(courses, page=number, page_size=size, total=50))

    server.set("/courses", endless)

    with pytest.raises(ProtocolError, match="did not end within 5 pages"):
        list(make_client(max_pages=5).course_list(page_size=10))
    assert len(server.asked("/courses")) == 5


def test_an_empty_page_whose_total_count_says_16_is_an_error(server, make_client):
    server.set("/courses", hostile.json_answer(wire.page([], total=16)))

    with pytest.raises(ProtocolError, match=r"ended after 0 items .* TotalCount is 16"):
        list(make_client().course_list())


def test_a_page_with_more_items_than_asked_for_is_an_error(server, make_client):
    courses = [wire.course(SmartAssessorId=n) for n in range(1, 6)]
    server.set("/courses", hostile.json_answer(wire.page(courses, page_size=2)))

    with pytest.raises(ProtocolError, match="held 5 items, more than the 2 asked for"):
        list(make_client().course_list(page_size=2))


def test_a_total_count_that_jumps_while_the_list_is_read_is_an_error(server, make_client):
    def shrinking(query):
        number = int(query["Page"][0])
        if number == 1:
            courses = [wire.course(SmartAssessorId=n) for n in range(1, 11)]
            return hostile.json_answer(wire.page(courses, page_size=10, total=400))
        return hostile.json_answer(wire.page([], page=number, page_size=10, total=10))

    server.set("/courses", shrinking)

    with pytest.raises(ProtocolError, match="TotalCount went from 400 to 10"):
        list(make_client().course_list(page_size=10))


def test_a_feed_that_repeats_its_keyset_is_stopped(server, make_client):
    learners = [wire.learner(SmartAssessorId=f"00000000-0000-4000-8000-{n:012d}") for n in range(2)]
    server.set("/learners", hostile.json_answer(wire.page(learners, page_size=2, total=9)))

    with pytest.raises(ProtocolError, match="did not move on"):
        list(make_client().learner_feed(page_size=2))
    assert len(server.asked("/learners")) == 2


def test_a_feed_that_never_ends_stops_at_the_page_cap(server, make_client):
    def endless(query):
        after = query.get("AfterId", ["00000000-0000-4000-8000-000000000000"])[0]
        start = int(after[-12:]) + 1
        learners = [
            wire.learner(SmartAssessorId=f"00000000-0000-4000-8000-{n:012d}")
            for n in range(start, start + 2)
        ]
        return hostile.json_answer(wire.page(learners, page_size=2, total=10**6))

    server.set("/learners", endless)

    with pytest.raises(ProtocolError, match="did not end within 4 pages"):
        list(make_client(max_pages=4).learner_feed(page_size=2))


def test_an_empty_feed_page_with_items_remaining_is_an_error(server, make_client):
    server.set("/learner-courses", hostile.json_answer(wire.page([], total=16)))

    with pytest.raises(ProtocolError, match="TotalCount says 16 remain"):
        list(make_client().learner_course_feed())


@pytest.mark.parametrize(
    ("path", "call", "item", "message"),
    [
        (
            "/courses",
            lambda c: list(c.course_list()),
            wire.page([wire.course(SmartAssessorId=2**40)]),
            "SmartAssessorId: expected a value from 1 to 2147483647, got 1099511627776",
        ),
        (
            f"/learners/{wire.LEARNER_ID}",
            lambda c: c.learner_get(learner_id=wire.LEARNER_ID),
            wire.learner(SmartAssessorId="a" * 200),
            "SmartAssessorId: expected a GUID",
        ),
        (
            f"/learners/{wire.LEARNER_ID}/courses",
            lambda c: list(c.learner_course_list(learner_id=wire.LEARNER_ID)),
            wire.page([wire.learner_course(ProgressPercent=150)]),
            "ProgressPercent: expected a value from 0 to 100, got 150",
        ),
        (
            "/courses",
            lambda c: list(c.course_list()),
            wire.page([wire.course()], total=-3),
            "TotalCount: expected a value from 0",
        ),
        (
            f"/learners/{wire.LEARNER_ID}/sessions",
            lambda c: list(c.learner_session_list(learner_id=wire.LEARNER_ID)),
            wire.page([wire.session(DurationMinutes=-30)]),
            "DurationMinutes: expected a value from 0",
        ),
        (
            f"/learners/{wire.LEARNER_ID}",
            lambda c: c.learner_get(learner_id=wire.LEARNER_ID),
            wire.learner(GivenNames="A" * 51),
            "GivenNames: expected at most 50 characters, got 51",
        ),
        (
            f"/learners/{wire.LEARNER_ID}",
            lambda c: c.learner_get(learner_id=wire.LEARNER_ID),
            wire.learner(FamilyName="Jo\u0000nes"),
            "FamilyName: a NUL",
        ),
        (
            f"/learners/{wire.LEARNER_ID}",
            lambda c: c.learner_get(learner_id=wire.LEARNER_ID),
            wire.learner(ModifiedAt="9999-12-31T23:59:59Z"),
            "ModifiedAt: expected a year from 1900 to 2999",
        ),
        (
            f"/learners/{wire.LEARNER_ID}/smart-coach",
            lambda c: c.smart_coach_get(learner_id=wire.LEARNER_ID),
            wire.smart_coach(Score=1.5),
            "Score: expected a value from 0 to 1, got 1.5",
        ),
    ],
    ids=[
        "id-2^40",
        "guid-200-chars",
        "progress-150",
        "negative-total",
        "negative-duration",
        "name-too-long",
        "nul",
        "year-9999",
        "score-1.5",
    ],
)
def test_out_of_range_values_are_contract_errors(server, make_client, path, call, item, message):
    server.set(path, hostile.json_answer(item))

    with pytest.raises(ProtocolError) as caught:
        call(make_client())
    assert "does not have the documented shape" in str(caught.value)
    assert message in str(caught.value)


def test_a_number_too_large_for_a_float_is_refused(server, make_client):
    body = wire.smart_coach()
    text = hostile.json_answer(body).body.replace(b'"Score": 0.73', b'"Score": 1e400')
    server.set(f"/learners/{wire.LEARNER_ID}/smart-coach", hostile.Answer(text))

    with pytest.raises(ProtocolError, match="Score: expected a number"):
        make_client().smart_coach_get(learner_id=wire.LEARNER_ID)


def test_an_out_of_range_conflict_id_is_a_contract_error(server, make_client):
    errors = wire.errors("duplicate_mis_id", "dup", ExistingSmartAssessorId=2**40)
    server.set("/employers", hostile.json_answer(errors, status=409))

    with pytest.raises(ProtocolError, match="409 without an ExistingSmartAssessorId"):
        make_client().employer_create(employer=EMPLOYER, idempotency_key="k1")


def test_smart_assessors_messages_are_cut_to_a_sane_length(server, make_client):
    errors = {"Errors": [{"Code": "validation", "Field": "Name", "Message": "x" * 100_000}] * 50}
    server.set("/employers", hostile.json_answer(errors, status=400))

    with pytest.raises(ValidationFailed) as caught:
        make_client().employer_create(employer=EMPLOYER, idempotency_key="k1")

    text = str(caught.value)
    assert len(text) < 6000
    assert caught.value.messages[0] == "Name: " + "x" * 499 + "\u2026"
    assert text.endswith("and 40 more")
