from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db import models as db_models
from django.db.models import Q, QuerySet

from . import validators
from .models import (
    BreakInLearning,
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    LearnerStatus,
    Officer,
    Organisation,
    Placement,
    Review,
)
from .selectors import LEARNER_SORTS
from .widgets import QuickSelect


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class NormalisedCharField(forms.CharField):
    """Text normalised the way the model stores it before it is checked.

    People may type "s12ab" or "qq 12 34 56 c": the form takes them as "S1 2AB" and
    "AB123456C" instead of refusing them, so the input has no length limit of its own.
    """

    normalise: Callable[[str | None], str | None] = staticmethod(lambda value: value)

    def to_python(self, value: Any) -> str | None:
        return self.normalise(super().to_python(value))

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        return attrs


class PostcodeField(NormalisedCharField):
    normalise = staticmethod(validators.normalise_postcode)


class NINumberField(NormalisedCharField):
    normalise = staticmethod(validators.normalise_ni_number)


NORMALISED_FIELDS = {"postcode": PostcodeField, "ni_number": NINumberField}


def _formfield(model_field: db_models.Field, **kwargs: Any) -> forms.Field | None:
    """Browser date pickers, normalised postcodes and NI numbers, https by default."""
    if model_field.name in NORMALISED_FIELDS:
        kwargs.setdefault("form_class", NORMALISED_FIELDS[model_field.name])
    if isinstance(model_field, db_models.DateTimeField):
        kwargs.setdefault("widget", DateTimeInput)
    elif isinstance(model_field, db_models.DateField):
        kwargs.setdefault("widget", DateInput)
    elif isinstance(model_field, db_models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return model_field.formfield(**kwargs)


class RecordForm(forms.ModelForm):
    """The base of the MIS's record forms: date pickers and normalised input."""

    fieldsets: list[tuple[str, list[str]]] = []

    class Meta:
        formfield_callback = _formfield

    def grouped_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The fields under their fieldset headings; one untitled group without fieldsets."""
        if not self.fieldsets:
            return [("", list(self))]
        return [(legend, [self[name] for name in names]) for legend, names in self.fieldsets]


def _active_officers_and(current_id: int | None) -> QuerySet[Officer]:
    return Officer.objects.filter(Q(is_active=True) | Q(pk=current_id))


LEARNER_FIELDSETS = [
    ("Identity", ["ident", "lrn", "uln", "first_name", "surname", "date_of_birth", "sex"]),
    (
        "Contact",
        [
            "ni_number",
            "email",
            "phone",
            "mobile",
            "address_line1",
            "address_line2",
            "address_line3",
            "address_line4",
            "postcode",
        ],
    ),
    (
        "Programme",
        [
            "start_date",
            "planned_end_date",
            "actual_end_date",
            "status",
            "risk_band",
            "main_officer",
        ],
    ),
]


class LearnerForm(RecordForm):
    fieldsets = LEARNER_FIELDSETS

    class Meta(RecordForm.Meta):
        model = Learner
        fields = [name for _, names in LEARNER_FIELDSETS for name in names]
        help_texts = {"uln": "Unique Learner Number: 10 digits, from the Learner Record Service."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        main_officer = cast(forms.ModelChoiceField, self.fields["main_officer"])
        main_officer.queryset = _active_officers_and(self.instance.main_officer_id)
        if self.instance.pk:
            # Other systems, Smart Assessor among them, know the learner by this code.
            self.fields["ident"].disabled = True
            # Kept exactly as stored, so an ident saved before the rule is not changed by trimming.
            cast(forms.CharField, self.fields["ident"]).strip = False
            self.fields["ident"].help_text = "The Learner Ident cannot change once it is set."
            try:
                validators.validate_ident(self.instance.ident)
            except ValidationError:
                self.fields["ident"].help_text = (
                    "This Learner Ident was stored before the rule (1 to 12 letters, digits "
                    "and spaces). It keeps working; an Integration admin can give the learner "
                    "a new one in the Django admin."
                )


class OfficerForm(RecordForm):
    class Meta(RecordForm.Meta):
        model = Officer
        fields = [
            "title",
            "forenames",
            "surname",
            "job_title",
            "email",
            "phone",
            "mobile",
            "roles",
            "is_active",
        ]
        widgets = {"roles": forms.CheckboxSelectMultiple}


class OrganisationForm(RecordForm):
    class Meta(RecordForm.Meta):
        model = Organisation
        fields = [
            "name",
            "phone",
            "edrs_number",
            "address_line1",
            "address_line2",
            "address_line3",
            "address_line4",
            "postcode",
            "website",
            "size_band",
        ]


class LearnerQualificationForm(RecordForm):
    class Meta(RecordForm.Meta):
        model = LearnerQualification
        fields = [
            "qualification",
            "start_date",
            "planned_end_date",
            "actual_end_date",
            "status",
            "off_the_job_hours_planned",
            "progress_percent",
            "assessed_percent",
            "mapped_percent",
            "timeline_percent",
        ]
        help_texts = {
            "status": "A break in learning and the return are recorded with their dates from "
            "the Delivery Plan. Withdrawing a qualification on a break ends the break on the "
            "actual end date.",
        }


class BreakStartForm(RecordForm):
    class Meta(RecordForm.Meta):
        model = BreakInLearning
        fields = ["start_date"]
        help_texts = {"start_date": "The first day the learner is away from learning."}


class BreakReturnForm(RecordForm):
    class Meta(RecordForm.Meta):
        model = BreakInLearning
        fields = ["end_date"]
        help_texts = {"end_date": "The day the learner came back to learning."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["end_date"].required = True


class PlacementForm(RecordForm):
    class Meta(RecordForm.Meta):
        model = Placement
        fields = ["organisation", "start_date", "end_date"]


class PlacementEndForm(RecordForm):
    class Meta(RecordForm.Meta):
        model = Placement
        fields = ["end_date"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["end_date"].required = True


class LearnerOfficerRoleForm(RecordForm):
    class Meta(RecordForm.Meta):
        model = LearnerOfficerRole
        fields = ["role", "officer"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        officer = cast(forms.ModelChoiceField, self.fields["officer"])
        officer.queryset = _active_officers_and(self.instance.officer_id)


class ReviewForm(RecordForm):
    class Meta(RecordForm.Meta):
        model = Review
        fields = ["review_type", "proposed_at", "actual_at", "reviewer", "attendance", "notes"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reviewer = cast(forms.ModelChoiceField, self.fields["reviewer"])
        reviewer.queryset = _active_officers_and(self.instance.reviewer_id)


class LearnerFilterForm(forms.Form):
    q = forms.CharField(label="Name, ident, LRN or ULN", required=False)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *LearnerStatus.choices]
    )
    officer = forms.ModelChoiceField(
        label="Main officer",
        required=False,
        queryset=Officer.objects.none(),
        empty_label="Anyone",
        widget=QuickSelect,
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[(f"{sign}{key}", key) for key in LEARNER_SORTS for sign in ("", "-")],
        widget=forms.HiddenInput,
    )

    def __init__(self, *args: Any, officers: QuerySet[Officer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["officer"]).queryset = officers


class OfficerFilterForm(forms.Form):
    q = forms.CharField(label="Name, email or job title", required=False)
    active = forms.TypedChoiceField(
        label="Show",
        required=False,
        choices=[("", "All officers"), ("active", "Active only"), ("inactive", "Inactive only")],
        coerce=lambda choice: choice == "active",
        empty_value=None,
    )


class OrganisationFilterForm(forms.Form):
    q = forms.CharField(label="Name, postcode or EDRS number", required=False)
