from collections.abc import Iterable, Mapping
from typing import Any

from django import forms

from learners.models import ReviewType

from .client.types import EventType
from .models import ReviewTypeMapping, SyncRun

IGNORE = ""


class ReviewTypeMappingForm(forms.Form):
    """One choice per SA event type: a review type, or ignore."""

    def __init__(
        self,
        *args: Any,
        event_types: Iterable[EventType],
        current: Mapping[str, ReviewTypeMapping],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.event_types = event_types
        choices = [(IGNORE, "Ignore")] + [(str(t.pk), t.name) for t in ReviewType.objects.all()]
        for event_type in event_types:
            row = current.get(event_type.code)
            self.fields[event_type.code] = forms.ChoiceField(
                label=f"{event_type.name} ({event_type.code})",
                choices=choices,
                required=False,
                initial=str(row.review_type_id) if row and row.review_type_id else IGNORE,
            )

    def mapping(self) -> dict[str, ReviewType | None]:
        types = {str(t.pk): t for t in ReviewType.objects.all()}
        return {code: types.get(value) for code, value in self.cleaned_data.items()}


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
