"""A record whose keyset fields themselves are malformed (a bad ModifiedAt or id) is isolated
like any other, and a feed that breaks the contract stops only itself (issue 11, point 6)."""

import pytest

from learners.models import QualificationStatus
from smartassessor.models import DemographicsMode, SyncError, SyncRun, SyncWatermark
from smartassessor.services import sync

from .client import wire
from .sync_helpers import set_settings
from .test_sync_isolation import BAD_ID, GOOD_ID, LAST_ID, _course, _enrolled

pytestmark = pytest.mark.django_db


def _calls(http, path: str) -> int:
    return len([c for c in http.calls if c.request.url.split("?")[0].endswith(path)])


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        ({"ModifiedAt": "not a date"}, f"Learner course c{BAD_ID[1:]}"),
        ({"SmartAssessorId": "abc"}, "Learner course abc"),
    ],
)
def test_a_record_with_a_bad_keyset_is_skipped_and_the_feed_moves_past_it(sa_http, broken, named):
    good, bad, last = _enrolled(GOOD_ID), _enrolled(BAD_ID), _enrolled(LAST_ID)
    sa_http.get(
        wire.API + "/learner-courses",
        json=wire.page(
            [_course(GOOD_ID, 1), _course(BAD_ID, 2, **broken), _course(LAST_ID, 3)],
            page_size=sync.PAGE_SIZE,
        ),
    )
    sa_http.get(wire.API + "/sessions", json=wire.page([], page_size=sync.PAGE_SIZE))

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.PARTIAL, run.error
    error = SyncError.objects.get(run=run)
    assert error.learner == bad
    assert named in error.message and "Smart Assessor sent:" in error.message
    assert good.qualifications.get().status == QualificationStatus.IN_PROGRESS
    assert last.qualifications.get().status == QualificationStatus.IN_PROGRESS
    assert bad.qualifications.get().status == QualificationStatus.NOT_STARTED
    assert _calls(sa_http, "/sessions") == 1
    mark = SyncWatermark.objects.get(feed=sync.FEED_COURSES)
    assert mark.sa_id == f"c{LAST_ID[1:]}"

    # The next run reads on after the last good record: it does not fail at the same place.
    sa_http.replace(
        "GET",
        wire.API + "/learner-courses",
        json=wire.page([], page_size=sync.PAGE_SIZE),
    )
    sa_http.get(wire.API + f"/learners/{BAD_ID}", json=wire.learner(SmartAssessorId=BAD_ID))
    sa_http.get(
        wire.API + f"/learners/{BAD_ID}/courses",
        json=wire.page([_course(BAD_ID, 2)], page_size=sync.PAGE_SIZE),
    )
    sa_http.get(
        wire.API + f"/learners/{BAD_ID}/sessions", json=wire.page([], page_size=sync.PAGE_SIZE)
    )

    again = sync.sync_run_daily()

    assert again.state == SyncRun.State.SUCCEEDED, again.error
    assert bad.qualifications.get().status == QualificationStatus.IN_PROGRESS
    assert any(f"AfterId=c{LAST_ID[1:]}" in c.request.url for c in sa_http.calls)


def test_a_record_naming_no_learner_and_no_place_is_logged_against_the_run(sa_http):
    good = _enrolled(GOOD_ID)
    sa_http.get(
        wire.API + "/learner-courses",
        json=wire.page(
            [
                _course(GOOD_ID, 1),
                _course(BAD_ID, 2, ModifiedAt=None, LearnerSmartAssessorId=7),
            ],
            page_size=sync.PAGE_SIZE,
        ),
    )
    sa_http.get(wire.API + "/sessions", json=wire.page([], page_size=sync.PAGE_SIZE))

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.PARTIAL and run.error_count == 1
    error = SyncError.objects.get(run=run)
    assert error.learner is None and error.subject == f"Learner course c{BAD_ID[1:]}"
    assert good.qualifications.get().status == QualificationStatus.IN_PROGRESS
    assert SyncWatermark.objects.get(feed=sync.FEED_COURSES).sa_id == f"c{GOOD_ID[1:]}"


def test_a_feed_that_breaks_the_contract_does_not_stop_the_other_feeds(sa_http):
    set_settings(update_risk_from_smart_coach=True, learner_demographics_mode=DemographicsMode.PULL)
    good = _enrolled(GOOD_ID)
    # The learner-courses feed answers without its TotalCount: a contract error.
    sa_http.get(
        wire.API + "/learner-courses",
        json={"Items": [_course(GOOD_ID, 1)], "Page": 1, "PageSize": sync.PAGE_SIZE},
    )
    for path in ("/sessions", "/smart-coach", "/learners"):
        sa_http.get(wire.API + path, json=wire.page([], page_size=sync.PAGE_SIZE))

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.PARTIAL, run.error
    error = SyncError.objects.get(run=run)
    assert error.subject == "The learner courses feed" and "TotalCount" in error.message
    assert [_calls(sa_http, p) for p in ("/sessions", "/smart-coach", "/learners")] == [1, 1, 1]
    assert good.qualifications.get().status == QualificationStatus.NOT_STARTED
    assert not SyncWatermark.objects.filter(feed=sync.FEED_COURSES).exists()
