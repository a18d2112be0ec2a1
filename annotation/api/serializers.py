"""Serialisers shared by several API classes. Per-operation input/output serialisers live beside their view."""

from django.urls import reverse
from rest_framework import serializers

from annotation.models import Assignment, Video


def video_payload(video: Video) -> dict:
    """What an annotator may know of a video: where to fetch it and its timing. Never the generator."""
    url = reverse("api:video-file", kwargs={"video_id": video.pk}) if video.file else video.url
    return {
        "url": url,
        "fps": video.fps,
        "num_frames": video.num_frames,
        "width": video.width,
        "height": video.height,
        "duration": video.duration,
    }


def assignment_payload(assignment: Assignment) -> dict:
    comparison = assignment.comparison
    project = assignment.project
    left, right = (
        (comparison.video_a, comparison.video_b) if assignment.left_is_a else (comparison.video_b, comparison.video_a)
    )
    return {
        "id": assignment.pk,
        "project": project.slug,
        "prompt": {"text": comparison.prompt.text},
        "left": video_payload(left),
        "right": video_payload(right),
        "dimensions": project.dimensions,
        "checklist": project.checklist,
        "asks_mos": project.asks_mos,
        "expires_at": assignment.expires_at,
    }


class VideoOutput(serializers.Serializer):
    url = serializers.CharField()
    fps = serializers.FloatField()
    num_frames = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    duration = serializers.FloatField()


class ChecklistItemOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    help = serializers.CharField()


class PromptOutput(serializers.Serializer):
    text = serializers.CharField()


class AssignmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField()
    prompt = PromptOutput()
    left = VideoOutput()
    right = VideoOutput()
    dimensions = serializers.ListField(child=serializers.CharField())
    checklist = serializers.DictField(child=ChecklistItemOutput(many=True))
    asks_mos = serializers.BooleanField()
    expires_at = serializers.DateTimeField()
