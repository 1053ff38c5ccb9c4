"""The imports' own records: each ILR import, and per learner the values it last imported."""

from django.conf import settings
from django.db import models

from picsweb.moments import when


class ImportState(models.TextChoices):
    READING = "reading", "Reading the file"
    PREVIEWED = "previewed", "Previewed"
    COMMITTING = "committing", "Importing"
    COMMITTED = "committed", "Committed"
    FAILED = "failed", "Failed"


BUSY_STATES = (ImportState.READING, ImportState.COMMITTING)


class IlrImport(models.Model):
    """One ILR file read: previewed, then perhaps committed (who, when, which file, outcome)."""

    created_at = models.DateTimeField(auto_now_add=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField("SHA-256", max_length=64)
    # An upload waiting for its commit, under ILR_UPLOAD_DIR; blank once committed or failed.
    stored_name = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=20, choices=ImportState, default=ImportState.PREVIEWED)
    counts = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    # Progress of the work in the background: learners in the file, and learners done.
    total = models.PositiveIntegerField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    # Touched after each batch; an import busy without it for long has lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "ILR import"

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_state_display()})"

    @property
    def is_busy(self) -> bool:
        return self.state in BUSY_STATES


class IlrImportedLearner(models.Model):
    """The values an import last wrote for a learner: a learner whose MIS values differ from
    these has been edited since, and the next import shows a conflict rather than overwrite."""

    ident = models.CharField(max_length=32, unique=True)
    values = models.JSONField()
    ilr_import = models.ForeignKey(IlrImport, on_delete=models.PROTECT, related_name="learners")

    class Meta:
        ordering = ["ident"]
        verbose_name = "ILR imported learner"

    def __str__(self) -> str:
        return self.ident


class IlrImportRow(models.Model):
    """What an import does (previewed) or did (committed) with one learner of its file."""

    ilr_import = models.ForeignKey(IlrImport, on_delete=models.CASCADE, related_name="rows")
    position = models.PositiveIntegerField()
    ref = models.CharField("LearnRefNumber", max_length=12)
    line = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20)
    changes = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["ilr_import", "position"]
        indexes = [models.Index(fields=["ilr_import", "outcome", "position"])]
        verbose_name = "ILR import row"

    def __str__(self) -> str:
        return f"{self.ref}: {self.outcome}"


class ImportAuditEntry(models.Model):
    """Who did what with an import, and when; the imports keep their own record."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=60)
    ilr_import = models.ForeignKey(IlrImport, on_delete=models.PROTECT, related_name="audit")
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "import audit entries"

    def __str__(self) -> str:
        return f"{when(self.at)} {self.action} {self.ilr_import}"
