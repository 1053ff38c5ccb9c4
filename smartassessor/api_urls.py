from django.urls import path

from . import api

urlpatterns = [
    path("learners/<ident:ident>/enrolment/", api.EnrolmentAPI.as_view(), name="api-enrolment"),
    path(
        "learners/<ident:ident>/enrolment/retry/",
        api.EnrolmentRetryAPI.as_view(),
        name="api-enrolment-retry",
    ),
    path("learners/<ident:ident>/pushes/", api.PushListAPI.as_view(), name="api-pushes"),
    path(
        "learners/<ident:ident>/pushes/<int:pk>/retry/",
        api.PushRetryAPI.as_view(),
        name="api-push-retry",
    ),
    path("learners/<ident:ident>/refresh/", api.LearnerRefreshAPI.as_view(), name="api-refresh"),
    path("sync-runs/", api.SyncRunListAPI.as_view(), name="api-sync-runs"),
    path("sync-runs/dry-run/", api.SyncRunDryRunAPI.as_view(), name="api-sync-dry-run"),
    path("sync-runs/<int:pk>/", api.SyncRunAPI.as_view(), name="api-sync-run"),
    path(
        "sync-runs/<int:pk>/changes/", api.SyncRunChangesAPI.as_view(), name="api-sync-run-changes"
    ),
    path("reconciliation/", api.ReconciliationAPI.as_view(), name="api-reconciliation"),
    path(
        "reconciliation/rows/",
        api.ReconciliationFindingListAPI.as_view(),
        name="api-reconciliation-rows",
    ),
    path(
        "reconciliation/rows/<int:pk>/link/",
        api.ReconciliationLinkAPI.as_view(),
        name="api-reconciliation-link",
    ),
]
