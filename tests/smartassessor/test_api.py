"""The integration's API: Refresh with Smart Assessor and the synchronisation runs (F26)."""

import pytest

from smartassessor.models import SyncRun
from smartassessor.services import sync
from tests.smartassessor.sync_helpers import enrolled_learner

pytestmark = pytest.mark.django_db


def test_staff_start_and_read_a_refresh(staff_client, sa_sandbox, monkeypatch):
    queued = []
    monkeypatch.setattr("smartassessor.tasks.refresh_learner.delay_on_commit", queued.append)
    learner = enrolled_learner()
    url = f"/api/learners/{learner.ident}/refresh/"
    assert staff_client.get(url).status_code == 404

    started = staff_client.post(url)

    assert started.status_code == 202
    assert started.json()["state"] == "queued"
    assert queued == [started.json()["id"]]
    assert staff_client.post(url).status_code == 200, "one refresh at a time"
    assert staff_client.get(url).json()["id"] == started.json()["id"]


def test_a_learner_not_in_smart_assessor_cannot_be_refreshed(staff_client, sa_sandbox):
    from tests.factories import LearnerFactory

    response = staff_client.post(f"/api/learners/{LearnerFactory().ident}/refresh/")
    assert response.status_code == 400


def test_integration_admins_list_the_runs(client, staff_user, admin_user, sa_sandbox):
    enrolled_learner()
    run = sync.sync_run_daily(trigger=SyncRun.Trigger.MANUAL)
    client.force_login(staff_user)
    assert client.get("/api/sync-runs/").status_code == 403
    client.force_login(admin_user)
    listed = client.get("/api/sync-runs/").json()
    assert [item["id"] for item in listed["results"]] == [run.pk]
    assert listed["results"][0]["state"] == run.state
    assert listed["results"][0]["learners_seen"] == run.learners_seen
