"""The read API of learners and their Delivery Plans (F26). Writes stay on the pages for now."""

from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from . import selectors

if TYPE_CHECKING:
    from rest_framework.views import AsView, GenericView

from .models import (
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


class LearnerQualificationSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(source="qualification.reference", read_only=True)
    title = serializers.CharField(source="qualification.title", read_only=True)
    pace = serializers.ChoiceField(
        choices=["on track", "behind", "ahead"],
        read_only=True,
        help_text="Progress compared with the time elapsed: within 10 points is on track.",
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
