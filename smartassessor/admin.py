from typing import Any

from django import forms
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask

from . import models
from .services import settings as settings_service
from .services import sync

SECRET_HELP = "Write-only: the stored value is never shown. Leave blank to keep it."
SECRET_FIELDS = ["password", "client_key"]


class HttpsURLField(forms.URLField):
    """A URL typed without a scheme is an https one (Django 6's default, chosen now)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("assume_scheme", "https")
        super().__init__(**kwargs)


class IntegrationSettingsForm(forms.ModelForm):
    """The settings record; every save goes through ``integration_settings_update``."""

    # new-password: a browser must not fill in its saved sign-in password here, which would
    # change the Smart Assessor password without anybody typing it.
    password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=SECRET_HELP,
    )
    client_key = forms.CharField(
        label="Client key",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=SECRET_HELP,
    )

    sync_time = forms.TimeField(
        label="Daily synchronisation time",
        required=False,
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
        help_text="UK time (Europe/London). This is the schedule of the periodic task "
        f"“{sync.DAILY_TASK_NAME}”: changing one changes the other. Leave blank to keep the "
        "task's schedule as it is.",
    )

    delta_minutes = forms.IntegerField(
        label="Delta synchronisation every (minutes)",
        required=False,
        min_value=0,
        max_value=sync.DELTA_MAX_MINUTES,
        help_text=f"From 0 to {sync.DELTA_MAX_MINUTES} minutes; 0 turns delta runs off. Between "
        "the daily runs, a delta run reads only what changed in Smart Assessor. This is the "
        f"interval of the periodic task “{sync.DELTA_TASK_NAME}”: changing one changes the "
        "other. Leave blank to keep the task's schedule as it is.",
    )

    class Meta:
        model = models.IntegrationSettings
        # The secrets are form fields only: the record's values never reach the form, not
        # even as initial data, and a blank input cannot overwrite them.
        fields = sorted(settings_service.EDITABLE_FIELDS)
        field_classes = {"base_url": HttpsURLField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sync_time"].initial = sync.daily_sync_time_get()
        if self.fields["sync_time"].initial is None:
            self.fields[
                "sync_time"
            ].help_text += (
                " The task's schedule is not a single daily time now: see Periodic tasks."
            )
        self.fields["delta_minutes"].initial = sync.delta_sync_minutes_get()
        if self.fields["delta_minutes"].initial is None:
            self.fields["delta_minutes"].help_text += (
                " The task is missing or its schedule is not an interval of minutes now: see "
                "Periodic tasks."
            )

    def clean_base_url(self) -> str:
        return settings_service.base_url_normalise(self.cleaned_data["base_url"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned_data = self.cleaned_data
        problems = settings_service.integration_settings_problems(
            record=self.instance,
            changes=self.changes(),
            password=cleaned_data.get("password"),
            client_key=cleaned_data.get("client_key"),
        )
        for field, messages in problems.items():
            for message in messages:
                self.add_error(field, message)
        return cleaned_data

    def changes(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data[name]
            for name in self.changed_data
            if name in settings_service.EDITABLE_FIELDS and name in self.cleaned_data
        }

    def saved_fields(self) -> list[str]:
        """The fields a save changes, in the form's order: a secret only when a new one was
        typed and a schedule only when one was given, since a blank one keeps what is there."""
        kept_when_blank = {*SECRET_FIELDS, "sync_time", "delta_minutes"}
        return [
            name
            for name in self.fields
            if name in self.changed_data
            and (
                name in self.changes()
                or (name in kept_when_blank and self.cleaned_data.get(name) not in (None, ""))
            )
        ]


@admin.register(models.IntegrationSettings)
class IntegrationSettingsAdmin(admin.ModelAdmin):
    form = IntegrationSettingsForm
    exclude = SECRET_FIELDS  # rendered by the form's own fields, never from the record
    fieldsets = [
        ("Connection", {"fields": ["enabled", "base_url", "username", *SECRET_FIELDS]}),
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
                    "backwards_hold_percent",
                    "read_mode",
                    "sync_time",
                    "delta_minutes",
                ]
            },
        ),
        ("Transport", {"fields": ["connect_timeout", "read_timeout", "requests_per_second"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def construct_change_message(
        self, request: HttpRequest, form: forms.Form, formsets: Any, add: bool = False
    ) -> list[dict[str, Any]]:
        """The history names only what the save changed (Django's would name the secrets and
        schedules left blank), by the labels the form shows."""
        assert isinstance(form, IntegrationSettingsForm)
        saved = set(form.saved_fields())
        shown = flatten_fieldsets(self.get_fieldsets(request))  # in the order the page shows
        labels = [str(form.fields[name].label or name) for name in shown if name in saved]
        return [{"changed": {"fields": labels}}] if labels else []

    @method_decorator(sensitive_post_parameters(*SECRET_FIELDS))
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().changeform_view(request, *args, **kwargs)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        settings = models.IntegrationSettings.load()
        return redirect(
            reverse("admin:smartassessor_integrationsettings_change", args=[settings.pk])
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: models.IntegrationSettings | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.credentials_unreadable:
            self.message_user(
                request,
                "The stored password or client key cannot be decrypted with this deployment's "
                "FIELD_ENCRYPTION_KEY: enter them again. They are kept as they are until you do.",
                level="warning",
            )
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def save_model(
        self,
        request: HttpRequest,
        obj: models.IntegrationSettings,
        form: IntegrationSettingsForm,
        change: bool,
    ) -> None:
        # The form checked the rules; the service applies them again under a row lock, writes
        # only what changed and audits it (never ``obj.save()``, which would write every field).
        sync_time = form.cleaned_data.get("sync_time")
        delta_minutes = form.cleaned_data.get("delta_minutes")
        settings_service.integration_settings_update(
            actor=request.user,
            changes=form.changes(),
            password=form.cleaned_data.get("password") or None,
            client_key=form.cleaned_data.get("client_key") or None,
            daily_sync_time=sync_time if "sync_time" in form.changed_data else None,
            delta_sync_minutes=delta_minutes if "delta_minutes" in form.changed_data else None,
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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


@admin.register(models.Push)
class PushAdmin(ReadOnlyAdmin):
    list_display = ["learner", "course", "state", "requested_at", "sent_at", "attempts"]
    list_filter = ["state"]
    search_fields = ["learner__ident", "learner__surname"]
    list_select_related = ["learner", "course__learner_qualification__qualification"]


@admin.register(models.ReviewTypeMapping)
class ReviewTypeMappingAdmin(admin.ModelAdmin):
    list_display = ["event_type_code", "event_type_name", "review_type"]
    list_editable = ["review_type"]


class SyncErrorInline(admin.TabularInline):
    model = models.SyncError
    extra = 0
    can_delete = False
    fields = readonly_fields = ("learner", "subject", "message")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
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
        "error_count",
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

    @admin.display(boolean=True)
    def applied(self, change: models.SyncChange) -> bool:
        return change.applied


@admin.register(models.SyncRetry)
class SyncRetryAdmin(ReadOnlyAdmin):
    list_display = ["enrolment", "first_failed_at", "attempts", "last_error"]
    list_select_related = ["enrolment__learner"]


@admin.register(models.SyncLock)
class SyncLockAdmin(ReadOnlyAdmin):
    list_display = ["name", "run", "expires_at"]


@admin.register(models.Reconciliation)
class ReconciliationAdmin(ReadOnlyAdmin):
    list_display = ["requested_at", "state", "requested_by", "finished_at", "sa_learners", "error"]
    list_filter = ["state"]
    search_fields = ["error", "requested_by__username"]
    list_select_related = ["requested_by"]


@admin.register(models.ReconciliationFinding)
class ReconciliationFindingAdmin(ReadOnlyAdmin):
    list_display = ["report", "category", "sa_id", "sa_name", "learner", "match", "linked_at"]
    list_filter = ["category"]
    search_fields = ["sa_id", "sa_name", "sa_mis_id", "learner__ident"]
    list_select_related = ["report", "learner"]


# --- Periodic tasks -------------------------------------------------------------------------
# django-celery-beat's admin lets whoever edits periodic tasks pick any registered task (enrol
# a learner, anything a library registers) with any arguments. Here a periodic task may only
# run one of the product's own periodic tasks: the daily and delta synchronisations and the
# sweepers beat schedules from CELERY_BEAT_SCHEDULE, with no arguments.


def _product_periodic_tasks() -> list[str]:
    scheduled = (str(entry["task"]) for entry in django_settings.CELERY_BEAT_SCHEDULE.values())
    return sorted({sync.DAILY_TASK, sync.DELTA_TASK, *scheduled})


class ProductPeriodicTaskForm(beat_admin.PeriodicTaskForm):
    regtask = forms.ChoiceField(label="Task", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["regtask"].choices = [("", "")] + [
            (name, name) for name in _product_periodic_tasks()
        ]
        self.fields["task"].help_text = "One of the tasks above; no other task may be scheduled."

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()
        task = data.get("task")
        if task and task not in _product_periodic_tasks():
            self.add_error(
                "task",
                f"“{task}” is not one of the product's periodic tasks: choose "
                + ", ".join(_product_periodic_tasks())
                + ".",
            )
        return data


admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class ProductPeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    form = ProductPeriodicTaskForm
    # django-celery-beat's own template adds an inline script that the Content-Security-Policy
    # refuses; the plain change form shows the schedule's translation as a read-only field.
    change_form_template = None
    # The product's periodic tasks take no arguments and run on the default queue.
    readonly_fields = (
        *beat_admin.PeriodicTaskAdmin.readonly_fields,
        "args",
        "kwargs",
        "queue",
        "exchange",
        "routing_key",
        "headers",
    )
