from django.urls import path

from . import api

urlpatterns = [
    path("learners/", api.LearnerListAPI.as_view(), name="api-learner-list"),
    path("learners/<str:ident>/", api.LearnerDetailAPI.as_view(), name="api-learner-detail"),
    path(
        "learners/<str:ident>/delivery-plan/",
        api.DeliveryPlanAPI.as_view(),
        name="api-delivery-plan",
    ),
]
