"""Domain errors raised by services; the API layer maps them to HTTP status codes."""


class AnnotationError(Exception):
    """Base of the errors a caller can act on; `message` is shown to the user as it is."""

    status_code = 400

    def __init__(self, message: str, *, field_errors: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class InvalidInput(AnnotationError):
    status_code = 400


class NotFound(AnnotationError):
    status_code = 404


class Conflict(AnnotationError):
    status_code = 409
