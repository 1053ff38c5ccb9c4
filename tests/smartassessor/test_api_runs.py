"""The API's synchronisation runs (F26): filtered lists, one run, its planned and applied changes,
and Preview the next synchronisation. Runs are made as rows: the engine's tests run them."""

import pytest
from django.utils import timezone

from smartassessor.models import SyncRun
from tests.factories import LearnerFactory

from .run_rows import KINDS, planned_change, run_row, runs_of_every_kind
from .test_queries import _assert_same, _queries

pytestmark = pytest.mark.django_db


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return sorted(item["id"] for item in response.json()["results"])


def test_the_runs_are_listed_with_filters_by_kind_and_outcome(sa_settings, admin_client_ia):
    runs = {trigger: run_row(trigger) for trigger in KINDS}
    held = run_row(SyncRun.Trigger.DAILY, SyncRun.State.HELD, qualifications_backwards=3)
    failed_delta = run_row(SyncRun.Trigger.DELTA, SyncRun.State.FAILED, deltas_skipped=0)

    assert _ids(admin_client_ia.get("/api/sync-runs/")) == sorted(
        [*(run.pk for run in runs.values()), held.pk, failed_delta.pk]
    )
    assert _ids(admin_client_ia.get("/api/sync-runs/?trigger=delta")) == sorted(
        [runs[SyncRun.Trigger.DELTA].pk, failed_delta.pk]
    )
    assert _ids(admin_client_ia.get("/api/sync-runs/?state=held")) == [held.pk]
    assert _ids(admin_client_ia.get("/api/sync-runs/?trigger=delta&state=failed")) == [
        failed_delta.pk
    ]
    item = admin_client_ia.get("/api/sync-runs/?state=held").json()["results"][0]
    assert item["qualifications_backwards"] == 3
    assert {"deltas_skipped", "read_mode", "error_count", "errors"} <= set(item)


def test_a_filter_that_names_no_kind_is_refused(sa_settings, admin_client_ia):
    response = admin_client_ia.get("/api/sync-runs/?trigger=weekly")
    assert response.status_code == 400
    assert "trigger" in str(response.json())


def test_a_run_shows_its_progress(sa_settings, admin_client_ia):
    run = run_row(
        SyncRun.Trigger.DELTA,
        SyncRun.State.RUNNING,
        learners_in_scope=9,
        learners_seen=4,
        read_mode="feeds",
        deltas_skipped=2,
    )

    shown = admin_client_ia.get(f"/api/sync-runs/{run.pk}/").json()

    assert (shown["state"], shown["learners_seen"], shown["learners_in_scope"]) == (
        "running",
        4,
        9,
    )
    assert (shown["read_mode"], shown["deltas_skipped"]) == ("feeds", 2)
    assert admin_client_ia.get("/api/sync-runs/999999/").status_code == 404


def test_an_admin_previews_the_next_synchronisation(sa_settings, admin_client_ia, monkeypatch):
    queued = []
    monkeypatch.setattr("smartassessor.tasks.sync_dry_run.delay_on_commit", queued.append)

    response = admin_client_ia.post("/api/sync-runs/dry-run/")

    assert response.status_code == 202
    body = response.json()
    assert (body["trigger"], body["state"], body["requested_by"]) == (
        "dry_run",
        "queued",
        "integration-admin",
    )
    assert queued == [body["id"]]


@pytest.mark.parametrize("who", ["staff", "support"])
def test_only_integration_admins_preview_and_read_runs(
    sa_settings, client, staff_user, support_user, who
):
    client.force_login(staff_user if who == "staff" else support_user)
    run = run_row()
    assert client.post("/api/sync-runs/dry-run/").status_code == 403
    for path in ("", f"{run.pk}/", f"{run.pk}/changes/"):
        assert client.get(f"/api/sync-runs/{path}").status_code == 403
    assert not SyncRun.objects.filter(trigger=SyncRun.Trigger.DRY_RUN).exists()


def test_no_preview_while_the_integration_is_off(admin_client_ia, db):
    assert admin_client_ia.post("/api/sync-runs/dry-run/").status_code == 403
    assert not SyncRun.objects.exists()


def test_a_runs_changes_are_listed_planned_or_applied_and_paged(sa_settings, admin_client_ia):
    # A plan applied but for two changes left out (SA refused them).
    run = run_row(SyncRun.Trigger.DAILY, SyncRun.State.PARTIAL, plan_applied_at=timezone.now())
    zoe = LearnerFactory(first_name="Zoe", surname="Adams")
    amy = LearnerFactory(first_name="Amy", surname="Young")
    later = planned_change(run, amy, field="Mobile", left_out=True)
    first = planned_change(run, zoe, field="Email", left_out=True)
    applied = planned_change(run, zoe, field="Phone")
    url = f"/api/sync-runs/{run.pk}/changes/"

    plan = admin_client_ia.get(url + "?applied=false").json()["results"]
    assert [change["id"] for change in plan] == [first.pk, later.pk]
    assert plan[0]["learner"] == zoe.ident
    assert plan[0]["old_value"] == "07700 1" and plan[0]["new_value"] == "07700 2"
    assert [c["id"] for c in admin_client_ia.get(url + "?applied=true").json()["results"]] == [
        applied.pk
    ]
    assert admin_client_ia.get(url).json()["count"] == 3

    for n in range(55):
        planned_change(run, zoe, field=f"Field {n}", left_out=True)
    paged = admin_client_ia.get(url + "?applied=false").json()
    assert paged["count"] == 57 and len(paged["results"]) == 50 and paged["next"]
    assert admin_client_ia.get("/api/sync-runs/999999/changes/").status_code == 404


def test_the_schema_documents_the_filters_and_the_new_endpoints(admin_client_ia):
    schema = admin_client_ia.get("/api/schema/", {"format": "json"}).json()

    listed = {p["name"]: p for p in schema["paths"]["/api/sync-runs/"]["get"]["parameters"]}
    assert "delta" in listed["trigger"]["schema"]["enum"]
    assert "held" in listed["state"]["schema"]["enum"]
    assert "202" in schema["paths"]["/api/sync-runs/dry-run/"]["post"]["responses"]
    changes = schema["paths"]["/api/sync-runs/{id}/changes/"]["get"]
    assert "applied" in {p["name"] for p in changes["parameters"]}
    run_fields = schema["components"]["schemas"]["SyncRun"]["properties"]
    assert {"deltas_skipped", "qualifications_backwards", "read_mode"} <= set(run_fields)


def test_the_api_lists_ask_as_much_for_5_as_for_25(sa_settings, admin_client_ia):
    run_counts, change_counts = {}, {}
    for size in (5, 25):
        runs_of_every_kind(size - SyncRun.objects.count())
        run_counts[size] = _queries(admin_client_ia, "get", "/api/sync-runs/?trigger=delta")
        run = run_row(SyncRun.Trigger.DRY_RUN)
        for n in range(size):
            planned_change(run, LearnerFactory(), field=f"Field {n}")
        change_counts[size] = _queries(admin_client_ia, "get", f"/api/sync-runs/{run.pk}/changes/")
    _assert_same(run_counts)
    _assert_same(change_counts)
