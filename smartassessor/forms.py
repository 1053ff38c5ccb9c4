from collections.abc import Iterable, Mapping
from typing import Any

from django import forms

from learners.models import ReviewType

from .client.types import EventType
from .models import ReviewTypeMapping

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
