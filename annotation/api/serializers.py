"""Output serialisers shared by several API classes (and the OpenAPI schema). Per-operation input/output
serialisers live beside their view."""

from rest_framework import serializers


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
