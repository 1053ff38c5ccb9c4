from django import forms
from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse

from . import models
from .audit import audit_record
from .services import sync

SECRET_HELP = "Write-only: the stored value is never shown. Leave blank to keep it."


class IntegrationSettingsForm(forms.ModelForm):
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=SECRET_HELP,
    )
    client_key = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=SECRET_HELP,
    )

    sync_time = forms.TimeField(
        label="daily synchronisation time",
        required=False,
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
        help_text="UK time (Europe/London). This is the schedule of the periodic task "
        f"“{sync.DAILY_TASK_NAME}”: changing one changes the other. Leave blank to keep the "
        "task's schedule as it is.",
    )

    class Meta:
        model = models.IntegrationSettings
        fields = [
            "enabled",
            "base_url",
            "username",
            "password",
            "client_key",
            "send_welcome_email",
            "set_student_id_to_lrn",
            "second_assessor_role",
            "learner_demographics_mode",
            "officer_demographics_mode",
            "update_learner_gender",
            "update_risk_from_smart_coach",
            "safety_hold_percent",
            "connect_timeout",
            "read_timeout",
            "requests_per_second",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sync_time"].initial = sync.daily_sync_time_get()
        if self.fields["sync_time"].initial is None:
            self.fields[
                "sync_time"
            ].help_text += (
                " The task's schedule is not a single daily time now: see Periodic tasks."
            )

    def _keep_when_blank(self, name: str) -> str:
        return self.cleaned_data[name] or getattr(self.instance, name)

    def clean_password(self) -> str:
        return self._keep_when_blank("password")

    def clean_client_key(self) -> str:
        return self._keep_when_blank("client_key")

    def clean_base_url(self) -> str:
        return self.cleaned_data["base_url"].rstrip("/")


@admin.register(models.IntegrationSettings)
class IntegrationSettingsAdmin(admin.ModelAdmin):
    form = IntegrationSettingsForm
    fieldsets = [
        ("Connection", {"fields": ["enabled", "base_url", "username", "password", "client_key"]}),
        (
            "Enrolment",
            {"fields": ["send_welcome_email", "set_student_id_to_lrn", "second_assessor_role"]},
        ),
        (
            "Synchronisation",
            {
                "fields": [
                    "learner_demographics_mode",
                    "officer_demographics_mode",
                    "update_learner_gender",
                    "update_risk_from_smart_coach",
                    "safety_hold_percent",
                    "sync_time",
                ]
            },
        ),
        ("Transport", {"fields": ["connect_timeout", "read_timeout", "requests_per_second"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        settings = models.IntegrationSettings.load()
        return redirect(
            reverse("admin:smartassessor_integrationsettings_change", args=[settings.pk])
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None and obj.credentials_unreadable:
            self.message_user(
                request,
                "The stored password or client key cannot be decrypted with this deployment's "
                "FIELD_ENCRYPTION_KEY: enter them again.",
                level="warning",
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def save_model(self, request, obj, form, change):
        before = models.IntegrationSettings.objects.get(pk=obj.pk) if change else None
        super().save_model(request, obj, form, change)
        sync_time = form.cleaned_data.get("sync_time")
        if "sync_time" in form.changed_data and sync_time is not None:
            old_time = sync.daily_sync_time_get()
            sync.daily_sync_time_set(at=sync_time)
            audit_record(
                actor=request.user,
                action="settings changed",
                instance=obj,
                changes={"sync_time": (old_time, sync_time)},
            )
        changes = {
            name: (getattr(before, name, None), getattr(obj, name))
            for name in form.changed_data
            if name != "sync_time"
            and (before is None or getattr(before, name) != getattr(obj, name))
        }
        if changes:
            audit_record(
                actor=request.user, action="settings changed", instance=obj, changes=changes
            )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "object_repr", "reason"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id", "actor__username", "reason"]
    date_hierarchy = "at"


@admin.register(models.QualificationLink)
class QualificationLinkAdmin(ReadOnlyAdmin):
    list_display = ["qualification", "course_id", "course_title", "linked_at"]
    search_fields = ["qualification__reference", "qualification__title", "course_title"]
    list_select_related = ["qualification"]


@admin.register(models.OfficerLink)
class OfficerLinkAdmin(ReadOnlyAdmin):
    list_display = ["officer", "assessor_id", "linked_at", "linked_by"]
    search_fields = ["officer__forenames", "officer__surname", "assessor_id"]
    list_select_related = ["officer", "linked_by"]


@admin.register(models.OrganisationLink)
class OrganisationLinkAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "employer_id", "linked_at", "linked_by"]
    search_fields = ["organisation__name", "employer_id"]
    list_select_related = ["organisation", "linked_by"]


@admin.register(models.LinkRefresh)
class LinkRefreshAdmin(ReadOnlyAdmin):
    list_display = ["requested_at", "state", "linked", "unlinked", "unchanged", "requested_by"]
    list_filter = ["state"]


class CourseEnrolmentInline(admin.TabularInline):
    model = models.CourseEnrolment
    extra = 0
    can_delete = False
    readonly_fields = ["learner_qualification", "state", "sa_learner_course_id", "error"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.Enrolment)
class EnrolmentAdmin(ReadOnlyAdmin):
    list_display = [
        "learner",
        "state",
        "is_current",
        "sa_learner_id",
        "requested_by",
        "requested_at",
        "attempts",
    ]
    list_filter = ["state", "is_current", "source"]
    search_fields = ["learner__ident", "learner__surname", "sa_learner_id"]
    list_select_related = ["learner", "requested_by"]
    inlines = [CourseEnrolmentInline]


@admin.register(models.ReviewTypeMapping)
class ReviewTypeMappingAdmin(admin.ModelAdmin):
    list_display = ["event_type_code", "event_type_name", "review_type"]
    list_editable = ["review_type"]


class SyncErrorInline(admin.TabularInline):
    model = models.SyncError
    extra = 0
    can_delete = False
    fields = readonly_fields = ["learner", "subject", "message"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "requested_at",
        "trigger",
        "state",
        "learner",
        "learners_seen",
        "qualifications_updated",
        "reviews_created",
        "errors",
    ]
    list_filter = ["state", "trigger"]
    search_fields = ["learner__ident", "learner__surname", "error"]
    list_select_related = ["learner"]
    date_hierarchy = "requested_at"
    inlines = [SyncErrorInline]


@admin.register(models.SyncWatermark)
class SyncWatermarkAdmin(ReadOnlyAdmin):
    list_display = ["feed", "modified_at", "sa_id", "run", "updated_at"]


@admin.register(models.CourseEnrolment)
class CourseEnrolmentAdmin(ReadOnlyAdmin):
    list_display = ["learner_qualification", "state", "sa_learner_course_id", "error"]
    list_filter = ["state"]
    search_fields = ["learner_qualification__learner__ident", "sa_learner_course_id"]
    list_select_related = ["learner_qualification__learner", "learner_qualification__qualification"]


@admin.register(models.ReviewLink)
class ReviewLinkAdmin(ReadOnlyAdmin):
    list_display = ["review", "session_id"]
    search_fields = ["session_id", "review__learner__ident"]
    list_select_related = ["review__learner", "review__review_type"]


@admin.register(models.SyncError)
class SyncErrorAdmin(ReadOnlyAdmin):
    list_display = ["run", "learner", "subject", "message"]
    search_fields = ["learner__ident", "subject", "message"]
    list_select_related = ["run", "learner"]


@admin.register(models.SyncChange)
class SyncChangeAdmin(ReadOnlyAdmin):
    list_display = ["run", "record", "field", "old_value", "new_value", "applied"]
    list_filter = ["target", "direction"]
    search_fields = ["learner__ident", "officer__surname"]
    list_select_related = ["run", "learner", "officer"]


@admin.register(models.SyncRetry)
class SyncRetryAdmin(ReadOnlyAdmin):
    list_display = ["enrolment", "first_failed_at", "attempts", "last_error"]
    list_select_related = ["enrolment__learner"]


@admin.register(models.SyncLock)
class SyncLockAdmin(ReadOnlyAdmin):
    list_display = ["name", "run", "expires_at"]
