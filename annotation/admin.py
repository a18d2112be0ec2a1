"""Admin pages: staff see everything; a project manager sees and fixes the data of the projects they manage.

Slot counters and lease states are read-only here: they are maintained by the lease services, and editing
them by hand would break the queue's invariants.
"""

from django.contrib import admin

from annotation.models import Assignment, Comparison, Job, Judgement, Membership, Project, Prompt, Video
from annotation.selectors import managed_project_ids


class ProjectScopedAdmin(admin.ModelAdmin):
    """For non-staff managers: only rows of their projects, view and change, never add or delete."""

    project_path = "project"

    def _is_staff(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self._is_staff(request):
            return queryset
        ids = managed_project_ids(user=request.user)
        return queryset.filter(**{f"{self.project_path}__in": ids}).distinct()

    def has_module_permission(self, request) -> bool:
        return self._is_staff(request) or bool(managed_project_ids(user=request.user))

    def has_view_permission(self, request, obj=None) -> bool:
        if self._is_staff(request):
            return super().has_view_permission(request, obj) or request.user.is_staff
        return self.has_module_permission(request) and (obj is None or self._manages(request, obj))

    def has_change_permission(self, request, obj=None) -> bool:
        if self._is_staff(request):
            return super().has_change_permission(request, obj) or request.user.is_staff
        return self.has_view_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        return self._is_staff(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._is_staff(request) and request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not self._is_staff(request):
            # Re-pointing a row at another project or person would move it out of the manager's reach.
            relations = {f.name for f in self.model._meta.get_fields() if f.is_relation and f.concrete}
            fields += sorted(relations - set(fields))
        return fields

    def _manages(self, request, obj) -> bool:
        return self.get_queryset(request).filter(pk=obj.pk).exists()


@admin.register(Project)
class ProjectAdmin(ProjectScopedAdmin):
    project_path = "pk"
    list_display = ["slug", "name", "overlap", "lease_ttl_seconds", "gold_rate", "asks_overall", "asks_mos"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Membership)
class MembershipAdmin(ProjectScopedAdmin):
    list_display = ["user", "project", "role"]
    list_filter = ["role"]
    search_fields = ["user__username", "project__slug"]
    raw_id_fields = ["user", "project"]

    def has_change_permission(self, request, obj=None) -> bool:
        # Roles grant access; only staff hand them out.
        return self._is_staff(request)


@admin.register(Prompt)
class PromptAdmin(ProjectScopedAdmin):
    list_display = ["id", "project", "category", "text"]
    list_filter = ["category"]
    search_fields = ["text"]
    raw_id_fields = ["project"]


@admin.register(Video)
class VideoAdmin(ProjectScopedAdmin):
    list_display = ["id", "file", "url", "generator", "fps", "num_frames", "width", "height", "duration"]
    list_filter = ["generator"]
    search_fields = ["file", "url", "sha256", "generator"]
    readonly_fields = ["sha256", "created_at"]

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if self._is_staff(request):
            return queryset
        ids = managed_project_ids(user=request.user)
        used = Comparison.objects.filter(project_id__in=ids)
        return queryset.filter(pk__in=used.values("video_a")) | queryset.filter(pk__in=used.values("video_b"))


@admin.register(Comparison)
class ComparisonAdmin(ProjectScopedAdmin):
    list_display = ["id", "project", "prompt", "video_a", "video_b", "is_gold", "judgement_count", "remaining"]
    list_filter = ["is_gold"]
    search_fields = ["prompt__text"]
    raw_id_fields = ["project", "prompt", "video_a", "video_b"]
    readonly_fields = ["remaining", "judgement_count", "created_at"]
    list_select_related = ["project", "prompt"]


@admin.register(Assignment)
class AssignmentAdmin(ProjectScopedAdmin):
    list_display = ["id", "project", "comparison", "annotator", "state", "left_is_a", "expires_at"]
    list_filter = ["state"]
    search_fields = ["annotator__username"]
    readonly_fields = ["project", "comparison", "annotator", "left_is_a", "state", "created_at", "updated_at"]
    list_select_related = ["project", "annotator"]


@admin.register(Judgement)
class JudgementAdmin(ProjectScopedAdmin):
    project_path = "comparison__project"
    list_display = ["id", "comparison", "annotator", "source", "vq", "mq", "ta", "overall", "created_at"]
    list_filter = ["source", "vq", "mq", "ta"]
    search_fields = ["annotator__username", "comparison__prompt__text"]
    raw_id_fields = ["comparison", "assignment", "annotator"]
    list_select_related = ["comparison", "annotator"]


@admin.register(Job)
class JobAdmin(ProjectScopedAdmin):
    list_display = ["id", "project", "kind", "state", "progress", "created_by", "created_at", "finished_at"]
    list_filter = ["kind", "state"]
    readonly_fields = ["project", "kind", "state", "created_by", "params", "progress", "result", "error", "output",
                       "created_at", "started_at", "finished_at"]
