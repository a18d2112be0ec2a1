"""The admin site: staff see everything; project managers may sign in and see their own projects' data."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class VidprefAdminSite(admin.AdminSite):
    site_header = "vidpref administration"
    site_title = "vidpref"

    def has_permission(self, request) -> bool:
        user = request.user
        if not user.is_active:
            return False
        if user.is_staff:
            return True
        from annotation.selectors import managed_project_ids

        return bool(managed_project_ids(user=user))


class VidprefAdminConfig(AdminConfig):
    default_site = "config.admin.VidprefAdminSite"
