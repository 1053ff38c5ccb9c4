from django.urls import path

from . import views

app_name = "learners"

learner = "learners/<ident:ident>"

urlpatterns = [
    path("learners/", views.LearnerListView.as_view(), name="list"),
    path("learners/add/", views.LearnerAddView.as_view(), name="learner_add"),
    path(f"{learner}/delivery-plan/", views.DeliveryPlanView.as_view(), name="delivery_plan"),
    path(f"{learner}/edit/", views.LearnerEditView.as_view(), name="learner_edit"),
    path(
        f"{learner}/qualifications/add/",
        views.LearnerQualificationAddView.as_view(),
        name="learner_qualification_add",
    ),
    path(
        f"{learner}/qualifications/<int:pk>/edit/",
        views.LearnerQualificationEditView.as_view(),
        name="learner_qualification_edit",
    ),
    path(
        f"{learner}/qualifications/<int:qualification_pk>/breaks/add/",
        views.BreakStartView.as_view(),
        name="break_start",
    ),
    path(
        f"{learner}/qualifications/<int:qualification_pk>/breaks/<int:pk>/return/",
        views.BreakReturnView.as_view(),
        name="break_return",
    ),
    path(f"{learner}/placements/add/", views.PlacementAddView.as_view(), name="placement_add"),
    path(
        f"{learner}/placements/<int:pk>/edit/",
        views.PlacementEditView.as_view(),
        name="placement_edit",
    ),
    path(
        f"{learner}/placements/<int:pk>/end/",
        views.PlacementEndView.as_view(),
        name="placement_end",
    ),
    path(
        f"{learner}/officers/add/",
        views.LearnerOfficerRoleAddView.as_view(),
        name="learner_officer_role_add",
    ),
    path(
        f"{learner}/officers/<int:pk>/edit/",
        views.LearnerOfficerRoleEditView.as_view(),
        name="learner_officer_role_edit",
    ),
    path(
        f"{learner}/officers/<int:pk>/remove/",
        views.LearnerOfficerRoleRemoveView.as_view(),
        name="learner_officer_role_remove",
    ),
    path(f"{learner}/reviews/add/", views.ReviewAddView.as_view(), name="review_add"),
    path(f"{learner}/reviews/<int:pk>/edit/", views.ReviewEditView.as_view(), name="review_edit"),
    path("officers/", views.OfficerListView.as_view(), name="officer_list"),
    path("officers/add/", views.OfficerAddView.as_view(), name="officer_add"),
    path("officers/<int:pk>/", views.OfficerDetailView.as_view(), name="officer_detail"),
    path("officers/<int:pk>/edit/", views.OfficerEditView.as_view(), name="officer_edit"),
    path("organisations/", views.OrganisationListView.as_view(), name="organisation_list"),
    path("organisations/add/", views.OrganisationAddView.as_view(), name="organisation_add"),
    path(
        "organisations/<int:pk>/",
        views.OrganisationDetailView.as_view(),
        name="organisation_detail",
    ),
    path(
        "organisations/<int:pk>/edit/",
        views.OrganisationEditView.as_view(),
        name="organisation_edit",
    ),
]
