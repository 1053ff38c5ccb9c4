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
]
