"""The integration's own records. They point at the MIS domain; the domain never points here."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from learners.models import (
    Learner,
    LearnerQualification,
    Officer,
    OfficerRole,
    Organisation,
    Qualification,
    Review,
    ReviewType,
)
from picsweb.moments import when

from .fields import EncryptedTextField, UnreadableSecret


class DemographicsMode(models.TextChoices):
    NONE = "none", "None"
    PUSH = "push", "Push MIS data to Smart Assessor"
    PULL = "pull", "Update MIS from Smart Assessor data"


# Bounds of the transport settings: a timeout of 0 or of a day, or a rate of 0 or a million a
# second, is a typing mistake that would stall or flood every call.
TIMEOUT_RANGE = (1, 120)
RATE_RANGE = (0.1, 100)


def _between(low: float, high: float, unit: str) -> list:
    message = f"Enter a value between {low:g} and {high:g} {unit}."
    return [MinValueValidator(low, message=message), MaxValueValidator(high, message=message)]


class IntegrationSettings(models.Model):
    """The one settings record of the integration (F2)."""

    enabled = models.BooleanField("integration enabled", default=False)
    base_url = models.URLField(
        "API base URL",
        blank=True,
        help_text="Without a trailing slash, e.g. https://api.smartassessor.co.uk:883",
    )
    username = models.CharField(max_length=128, blank=True)
    password = EncryptedTextField(blank=True)
    client_key = EncryptedTextField(blank=True)
    send_welcome_email = models.BooleanField("send learner welcome email", default=False)
    set_student_id_to_lrn = models.BooleanField("set Student ID to LRN", default=False)
    update_risk_from_smart_coach = models.BooleanField(
        "update risk from Smart Coach score", default=False
    )
    learner_demographics_mode = models.CharField(
        max_length=4, choices=DemographicsMode, default=DemographicsMode.NONE
    )
    officer_demographics_mode = models.CharField(
        max_length=4, choices=DemographicsMode, default=DemographicsMode.NONE
    )
    update_learner_gender = models.BooleanField(default=False)
    second_assessor_role = models.ForeignKey(
        OfficerRole,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="qualification second assessor role",
    )
    safety_hold_percent = models.PositiveSmallIntegerField(
        "safety-hold threshold (%)",
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="A run that would change the details of more than this share of the "
        "learners in its scope stops for approval, with nothing written.",
    )
    backwards_hold_percent = models.PositiveSmallIntegerField(
        "backwards safety-hold threshold (%)",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="A run that would move more than this share of the enrolled qualifications "
        "backwards (progress down 10 points or more, or to Withdrawn or Not started) stops for "
        "approval, with nothing written.",
    )
    read_mode = models.CharField(
        "how to read Smart Assessor",
        max_length=10,
        choices=[
            ("auto", "Change feeds where Smart Assessor has them, else full lists"),
            ("feeds", "Change feeds only"),
            ("lists", "Full lists (a Smart Assessor without change feeds)"),
        ],
        default="auto",
    )
    connect_timeout = models.FloatField(
        "connect timeout (s)",
        default=5,
        validators=_between(*TIMEOUT_RANGE, "seconds"),
        help_text="Between 1 and 120 seconds.",
    )
    read_timeout = models.FloatField(
        "read timeout (s)",
        default=30,
        validators=_between(*TIMEOUT_RANGE, "seconds"),
        help_text="Between 1 and 120 seconds.",
    )
    requests_per_second = models.FloatField(
        "requests per second",
        default=10,
        validators=_between(*RATE_RANGE, "requests per second"),
        help_text="Between 0.1 and 100. Shared by every worker; keep it below Smart Assessor's "
        "limit.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Smart Assessor settings"
        verbose_name_plural = "Smart Assessor settings"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="one_settings_row")]
        permissions = [
            ("enrol_learner", "Can create a learner in Smart Assessor"),
            ("set_learner_smartassessor_id", "Can set or clear a learner's Smart Assessor ID"),
            ("manage_integration", "Can manage the Smart Assessor integration"),
        ]

    def __str__(self) -> str:
        return "Smart Assessor settings"

    @classmethod
    def load(cls) -> "IntegrationSettings":
        settings, _ = cls.objects.get_or_create(pk=1)
        return settings

    @property
    def credentials_unreadable(self) -> bool:
        """True when the stored secrets were encrypted with a key this deployment lacks."""
        return isinstance(self.password, UnreadableSecret) or isinstance(
            self.client_key, UnreadableSecret
        )


class QualificationLink(models.Model):
    """A local qualification offered by Smart Assessor as a course (F4)."""

    qualification = models.OneToOneField(
        Qualification, on_delete=models.CASCADE, related_name="smartassessor_link"
    )
    course_id = models.PositiveIntegerField("Smart Assessor course ID", unique=True)
    course_title = models.CharField(max_length=255)
    linked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.qualification.reference} → course {self.course_id}"


class OfficerLink(models.Model):
    """An officer linked to a Smart Assessor assessor (F5, or made at enrolment)."""

    officer = models.OneToOneField(
        Officer, on_delete=models.CASCADE, related_name="smartassessor_link"
    )
    assessor_id = models.PositiveIntegerField("Smart Assessor assessor ID", unique=True)
    linked_at = models.DateTimeField(auto_now=True)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.officer} → assessor {self.assessor_id}"


class OrganisationLink(models.Model):
    """An organisation linked to a Smart Assessor employer (F6, or made at enrolment)."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="smartassessor_link"
    )
    employer_id = models.PositiveIntegerField("Smart Assessor employer ID", unique=True)
    linked_at = models.DateTimeField(auto_now=True)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.organisation} → employer {self.employer_id}"


class ReviewTypeMapping(models.Model):
    """An SA event type code mapped to a review type, or ignored (review_type empty)."""

    event_type_code = models.CharField(max_length=10, unique=True)
    event_type_name = models.CharField(max_length=100, blank=True)
    review_type = models.ForeignKey(
        ReviewType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["event_type_code"]

    def __str__(self) -> str:
        return f"{self.event_type_code} → {self.review_type or 'ignore'}"


class AuditEntry(models.Model):
    """Who did what to the integration's records, and when (F27). Secrets are never stored."""

    at = models.DateTimeField("when", auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField("object ID", max_length=64)
    object_repr = models.CharField("record", max_length=200)
    changes = models.JSONField(default=dict, blank=True, help_text="{field: [old, new]}")
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{when(self.at)} {self.action} {self.object_repr}"


class LinkRefresh(models.Model):
    """One run of Refresh Qualification Links (F4): a row first, then the background task."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    # Not finished yet: its page polls until it is.
    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    state = models.CharField(max_length=10, choices=State, default=State.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    linked = models.PositiveIntegerField(default=0)
    unlinked = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker claimed it.")
    lease_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Running: its worker is presumed gone after this. Queued: it is sent again "
        "after this if no worker has taken it.",
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name_plural = "link refreshes"

    def __str__(self) -> str:
        return f"Link refresh {when(self.requested_at)} ({self.get_state_display()})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class Operation(models.Model):
    """A durable operation against Smart Assessor: the fields ``services.operations`` claims,
    retries and fails it by. Each kind has its own ``state`` and ``requested_at``."""

    attempts = models.PositiveIntegerField(
        default=0,
        help_text="Attempts counted against the cap; waits Smart Assessor asked for are not.",
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    busy_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When Smart Assessor first answered 'busy, try later' (429) in this run of "
        "attempts; the waits it asks for end in Failed after a time limit from then.",
    )
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker holds the row until then."
    )
    last_error = models.TextField(blank=True)
    field_errors = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True


class Enrolment(Operation):
    """A learner's enrolment in Smart Assessor (F9, F10, F12).

    The row is stored before any call is made and carries its own progress, so a retry
    continues where the last attempt stopped. One current enrolment per learner; clearing the
    link ends it and keeps it as history.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        ENROLLING = "enrolling", "Enrolling"
        RETRYING = "retrying", "Retrying"
        ENROLLED = "enrolled", "Enrolled"
        PROBLEMS = "problems", "Enrolled with problems"
        FAILED = "failed", "Failed"

    # Still being created in Smart Assessor.
    ACTIVE_STATES = (State.QUEUED, State.ENROLLING, State.RETRYING)
    # In Smart Assessor: counted as enrolled, and synchronised.
    SYNCED_STATES = (State.ENROLLED, State.PROBLEMS)
    # Ended short of complete: staff may retry.
    RETRYABLE_STATES = (State.FAILED, State.PROBLEMS)
    # The last attempt failed: its error is shown.
    ATTEMPT_FAILED_STATES = (State.FAILED, State.RETRYING)

    class Source(models.TextChoices):
        ENROLMENT = "enrolment", "Created in Smart Assessor"
        MANUAL = "manual", "Smart Assessor ID set by hand"

    learner = models.ForeignKey(
        Learner, on_delete=models.PROTECT, related_name="smartassessor_enrolments"
    )
    source = models.CharField(max_length=10, choices=Source, default=Source.ENROLMENT)
    state = models.CharField(max_length=10, choices=State, default=State.QUEUED)
    is_current = models.BooleanField("current", default=True)
    sa_learner_id = models.CharField("Smart Assessor ID", max_length=36, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict, help_text="What will be sent, as last built.")
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    end_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner"],
                condition=models.Q(is_current=True),
                name="one_current_enrolment_per_learner",
                violation_error_message="This learner already has a Smart Assessor enrolment.",
            ),
            models.UniqueConstraint(
                fields=["sa_learner_id"],
                condition=models.Q(is_current=True) & ~models.Q(sa_learner_id=""),
                name="one_current_learner_per_sa_id",
                violation_error_message="Another learner is already linked to this "
                "Smart Assessor ID.",
            ),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.learner.ident}: {self.get_state_display()}"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def is_synced(self) -> bool:
        return self.state in self.SYNCED_STATES

    @property
    def can_retry(self) -> bool:
        return self.state in self.RETRYABLE_STATES

    @property
    def last_attempt_failed(self) -> bool:
        return self.state in self.ATTEMPT_FAILED_STATES


class CourseEnrolment(models.Model):
    """One of the learner's qualifications as a course enrolment in Smart Assessor."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ENROLLED = "enrolled", "Enrolled"
        REFUSED = "refused", "Refused"

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="courses")
    learner_qualification = models.ForeignKey(
        LearnerQualification, on_delete=models.CASCADE, related_name="smartassessor_courses"
    )
    state = models.CharField(max_length=10, choices=State, default=State.PENDING)
    sa_learner_course_id = models.CharField(
        "Smart Assessor learner course ID", max_length=36, blank=True
    )
    error = models.TextField(blank=True)
    # A copy of the enrolment's is_current (ending an enrolment sets both), because the
    # database can only hold an SA course id unique among current enrolments with it on this
    # row: a learner enrolled again after Support cleared the link adopts the same SA courses
    # as the ended enrolment, whose rows stay as history.
    is_current = models.BooleanField("current", default=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "learner_qualification"], name="one_course_per_plan_entry"
            ),
            models.UniqueConstraint(
                fields=["sa_learner_course_id"],
                condition=models.Q(is_current=True) & ~models.Q(sa_learner_course_id=""),
                name="unique_current_sa_learner_course_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.learner_qualification}: {self.get_state_display()}"


class Push(Operation):
    """A change saved in the MIS, to be sent to Smart Assessor within a minute (F17, F28, F29).

    ``values`` holds the change in the MIS's terms when it was saved (a status with the date it
    took effect, a planned end date, planned off-the-job hours, an officer, or the names of
    learner details); the body is built from them when it is sent, and a person's Retry
    rebuilds them from the current data. Pushes of one lane (one course enrolment, or one
    learner's details) are sent one at a time, in the order they were saved.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Retrying"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    # Still on its way: it changes by itself, so the Smart Assessor block watches it.
    ACTIVE_STATES = (State.QUEUED, State.SENDING, State.RETRYING)
    # Not sent yet: the synchronisation keeps the MIS's lifecycle values while one waits (F30).
    UNSENT_STATES = (*ACTIVE_STATES, State.FAILED)
    # The last attempt failed: its error is shown.
    ATTEMPT_FAILED_STATES = (State.FAILED, State.RETRYING)

    learner = models.ForeignKey(
        Learner, on_delete=models.CASCADE, related_name="smartassessor_pushes"
    )
    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="pushes")
    course = models.ForeignKey(
        CourseEnrolment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="pushes",
        help_text="The course enrolment changed; empty for the learner's details.",
    )
    lane = models.CharField(max_length=20, help_text="Pushes of one lane are sent in order.")
    state = models.CharField(max_length=10, choices=State, default=State.QUEUED)
    values = models.JSONField(help_text="The change, in the MIS's terms, as last built.")
    body = models.JSONField(default=dict, blank=True, help_text="What was last sent.")
    requested_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "pushes"
        indexes = [
            models.Index(fields=["lane", "id"]),
            models.Index(fields=["state", "next_attempt_at"], name="push_state_next_attempt"),
        ]

    def __str__(self) -> str:
        return f"{self.learner.ident}: {self.get_state_display()} push {self.pk}"

    @property
    def last_attempt_failed(self) -> bool:
        return self.state in self.ATTEMPT_FAILED_STATES


class ReviewLink(models.Model):
    """The SA session a review came from, so the next sync updates it (F16)."""

    review = models.OneToOneField(Review, on_delete=models.CASCADE, related_name="smartassessor")
    session_id = models.CharField("Smart Assessor session ID", max_length=36, unique=True)

    def __str__(self) -> str:
        return f"Review {self.review_id} ← session {self.session_id}"


class SyncRun(models.Model):
    """One synchronisation (F13, F14, F21): a daily run over every learner in scope, or one
    learner's Refresh with Smart Assessor. The row is stored before any call is made."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        HELD = "held", "Held for approval"
        DISCARDED = "discarded", "Discarded"
        SKIPPED = "skipped", "Not run"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    class Trigger(models.TextChoices):
        DAILY = "daily", "Daily"
        MANUAL = "manual", "Started by hand"
        DELTA = "delta", "Delta"
        DRY_RUN = "dry_run", "Dry run"
        LEARNER = "learner", "Refresh with Smart Assessor"

    trigger = models.CharField(max_length=10, choices=Trigger)
    state = models.CharField(max_length=10, choices=State, default=State.QUEUED)
    learner = models.ForeignKey(
        Learner,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="smartassessor_sync_runs",
        help_text="The learner refreshed; empty for a daily run.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    learners_in_scope = models.PositiveIntegerField(default=0)
    learners_seen = models.PositiveIntegerField(default=0)
    qualifications_updated = models.PositiveIntegerField(default=0)
    qualifications_enrolled = models.PositiveIntegerField(default=0)
    reviews_created = models.PositiveIntegerField(default=0)
    reviews_updated = models.PositiveIntegerField(default=0)
    details_pushed = models.PositiveIntegerField(default=0)
    details_pulled = models.PositiveIntegerField(default=0)
    officers_updated = models.PositiveIntegerField(default=0)
    risk_updated = models.PositiveIntegerField(default=0)
    unmapped_event_types = models.PositiveIntegerField(
        default=0, help_text="Sessions skipped because their event type has no mapping."
    )
    unmapped_codes = models.JSONField(default=list, blank=True)
    unmapped_sessions = models.JSONField(
        default=dict, blank=True, help_text="Of those, how many each event type's code hid."
    )
    lifecycle_kept = models.PositiveIntegerField(
        default=0,
        help_text="Qualifications whose status in Smart Assessor differs from the MIS's while a "
        "change of the MIS waits to be sent or was refused: the MIS's is kept (F30).",
    )
    qualifications_backwards = models.PositiveIntegerField(
        default=0,
        help_text="Enrolled qualifications the plan moves backwards (progress down 10 points or "
        "more, or to Withdrawn or Not started).",
    )
    deltas_skipped = models.PositiveIntegerField(
        default=0, help_text="Delta runs that found this run going and did not start."
    )
    read_mode = models.CharField(
        max_length=10, blank=True, help_text="How Smart Assessor was read: feeds or lists."
    )
    error_count = models.PositiveIntegerField(
        "errors", default=0, help_text="Learners, officers and records the run skipped."
    )
    error = models.TextField(blank=True, help_text="Why the run failed or did not run.")
    notes = models.JSONField(default=list, blank=True)
    positions = models.JSONField(
        default=dict,
        blank=True,
        help_text="The newest feed positions read, by feed: the next watermark if the run ends "
        "well, or is held and then approved or discarded.",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    plan_applied_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When its plan was applied: its changes, but those left out, are history.",
    )
    attempts = models.PositiveIntegerField(
        default=0, help_text="Times a worker claimed a learner's refresh."
    )
    lease_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A learner's refresh: running, its worker is presumed gone after this; "
        "queued, it is sent again after this if no worker has taken it.",
    )

    COUNTS = (
        "learners_seen",
        "qualifications_updated",
        "qualifications_enrolled",
        "reviews_created",
        "reviews_updated",
        "details_pushed",
        "details_pulled",
        "officers_updated",
        "risk_updated",
        "unmapped_event_types",
        "lifecycle_kept",
        "error_count",
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["trigger", "-requested_at"]),
            models.Index(fields=["learner", "-requested_at"]),
        ]

    def __str__(self) -> str:
        return f"Sync run {self.pk} ({self.get_trigger_display()}, {self.get_state_display()})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def changed_anything(self) -> bool:
        return any(
            getattr(self, name)
            for name in self.COUNTS
            if name not in ("learners_seen", "error_count")
        )


class SyncError(models.Model):
    """A learner (or officer) the run skipped, with Smart Assessor's message (F22)."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="learner_errors")
    learner = models.ForeignKey(
        Learner, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    subject = models.CharField(max_length=200, help_text="Who or what it is about.")
    message = models.TextField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.subject}: {self.message[:80]}"


class SyncChangeQuerySet(models.QuerySet["SyncChange"]):
    def applied(self) -> "SyncChangeQuerySet":
        """The changes made: of a plan applied, and not left out."""
        return self.filter(run__plan_applied_at__isnull=False, left_out=False)

    def planned(self) -> "SyncChangeQuerySet":
        """The changes not made: a plan not applied (held, discarded, a dry run's), or left
        out of one that was."""
        return self.exclude(run__plan_applied_at__isnull=False, left_out=False)


class SyncChange(models.Model):
    """One field a synchronisation changed, or would change (F21, F25).

    Every run stores its plan first (F25): a held run keeps exactly what it would write until
    an admin approves or discards it, and a dry run shows it. Once the run's plan is applied
    (``SyncRun.plan_applied_at``) its rows are the history (F21), but for those ``left_out``:
    the rows of a learner that failed in the run, or that Smart Assessor refused. A row is
    written once, when planned: applying a plan marks the run, not each row.
    """

    class Target(models.TextChoices):
        QUALIFICATION = "qualification", "Qualification"
        REVIEW = "review", "Review"
        LEARNER = "learner", "Learner details"
        OFFICER = "officer", "Officer details"
        RISK = "risk", "Risk"

    class Direction(models.TextChoices):
        PULL = "pull", "Taken from Smart Assessor"
        PUSH = "push", "Sent to Smart Assessor"

    # A run writes its changes by the hundred thousand: their references are kept by the
    # cascades here, not checked by the database row by row at every commit, and indexed
    # with what is looked up with them (below), not on their own.
    run = models.ForeignKey(
        SyncRun,
        on_delete=models.CASCADE,
        related_name="changes",
        db_index=False,
        db_constraint=False,
    )
    learner = models.ForeignKey(
        Learner,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="smartassessor_changes",
        db_index=False,
        db_constraint=False,
    )
    officer = models.ForeignKey(
        Officer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    target = models.CharField(max_length=15, choices=Target)
    direction = models.CharField(max_length=4, choices=Direction, default=Direction.PULL)
    record = models.CharField(max_length=300, help_text="Which record, in words.")
    field = models.CharField(max_length=60)
    attr = models.CharField(
        "attribute", max_length=60, help_text="The MIS attribute, to apply the change."
    )
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    value = models.JSONField(null=True, blank=True, help_text="The MIS value to write or send.")
    record_id = models.PositiveBigIntegerField(
        "record ID",
        null=True,
        blank=True,
        help_text="The row written: a qualification or review; empty for a new one.",
    )
    in_history = models.BooleanField(
        default=True,
        help_text="False for a write no person needs to see (the timeline's daily creep): "
        "applied with the plan, then dropped.",
    )
    left_out = models.BooleanField(
        default=False,
        help_text="Not applied with its plan: its learner failed in the run, or Smart "
        "Assessor refused it.",
    )
    at = models.DateTimeField("planned at", auto_now_add=True, help_text="When it was planned.")

    objects = SyncChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["learner", "-at"]),
            models.Index(fields=["run", "id"]),
            # Few changes are an officer's: only theirs are indexed.
            models.Index(
                fields=["officer"],
                condition=models.Q(officer__isnull=False),
                name="syncchange_officer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record} {self.field}: {self.old_value} → {self.new_value}"

    @property
    def applied(self) -> bool:
        return self.run.plan_applied_at is not None and not self.left_out


class SyncRetry(models.Model):
    """A learner that failed in a run: re-read one by one in the following runs (F22)."""

    enrolment = models.OneToOneField(
        Enrolment, on_delete=models.CASCADE, related_name="smartassessor_sync_retry"
    )
    first_failed_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=1)
    last_error = models.TextField()

    class Meta:
        verbose_name_plural = "sync retries"

    def __str__(self) -> str:
        return f"Re-read {self.enrolment}"


class SyncWatermark(models.Model):
    """Where the next daily run reads each change feed from (F22)."""

    feed = models.CharField(max_length=30, unique=True)
    modified_at = models.DateTimeField()
    sa_id = models.CharField(
        "Smart Assessor ID",
        max_length=36,
        blank=True,
        help_text="The last id read at that time; empty for the MIS.",
    )
    run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.feed} from {when(self.modified_at, seconds=True)}"


class SyncLock(models.Model):
    """Keeps two daily runs from overlapping: claimed with a conditional UPDATE that must change
    exactly one row, and given up when it expires, so a killed worker cannot hold it for ever.
    Works the same on SQLite and PostgreSQL."""

    name = models.CharField(max_length=30, primary_key=True)
    run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Lock {self.name}"


class Reconciliation(models.Model):
    """One build of the reconciliation report (F24): Smart Assessor's full lists of learners,
    employers and assessors compared with the links the MIS holds. A row first, then the
    background task; the report in use is the newest built one, and a build that finishes
    replaces the reports before it."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Building"
        SUCCEEDED = "succeeded", "Built"
        FAILED = "failed", "Failed"

    # Not finished yet: its page polls until it is, and no second build starts meanwhile.
    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    class Stage(models.TextChoices):
        LEARNERS = "learners", "learners"
        EMPLOYERS = "employers", "employers"
        ASSESSORS = "assessors", "assessors"

    state = models.CharField(max_length=10, choices=State, default=State.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="When Smart Assessor's lists began to be read."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    stage = models.CharField(max_length=10, choices=Stage, blank=True, help_text="Being read.")
    pages_read = models.PositiveIntegerField(default=0, help_text="Of the list being read.")
    pages_total = models.PositiveIntegerField(default=0, help_text="Of the list being read.")
    sa_learners = models.PositiveIntegerField("SA learners read", default=0)
    sa_employers = models.PositiveIntegerField("SA employers read", default=0)
    sa_assessors = models.PositiveIntegerField("SA assessors read", default=0)
    sa_unreadable = models.PositiveIntegerField(
        "SA records not readable", default=0, help_text="Read but not of the documented shape."
    )
    error = models.TextField(blank=True)
    lease_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Building: its worker is presumed gone after this. Queued: it is sent again "
        "after this if no worker has taken it.",
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [("reconcile", "Can build and read the reconciliation report")]
        constraints = [
            models.UniqueConstraint(
                models.Value(True),
                condition=models.Q(state__in=["queued", "running"]),
                name="one_reconciliation_building",
                violation_error_message="A reconciliation report is already being built.",
            )
        ]

    def __str__(self) -> str:
        return f"Reconciliation {when(self.requested_at)} ({self.get_state_display()})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class ReconciliationFinding(models.Model):
    """One line of a reconciliation report: what Smart Assessor holds, as read, the local
    record it concerns and, where one is likely, the local record it may be linked to."""

    class Category(models.TextChoices):
        LEARNER_GONE = "learner_gone", "MIS learners linked to an SA learner that is not there"
        LEARNER_NAMED = "learner_named", "SA learners naming an MIS learner not linked to them"
        LEARNER_SWAPPED = "learner_swapped", "MIS learners linked the wrong way round"
        LEARNER_UNLINKED = "learner_unlinked", "SA learners no MIS learner is linked to"
        EMPLOYER_GONE = "employer_gone", "Organisations linked to an SA employer that is not there"
        EMPLOYER_NAMED = "employer_named", "SA employers naming an organisation not linked to them"
        EMPLOYER_UNLINKED = "employer_unlinked", "SA employers no organisation is linked to"
        ASSESSOR_GONE = "assessor_gone", "Officers linked to an SA assessor that is not there"
        ASSESSOR_NAMED = "assessor_named", "SA assessors naming an officer not linked to them"
        ASSESSOR_UNLINKED = "assessor_unlinked", "SA assessors no officer is linked to"

    report = models.ForeignKey(Reconciliation, on_delete=models.CASCADE, related_name="findings")
    category = models.CharField(max_length=20, choices=Category)
    sa_id = models.CharField("Smart Assessor ID", max_length=36)
    # Smart Assessor's record as it was read; blank when it is not there.
    sa_name = models.CharField("SA name", max_length=101, blank=True)
    sa_date_of_birth = models.DateField("SA date of birth", null=True, blank=True)
    sa_uln = models.CharField("SA ULN", max_length=10, blank=True)
    sa_email = models.CharField("SA email", max_length=128, blank=True)
    sa_mis_id = models.CharField("MIS ID in Smart Assessor", max_length=32, blank=True)
    sa_eds_id = models.CharField("SA EDRS number", max_length=9, blank=True)
    sa_postcode = models.CharField("SA postcode", max_length=8, blank=True)
    # The local record concerned: linked to the missing SA record, named by its MIS id, or
    # (with ``match``) the likely match Link would link it to.
    learner = models.ForeignKey(
        Learner, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    officer = models.ForeignKey(
        Officer, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    linked_learner = models.ForeignKey(
        Learner,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The MIS learner linked to this SA learner, when it is not the one named.",
    )
    linked_sa_id = models.CharField(
        "Smart Assessor ID of the learner named",
        max_length=36,
        blank=True,
        help_text="The SA learner the named MIS learner is linked to, if any.",
    )
    match = models.CharField(
        max_length=60, blank=True, help_text="Why the local record is a likely match for Link."
    )
    note = models.CharField(max_length=200, blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["category", "id"]
        indexes = [models.Index(fields=["report", "category"])]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.sa_id}"

    @property
    def kind(self) -> str:
        """Whose records the line is about: "learner", "employer" or "assessor"."""
        return self.category.partition("_")[0]
