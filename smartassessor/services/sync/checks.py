"""The safety hold (F25): a plan that would change the details of too many learners, or move
too many enrolled qualifications backwards, is held for an Integration admin, unwritten."""

from ...models import CourseEnrolment
from .context import RunContext


def hold_reasons(context: RunContext) -> list[str]:
    """Why the plan must wait for an admin; empty when it may be applied."""
    settings = context.settings
    run = context.run
    reasons = []
    changed = len(context.detail_learners) + len(context.detail_officers)
    if changed and changed > settings.safety_hold_percent * run.learners_in_scope / 100:
        reasons.append(
            f"{changed} learners and officers would have their details changed, more than "
            f"{settings.safety_hold_percent} % of the {run.learners_in_scope} learners in scope."
        )
    backwards = len(context.backwards)
    if backwards:
        enrolled = CourseEnrolment.objects.filter(
            enrolment__in=context.scope, state=CourseEnrolment.State.ENROLLED
        ).count()
        if backwards > settings.backwards_hold_percent * enrolled / 100:
            reasons.append(
                f"{backwards} enrolled qualifications would move backwards (progress down 10 "
                "points or more, or to Withdrawn or Not started), more than "
                f"{settings.backwards_hold_percent} % of the {enrolled} enrolled."
            )
    return reasons
