"""What the MIS domain tells other apps about its writes: the contract they subscribe to.

The domain knows nothing of its subscribers (the Smart Assessor integration is one); they
connect receivers to these signals when their app is ready.

``record_saved(sender, record, changes, created)``
    A ``Learner``, ``LearnerQualification``, ``LearnerOfficerRole`` or ``BreakInLearning`` was
    saved. ``sender`` is its model class and ``record`` the saved instance. ``changes`` maps the
    ``attname`` of each concrete field that changed (``status``, ``main_officer_id``,
    ``officer_id``, ``role_id``, ...) to ``(old, new)``: on a create (``created`` True) every
    concrete field, ``id`` included, with ``old`` None; on an update the fields whose stored
    value changed, leaving out the time of the update (``updated_at``). A save that changes
    nothing writes nothing and sends nothing.

``record_deleted(sender, record)``
    A ``LearnerOfficerRole`` was deleted. ``record`` is the instance as it was, apart from its
    primary key, which Django clears on delete.

Both are sent by ``learners.services`` only, never by a model's ``save()``: a write made
another way (the Django admin, a bulk update such as the synchronisation's) sends nothing.
They are sent inside the write's transaction, after the row is written, so a receiver sees
the new state and what it writes commits or rolls back with the change; an exception raised
by a receiver undoes the write. Receivers that call out (queue a task, call a server) do so
with ``transaction.on_commit``.

A service that makes several writes sends one signal per record, in the order it writes them:
recording a break sends the break, then the qualification (now Break in learning); the return
sends the break (its end date), then the qualification (In progress); withdrawing a
qualification on a break sends the break (ended on the withdrawal date), then the
qualification; withdrawing a learner sends the learner, then each active qualification's
withdrawal in plan order.
"""

from django.dispatch import Signal

record_saved = Signal()
record_deleted = Signal()
