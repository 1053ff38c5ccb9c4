"""What one run knows while it plans and applies: settings, lookups, counts and failures."""

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, TypeGuard

from django.db import connection, models
from django.utils import timezone

from learners.models import LearnerQualification, Officer, ReviewType

from ...client import SmartAssessorClient
from ...models import (
    Enrolment,
    IntegrationSettings,
    ReviewTypeMapping,
    SyncChange,
    SyncError,
    SyncRun,
)
from .chunks import chunks
from .values import as_json, display, field_of, qualification_label
from .writes import rows_insert

logger = logging.getLogger(__name__)

ROUTINE_CHUNK = 2000
# Counts the run row holds that the plan and the applying add up.
COUNTED = tuple(name for name in SyncRun.COUNTS if name not in ("learners_seen", "error_count"))


# A planned write, as stored in the plan (``SyncChange``): built as a plain dict, because a
# run plans hundreds of thousands of them.
PlanRow = dict[str, Any]
PLAN_FIELDS = (
    "learner",
    "officer",
    "target",
    "direction",
    "record",
    "field",
    "attr",
    "old_value",
    "new_value",
    "value",
    "record_id",
    "in_history",
)
_DEFAULTS: PlanRow = {
    "learner": None,
    "officer": None,
    "direction": SyncChange.Direction.PULL,
    "old_value": "",
    "new_value": "",
    "value": None,
    "record_id": None,
    "in_history": True,
}


def plan_row(**values: Any) -> PlanRow:
    """A plan row: ``learner`` and ``officer`` are ids; the rest as ``SyncChange`` names them."""
    return _DEFAULTS | values


class RunContext:
    """One run's working state. Planning fills ``counts`` with what the plan would do (the
    applying adds what only it knows: details pushed, courses enrolled) and the sets the checks
    read; ``failed`` holds the enrolments skipped, with the reason."""

    def __init__(
        self,
        run: SyncRun,
        *,
        client: SmartAssessorClient,
        scope: models.QuerySet[Enrolment],
    ):
        self.run = run
        # What the run counted before (a held run, applied after its approval): added to.
        self.base = Counter({name: getattr(run, name) for name in (*COUNTED, "error_count")})
        self.client = client
        self.scope = scope
        self._scope_ids: set[int] | None = None
        self.settings = IntegrationSettings.load()
        self.counts: Counter[str] = Counter()
        self.seen: set[int] = set()
        # The learners in scope, counted when the run starts: every learner the run sees is one
        # of them (one enrolled meanwhile is added), so "seen" never exceeds "in scope".
        self.in_scope: set[int] | None = None
        self.failed: dict[int, str] = {}
        # Sessions skipped for want of a mapping, by event type: this context's, and the run's
        # before it (a held run applied later is counted on from there).
        self.unmapped: Counter[str] = Counter()
        self.base_unmapped: Counter[str] = Counter(run.unmapped_sessions)
        self.notes: list[str] = []
        # Routine writes no person needs to see (the timeline's creep), compactly: attr →
        # qualification id → value (a value met many times is one object: values.checked).
        self.routine: defaultdict[str, dict[int, Any]] = defaultdict(dict)
        # What the checks read: who would have their details changed, and which enrolled
        # qualifications would move backwards.
        self.detail_learners: set[int] = set()
        self.detail_officers: set[int] = set()
        self.backwards: set[int] = set()
        self.review_types = {
            row.event_type_code: row.review_type_id for row in ReviewTypeMapping.objects.all()
        }
        self.review_type_names = dict(ReviewType.objects.values_list("pk", "name"))

    # Lookups, one query per page

    def enrolments_for(self, sa_learner_ids: Iterable[str]) -> dict[str, Enrolment]:
        ids = set(sa_learner_ids)
        if not ids:
            return {}
        # The conditions of the unique index on current SA ids, stated so that it is used.
        rows = list(
            Enrolment.objects.filter(sa_learner_id__in=ids, is_current=True)
            .exclude(sa_learner_id="")
            .select_related("learner")
        )
        covered = self.covered({row.pk for row in rows})
        return {row.sa_learner_id: row for row in rows if row.pk in covered}

    def covered(self, enrolment_ids: set[int]) -> set[int]:
        """Those of the enrolments the scope covers. The scope is read once, when first asked
        (joining it to every page would cost more than the page); one that came into it since
        is looked up, and remembered."""
        if self._scope_ids is None:
            self._scope_ids = set(self.scope.values_list("pk", flat=True))
        others = enrolment_ids - self._scope_ids
        if others:
            self._scope_ids |= set(self.scope.filter(pk__in=others).values_list("pk", flat=True))
        return enrolment_ids & self._scope_ids

    def usable(self, enrolment: Enrolment | None) -> TypeGuard[Enrolment]:
        """True for a learner in scope that has not failed in this run."""
        return enrolment is not None and self.usable_ids(enrolment.pk, enrolment.learner_id)

    def usable_ids(self, enrolment_id: int, learner_id: int) -> bool:
        if enrolment_id in self.failed:
            return False
        self.seen.add(learner_id)
        if self.in_scope is not None:
            self.in_scope.add(learner_id)
        return True

    def count_scope(self) -> int:
        """The learners in scope, counted, with the enrolments ``covered`` matches pages to."""
        rows = list(self.scope.values_list("pk", "learner_id"))
        self._scope_ids = {pk for pk, _ in rows}
        self.in_scope = {learner_id for _, learner_id in rows}
        return len(self.in_scope)

    # Failures (F22)

    def fail(self, enrolment: Enrolment, message: str) -> None:
        learner = enrolment.learner
        logger.info("Sync run %s skipped %s: %s", self.run.pk, learner.ident, message)
        self.failed[enrolment.pk] = message
        SyncError.objects.create(
            run=self.run, learner=learner, subject=str(learner)[:200], message=message
        )

    def fail_id(self, enrolment_id: int, message: str) -> None:
        self.fail(Enrolment.objects.select_related("learner").get(pk=enrolment_id), message)

    def fail_officer(self, officer: Officer, message: str) -> None:
        logger.info("Sync run %s skipped officer %s: %s", self.run.pk, officer.pk, message)
        self.counts["officer_errors"] += 1
        SyncError.objects.create(run=self.run, subject=f"Officer {officer}"[:200], message=message)

    def fail_record(self, subject: str, message: str) -> None:
        """An error about a record that names no learner the run can find."""
        logger.info("Sync run %s skipped %s: %s", self.run.pk, subject, message)
        self.counts["record_errors"] += 1
        SyncError.objects.create(run=self.run, subject=subject[:200], message=message)

    @property
    def error_count(self) -> int:
        return len(self.failed) + self.counts["officer_errors"] + self.counts["record_errors"]

    # Plan rows

    def change(
        self,
        instance: models.Model | type[models.Model],
        attr: str,
        old: Any,
        new: Any,
        **kwargs: Any,
    ) -> PlanRow:
        """A planned change of one field."""
        field = field_of(instance, attr)
        return plan_row(
            field=str(field.verbose_name).capitalize(),
            attr=attr,
            old_value=display(instance, attr, old),
            new_value=display(instance, attr, new),
            **kwargs,
        )

    def store(self, rows: list[PlanRow]) -> None:
        """Adds rows to the run's plan (not applied yet), in bulk."""
        now = field_of(SyncChange, "at").get_db_prep_save(timezone.now(), connection)
        rows_insert(
            SyncChange,
            (*PLAN_FIELDS, "run", "left_out", "at"),
            [(*(row[name] for name in PLAN_FIELDS), self.run.pk, False, now) for row in rows],
            prepared=("at",),
        )

    def store_routine(self) -> None:
        """The routine writes join the stored plan (a held or previewed run): applied with it
        on approval, not history."""
        for attr, values in self.routine.items():
            field = str(field_of(LearnerQualification, attr).verbose_name).capitalize()
            for lq_ids in chunks(list(values), ROUTINE_CHUNK):
                qualifications = LearnerQualification.objects.filter(pk__in=lq_ids).values_list(
                    "pk", "learner_id", "qualification__reference", "qualification__title"
                )
                self.store(
                    [
                        plan_row(
                            learner=learner_id,
                            target=SyncChange.Target.QUALIFICATION,
                            record=qualification_label(reference, title),
                            record_id=lq_id,
                            field=field,
                            attr=attr,
                            new_value=display(LearnerQualification, attr, values[lq_id]),
                            value=as_json(values[lq_id]),
                            in_history=False,
                        )
                        for lq_id, learner_id, reference, title in qualifications
                    ]
                )
        self.routine.clear()

    def save_counts(self) -> None:
        run = self.run
        fields: dict[str, Any] = {name: self.base[name] + self.counts[name] for name in COUNTED}
        fields["error_count"] = self.base["error_count"] + self.error_count
        fields["learners_seen"] = max(len(self.seen), run.learners_seen)
        if self.in_scope is not None:
            fields["learners_in_scope"] = len(self.in_scope)
        fields["qualifications_backwards"] = len(self.backwards)
        fields["unmapped_codes"] = sorted(set(self.unmapped) | set(run.unmapped_codes))
        fields["unmapped_sessions"] = dict(self.base_unmapped + self.unmapped)
        fields["notes"] = list(dict.fromkeys([*run.notes, *self.notes]))
        SyncRun.objects.filter(pk=run.pk).update(**fields)
        for name, value in fields.items():
            setattr(run, name, value)
        self.notes = []
