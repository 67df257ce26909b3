"""System checks of the export engine's configuration (run by ``manage.py check`` and at start)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks


def modal_credentials() -> tuple[str, str]:
    """The Modal token id and secret the SDK would use (MODAL_TOKEN_* or ~/.modal.toml)."""
    from modal.config import config

    return config.get("token_id") or "", config.get("token_secret") or ""


def check_modal(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """With MODAL_ENABLED: credentials exist, and storage is S3 (the container's only way in)."""
    if not settings.MODAL_ENABLED:
        return []
    from games.storage import is_s3

    messages: list[checks.CheckMessage] = []
    try:
        token_id, token_secret = modal_credentials()
    except Exception as exc:  # noqa: BLE001 - a broken ~/.modal.toml is a missing credential
        token_id, token_secret = "", ""
        detail = f" ({exc})"
    else:
        detail = ""
    if not (token_id and token_secret):
        messages.append(
            checks.Error(
                f"MODAL_ENABLED is true but no Modal credentials were found{detail}.",
                hint="Run `modal token set --token-id ... --token-secret ...` as the worker's "
                "user (writes ~/.modal.toml), or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET. "
                "See docs/modal.md.",
                id="reelforge.E301",
            )
        )
    if not is_s3():
        # With the fallback on, jobs still render (locally), so it is only a warning.
        level, ident = (
            (checks.Warning, "reelforge.W303")
            if settings.MODAL_FALLBACK_LOCAL
            else (checks.Error, "reelforge.E302")
        )
        messages.append(
            level(
                "MODAL_ENABLED is true but storage is local: the Modal container reads sources "
                "and writes outputs through presigned S3 URLs, so every job "
                + ("renders locally." if settings.MODAL_FALLBACK_LOCAL else "would fail."),
                hint="Set S3_BUCKET (and S3_ENDPOINT_URL, keys) or set MODAL_ENABLED=false.",
                id=ident,
            )
        )
    return messages
