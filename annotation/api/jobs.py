"""Imports, exports and their jobs (managers only)."""

from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation import selectors
from annotation.errors import NotFound
from annotation.export.records import ExportFilters
from annotation.models import Job, Membership
from annotation.services.exports import FORMATS, ExportOptions
from annotation.services.jobs import job_create_export, job_create_import

MANAGER = (Membership.Role.MANAGER,)


class JobOutput(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "state", "progress", "params", "result", "error", "created_at", "started_at",
                  "finished_at", "download_url"]

    def get_download_url(self, job: Job) -> str | None:
        if job.kind == Job.Kind.EXPORT and job.state == Job.State.SUCCEEDED and job.output:
            return f"/api/v1/jobs/{job.pk}/download/"
        return None


class ImportCreateApi(APIView):
    parser_classes = [parsers.MultiPartParser]

    class ImportInputSerializer(serializers.Serializer):
        manifest = serializers.FileField()
        videos = serializers.ListField(child=serializers.FileField(), required=False, default=list)
        skip_invalid = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=ImportInputSerializer, responses={202: JobOutput})
    def post(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        data = self.ImportInputSerializer(data={
            "manifest": request.data.get("manifest"),
            "videos": request.FILES.getlist("videos"),
            "skip_invalid": request.data.get("skip_invalid", False),
        })
        data.is_valid(raise_exception=True)
        job = job_create_import(project=project, user=request.user, **data.validated_data)
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class ExportCreateApi(APIView):
    class ExportInputSerializer(serializers.Serializer):
        format = serializers.ChoiceField(choices=FORMATS, default="videoalign")
        name = serializers.RegexField(r"^[A-Za-z0-9_.-]{1,80}$", required=False, default="dataset")
        split = serializers.BooleanField(default=False)
        seed = serializers.IntegerField(default=0)
        split_vote = serializers.ChoiceField(choices=["same", ""], default="same")
        since = serializers.DateTimeField(required=False, allow_null=True, default=None)
        until = serializers.DateTimeField(required=False, allow_null=True, default=None)
        annotators = serializers.ListField(child=serializers.CharField(), required=False, default=list)
        sources = serializers.ListField(child=serializers.CharField(), required=False, default=list)
        min_agreement = serializers.FloatField(min_value=0, max_value=1, default=0.0)
        exclude_below_gold_accuracy = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True,
                                                             default=None)
        exclude_spammers = serializers.BooleanField(default=False)

    @extend_schema(request=ExportInputSerializer, responses={202: JobOutput})
    def post(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        data = self.ExportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        annotator_ids = selectors.annotator_ids(project=project, usernames=d["annotators"])
        options = ExportOptions(
            fmt=d["format"], split=d["split"], seed=d["seed"], split_vote=d["split_vote"], paths="media-root",
            filters=ExportFilters(since=d["since"], until=d["until"], annotators=annotator_ids,
                                  sources=tuple(d["sources"]), min_agreement=d["min_agreement"]),
            exclude_below_gold_accuracy=d["exclude_below_gold_accuracy"], exclude_spammers=d["exclude_spammers"],
        )
        job = job_create_export(project=project, user=request.user, options=options, name=d["name"])
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class ProjectJobsApi(APIView):
    @extend_schema(responses=JobOutput(many=True))
    def get(self, request, slug: str):
        project = selectors.project_for_role(slug=slug, user=request.user, roles=MANAGER)
        return Response(JobOutput(Job.objects.filter(project=project)[:50], many=True).data)


def _job_for_manager(request, job_id: int) -> Job:
    return selectors.managed_object(queryset=Job.objects.all(), pk=job_id, user=request.user, what="job")


class JobDetailApi(APIView):
    @extend_schema(responses=JobOutput)
    def get(self, request, job_id: int):
        return Response(JobOutput(_job_for_manager(request, job_id)).data)


class JobDownloadApi(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request, job_id: int):
        job = _job_for_manager(request, job_id)
        if job.kind != Job.Kind.EXPORT or job.state != Job.State.SUCCEEDED or not job.output:
            raise NotFound("This job has no file to download (yet).")
        return FileResponse(open(job.output, "rb"), as_attachment=True)  # noqa: SIM115  (closed by Django)
