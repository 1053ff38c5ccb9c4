from django.urls import path

from . import api

urlpatterns = [
    path("learners/", api.LearnerListAPI.as_view(), name="api-learner-list"),
    path("learners/<ident:ident>/", api.LearnerDetailAPI.as_view(), name="api-learner-detail"),
    path(
        "learners/<ident:ident>/delivery-plan/",
        api.DeliveryPlanAPI.as_view(),
        name="api-delivery-plan",
    ),
    path(
        "learners/<ident:ident>/qualifications/<int:id>/",
        api.LearnerQualificationAPI.as_view(),
        name="api-learner-qualification",
    ),
    path(
        "learners/<ident:ident>/qualifications/<int:id>/breaks/",
        api.BreakListAPI.as_view(),
        name="api-learner-qualification-breaks",
    ),
    path(
        "learners/<ident:ident>/qualifications/<int:id>/breaks/<int:break_id>/",
        api.BreakAPI.as_view(),
        name="api-learner-qualification-break",
    ),
]
