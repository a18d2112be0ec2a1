"""One error shape for the whole API: {"detail": message, "errors": {field: [messages]}}."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import AnnotationError


def exception_handler(exc, context):
    if isinstance(exc, AnnotationError):
        body = {"detail": exc.message}
        if exc.field_errors:
            body["errors"] = exc.field_errors
        return Response(body, status=exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        body = {"detail": "The request is not valid.", "errors": detail if isinstance(detail, dict) else {"non_field_errors": detail}}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)
