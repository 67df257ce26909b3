"""The JSON API: one NinjaAPI with every app's router and one error shape.

Errors are always ``{"error": {"code", "message", "fields"?}}``; an object owned by
another user is a plain 404, so ids of other users' objects reveal nothing.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import django_auth

from config.errors import ApiError


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    error: dict = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


api = NinjaAPI(
    title="Reelforge API",
    version="1.0",
    description="Games, clips, projects, export jobs and notifications. Session auth; "
    "send the CSRF token in X-CSRFToken on writes.",
    auth=django_auth,
    urls_namespace="api",
)


# django-ninja turns a body it cannot parse into HttpError(400) with this message.
NINJA_UNPARSABLE_BODY = "Cannot parse request body"


def _respond(request: HttpRequest, status: int, body: dict) -> HttpResponse:
    return api.create_response(request, body, status=status)


@api.exception_handler(ApiError)
def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _respond(request, exc.status, error_body(exc.code, exc.message, exc.fields))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _respond(request, 404, error_body("not_found", "Not found."))


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _respond(request, 401, error_body("unauthenticated", "Sign in first."))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and str(exc).startswith(NINJA_UNPARSABLE_BODY):
        return _respond(request, 400, error_body("malformed_json", "The body is not valid JSON."))
    code = {400: "bad_request", 403: "forbidden", 405: "method_not_allowed", 429: "too_many"}
    return _respond(
        request, exc.status_code, error_body(code.get(exc.status_code, "error"), str(exc))
    )


def _field_name(loc: list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "payload", "query", "path")]
    return ".".join(parts) or "body"


@api.exception_handler(NinjaValidationError)
def on_invalid_input(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for err in exc.errors:
        fields.setdefault(_field_name(list(err.get("loc", []))), []).append(
            err.get("msg", "Invalid.")
        )
    return _respond(request, 422, error_body("invalid", "Some fields are not valid.", fields))


@api.exception_handler(DjangoValidationError)
def on_model_invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return _respond(request, 422, error_body("invalid", "Some fields are not valid.", fields))


def register_routers() -> None:
    from exports.api import router as exports_router
    from games.api import router as games_router
    from notifications.api import router as notifications_router

    api.add_router("/", games_router)
    api.add_router("/exports", exports_router)
    api.add_router("/notifications", notifications_router)


register_routers()
