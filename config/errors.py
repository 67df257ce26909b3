"""The one error type services raise for a caller to act on (mapped to JSON by config.api)."""

from __future__ import annotations


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a sentence for the user."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


def not_found() -> ApiError:
    return ApiError(404, "not_found", "Not found.")
