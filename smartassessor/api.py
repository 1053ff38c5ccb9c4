"""The integration's API (F26): a learner's enrolment (start, read, retry), Refresh with Smart
Assessor, and the synchronisation runs."""

from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from learners.models import Learner
from picsweb import roles

from .models import CourseEnrolment, Enrolment, SyncError, SyncRun
from .permissions import IntegrationPermission
from .selectors import enrolments as enrolment_selectors
from .selectors import sync_runs as sync_run_selectors
from .services import enrolment_requests, sync

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


class SyncRunListAPI(IntegrationAPIView, generics.ListAPIView):
    """Daily and hand-started synchronisation runs, newest first."""

    required_permission = roles.MANAGE_INTEGRATION
    serializer_class = SyncRunSerializer

    def get_queryset(self) -> QuerySet[SyncRun]:
        return sync_run_selectors.sync_runs_recent_with_errors()
