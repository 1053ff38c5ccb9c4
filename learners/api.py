"""The API of learners and their Delivery Plans (F26): reads, and the lifecycle of a
learner's qualifications (status and dates, breaks in learning and returns).

Writes go through the same services as the pages, with the same rights. A refusal answers 400
in the product's error shape: ``detail``, and each field's messages under ``field_errors``.
"""

from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services

if TYPE_CHECKING:
    from rest_framework.views import AsView, GenericView

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


class CanViewLearners(permissions.BasePermission):
    message = "Your account may not view learners."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.has_perm("learners.view_learner"))


class CanChangeLearnerQualifications(permissions.BasePermission):
    message = "Your account may not change learners' qualifications."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.has_perm("learners.change_learnerqualification"))


class LearnersAPIView(generics.GenericAPIView):
    permission_classes = [permissions.IsAuthenticated, CanViewLearners]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> "AsView[GenericView]":
        # API clients sign in with a token or the session: DRF answers 401/403 itself instead
        # of the login redirect meant for the pages.
        return login_not_required(super().as_view(**initkwargs))


class OfficerSummarySerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(read_only=True)

    class Meta:
        model = Officer
        fields = ["id", "title", "forenames", "surname", "full_name", "email"]


class OrganisationSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "postcode", "edrs_number"]


class LearnerOfficerRoleSerializer(serializers.ModelSerializer):
    role = serializers.CharField(source="role.name", read_only=True)
    officer = OfficerSummarySerializer(read_only=True)

    class Meta:
        model = LearnerOfficerRole
        fields = ["role", "officer"]


class PlacementSerializer(serializers.ModelSerializer):
    organisation = OrganisationSummarySerializer(read_only=True)

    class Meta:
        model = Placement
        fields = ["id", "organisation", "start_date", "end_date"]


class LearnerSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(read_only=True)
    main_officer = OfficerSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Learner
        fields = [
            "ident",
            "lrn",
            "uln",
            "first_name",
            "surname",
            "full_name",
            "status",
            "risk_band",
            "start_date",
            "planned_end_date",
            "actual_end_date",
            "main_officer",
        ]


class LearnerDetailSerializer(LearnerSerializer):
    officer_roles = LearnerOfficerRoleSerializer(many=True, read_only=True)

    class Meta(LearnerSerializer.Meta):
        fields = [
            *LearnerSerializer.Meta.fields,
            "date_of_birth",
            "sex",
            "ni_number",
            "email",
            "phone",
            "mobile",
            "address_line1",
            "address_line2",
            "address_line3",
            "address_line4",
            "postcode",
            "officer_roles",
            "created_at",
            "updated_at",
        ]


PACES = ["on track", "behind", "ahead"]
OFF_THE_JOB_PACES = [
    ("on track", "On track: the share of the hours done is within 10 points of the timeline"),
    ("behind", "Behind: more than 10 points below the timeline"),
    ("ahead", "Ahead: more than 10 points above the timeline"),
]


class BreakInLearningSerializer(serializers.ModelSerializer):
    class Meta:
        model = BreakInLearning
        fields = ["id", "start_date", "end_date"]
        extra_kwargs = {
            "end_date": {"help_text": "The return; null while the learner is on the break."}
        }


class LearnerQualificationSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(source="qualification.reference", read_only=True)
    title = serializers.CharField(source="qualification.title", read_only=True)
    pace = serializers.ChoiceField(
        choices=PACES,
        read_only=True,
        help_text="Progress compared with the time elapsed: within 10 points is on track.",
    )
    breaks = BreakInLearningSerializer(many=True, read_only=True)
    off_the_job_pace = serializers.ChoiceField(
        choices=OFF_THE_JOB_PACES,
        read_only=True,
        allow_null=True,
        help_text="Actual off-the-job hours as a share of the planned, compared with the time "
        "elapsed. Null while either figure is not known, or nothing is planned.",
    )

    class Meta:
        model = LearnerQualification
        fields = [
            "id",
            "reference",
            "title",
            "start_date",
            "planned_end_date",
            "actual_end_date",
            "status",
            "progress_percent",
            "assessed_percent",
            "mapped_percent",
            "timeline_percent",
            "pace",
            "breaks",
            "off_the_job_hours_planned",
            "off_the_job_hours_actual",
            "off_the_job_pace",
        ]


class ReviewSerializer(serializers.ModelSerializer):
    review_type = serializers.CharField(source="review_type.name", read_only=True, allow_null=True)
    reviewer = OfficerSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "review_type",
            "proposed_at",
            "actual_at",
            "reviewer",
            "attendance",
            "notes",
        ]


class DeliveryPlanSerializer(serializers.Serializer):
    learner = LearnerDetailSerializer(read_only=True)
    qualifications = LearnerQualificationSerializer(many=True, read_only=True)
    current_placement = PlacementSerializer(read_only=True, allow_null=True)
    reviews = ReviewSerializer(many=True, read_only=True)


@extend_schema(
    parameters=[
        OpenApiParameter(
            "search",
            str,
            description="Words to find in the first name, surname, Learner Ident, LRN or ULN; "
            "each word must match.",
        )
    ]
)
class LearnerListAPI(LearnersAPIView, generics.ListAPIView):
    """Learners, by surname, searchable."""

    serializer_class = LearnerSerializer

    def get_queryset(self) -> QuerySet[Learner]:
        return selectors.learner_list(search=self.request.query_params.get("search", ""))


class LearnerDetailAPI(LearnersAPIView, generics.RetrieveAPIView):
    """One learner's details and other officers."""

    serializer_class = LearnerDetailSerializer
    queryset = Learner.objects.all()
    lookup_field = "ident"

    def get_object(self) -> Learner:
        return selectors.learner_detail(ident=self.kwargs["ident"])


class DeliveryPlanAPI(LearnersAPIView, generics.RetrieveAPIView):
    """A learner's Delivery Plan: details, qualifications, current placement and reviews."""

    serializer_class = DeliveryPlanSerializer
    queryset = Learner.objects.all()
    lookup_field = "ident"

    def get_object(self) -> selectors.DeliveryPlan:
        return selectors.delivery_plan(ident=self.kwargs["ident"])


class LearnerQualificationUpdateSerializer(serializers.ModelSerializer):
    """What a PATCH of a learner qualification may change; the rules are the services'."""

    class Meta:
        model = LearnerQualification
        fields = ["status", "actual_end_date", "planned_end_date", "off_the_job_hours_planned"]


class BreakStartSerializer(serializers.ModelSerializer):
    class Meta:
        model = BreakInLearning
        fields = ["start_date"]


class BreakReturnSerializer(serializers.ModelSerializer):
    class Meta:
        model = BreakInLearning
        fields = ["end_date"]
        extra_kwargs = {
            "end_date": {
                "required": True,
                "allow_null": False,
                "help_text": "The return: the day the learner came back to learning.",
            }
        }


def _validated(serializer: serializers.Serializer) -> dict[str, Any]:
    """The input, or a refusal in the product's error shape, as the services' refusals are."""
    if not serializer.is_valid():
        raise ValidationError(serializer.errors)
    return dict(serializer.validated_data)


class LearnerQualificationWriteAPIView(LearnersAPIView):
    """A learner's qualification (the URL's ``id``): another learner's is not found."""

    permission_classes = [*LearnersAPIView.permission_classes, CanChangeLearnerQualifications]

    def learner_qualification(self) -> LearnerQualification:
        return get_object_or_404(
            LearnerQualification.objects.select_related("qualification"),
            pk=self.kwargs["id"],
            learner__ident=self.kwargs["ident"],
        )

    def answer(self, learner_qualification: LearnerQualification, code: int) -> Response:
        return Response(LearnerQualificationSerializer(learner_qualification).data, status=code)


class LearnerQualificationAPI(LearnerQualificationWriteAPIView):
    @extend_schema(
        request=LearnerQualificationUpdateSerializer,
        responses=LearnerQualificationSerializer,
        summary="Change a learner qualification's status, dates or planned off-the-job hours",
        description="The rules of the page: a break in learning is recorded with POST .../breaks/"
        " and ended with the return, not by the status; withdrawing a qualification on a break "
        "ends the break on the actual end date. A refusal answers 400 with each field's "
        "messages.",
    )
    def patch(self, request: Request, ident: str, id: int) -> Response:
        learner_qualification = self.learner_qualification()
        data = _validated(
            LearnerQualificationUpdateSerializer(
                learner_qualification, data=request.data, partial=True
            )
        )
        services.learner_qualification_update(
            learner_qualification=learner_qualification, data=data
        )
        return self.answer(learner_qualification, status.HTTP_200_OK)


class BreakListAPI(LearnerQualificationWriteAPIView):
    @extend_schema(
        request=BreakStartSerializer,
        responses={201: BreakInLearningSerializer},
        summary="Record a break in learning on a learner qualification",
        description="Only on a qualification that is not started or in progress and not on a "
        "break; the qualification is then Break in learning.",
    )
    def post(self, request: Request, ident: str, id: int) -> Response:
        learner_qualification = self.learner_qualification()
        data = _validated(BreakStartSerializer(data=request.data))
        brk = services.learner_qualification_break_start(
            learner_qualification=learner_qualification, start_date=data["start_date"]
        )
        return Response(BreakInLearningSerializer(brk).data, status=status.HTTP_201_CREATED)


class BreakAPI(LearnerQualificationWriteAPIView):
    @extend_schema(
        request=BreakReturnSerializer,
        responses=BreakInLearningSerializer,
        summary="Record the return from a break in learning",
        description="Send end_date, the return (required): the day the learner came back to "
        "learning. The qualification is In progress again.",
    )
    def patch(self, request: Request, ident: str, id: int, break_id: int) -> Response:
        brk = get_object_or_404(
            BreakInLearning, pk=break_id, learner_qualification=self.learner_qualification()
        )
        data = _validated(BreakReturnSerializer(brk, data=request.data))
        services.learner_qualification_break_end(brk=brk, end_date=data["end_date"])
        return Response(BreakInLearningSerializer(brk).data)
