"""The MIS domain: learners, their delivery plans, officers and organisations.

This app knows nothing of Smart Assessor; the integration keeps its own records that point here.
"""

import datetime as dt
from collections.abc import Collection
from decimal import Decimal
from typing import Self

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import formats, timezone

from . import validators


def _clean_postcode(instance: "Organisation | Learner") -> None:
    instance.postcode = validators.normalise_postcode(instance.postcode)


def _check_end_dates(instance: "Learner | LearnerQualification", *, ended_message: str) -> None:
    """Field errors for end dates, so forms show them next to the field.

    The date rules are database constraints too; full_clean skips those once a field has
    failed. ``ended_message`` refuses a record that has ended (its status one of its model's
    ENDED_STATUSES) without its actual end date; ``{status}`` in it is the status's name.
    """
    errors: dict[str, str] = {}
    start = instance.start_date
    planned_end = instance.planned_end_date
    if start and planned_end and planned_end <= start:
        errors["planned_end_date"] = "The planned end date must be after the start date."
    if start and instance.actual_end_date and instance.actual_end_date < start:
        errors["actual_end_date"] = "The actual end date cannot be before the start date."
    if instance.status in instance.ENDED_STATUSES and not instance.actual_end_date:
        errors.setdefault(
            "actual_end_date",
            ended_message.format(status=instance.get_status_display().lower()),
        )
    if errors:
        raise ValidationError(errors)


def _pace(gap: Decimal, tolerance: int) -> str:
    """'on track' within the tolerance either way, else 'behind' or 'ahead'."""
    if gap < -tolerance:
        return "behind"
    if gap > tolerance:
        return "ahead"
    return "on track"


class Sex(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"
    OTHER = "other", "Other"
    NOT_KNOWN = "not_known", "Not known"


class OfficerRole(models.Model):
    """Reference data: the roles an officer can hold (Assessor, Training Adviser, ...)."""

    name = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Officer(models.Model):
    """A member of staff or a contact: assessors, training advisers, mentors."""

    title = models.CharField(max_length=20, blank=True)
    forenames = models.CharField(max_length=50)
    surname = models.CharField(max_length=50)
    job_title = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=128, blank=True, validators=[validators.validate_email])
    phone = models.CharField(max_length=20, blank=True)
    mobile = models.CharField(max_length=20, blank=True)
    roles = models.ManyToManyField(OfficerRole, blank=True, related_name="officers")
    is_active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["surname", "forenames", "id"]
        indexes = [models.Index(fields=["surname", "forenames"])]

    def __str__(self) -> str:
        return self.full_name

    def get_absolute_url(self) -> str:
        return reverse("learners:officer_detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.forenames} {self.surname}"


class EmployerSize(models.TextChoices):
    MICRO = "1-9", "1–9 employees"
    SMALL = "10-49", "10–49 employees"
    MEDIUM = "50-249", "50–249 employees"
    LARGE = "250+", "250 or more employees"


class Organisation(models.Model):
    """An employer that hosts learners' placements."""

    name = models.CharField(max_length=100)
    phone = models.CharField(max_length=20, blank=True)
    edrs_number = models.CharField(
        "EDRS number", max_length=9, blank=True, validators=[validators.validate_edrs_number]
    )
    address_line1 = models.CharField("address line 1", max_length=50)
    address_line2 = models.CharField("address line 2", max_length=50, blank=True)
    address_line3 = models.CharField("address line 3", max_length=50, blank=True)
    address_line4 = models.CharField("address line 4", max_length=50, blank=True)
    postcode = models.CharField(max_length=8, validators=[validators.validate_postcode])
    website = models.URLField(max_length=255, blank=True)
    size_band = models.CharField("employer size", max_length=20, choices=EmployerSize, blank=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("learners:organisation_detail", args=[self.pk])

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        # Normalised before the field validators see it, so "ls14ap" is taken as LS1 4AP.
        _clean_postcode(self)
        super().clean_fields(exclude=exclude)


class Qualification(models.Model):
    """The catalogue of qualifications and standards a provider delivers."""

    reference = models.CharField(
        max_length=20,
        unique=True,
        help_text="The QAN such as 603/5074/9, or a learning-aim reference such as ZPROG001.",
    )
    title = models.CharField(max_length=255)
    awarding_body = models.CharField(max_length=100, blank=True)
    level = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(8)]
    )
    standard_code = models.PositiveIntegerField(
        "standard code",
        null=True,
        blank=True,
        unique=True,
        help_text="For an apprenticeship standard, its LARS StandardCode (the ILR's StdCode); "
        "its reference is then the IfATE reference such as ST0116.",
    )

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"


class LearnerStatus(models.TextChoices):
    IN_LEARNING = "in_learning", "In learning"
    BREAK_IN_LEARNING = "break_in_learning", "Break in learning"
    COMPLETED = "completed", "Completed"
    WITHDRAWN = "withdrawn", "Withdrawn"


class RiskBand(models.TextChoices):
    NOT_SET = "not_set", "Not set"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


# The risk bands from none to the highest, as the learner list sorts them (and an index serves).
RISK_RANK = models.Case(
    models.When(risk_band=RiskBand.LOW, then=models.Value(1)),
    models.When(risk_band=RiskBand.MEDIUM, then=models.Value(2)),
    models.When(risk_band=RiskBand.HIGH, then=models.Value(3)),
    default=models.Value(0),
    output_field=models.IntegerField(),
)


class Learner(models.Model):
    ENDED_STATUSES = (LearnerStatus.COMPLETED, LearnerStatus.WITHDRAWN)

    # Only on learners fetched with learners.selectors' Prefetch(to_attr="current_placements").
    current_placements: list["Placement"]

    ident = models.CharField(
        "Learner Ident",
        max_length=32,
        unique=True,
        help_text="The MIS's own unique code for the learner: up to 12 letters, digits and "
        "spaces, as the ILR's learner reference number.",
        error_messages={"unique": "Another learner already has this Learner Ident."},
    )
    lrn = models.CharField(
        "LRN",
        max_length=12,
        blank=True,
        help_text="Learner Reference Number, up to 12 characters.",
    )
    uln = models.CharField("ULN", max_length=10, blank=True, validators=[validators.validate_uln])
    first_name = models.CharField(max_length=50)
    surname = models.CharField(max_length=50)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex, default=Sex.NOT_KNOWN)
    ni_number = models.CharField(
        "NI number", max_length=9, blank=True, validators=[validators.validate_ni_number]
    )
    email = models.CharField(max_length=128, blank=True, validators=[validators.validate_email])
    address_line1 = models.CharField("address line 1", max_length=50, blank=True)
    address_line2 = models.CharField("address line 2", max_length=50, blank=True)
    address_line3 = models.CharField("address line 3", max_length=50, blank=True)
    address_line4 = models.CharField("address line 4", max_length=50, blank=True)
    postcode = models.CharField(max_length=8, blank=True, validators=[validators.validate_postcode])
    phone = models.CharField(max_length=20, blank=True)
    mobile = models.CharField(max_length=20, blank=True)
    start_date = models.DateField("programme start date")
    planned_end_date = models.DateField("planned end date")
    actual_end_date = models.DateField("actual end date", null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=LearnerStatus, default=LearnerStatus.IN_LEARNING
    )
    risk_band = models.CharField(max_length=10, choices=RiskBand, default=RiskBand.NOT_SET)
    main_officer = models.ForeignKey(
        Officer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="main_learners",
    )
    # The organisation of the current placement that started last, kept by learners.employers
    # (as placements are written, and every hour as their dates pass) for the lists.
    current_employer = models.ForeignKey(
        Organisation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        # learner_by_employer below serves what an index of its own would.
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["surname", "first_name", "id"]
        # One index per sort of the learner list (learners.selectors.LEARNER_SORTS), each
        # ending with the name and id that break ties, so that a page of any sort is read
        # from an index in either direction. The searches' trigram indexes (PostgreSQL only)
        # are in migration 0007.
        indexes = [
            models.Index(fields=["surname", "first_name", "id"], name="learner_by_name"),
            # The list by main officer, read officer by officer (selectors.learner_ids_by_group).
            models.Index(
                fields=["main_officer", "surname", "first_name", "id"], name="learner_by_officer"
            ),
            # The list by current employer, read employer by employer (the same way).
            models.Index(
                fields=["current_employer", "surname", "first_name", "id"],
                name="learner_by_employer",
            ),
            models.Index(fields=["lrn", "surname", "first_name", "id"], name="learner_by_lrn"),
            models.Index(fields=["uln"]),
            models.Index(
                fields=["status", "surname", "first_name", "id"], name="learner_by_status"
            ),
            models.Index(RISK_RANK, "surname", "first_name", "id", name="learner_by_risk"),
            models.Index(
                fields=["start_date", "surname", "first_name", "id"], name="learner_by_start"
            ),
            models.Index(
                fields=["planned_end_date", "surname", "first_name", "id"],
                name="learner_by_planned_end",
            ),
        ]
        constraints = [
            # Smart Assessor and the ILR would take PW000101 and pw000101 for one learner.
            models.UniqueConstraint(
                Lower("ident"),
                name="learner_ident_unique_ignoring_case",
                violation_error_message="Another learner already has this Learner Ident "
                "(capitals and small letters count as the same).",
            ),
            models.CheckConstraint(
                condition=Q(planned_end_date__gt=models.F("start_date")),
                name="learner_planned_end_after_start",
                violation_error_message="The planned end date must be after the start date.",
            ),
            models.CheckConstraint(
                condition=Q(actual_end_date__isnull=True)
                | Q(actual_end_date__gte=models.F("start_date")),
                name="learner_actual_end_not_before_start",
                violation_error_message="The actual end date cannot be before the start date.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.ident})"

    def get_absolute_url(self) -> str:
        return reverse("learners:delivery_plan", args=[self.ident])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.surname}"

    def _stored_ident(self) -> str | None:
        if self._state.adding:
            return None
        return Learner.objects.filter(pk=self.pk).values_list("ident", flat=True).first()

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        # Tidied before the field validators see them: "ab 12 34 56 c" is AB123456C.
        _clean_postcode(self)
        self.ni_number = validators.normalise_ni_number(self.ni_number)
        self.email = self.email.strip()
        exclude = set(exclude or ())
        errors = {}
        # A new or changed ident must follow the rule. One stored before the rule existed keeps
        # working (and the learner's other details stay editable) until someone changes it.
        if "ident" not in exclude and self.ident != self._stored_ident():
            self.ident = validators.normalise_ident(self.ident)
            try:
                validators.validate_ident(self.ident)
            except ValidationError as error:
                errors["ident"] = error.error_list
                exclude.add("ident")
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def clean(self) -> None:
        if self.date_of_birth and self.date_of_birth > timezone.localdate():
            raise ValidationError({"date_of_birth": "The date of birth cannot be in the future."})
        _check_end_dates(self, ended_message="A {status} learner needs their actual end date.")

    def validate_unique(self, exclude: Collection[str] | None = None) -> None:
        """The ident and the ULN each belong to one learner; the message names the other one."""
        exclude = set(exclude or ())
        errors: dict[str, list[ValidationError]] = {}
        try:
            # The ident is checked below, without regard to letter case.
            super().validate_unique(exclude={*exclude, "ident"})
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        others = Learner.objects.exclude(pk=self.pk) if self.pk else Learner.objects.all()
        if "ident" not in exclude and self.ident:
            other = others.filter(ident__iexact=self.ident).first()
            if other:
                errors.setdefault("ident", []).append(
                    ValidationError(
                        "Another learner already has this Learner Ident. It belongs to "
                        f"{other.full_name} ({other.ident}); capitals and small letters count "
                        "as the same.",
                        code="unique",
                    )
                )
        if "uln" not in exclude and self.uln:
            other = others.filter(uln=self.uln).first()
            if other:
                errors.setdefault("uln", []).append(
                    ValidationError(
                        f"This ULN is already recorded for {other.full_name} ({other.ident}); "
                        "a ULN belongs to one learner only.",
                        code="uln_unique",
                    )
                )
        if errors:
            raise ValidationError(errors)


class LearnerOfficerRole(models.Model):
    """A learner's other officers, by role: a second assessor, a mentor, ..."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="officer_roles")
    officer = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="learner_roles")
    role = models.ForeignKey(OfficerRole, on_delete=models.PROTECT, related_name="learner_roles")

    class Meta:
        ordering = ["role__name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "role"],
                name="one_officer_per_learner_role",
                violation_error_message="This learner already has an officer in that role.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.officer}"


class PlacementQuerySet(models.QuerySet["Placement"]):
    def current(self, on: dt.date | None = None) -> Self:
        """Placements whose dates cover the day (today by default)."""
        day = on or timezone.localdate()
        return self.filter(Q(end_date__isnull=True) | Q(end_date__gte=day), start_date__lte=day)


class Placement(models.Model):
    """A learner at an organisation from a start date to an optional end date."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="placements")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="placements"
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)

    objects = PlacementQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="placement_end_not_before_start",
                violation_error_message="A placement cannot end before it starts.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.learner.ident} at {self.organisation}"

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "A placement cannot end before it starts."})


class QualificationStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    BREAK_IN_LEARNING = "break_in_learning", "Break in learning"
    COMPLETED = "completed", "Completed"
    WITHDRAWN = "withdrawn", "Withdrawn"


def _percent_field(label: str) -> models.DecimalField:
    return models.DecimalField(
        label,
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )


MAX_OFF_THE_JOB_HOURS = 5000


class LearnerQualification(models.Model):
    """A qualification on a learner's delivery plan, with its progress."""

    ON_TRACK_TOLERANCE = 10
    ENDED_STATUSES = (QualificationStatus.COMPLETED, QualificationStatus.WITHDRAWN)
    # A break in learning starts only from these, and the return goes back to In progress.
    BREAKABLE_STATUSES = (QualificationStatus.NOT_STARTED, QualificationStatus.IN_PROGRESS)

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="qualifications")
    qualification = models.ForeignKey(
        Qualification, on_delete=models.PROTECT, related_name="learner_qualifications"
    )
    start_date = models.DateField()
    planned_end_date = models.DateField()
    actual_end_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=QualificationStatus, default=QualificationStatus.NOT_STARTED
    )
    progress_percent = _percent_field("progress %")
    assessed_percent = _percent_field("assessed %")
    mapped_percent = _percent_field("mapped %")
    timeline_percent = _percent_field("timeline %")
    off_the_job_hours_planned = models.DecimalField(
        "planned off-the-job hours",
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_OFF_THE_JOB_HOURS)],
        help_text="The hours of off-the-job training planned for the whole qualification, "
        f"up to {MAX_OFF_THE_JOB_HOURS}, to one decimal place.",
    )
    off_the_job_hours_actual = models.DecimalField(
        "actual off-the-job hours",
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="The hours recorded so far, as the ePortfolio reports them; blank when not "
        "known.",
    )

    class Meta:
        ordering = ["start_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "qualification"],
                name="one_plan_entry_per_qualification",
                violation_error_message="This qualification is already on the learner's plan.",
            ),
            models.CheckConstraint(
                condition=Q(planned_end_date__gt=models.F("start_date")),
                name="qualification_planned_end_after_start",
                violation_error_message="The planned end date must be after the start date.",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__gte": 0, f"{name}__lte": 100}),
                    name=f"learner_qualification_{name}_0_100",
                )
                for name in (
                    "progress_percent",
                    "assessed_percent",
                    "mapped_percent",
                    "timeline_percent",
                )
            ),
            models.CheckConstraint(
                condition=Q(off_the_job_hours_planned__isnull=True)
                | Q(
                    off_the_job_hours_planned__gte=0,
                    off_the_job_hours_planned__lte=MAX_OFF_THE_JOB_HOURS,
                ),
                name="learner_qualification_off_the_job_hours_planned_0_5000",
            ),
            models.CheckConstraint(
                condition=Q(off_the_job_hours_actual__isnull=True)
                | Q(off_the_job_hours_actual__gte=0),
                name="learner_qualification_off_the_job_hours_actual_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.learner.ident}: {self.qualification.reference}"

    def clean(self) -> None:
        _check_end_dates(self, ended_message="A {status} qualification needs its actual end date.")
        if self.pk:
            self._check_breaks_within_dates()

    def _check_breaks_within_dates(self) -> None:
        """The qualification's dates must still hold its breaks when they change."""
        breaks = list(self.breaks.all())
        errors = {}
        if breaks and self.start_date:
            first = min(brk.start_date for brk in breaks)
            if self.start_date > first:
                errors["start_date"] = (
                    f"A break in learning starts on {formats.date_format(first)}: the start "
                    "date cannot be after it."
                )
        if breaks and self.actual_end_date:
            last = max(brk.end_date or brk.start_date for brk in breaks)
            if self.actual_end_date < last:
                errors["actual_end_date"] = (
                    f"A break in learning goes on until {formats.date_format(last)}: the actual "
                    "end date cannot be before it."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def pace(self) -> str:
        """'on track', 'behind' or 'ahead': progress compared with the time elapsed."""
        return _pace(self.progress_percent - self.timeline_percent, self.ON_TRACK_TOLERANCE)

    @property
    def off_the_job_pace(self) -> str | None:
        """'on track', 'behind' or 'ahead': the share of the planned off-the-job hours done
        compared with the time elapsed, with the tolerance of ``pace``. None while either
        figure is not known, or nothing is planned."""
        planned, actual = self.off_the_job_hours_planned, self.off_the_job_hours_actual
        if planned is None or actual is None or planned == 0:
            return None
        return _pace(100 * actual / planned - self.timeline_percent, self.ON_TRACK_TOLERANCE)

    @property
    def open_break(self) -> "BreakInLearning | None":
        """The break the learner is on now, read from the prefetched breaks when there are."""
        return next((brk for brk in self.breaks.all() if brk.end_date is None), None)

    @property
    def can_start_break(self) -> bool:
        return self.status in self.BREAKABLE_STATUSES and self.open_break is None


class BreakInLearning(models.Model):
    """A break in learning on a learner qualification: from its start date to the return.

    A qualification can have several breaks, one after the other; the one without an end date
    is the break the learner is on now. Breaks are recorded and ended through the services,
    which move the qualification's status with them.
    """

    learner_qualification = models.ForeignKey(
        LearnerQualification, on_delete=models.CASCADE, related_name="breaks"
    )
    start_date = models.DateField("start date")
    end_date = models.DateField(
        "return date",
        null=True,
        blank=True,
        help_text="The day the learner returned to learning; blank while the break goes on.",
    )

    class Meta:
        verbose_name_plural = "breaks in learning"
        ordering = ["start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="break_in_learning_return_not_before_start",
                violation_error_message="The return cannot be before the start of the break.",
            ),
            models.UniqueConstraint(
                fields=["learner_qualification"],
                condition=Q(end_date__isnull=True),
                name="one_open_break_per_learner_qualification",
                violation_error_message="The qualification is on a break already: record the "
                "return before a new break.",
            ),
        ]

    def __str__(self) -> str:
        return f"Break in learning {self.period}"

    @property
    def period(self) -> str:
        """'from 5 Oct 2026 to 9 Oct 2026', or 'from 2 Nov 2026 (ongoing)'."""
        start = formats.date_format(self.start_date)
        if self.end_date is None:
            return f"from {start} (ongoing)"
        return f"from {start} to {formats.date_format(self.end_date)}"

    def clean(self) -> None:
        if not (self.start_date and self.learner_qualification_id):
            return  # clean_fields has refused what is missing
        errors = self._outside_the_qualification()
        today = timezone.localdate()
        if self.start_date > today:
            errors["start_date"] = "A break cannot start in the future."
        if self.end_date and self.end_date < self.start_date:
            errors["end_date"] = "The return cannot be before the start of the break."
        elif self.end_date and self.end_date > today:
            errors["end_date"] = "The return cannot be in the future."
        if not errors:
            errors = self._overlap()
        if errors:
            raise ValidationError(errors)

    def _outside_the_qualification(self) -> dict[str, str]:
        qualification = self.learner_qualification
        errors = {}
        if qualification.start_date and self.start_date < qualification.start_date:
            errors["start_date"] = (
                "A break cannot start before the qualification does, on "
                f"{formats.date_format(qualification.start_date)}."
            )
        ended = qualification.actual_end_date
        if ended and self.start_date > ended:
            errors["start_date"] = (
                f"The qualification ended on {formats.date_format(ended)}: a break cannot "
                "start after that."
            )
        elif ended and self.end_date and self.end_date > ended:
            errors["end_date"] = (
                f"The qualification ended on {formats.date_format(ended)}: the return cannot "
                "be after that."
            )
        return errors

    def _overlap(self) -> dict[str, str]:
        """A break shares no day with another break of the qualification.

        A second break without a return is left to the unique constraint, which says so.
        """
        others = BreakInLearning.objects.filter(
            Q(end_date__isnull=True) | Q(end_date__gte=self.start_date),
            learner_qualification=self.learner_qualification_id,
        ).exclude(pk=self.pk)
        if self.end_date is None:
            others = others.exclude(end_date__isnull=True)
        else:
            others = others.filter(start_date__lte=self.end_date)
        other = others.order_by("start_date").first()
        if other is None:
            return {}
        # The date to change: the start when it falls in the other break, else the return.
        field = (
            "start_date" if other.start_date <= self.start_date or not self.end_date else "end_date"
        )
        return {field: f"This break overlaps another, {other.period}."}


class ReviewType(models.Model):
    name = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Attendance(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    ATTENDED = "attended", "Attended"
    NOT_ATTENDED = "not_attended", "Not attended"
    CANCELLED = "cancelled", "Cancelled"


class Review(models.Model):
    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="reviews")
    review_type = models.ForeignKey(
        ReviewType, on_delete=models.PROTECT, null=True, blank=True, related_name="reviews"
    )
    proposed_at = models.DateTimeField("proposed date and time")
    actual_at = models.DateTimeField("actual date and time", null=True, blank=True)
    reviewer = models.ForeignKey(
        Officer, on_delete=models.SET_NULL, null=True, blank=True, related_name="reviews"
    )
    attendance = models.CharField(max_length=20, choices=Attendance, default=Attendance.UNKNOWN)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-proposed_at", "-id"]
        indexes = [models.Index(fields=["learner", "-proposed_at"])]

    def __str__(self) -> str:
        return f"{self.review_type or 'Review'} for {self.learner.ident}"

    def clean(self) -> None:
        if self.attendance == Attendance.ATTENDED and not self.actual_at:
            raise ValidationError(
                {"actual_at": "An attended review needs its actual date and time."}
            )
