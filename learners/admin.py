from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.db import models
from django.http import HttpRequest

from .forms import NORMALISED_FIELDS
from .models import (
    BreakInLearning,
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    Officer,
    OfficerRole,
    Organisation,
    Placement,
    Qualification,
    Review,
    ReviewType,
)

LEARNER_SEARCH = ["learner__ident", "learner__first_name", "learner__surname"]


class NormalisedInputMixin(BaseModelAdmin):
    """Postcodes and NI numbers normalised as on the staff pages ("s12ab" is "S1 2AB")."""

    def formfield_for_dbfield(
        self, db_field: models.Field, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        if db_field.name in NORMALISED_FIELDS:
            kwargs.setdefault("form_class", NORMALISED_FIELDS[db_field.name])
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(OfficerRole)
class OfficerRoleAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(ReviewType)
class ReviewTypeAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    list_display = ["reference", "title", "awarding_body", "level"]
    list_filter = ["level", "awarding_body"]
    search_fields = ["reference", "title", "awarding_body"]


@admin.register(Officer)
class OfficerAdmin(admin.ModelAdmin):
    list_display = ["surname", "forenames", "job_title", "email", "is_active"]
    list_filter = ["is_active", "roles"]
    search_fields = ["forenames", "surname", "email", "job_title"]
    autocomplete_fields = ["roles"]


@admin.register(Organisation)
class OrganisationAdmin(NormalisedInputMixin, admin.ModelAdmin):
    list_display = ["name", "postcode", "edrs_number", "size_band"]
    list_filter = ["size_band"]
    search_fields = ["name", "postcode", "edrs_number"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class LearnerQualificationInline(admin.TabularInline):
    model = LearnerQualification
    autocomplete_fields = ["qualification"]
    extra = 0


class PlacementInline(admin.TabularInline):
    model = Placement
    autocomplete_fields = ["organisation"]
    extra = 0


class LearnerOfficerRoleInline(admin.TabularInline):
    model = LearnerOfficerRole
    autocomplete_fields = ["officer", "role"]
    extra = 0


@admin.register(Learner)
class LearnerAdmin(NormalisedInputMixin, admin.ModelAdmin):
    list_display = ["ident", "surname", "first_name", "lrn", "status", "risk_band", "main_officer"]
    list_filter = ["status", "risk_band", "sex"]
    list_select_related = ["main_officer"]
    search_fields = ["ident", "first_name", "surname", "lrn", "uln", "email"]
    autocomplete_fields = ["main_officer"]
    # The current employer follows the placements (learners.employers), never typed.
    readonly_fields = ["current_employer", "created_at", "updated_at"]
    date_hierarchy = "start_date"
    inlines = [LearnerOfficerRoleInline, PlacementInline, LearnerQualificationInline]


@admin.register(LearnerOfficerRole)
class LearnerOfficerRoleAdmin(admin.ModelAdmin):
    list_display = ["learner", "role", "officer"]
    list_filter = ["role"]
    list_select_related = ["learner", "role", "officer"]
    search_fields = [*LEARNER_SEARCH, "officer__forenames", "officer__surname"]
    autocomplete_fields = ["learner", "officer", "role"]


@admin.register(Placement)
class PlacementAdmin(admin.ModelAdmin):
    list_display = ["learner", "organisation", "start_date", "end_date"]
    list_filter = ["start_date", "end_date"]
    list_select_related = ["learner", "organisation"]
    search_fields = [*LEARNER_SEARCH, "organisation__name"]
    autocomplete_fields = ["learner", "organisation"]


@admin.register(LearnerQualification)
class LearnerQualificationAdmin(admin.ModelAdmin):
    list_display = [
        "learner",
        "qualification",
        "status",
        "start_date",
        "planned_end_date",
        "progress_percent",
    ]
    list_filter = ["status"]
    list_select_related = ["learner", "qualification"]
    search_fields = [*LEARNER_SEARCH, "qualification__reference", "qualification__title"]
    autocomplete_fields = ["learner", "qualification"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["learner", "review_type", "proposed_at", "actual_at", "reviewer", "attendance"]
    list_filter = ["review_type", "attendance"]
    list_select_related = ["learner", "review_type", "reviewer"]
    search_fields = [*LEARNER_SEARCH, "notes"]
    autocomplete_fields = ["learner", "review_type", "reviewer"]
    date_hierarchy = "proposed_at"


@admin.register(BreakInLearning)
class BreakInLearningAdmin(admin.ModelAdmin):
    """A break is part of a learner qualification: whoever may see, change or delete those may
    do the same with their breaks (the roles grant no rights on breaks of their own)."""

    list_display = ["learner_qualification", "start_date", "end_date"]
    list_filter = ["start_date", "end_date"]
    list_select_related = ["learner_qualification__learner", "learner_qualification__qualification"]
    search_fields = [
        *(f"learner_qualification__{name}" for name in LEARNER_SEARCH),
        "learner_qualification__qualification__reference",
    ]
    autocomplete_fields = ["learner_qualification"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("learners.view_learnerqualification")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("learners.change_learnerqualification")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("learners.change_learnerqualification")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("learners.delete_learnerqualification")
