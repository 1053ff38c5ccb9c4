"""The integration's API (F26): a learner's enrolment (start, read, retry), the changes pushed
to Smart Assessor (read, retry), Refresh with Smart Assessor, the synchronisation runs with
their changes, Preview the next synchronisation, and the reconciliation report (F24)."""

from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from learners.models import Learner
from picsweb import roles

from .models import (
    CourseEnrolment,
    Enrolment,
    Push,
    Reconciliation,
    ReconciliationFinding,
    SyncChange,
    SyncError,
    SyncRun,
)
from .permissions import IntegrationPermission
from .selectors import enrolments as enrolment_selectors
from .selectors import reconciliation as reconciliation_selectors
from .selectors import sync_runs as sync_run_selectors
from .services import enrolment_requests, pushes, reconciliation, sync

if TYPE_CHECKING:
    from rest_framework.views import AsView, GenericView


class CourseEnrolmentSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(source="learner_qualification.qualification.reference")

    class Meta:
        model = CourseEnrolment
        fields = ["reference", "state", "sa_learner_course_id", "error"]


class EnrolmentSerializer(serializers.ModelSerializer):
    learner = serializers.CharField(source="learner.ident")
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True)
    courses = CourseEnrolmentSerializer(many=True)

    class Meta:
        model = Enrolment
        fields = [
            "id",
            "learner",
            "state",
            "sa_learner_id",
            "requested_by",
            "requested_at",
            "enrolled_at",
            "attempts",
            "next_attempt_at",
            "last_error",
            "field_errors",
            "courses",
        ]


class IntegrationAPIView(APIView):
    permission_classes = [permissions.IsAuthenticated, IntegrationPermission]
    required_permission = roles.ENROL

    @classmethod
    def as_view(cls, **initkwargs: Any) -> "AsView[GenericView]":
        return login_not_required(super().as_view(**initkwargs))

    def _current(self, ident: str) -> Enrolment:
        learner = get_object_or_404(Learner, ident=ident)
        return get_object_or_404(
            enrolment_selectors.enrolments_with_courses(), learner=learner, is_current=True
        )

    def _answer(self, enrolment: Enrolment, code: int) -> Response:
        return Response(
            EnrolmentSerializer(self._current(enrolment.learner.ident)).data, status=code
        )


class EnrolmentAPI(IntegrationAPIView):
    @extend_schema(responses=EnrolmentSerializer, summary="The learner's current enrolment")
    def get(self, request: Request, ident: str) -> Response:
        return Response(EnrolmentSerializer(self._current(ident)).data)

    @extend_schema(
        request=None,
        responses={201: EnrolmentSerializer, 200: EnrolmentSerializer},
        summary="Create the learner in Smart Assessor (queued; 200 if already current)",
    )
    def post(self, request: Request, ident: str) -> Response:
        learner = get_object_or_404(Learner, ident=ident)
        enrolment, created = enrolment_requests.enrolment_request(
            learner=learner, actor=request.user
        )
        return self._answer(enrolment, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class EnrolmentRetryAPI(IntegrationAPIView):
    @extend_schema(request=None, responses=EnrolmentSerializer, summary="Retry a failed enrolment")
    def post(self, request: Request, ident: str) -> Response:
        enrolment = enrolment_requests.enrolment_retry(
            enrolment=self._current(ident), actor=request.user
        )
        return self._answer(enrolment, status.HTTP_200_OK)


class PushSerializer(serializers.ModelSerializer):
    learner = serializers.CharField(source="learner.ident")
    reference = serializers.CharField(
        source="course.learner_qualification.qualification.reference", allow_null=True
    )

    class Meta:
        model = Push
        fields = [
            "id",
            "learner",
            "reference",
            "state",
            "values",
            "body",
            "requested_at",
            "sent_at",
            "attempts",
            "next_attempt_at",
            "last_error",
            "field_errors",
        ]


class PushListAPI(IntegrationAPIView, generics.ListAPIView):
    """The learner's changes pushed to Smart Assessor (F28), newest first."""

    serializer_class = PushSerializer

    @extend_schema(summary="The learner's changes pushed to Smart Assessor, newest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Push]:
        learner = get_object_or_404(Learner, ident=self.kwargs["ident"])
        return Push.objects.filter(learner=learner).select_related(
            "learner", "course__learner_qualification__qualification"
        )


class PushRetryAPI(IntegrationAPIView):
    @extend_schema(
        request=None,
        responses=PushSerializer,
        summary="Send a failed change again, rebuilt from the current data",
    )
    def post(self, request: Request, ident: str, pk: int) -> Response:
        push = get_object_or_404(
            Push.objects.select_related("course__learner_qualification"),
            pk=pk,
            learner__ident=ident,
        )
        pushes.push_retry(push=push, actor=request.user)
        return Response(PushSerializer(push).data)


class SyncErrorSerializer(serializers.ModelSerializer):
    learner = serializers.CharField(source="learner.ident", allow_null=True)

    class Meta:
        model = SyncError
        fields = ["learner", "subject", "message"]


class SyncRunSerializer(serializers.ModelSerializer):
    learner = serializers.CharField(source="learner.ident", allow_null=True)
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True)

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "trigger",
            "state",
            "learner",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "learners_in_scope",
            "learners_seen",
            "qualifications_updated",
            "qualifications_enrolled",
            "reviews_created",
            "reviews_updated",
            "details_pushed",
            "details_pulled",
            "officers_updated",
            "risk_updated",
            "unmapped_event_types",
            "qualifications_backwards",
            "lifecycle_kept",
            "deltas_skipped",
            "read_mode",
            "error_count",
            "error",
        ]

    def get_fields(self) -> dict[str, serializers.Field]:
        # The run's errors are published as "errors"; a field declared as a class attribute of
        # that name would shadow Serializer.errors (the validation errors) for readers and type
        # checkers, so it is added here, last, as before.
        fields = super().get_fields()
        fields["errors"] = SyncErrorSerializer(source="learner_errors", many=True)
        return fields


class LearnerRefreshAPI(IntegrationAPIView):
    @extend_schema(responses=SyncRunSerializer, summary="The learner's latest refresh")
    def get(self, request: Request, ident: str) -> Response:
        learner = get_object_or_404(Learner, ident=ident)
        run = sync_run_selectors.learner_refresh_latest(learner=learner)
        if run is None:
            return Response({"detail": "This learner has not been refreshed."}, status=404)
        return Response(SyncRunSerializer(run).data)

    @extend_schema(
        request=None,
        responses={202: SyncRunSerializer, 200: SyncRunSerializer},
        summary="Refresh with Smart Assessor (queued; 200 if one is already under way)",
    )
    def post(self, request: Request, ident: str) -> Response:
        learner = get_object_or_404(Learner, ident=ident)
        run, created = sync.learner_refresh_request(learner=learner, actor=request.user)
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        return Response(
            SyncRunSerializer(sync_run_selectors.sync_runs_with_errors().get(pk=run.pk)).data,
            status=code,
        )


class SyncRunFilterSerializer(serializers.Serializer):
    """The list's query parameters; a value that names no kind or outcome is refused."""

    trigger = serializers.ChoiceField(choices=SyncRun.Trigger.choices, required=False)
    state = serializers.ChoiceField(choices=SyncRun.State.choices, required=False)


class SyncRunListAPI(IntegrationAPIView, generics.ListAPIView):
    """Synchronisation runs of every kind (daily, by hand, delta, dry run, a learner's
    refresh), newest first."""

    required_permission = roles.MANAGE_INTEGRATION
    serializer_class = SyncRunSerializer

    @extend_schema(
        summary="The synchronisation runs, newest first",
        parameters=[
            OpenApiParameter(
                "trigger",
                OpenApiTypes.STR,
                enum=SyncRun.Trigger.values,
                description="Only the runs of this kind.",
            ),
            OpenApiParameter(
                "state",
                OpenApiTypes.STR,
                enum=SyncRun.State.values,
                description="Only the runs with this outcome.",
            ),
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[SyncRun]:
        filters = SyncRunFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return sync_run_selectors.sync_runs_filtered_with_errors(**filters.validated_data)


class SyncRunAPI(IntegrationAPIView, generics.RetrieveAPIView):
    """One synchronisation run: its progress while it goes (learners_seen of
    learners_in_scope), then its outcome."""

    required_permission = roles.MANAGE_INTEGRATION
    serializer_class = SyncRunSerializer

    @extend_schema(summary="One synchronisation run")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[SyncRun]:
        return sync_run_selectors.sync_runs_with_errors()


class SyncRunDryRunAPI(IntegrationAPIView):
    required_permission = roles.MANAGE_INTEGRATION

    @extend_schema(
        request=None,
        responses={202: SyncRunSerializer},
        summary="Preview the next synchronisation (queued): a dry run that stores its plan and "
        "writes nothing else; read the plan at /api/sync-runs/{id}/changes/ once it ends",
    )
    def post(self, request: Request) -> Response:
        run = sync.dry_run_request(actor=request.user)
        return Response(
            SyncRunSerializer(sync_run_selectors.sync_runs_with_errors().get(pk=run.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


class SyncChangeSerializer(serializers.ModelSerializer):
    learner = serializers.CharField(source="learner.ident", allow_null=True)
    officer = serializers.IntegerField(source="officer_id", allow_null=True)

    applied = serializers.BooleanField(read_only=True)

    class Meta:
        model = SyncChange
        fields = [
            "id",
            "learner",
            "officer",
            "target",
            "direction",
            "record",
            "record_id",
            "field",
            "old_value",
            "new_value",
            "applied",
            "in_history",
            "at",
        ]


class SyncChangeFilterSerializer(serializers.Serializer):
    applied = serializers.BooleanField(required=False, allow_null=True, default=None)


class SyncRunChangesAPI(IntegrationAPIView, generics.ListAPIView):
    """A run's changes: with ``applied=false`` its plan (what a held run or a dry run would
    change), learner by learner; with ``applied=true`` what it changed, in order."""

    required_permission = roles.MANAGE_INTEGRATION
    serializer_class = SyncChangeSerializer

    @extend_schema(
        summary="A synchronisation run's changes, planned or applied",
        parameters=[
            OpenApiParameter(
                "applied",
                OpenApiTypes.BOOL,
                description="false: only the plan (changes not applied); true: only the "
                "changes made. Without it, every change of the run.",
            )
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[SyncChange]:
        run = get_object_or_404(SyncRun, pk=self.kwargs["pk"])
        filters = SyncChangeFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return sync_run_selectors.sync_run_changes_listed(
            run=run, applied=filters.validated_data["applied"]
        )


class ReconciliationSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", allow_null=True)

    class Meta:
        model = Reconciliation
        fields = [
            "id",
            "state",
            "requested_by",
            "requested_at",
            "started_at",
            "finished_at",
            "stage",
            "pages_read",
            "pages_total",
            "sa_learners",
            "sa_employers",
            "sa_assessors",
            "sa_unreadable",
            "error",
        ]


class ReconciliationStateSerializer(serializers.Serializer):
    build = ReconciliationSerializer(
        allow_null=True, help_text="The newest build: under way (with its progress) or ended."
    )
    report = ReconciliationSerializer(
        allow_null=True, help_text="The report in use: the newest that was built."
    )
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="The report's lines, by category."
    )


class ReconciliationAPI(IntegrationAPIView):
    required_permission = roles.RECONCILE

    def _state(self, code: int = status.HTTP_200_OK) -> Response:
        report = reconciliation_selectors.reconciliation_report()
        counts = reconciliation_selectors.reconciliation_counts(report=report)
        build = reconciliation_selectors.reconciliation_latest()
        return Response(
            {
                "build": ReconciliationSerializer(build).data if build else None,
                "report": ReconciliationSerializer(report).data if report else None,
                "counts": {count.category: count.count for count in counts},
            },
            status=code,
        )

    @extend_schema(
        responses=ReconciliationStateSerializer,
        summary="The reconciliation report in use, with its counts, and the newest build",
    )
    def get(self, request: Request) -> Response:
        return self._state()

    @extend_schema(
        request=None,
        responses={202: ReconciliationStateSerializer, 200: ReconciliationStateSerializer},
        summary="Build the reconciliation report (queued; 200 if one is already being built)",
    )
    def post(self, request: Request) -> Response:
        _, created = reconciliation.reconciliation_request(actor=request.user)
        return self._state(status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class ReconciliationFindingSerializer(serializers.ModelSerializer):
    learner = serializers.CharField(source="learner.ident", allow_null=True)
    linked_learner = serializers.CharField(source="linked_learner.ident", allow_null=True)
    organisation = serializers.IntegerField(source="organisation_id", allow_null=True)
    officer = serializers.IntegerField(source="officer_id", allow_null=True)
    linked_by = serializers.CharField(source="linked_by.username", allow_null=True)

    class Meta:
        model = ReconciliationFinding
        fields = [
            "id",
            "category",
            "sa_id",
            "sa_name",
            "sa_date_of_birth",
            "sa_uln",
            "sa_email",
            "sa_mis_id",
            "sa_eds_id",
            "sa_postcode",
            "learner",
            "organisation",
            "officer",
            "linked_learner",
            "linked_sa_id",
            "match",
            "note",
            "linked_at",
            "linked_by",
        ]


class ReconciliationFindingFilterSerializer(serializers.Serializer):
    category = serializers.ChoiceField(
        choices=ReconciliationFinding.Category.choices, required=False
    )
    search = serializers.CharField(required=False, max_length=100)


class ReconciliationFindingListAPI(IntegrationAPIView, generics.ListAPIView):
    """The lines of the reconciliation report in use (none before one is built)."""

    required_permission = roles.RECONCILE
    serializer_class = ReconciliationFindingSerializer

    @extend_schema(
        summary="The reconciliation report's lines",
        parameters=[
            OpenApiParameter(
                "category",
                OpenApiTypes.STR,
                enum=ReconciliationFinding.Category.values,
                description="Only the lines of this category.",
            ),
            OpenApiParameter(
                "search",
                OpenApiTypes.STR,
                description="Only the lines whose names, ids, ULN, email, EDRS number or "
                "postcode hold each of these words.",
            ),
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ReconciliationFinding]:
        filters = ReconciliationFindingFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        report = reconciliation_selectors.reconciliation_report()
        if report is None:
            return ReconciliationFinding.objects.none()
        return reconciliation_selectors.reconciliation_findings(
            report=report, **filters.validated_data
        )


class ReconciliationLinkAPI(IntegrationAPIView):
    required_permission = roles.RECONCILE

    @extend_schema(
        request=None,
        responses=ReconciliationFindingSerializer,
        summary="Link a line's likely match to its Smart Assessor record (Support for "
        "learners, an Integration admin for employers and assessors)",
    )
    def post(self, request: Request, pk: int) -> Response:
        finding = get_object_or_404(
            ReconciliationFinding.objects.select_related(
                "report", "learner", "organisation", "officer"
            ),
            pk=pk,
        )
        if not request.user.has_perm(reconciliation.finding_link_permission(finding)):
            raise PermissionDenied
        reconciliation.reconciliation_link(finding=finding, actor=request.user)
        linked = reconciliation_selectors.reconciliation_findings(report=finding.report)
        return Response(ReconciliationFindingSerializer(linked.get(pk=pk)).data)
