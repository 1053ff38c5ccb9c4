"""The enrolment API (F26): start, read and retry a learner's Smart Assessor enrolment."""

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from learners.models import Learner
from picsweb import roles

from .models import CourseEnrolment, Enrolment
from .permissions import IntegrationPermission
from .services import enrolment as service


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


class EnrolmentAPIView(APIView):
    permission_classes = [permissions.IsAuthenticated, IntegrationPermission]
    required_permission = roles.ENROL

    @classmethod
    def as_view(cls, **initkwargs):
        return login_not_required(super().as_view(**initkwargs))

    def _current(self, ident: str) -> Enrolment:
        learner = get_object_or_404(Learner, ident=ident)
        return get_object_or_404(
            Enrolment.objects.select_related("learner", "requested_by").prefetch_related(
                "courses__learner_qualification__qualification"
            ),
            learner=learner,
            is_current=True,
        )

    def _answer(self, enrolment: Enrolment, code: int) -> Response:
        return Response(
            EnrolmentSerializer(self._current(enrolment.learner.ident)).data, status=code
        )


class EnrolmentAPI(EnrolmentAPIView):
    @extend_schema(responses=EnrolmentSerializer, summary="The learner's current enrolment")
    def get(self, request, ident: str):
        return Response(EnrolmentSerializer(self._current(ident)).data)

    @extend_schema(
        request=None,
        responses={201: EnrolmentSerializer, 200: EnrolmentSerializer},
        summary="Create the learner in Smart Assessor (queued; 200 if already current)",
    )
    def post(self, request, ident: str):
        learner = get_object_or_404(Learner, ident=ident)
        enrolment, created = service.enrolment_request(learner=learner, actor=request.user)
        return self._answer(enrolment, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class EnrolmentRetryAPI(EnrolmentAPIView):
    @extend_schema(request=None, responses=EnrolmentSerializer, summary="Retry a failed enrolment")
    def post(self, request, ident: str):
        enrolment = service.enrolment_retry(enrolment=self._current(ident), actor=request.user)
        return self._answer(enrolment, status.HTTP_200_OK)
