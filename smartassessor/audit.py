"""The audit trail (F27): who changed which integration record, from what to what."""

from typing import TYPE_CHECKING, Any, TypeAlias

from django.db import models

from .models import AuditEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# Who acts: the person of the request (request.user), or None for a command, task or schedule.
# Only a signed-in person is recorded.
Actor: TypeAlias = "User | AnonymousUser | None"

SECRET_FIELDS = frozenset({"password", "client_key"})
MASK = "(changed)"


def actor_user(actor: Actor) -> "User | None":
    """The person an actor's writes are recorded under: a signed-in user, else no one."""
    return actor if actor and actor.is_authenticated else None


def audit_record(
    *,
    actor: Actor,
    action: str,
    instance: models.Model,
    changes: dict[str, tuple[Any, Any]] | None = None,
    reason: str = "",
) -> AuditEntry:
    """Store one entry; a secret's values are never stored, only that it changed."""
    stored = {
        field: [MASK, MASK] if field in SECRET_FIELDS else [_plain(old), _plain(new)]
        for field, (old, new) in (changes or {}).items()
    }
    return AuditEntry.objects.create(
        actor=actor_user(actor),
        action=action,
        object_type=instance._meta.label,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        changes=stored,
        reason=reason,
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
