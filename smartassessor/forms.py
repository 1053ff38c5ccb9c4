from collections.abc import Iterable, Mapping
from typing import Any

from django import forms

from learners.models import ReviewType

from .client.types import EventType
from .models import ReviewTypeMapping, SyncRun

NOT_MAPPED = ""
IGNORE = "ignore"


class ReviewTypeMappingForm(forms.Form):
    """One choice per SA event type: a review type, ignore, or not mapped yet.

    An event type not mapped yet whose name is a review type's (ignoring case) is proposed as
    that review type, for the admin to confirm by saving; until then its sessions are skipped
    and counted (F16).
    """

    def __init__(
        self,
        *args: Any,
        event_types: Iterable[EventType],
        current: Mapping[str, ReviewTypeMapping],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.event_types = event_types
        review_types = list(ReviewType.objects.all())
        by_name = {t.name.casefold(): t for t in review_types}
        choices = [(NOT_MAPPED, "Not mapped yet"), (IGNORE, "Ignore")]
        choices += [(str(t.pk), t.name) for t in review_types]
        self.proposed: set[str] = set()
        for event_type in event_types:
            row = current.get(event_type.code)
            if row is not None:
                initial = str(row.review_type_id) if row.review_type_id else IGNORE
            elif event_type.name.casefold() in by_name:
                initial = str(by_name[event_type.name.casefold()].pk)
                self.proposed.add(event_type.code)
            else:
                initial = NOT_MAPPED
            self.fields[event_type.code] = forms.ChoiceField(
                label=f"{event_type.name} ({event_type.code})",
                choices=choices,
                required=False,
                initial=initial,
            )

    def rows(self) -> list[tuple[forms.BoundField, bool]]:
        """Each event type's field, and whether its choice is only proposed."""
        return [(self[code], code in self.proposed) for code in self.fields]

    def mapping(self) -> dict[str, ReviewType | None]:
        """The event types mapped (None: ignored on purpose)."""
        types = {str(t.pk): t for t in ReviewType.objects.all()}
        return {
            code: types.get(value)
            for code, value in self.cleaned_data.items()
            if value != NOT_MAPPED
        }

    def not_mapped(self) -> set[str]:
        return {code for code, value in self.cleaned_data.items() if value == NOT_MAPPED}


class LinkChoiceForm(forms.Form):
    sa_id = forms.IntegerField(min_value=1, label="Smart Assessor ID")


class SyncRunFilterForm(forms.Form):
    """The runs list's filters: a kind, an outcome and the days they were requested on."""

    trigger = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "Every kind"), *SyncRun.Trigger.choices]
    )
    state = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Any outcome"), *SyncRun.State.choices]
    )
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        cleaned_data: dict[str, Any] = super().clean() or {}
        since, until = cleaned_data.get("since"), cleaned_data.get("until")
        if since and until and since > until:
            self.add_error("until", "Choose a day on or after the From day.")
        return cleaned_data

    def filters(self) -> dict[str, Any]:
        """The filters that are valid (an invalid one is left out and shows its error)."""
        self.is_valid()
        return {
            name: self.cleaned_data[name]
            for name in ("trigger", "state", "since", "until")
            if self.cleaned_data.get(name)
        }
