"""The REST API: one class per operation, each parsing input, calling one service or selector, serialising."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors
from annotation.api.media import ranged_file_response
from annotation.api.serializers import AssignmentOutput
from annotation.models import Membership
from annotation.selectors_quality import project_quality
from annotation.services.judgements import SubmittedJudgement, judgement_submit
from annotation.services.leases import assignment_claim, assignment_heartbeat, assignment_skip

ANNOTATOR = (Membership.Role.ANNOTATOR,)
MANAGER = (Membership.Role.MANAGER,)


class ProjectListApi(APIView):
    class ProjectOutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        role = serializers.CharField()

    @extend_schema(responses=ProjectOutputSerializer(many=True))
    def get(self, request):
        rows = [
            {"slug": p.slug, "name": p.name, "role": role}
            for p, role in selectors.projects_for_user(user=request.user)
        ]
        return Response(self.ProjectOutputSerializer(rows, many=True).data)


class NextAssignmentApi(APIView):
    @extend_schema(request=None, responses={200: AssignmentOutput, 204: None})
    def post(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=ANNOTATOR)
        assignment_id = assignment_claim(project=project, annotator=request.user)
        if assignment_id is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(selectors.assignment_payload(assignment_id=assignment_id))


class SubmitAssignmentApi(APIView):
    class SubmissionInputSerializer(serializers.Serializer):
        labels = serializers.DictField(child=serializers.CharField(max_length=16), allow_empty=False)
        checklist = serializers.DictField(
            child=serializers.DictField(child=serializers.ListField(child=serializers.CharField(max_length=100), max_length=64)),
            required=False,
            default=dict,
        )
        mos = serializers.DictField(
            child=serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=5)),
            required=False,
            allow_null=True,
            default=None,
        )
        lead_time_ms = serializers.IntegerField(min_value=0, max_value=24 * 3600 * 1000, required=False, allow_null=True)
        idempotency_key = serializers.CharField(max_length=100)

    class SubmissionOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        assignment = serializers.IntegerField()
        created_at = serializers.DateTimeField()
        next = AssignmentOutput(required=False, allow_null=True, help_text="With ?next=1: the next assignment "
                                "(null when nothing is left), saving the annotator a round trip.")

    @extend_schema(request=SubmissionInputSerializer, responses={201: SubmissionOutputSerializer, 200: SubmissionOutputSerializer},
                   parameters=[OpenApiParameter("next", bool, description="also claim and return the next assignment")])
    def post(self, request, assignment_id: int):
        data = self.SubmissionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        stored = judgement_submit(
            assignment_id=assignment_id,
            annotator=request.user,
            submission=SubmittedJudgement(**data.validated_data),
        )
        body = {"id": stored.id, "assignment": stored.assignment_id, "created_at": stored.created_at}
        if request.query_params.get("next") in ("1", "true"):
            project = selectors.project_by_id_for_role(project_id=stored.project_id, user=request.user, roles=ANNOTATOR)
            next_id = assignment_claim(project=project, annotator=request.user)
            body["next"] = None if next_id is None else selectors.assignment_payload(assignment_id=next_id)
        return Response(
            self.SubmissionOutputSerializer(body).data, status=status.HTTP_201_CREATED if stored.created else status.HTTP_200_OK
        )


class LeaseStateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    expires_at = serializers.DateTimeField()


class SkipAssignmentApi(APIView):
    @extend_schema(request=None, responses=LeaseStateOutput)
    def post(self, request, assignment_id: int):
        assignment = assignment_skip(assignment_id=assignment_id, annotator=request.user)
        return Response(LeaseStateOutput(assignment).data)


class HeartbeatAssignmentApi(APIView):
    @extend_schema(request=None, responses=LeaseStateOutput)
    def post(self, request, assignment_id: int):
        assignment = assignment_heartbeat(assignment_id=assignment_id, annotator=request.user)
        return Response(LeaseStateOutput(assignment).data)


class ProjectProgressApi(APIView):
    @extend_schema(responses=dict)
    def get(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        return Response(selectors.project_progress(project=project))


class ProjectQualityApi(APIView):
    @extend_schema(responses=dict)
    def get(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        return Response(project_quality(project=project))


class VideoFileApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "video/mp4"): bytes, (206, "video/mp4"): bytes})
    def get(self, request, video_id: int):
        video = selectors.video_visible_to(video_id=video_id, user=request.user)
        return ranged_file_response(request, video.file.path)

