from django.urls import path

from . import api

urlpatterns = [
    path("learners/<ident:ident>/enrolment/", api.EnrolmentAPI.as_view(), name="api-enrolment"),
    path(
        "learners/<ident:ident>/enrolment/retry/",
        api.EnrolmentRetryAPI.as_view(),
        name="api-enrolment-retry",
    ),
    path("learners/<ident:ident>/refresh/", api.LearnerRefreshAPI.as_view(), name="api-refresh"),
    path("sync-runs/", api.SyncRunListAPI.as_view(), name="api-sync-runs"),
]
