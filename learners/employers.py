"""Each learner's current employer, kept on the learner for the lists' column and sort.

A learner's current employer is the organisation of its current placement that started last
(``Placement.objects.current()``), as the Delivery Plan shows it. The learner list sorts up to
100,000 learners by its name, which a subquery for every learner cannot do quickly, so it is
stored as ``Learner.current_employer`` and written here alone:

- when a placement is saved or deleted, for its learner, and for the learner it was taken
  from if a save moved it (Django's model signals, so that an edit in the admin counts as
  well as the services' writes);
- after learners are created in bulk (``learners.services.learners_create``, the demo);
- every hour by the beat (``learners.tasks.refresh_current_employers``), for every learner, as
  placements start and end with the passing days: a placement ending yesterday leaves the list
  within the first hour of today.
"""

import datetime
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_init, post_save
from django.utils import timezone

from .models import Learner, Placement

# Learners read and compared a batch at a time, keeping memory and query parameters bounded.
BATCH = 2000


def current_employers_refresh(
    *,
    learner_ids: Iterable[int] | None = None,
    on: datetime.date | None = None,
    skip_locked: bool = False,
) -> int:
    """Store the current employer of these learners (every learner by default) on the day
    (today by default); only the learners whose employer changed are written. Returns how
    many were.

    With ``skip_locked`` a learner another transaction holds (an import's batch, a sync's
    writes) is left for the next run rather than waited for: the hourly run then never waits
    on a lock, so it can never deadlock with them (PostgreSQL; SQLite takes one writer at a
    time anyway)."""
    day = on or timezone.localdate()
    learners = Learner.objects.order_by("pk")
    if learner_ids is not None:
        learners = learners.filter(pk__in=list(learner_ids))
    changed = 0
    after = 0
    while True:
        stored: dict[int, int | None] = dict(
            learners.filter(pk__gt=after).values_list("pk", "current_employer")[:BATCH]
        )
        if not stored:
            return changed
        after = max(stored)
        changed += _store(stored, day, skip_locked=skip_locked)


def _store(stored: dict[int, int | None], day: datetime.date, *, skip_locked: bool) -> int:
    latest: dict[int, int] = {}
    current = (
        Placement.objects.current(day)
        .filter(learner__in=list(stored))
        .order_by("learner", "-start_date", "-id")
        .values_list("learner", "organisation")
    )
    for learner_id, organisation_id in current:
        latest.setdefault(learner_id, organisation_id)
    moved = [
        Learner(pk=learner_id, current_employer_id=latest.get(learner_id))
        for learner_id, employer in stored.items()
        if latest.get(learner_id) != employer
    ]
    if not moved:
        return 0
    # The locks taken to skip others' are held until the write (an atomic block of its own).
    with transaction.atomic() if skip_locked else nullcontext():
        if skip_locked:
            free = set(
                Learner.objects.select_for_update(skip_locked=True)
                .filter(pk__in=[learner.pk for learner in moved])
                .values_list("pk", flat=True)
            )
            moved = [learner for learner in moved if learner.pk in free]
        # bulk_update: the employer follows the placements and is not a change to the
        # learner (its updated_at and the integration's signals are left alone).
        Learner.objects.bulk_update(moved, ["current_employer"], batch_size=500)
    return len(moved)


def _placement_loaded(sender: type[Placement], instance: Placement, **kwargs: Any) -> None:
    # Whose placement it was, in case a save gives it to another learner (the admin can).
    instance._learner_id_loaded = instance.learner_id  # type: ignore[attr-defined]


def _placement_written(sender: type[Placement], instance: Placement, **kwargs: Any) -> None:
    learner_ids = {instance.learner_id, getattr(instance, "_learner_id_loaded", None)}
    current_employers_refresh(learner_ids=[pk for pk in learner_ids if pk is not None])
    instance._learner_id_loaded = instance.learner_id  # type: ignore[attr-defined]


def connect() -> None:
    """Keep the learner's employer with each placement written (from the app's ``ready``)."""
    post_init.connect(_placement_loaded, sender=Placement, dispatch_uid="current-employer-init")
    post_save.connect(_placement_written, sender=Placement, dispatch_uid="current-employer-save")
    post_delete.connect(
        _placement_written, sender=Placement, dispatch_uid="current-employer-delete"
    )
