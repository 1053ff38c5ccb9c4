from django.urls import path

from . import enrolment_views, reconciliation_views, sync_views, views

app_name = "smartassessor"

urlpatterns = [
    path("", views.summary, name="summary"),
    path("test-connection/", views.test_connection, name="test_connection"),
    path("qualification-links/refresh/", views.refresh_links, name="refresh_links"),
    path(
        "qualification-links/refresh/<int:pk>/",
        views.link_refresh_status,
        name="link_refresh_status",
    ),
    path("review-type-mapping/", views.review_mapping, name="review_mapping"),
    path("review-type-mapping/panel/", views.review_mapping_panel, name="review_mapping_panel"),
    path("data-exchange/", views.data_exchange, name="data_exchange"),
    path("readiness/", views.readiness_panel, name="readiness_panel"),
    path(
        "readiness/<slug:group>/<slug:problem>/",
        views.readiness_learners,
        name="readiness_learners",
    ),
    path("officers/<int:pk>/look-up/", views.officer_lookup, name="officer_lookup"),
    path("organisations/<int:pk>/look-up/", views.organisation_lookup, name="organisation_lookup"),
]

urlpatterns += [
    path("learners/<ident:ident>/preview/", enrolment_views.preview, name="enrol_preview"),
    path("learners/<ident:ident>/enrol/", enrolment_views.confirm, name="enrol_confirm"),
    path("learners/<ident:ident>/status/", enrolment_views.status, name="enrol_status"),
    path("learners/<ident:ident>/retry/", enrolment_views.retry, name="enrol_retry"),
    path(
        "learners/<ident:ident>/pushes/<int:pk>/retry/",
        enrolment_views.push_retry,
        name="push_retry",
    ),
    path("learners/<ident:ident>/smart-assessor-id/", enrolment_views.set_sa_id, name="set_sa_id"),
    path("bulk/preview/", enrolment_views.bulk_preview, name="bulk_preview"),
    path("bulk/enrol/", enrolment_views.bulk_confirm, name="bulk_confirm"),
    path("bulk/results/", enrolment_views.bulk_results, name="bulk_results"),
]

urlpatterns += [
    path("learners/<ident:ident>/refresh/", sync_views.refresh, name="sync_refresh"),
    path("learners/<ident:ident>/sync-history/", sync_views.learner_history, name="sync_history"),
    path("sync/runs/", sync_views.runs, name="sync_runs"),
    path("sync/runs/<int:pk>/", sync_views.run_detail, name="sync_run"),
    path("sync/runs/<int:pk>/status/", sync_views.run_status, name="sync_run_status"),
    path("sync/dry-run/", sync_views.dry_run, name="sync_dry_run"),
    path("sync/runs/<int:pk>/approve/", sync_views.run_approve, name="sync_run_approve"),
    path("sync/runs/<int:pk>/discard/", sync_views.run_discard, name="sync_run_discard"),
]

urlpatterns += [
    path("reconciliation/", reconciliation_views.report, name="reconciliation"),
    path("reconciliation/build/", reconciliation_views.build, name="reconciliation_build"),
    path(
        "reconciliation/builds/<int:pk>/",
        reconciliation_views.build_status,
        name="reconciliation_status",
    ),
    path(
        "reconciliation/findings/<int:pk>/link/",
        reconciliation_views.link,
        name="reconciliation_link",
    ),
]
