"""Admin pages: managers and staff inspect and fix data here. Writes that have invariants go through services."""

from django.contrib import admin

from annotation.models import Assignment, Comparison, Judgement, Membership, Project, Prompt, Video


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "overlap", "lease_ttl_seconds", "gold_rate", "asks_overall", "asks_mos"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__slug"]
    autocomplete_fields = ["user", "project"]


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "category", "text"]
    list_filter = ["project", "category"]
    search_fields = ["text"]


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["id", "file", "url", "generator", "fps", "num_frames", "width", "height", "duration"]
    list_filter = ["generator"]
    search_fields = ["file", "url", "sha256", "generator"]
    readonly_fields = ["sha256", "created_at"]


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "prompt", "video_a", "video_b", "is_gold", "judgement_count", "remaining"]
    list_filter = ["project", "is_gold"]
    search_fields = ["prompt__text"]
    raw_id_fields = ["prompt", "video_a", "video_b"]
    # Slot counts are maintained by the lease services; editing them by hand would break the queue.
    readonly_fields = ["remaining", "judgement_count", "created_at"]
    list_select_related = ["project", "prompt", "video_a", "video_b"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "comparison", "annotator", "state", "left_is_a", "expires_at"]
    list_filter = ["project", "state"]
    search_fields = ["annotator__username"]
    raw_id_fields = ["comparison"]
    readonly_fields = ["project", "comparison", "annotator", "left_is_a", "state", "created_at", "updated_at"]
    list_select_related = ["project", "comparison", "annotator"]


@admin.register(Judgement)
class JudgementAdmin(admin.ModelAdmin):
    list_display = ["id", "comparison", "annotator", "source", "vq", "mq", "ta", "overall", "created_at"]
    list_filter = ["comparison__project", "source", "vq", "mq", "ta"]
    search_fields = ["annotator__username", "comparison__prompt__text"]
    raw_id_fields = ["comparison", "assignment"]
    list_select_related = ["comparison", "annotator"]
