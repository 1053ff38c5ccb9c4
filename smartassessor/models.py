"""The integration's own records. They point at the MIS domain; the domain never points here."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from learners.models import OfficerRole

from .fields import EncryptedTextField, UnreadableSecret


class DemographicsMode(models.TextChoices):
    NONE = "none", "None"
    PUSH = "push", "Push MIS data to Smart Assessor"
    PULL = "pull", "Update MIS from Smart Assessor data"


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
        help_text="A daily run that would change the details of more than this share of the "
        "learners in its scope stops for approval.",
    )
    connect_timeout = models.FloatField(
        "connect timeout (s)", default=5, validators=[MinValueValidator(0.1)]
    )
    read_timeout = models.FloatField(
        "read timeout (s)", default=30, validators=[MinValueValidator(0.1)]
    )
    requests_per_second = models.FloatField(
        "requests per second",
        default=10,
        validators=[MinValueValidator(0.1)],
        help_text="Shared by every worker; keep it below Smart Assessor's limit.",
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
