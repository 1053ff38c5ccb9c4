"""The staff pages: the lists, the Delivery Plan, officers, organisations and the record forms.

Views parse the request, check the permission, call a selector or one service and render.
Signed-in users without the permission get 403; LoginRequiredMiddleware sends visitors to log in.
"""

import datetime
from typing import Any, Generic, TypeVar, cast

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Page as ListPage
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, resolve_url
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import FormView, ListView, TemplateView
from django.views.generic.base import ContextMixin

from . import extensions, forms, selectors, services
from .models import (
    BreakInLearning,
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    Officer,
    Organisation,
    Placement,
    Review,
)

PAGE_SIZE = 25

# The kind of record a form page adds or edits.
R = TypeVar("R", bound=models.Model)


class Page(PermissionRequiredMixin, ContextMixin):
    raise_exception = True
    section = "learners"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(section=self.section, **kwargs)


class EitherEndPaginator(Paginator):
    """Pages of a long ordered list that cost about the same wherever they are.

    ``OFFSET`` makes the database read and drop every row before the page: the last page of
    100,000 learners read 99,975 to show 25, with their joins and counts. So a page is read in
    two steps: the ids of its rows (from the sort's index alone, where PostgreSQL has one), then
    those rows with everything the page shows; and a page past the middle is read in the
    reversed order, from the end, and turned round. The middle page is the dearest, at half the
    ids of the list. The count stays exact (one ``COUNT`` a page, from an index).
    """

    def page(self, number: int | str) -> ListPage:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return ListPage(self._rows(bottom, top), number, self)

    def _rows(self, bottom: int, top: int) -> Any:
        records = self.object_list
        if not isinstance(records, QuerySet):
            return records[bottom:top]
        ids = self._ids(records, bottom, top)
        by_id = {record.pk: record for record in records.filter(pk__in=ids).order_by()}
        # A row deleted between the two reads is left out.
        return [by_id[pk] for pk in ids if pk in by_id]

    def _ids(self, records: QuerySet, bottom: int, top: int) -> list[Any]:
        if bottom > self.count - top:
            from_end = records.reverse().values_list("pk", flat=True)
            return list(from_end[self.count - top : self.count - bottom])[::-1]
        return list(records.values_list("pk", flat=True)[bottom:top])


class LearnerPaginator(EitherEndPaginator):
    """The learner list's pages; by main officer or current employer they are read group by
    group (selectors.learner_ids_by_group), which no single index serves in the join's order,
    and the list's count is the sum of the groups' counts rather than a COUNT of its own."""

    def __init__(self, *args: Any, sort: str = "name", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key = sort.removeprefix("-")
        self.descending = sort.startswith("-")
        self.grouped = self.key in selectors.GROUPED_SORTS

    @cached_property
    def group_counts(self) -> dict[Any, int]:
        learners = cast(QuerySet[Learner], self.object_list)
        return selectors.learner_counts_by_group(learners, key=self.key)

    @cached_property
    def count(self) -> int:
        if self.grouped and isinstance(self.object_list, QuerySet):
            return sum(self.group_counts.values())
        return super().count

    def _ids(self, records: QuerySet, bottom: int, top: int) -> list[Any]:
        if not self.grouped:
            return super()._ids(records, bottom, top)
        return selectors.learner_ids_by_group(
            records,
            key=self.key,
            counts=self.group_counts,
            bottom=bottom,
            top=top,
            descending=self.descending,
        )


class FilteredListView(Page, ListView):
    """A paged list whose search and filters come from a form over the query string."""

    paginate_by = PAGE_SIZE
    paginator_class = EitherEndPaginator
    filter_form_class: type[BaseForm]

    @cached_property
    def filters(self) -> BaseForm:
        form = self.filter_form_class(self.request.GET, **self.get_filter_form_kwargs())
        # Fields with a value that makes no sense are left out rather than refused.
        form.is_valid()
        return form

    def get_filter_form_kwargs(self) -> dict[str, Any]:
        return {}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(filters=self.filters, **kwargs)


class LearnerListView(FilteredListView):
    permission_required = "learners.view_learner"
    template_name = "learners/learner_list.html"
    context_object_name = "learners"
    filter_form_class = forms.LearnerFilterForm

    def get_filter_form_kwargs(self) -> dict[str, Any]:
        return {"officers": selectors.main_officers()}

    @property
    def sort(self) -> str:
        return self.filters.cleaned_data.get("sort") or "name"

    def get_paginator(self, *args: Any, **kwargs: Any) -> LearnerPaginator:
        return LearnerPaginator(*args, sort=self.sort, **kwargs)

    def get_queryset(self) -> QuerySet[Learner]:
        values = self.filters.cleaned_data
        return selectors.learner_list(
            search=values.get("q", ""),
            status=values.get("status", ""),
            main_officer=values.get("officer"),
            sort=self.sort,
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            sort=self.sort,
            list_actions=extensions.render("learner_list_actions", self.request, None),
            **kwargs,
        )


class DeliveryPlanView(Page, TemplateView):
    permission_required = "learners.view_learner"
    template_name = "learners/delivery_plan.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        plan = selectors.delivery_plan(ident=self.kwargs["ident"])
        return super().get_context_data(plan=plan, learner=plan.learner, **kwargs)


class OfficerListView(FilteredListView):
    permission_required = "learners.view_officer"
    section = "officers"
    template_name = "learners/officer_list.html"
    context_object_name = "officers"
    filter_form_class = forms.OfficerFilterForm

    def get_queryset(self) -> QuerySet[Officer]:
        values = self.filters.cleaned_data
        return selectors.officer_list(search=values.get("q", ""), active=values.get("active"))


class OfficerDetailView(Page, TemplateView):
    permission_required = "learners.view_officer"
    section = "officers"
    template_name = "learners/officer_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        officer = selectors.officer_detail(officer_id=self.kwargs["pk"])
        learners = Paginator(selectors.officer_main_learners(officer=officer), PAGE_SIZE)
        return super().get_context_data(
            officer=officer, page_obj=learners.get_page(self.request.GET.get("page")), **kwargs
        )


class OrganisationListView(FilteredListView):
    permission_required = "learners.view_organisation"
    section = "organisations"
    template_name = "learners/organisation_list.html"
    context_object_name = "organisations"
    filter_form_class = forms.OrganisationFilterForm

    def get_queryset(self) -> QuerySet[Organisation]:
        return selectors.organisation_list(search=self.filters.cleaned_data.get("q", ""))


class OrganisationDetailView(Page, TemplateView):
    permission_required = "learners.view_organisation"
    section = "organisations"
    template_name = "learners/organisation_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        organisation = get_object_or_404(Organisation, pk=self.kwargs["pk"])
        placements = Paginator(
            selectors.organisation_current_placements(organisation=organisation), PAGE_SIZE
        )
        return super().get_context_data(
            organisation=organisation,
            page_obj=placements.get_page(self.request.GET.get("page")),
            **kwargs,
        )


def _add_errors(form: BaseForm, error: ValidationError) -> None:
    """Put a service's validation errors next to the form's fields, the others at the top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, ValidationError(errors))


def safe_next(request: HttpRequest) -> str:
    """The page to return to after a form, from its ``next`` (the query's, or the posted
    field's): this site's own paths only, so a link cannot send anyone elsewhere; blank when
    there is none."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed and target.startswith("/") and not target.startswith("//") else ""


class RecordFormView(Page, FormView, Generic[R]):
    """Adds or edits one record through one service, then returns to the page it belongs to."""

    template_name = "learners/record_form.html"
    success_message: str  # formatted with the saved record as ``record``

    def get_instance(self) -> R | None:
        return None

    def get_title(self) -> str:
        raise NotImplementedError

    def save(self, data: dict[str, Any]) -> R:
        raise NotImplementedError

    def cancel_url(self) -> str:
        instance = self.get_instance()
        if instance is None:
            raise NotImplementedError("A page that adds a record says where Cancel goes.")
        # The record's get_absolute_url().
        return resolve_url(instance)

    def owner_url(self, record: R) -> str:
        return resolve_url(record)

    def get_success_message(self, record: R) -> str:
        return self.success_message.format(record=record)

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "instance": self.get_instance()}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # A form opened from elsewhere (the enrolment preview's "Fix it") goes back there.
        back = safe_next(self.request)
        return super().get_context_data(
            title=self.get_title(), cancel_url=back or self.cancel_url(), next=back, **kwargs
        )

    def form_valid(self, form: BaseForm) -> HttpResponse:
        try:
            record = self.save(form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, self.get_success_message(record))
        return redirect(safe_next(self.request) or self.owner_url(record))


class LearnerAddView(RecordFormView[Learner]):
    permission_required = "learners.add_learner"
    form_class = forms.LearnerForm
    success_message = "{record.full_name} was added."

    def get_title(self) -> str:
        return "Add a learner"

    def cancel_url(self) -> str:
        return reverse("learners:list")

    def save(self, data: dict[str, Any]) -> Learner:
        return services.learner_create(data=data)


class LearnerEditView(RecordFormView[Learner]):
    permission_required = "learners.change_learner"
    form_class = forms.LearnerForm
    success_message = "{record.full_name}'s details were saved."

    @cached_property
    def learner(self) -> Learner:
        return get_object_or_404(Learner, ident=self.kwargs["ident"])

    def get_instance(self) -> Learner:
        return self.learner

    def get_title(self) -> str:
        return f"Edit {self.learner.full_name}"

    def save(self, data: dict[str, Any]) -> Learner:
        return services.learner_update(learner=self.learner, data=data)


class OfficerAddView(RecordFormView[Officer]):
    permission_required = "learners.add_officer"
    section = "officers"
    form_class = forms.OfficerForm
    success_message = "{record.full_name} was added."

    def get_title(self) -> str:
        return "Add an officer"

    def cancel_url(self) -> str:
        return reverse("learners:officer_list")

    def save(self, data: dict[str, Any]) -> Officer:
        return services.officer_create(data=data)


class OfficerEditView(RecordFormView[Officer]):
    permission_required = "learners.change_officer"
    section = "officers"
    form_class = forms.OfficerForm
    success_message = "{record.full_name}'s details were saved."

    @cached_property
    def officer(self) -> Officer:
        return get_object_or_404(Officer, pk=self.kwargs["pk"])

    def get_instance(self) -> Officer:
        return self.officer

    def get_title(self) -> str:
        return f"Edit {self.officer.full_name}"

    def save(self, data: dict[str, Any]) -> Officer:
        return services.officer_update(officer=self.officer, data=data)


class OrganisationAddView(RecordFormView[Organisation]):
    permission_required = "learners.add_organisation"
    section = "organisations"
    form_class = forms.OrganisationForm
    success_message = "{record.name} was added."

    def get_title(self) -> str:
        return "Add an organisation"

    def cancel_url(self) -> str:
        return reverse("learners:organisation_list")

    def save(self, data: dict[str, Any]) -> Organisation:
        return services.organisation_create(data=data)


class OrganisationEditView(RecordFormView[Organisation]):
    permission_required = "learners.change_organisation"
    section = "organisations"
    form_class = forms.OrganisationForm
    success_message = "{record.name}'s details were saved."

    @cached_property
    def organisation(self) -> Organisation:
        return get_object_or_404(Organisation, pk=self.kwargs["pk"])

    def get_instance(self) -> Organisation:
        return self.organisation

    def get_title(self) -> str:
        return f"Edit {self.organisation.name}"

    def save(self, data: dict[str, Any]) -> Organisation:
        return services.organisation_update(organisation=self.organisation, data=data)


class LearnerRecordMixin(Generic[R]):
    """Pages about one of a learner's records: they return to the learner's Delivery Plan.

    ``record_model`` is the kind of record; edit pages find it by the ``pk`` of the URL.
    """

    record_model: type[R]
    kwargs: dict[str, Any]  # the URL's, as on every Django view

    @cached_property
    def learner(self) -> Learner:
        return get_object_or_404(Learner, ident=self.kwargs["ident"])

    @cached_property
    def record(self) -> R:
        """The record of the URL's ``pk``: edit and remove pages only."""
        return get_object_or_404(self.record_model, pk=self.kwargs["pk"], learner=self.learner)

    def get_instance(self) -> R | None:
        return self.record if "pk" in self.kwargs else None

    def cancel_url(self) -> str:
        return self.learner.get_absolute_url()

    def owner_url(self, record: R) -> str:
        return self.learner.get_absolute_url()


class LearnerQualificationAddView(
    LearnerRecordMixin[LearnerQualification], RecordFormView[LearnerQualification]
):
    permission_required = "learners.add_learnerqualification"
    form_class = forms.LearnerQualificationForm
    success_message = "{record.qualification} was added to the delivery plan."

    def get_title(self) -> str:
        return f"Add a qualification to {self.learner.full_name}'s plan"

    def save(self, data: dict[str, Any]) -> LearnerQualification:
        return services.learner_qualification_create(learner=self.learner, data=data)


class LearnerQualificationEditView(
    LearnerRecordMixin[LearnerQualification], RecordFormView[LearnerQualification]
):
    permission_required = "learners.change_learnerqualification"
    record_model = LearnerQualification
    form_class = forms.LearnerQualificationForm
    success_message = "{record.qualification} was saved."

    def get_title(self) -> str:
        return f"Edit {self.record.qualification} for {self.learner.full_name}"

    def save(self, data: dict[str, Any]) -> LearnerQualification:
        return services.learner_qualification_update(learner_qualification=self.record, data=data)


class BreakPageMixin(LearnerRecordMixin[BreakInLearning]):
    """Pages about the breaks of one of the learner's qualifications (``qualification_pk``).

    They need the right to change the learner's qualifications: a break is part of one.
    """

    permission_required = "learners.change_learnerqualification"
    record_model = BreakInLearning

    @cached_property
    def learner_qualification(self) -> LearnerQualification:
        return get_object_or_404(
            LearnerQualification.objects.select_related("qualification"),
            pk=self.kwargs["qualification_pk"],
            learner=self.learner,
        )

    @cached_property
    def record(self) -> BreakInLearning:
        brk = get_object_or_404(
            BreakInLearning, pk=self.kwargs["pk"], learner_qualification=self.learner_qualification
        )
        brk.learner_qualification = self.learner_qualification
        return brk


class BreakStartView(BreakPageMixin, RecordFormView[BreakInLearning]):
    form_class = forms.BreakStartForm

    def get_instance(self) -> BreakInLearning:
        # The form checks the dates against the qualification and its other breaks.
        return BreakInLearning(learner_qualification=self.learner_qualification)

    def get_initial(self) -> dict[str, Any]:
        return {"start_date": timezone.localdate()}

    def get_title(self) -> str:
        return (
            f"Record a break in learning: {self.learner_qualification.qualification} for "
            f"{self.learner.full_name}"
        )

    def get_success_message(self, record: BreakInLearning) -> str:
        return (
            f"{self.learner_qualification.qualification} is on a break in learning from "
            f"{formats.date_format(record.start_date)}."
        )

    def save(self, data: dict[str, Any]) -> BreakInLearning:
        return services.learner_qualification_break_start(
            learner_qualification=self.learner_qualification, start_date=data["start_date"]
        )


class BreakReturnView(BreakPageMixin, RecordFormView[BreakInLearning]):
    form_class = forms.BreakReturnForm

    def get_initial(self) -> dict[str, Any]:
        return {"end_date": timezone.localdate()}

    def get_title(self) -> str:
        return (
            f"Record the return from the break of {formats.date_format(self.record.start_date)}: "
            f"{self.learner_qualification.qualification} for {self.learner.full_name}"
        )

    def get_success_message(self, record: BreakInLearning) -> str:
        # learner_qualification_break_end has just set it (the form requires it).
        end_date = formats.date_format(cast(datetime.date, record.end_date))
        return (
            f"{self.learner_qualification.qualification}: the learner returned on {end_date} "
            f"and the qualification is {record.learner_qualification.get_status_display().lower()}."
        )

    def save(self, data: dict[str, Any]) -> BreakInLearning:
        return services.learner_qualification_break_end(brk=self.record, end_date=data["end_date"])


class PlacementAddView(LearnerRecordMixin[Placement], RecordFormView[Placement]):
    permission_required = "learners.add_placement"
    form_class = forms.PlacementForm
    success_message = "The placement at {record.organisation} was added."

    def get_title(self) -> str:
        return f"Add a placement for {self.learner.full_name}"

    def save(self, data: dict[str, Any]) -> Placement:
        return services.placement_create(learner=self.learner, data=data)


class PlacementEditView(LearnerRecordMixin[Placement], RecordFormView[Placement]):
    permission_required = "learners.change_placement"
    record_model = Placement
    form_class = forms.PlacementForm
    success_message = "The placement at {record.organisation} was saved."

    def get_title(self) -> str:
        return f"Edit {self.learner.full_name}'s placement at {self.record.organisation}"

    def save(self, data: dict[str, Any]) -> Placement:
        return services.placement_update(placement=self.record, data=data)


class PlacementEndView(LearnerRecordMixin[Placement], RecordFormView[Placement]):
    permission_required = "learners.change_placement"
    record_model = Placement
    form_class = forms.PlacementEndForm

    def get_success_message(self, record: Placement) -> str:
        # placement_end has just set it (the form requires it).
        end_date = formats.date_format(cast(datetime.date, record.end_date))
        return f"The placement at {record.organisation} ends on {end_date}."

    def get_initial(self) -> dict[str, Any]:
        return {"end_date": self.record.end_date or timezone.localdate()}

    def get_title(self) -> str:
        return f"End {self.learner.full_name}'s placement at {self.record.organisation}"

    def save(self, data: dict[str, Any]) -> Placement:
        return services.placement_end(placement=self.record, end_date=data["end_date"])


class LearnerOfficerRoleAddView(
    LearnerRecordMixin[LearnerOfficerRole], RecordFormView[LearnerOfficerRole]
):
    permission_required = "learners.add_learnerofficerrole"
    form_class = forms.LearnerOfficerRoleForm
    success_message = "{record.officer} is now {record.role}."

    def get_title(self) -> str:
        return f"Add an officer for {self.learner.full_name}"

    def save(self, data: dict[str, Any]) -> LearnerOfficerRole:
        return services.learner_officer_role_create(learner=self.learner, data=data)


class LearnerOfficerRoleEditView(
    LearnerRecordMixin[LearnerOfficerRole], RecordFormView[LearnerOfficerRole]
):
    permission_required = "learners.change_learnerofficerrole"
    record_model = LearnerOfficerRole
    form_class = forms.LearnerOfficerRoleForm
    success_message = "{record.officer} is now {record.role}."

    def get_title(self) -> str:
        return f"Edit {self.learner.full_name}'s {self.record.role}"

    def save(self, data: dict[str, Any]) -> LearnerOfficerRole:
        return services.learner_officer_role_update(learner_officer_role=self.record, data=data)


class LearnerOfficerRoleRemoveView(LearnerRecordMixin[LearnerOfficerRole], Page, TemplateView):
    permission_required = "learners.delete_learnerofficerrole"
    record_model = LearnerOfficerRole
    template_name = "learners/confirm_remove.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            title=f"Remove {self.learner.full_name}'s {self.record.role}",
            cancel_url=self.cancel_url(),
            **kwargs,
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        role = self.record
        services.learner_officer_role_delete(learner_officer_role=role)
        messages.success(request, f"{role.officer} is no longer {role.role}.")
        return HttpResponseRedirect(safe_next(request) or self.owner_url(role))


class ReviewAddView(LearnerRecordMixin[Review], RecordFormView[Review]):
    permission_required = "learners.add_review"
    form_class = forms.ReviewForm
    success_message = "The review was added."

    def get_title(self) -> str:
        return f"Add a review for {self.learner.full_name}"

    def save(self, data: dict[str, Any]) -> Review:
        return services.review_create(learner=self.learner, data=data)


class ReviewEditView(LearnerRecordMixin[Review], RecordFormView[Review]):
    permission_required = "learners.change_review"
    record_model = Review
    form_class = forms.ReviewForm
    success_message = "The review was saved."

    def get_title(self) -> str:
        proposed = formats.date_format(timezone.localtime(self.record.proposed_at))
        return f"Edit the review of {proposed} for {self.learner.full_name}"

    def save(self, data: dict[str, Any]) -> Review:
        return services.review_update(review=self.record, data=data)
