"""The Modal system check: credentials and S3 storage when MODAL_ENABLED is on."""

from __future__ import annotations

import pytest

from exports.checks import check_modal


@pytest.fixture
def no_credentials(monkeypatch):
    monkeypatch.delenv("MODAL_TOKEN_ID", raising=False)
    monkeypatch.delenv("MODAL_TOKEN_SECRET", raising=False)
    monkeypatch.setattr("modal.config._user_config", {})  # no ~/.modal.toml either


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def test_nothing_is_checked_while_modal_is_off(settings, no_credentials):
    settings.MODAL_ENABLED = False
    assert check_modal() == []


def test_missing_credentials_and_local_storage_are_errors(settings, no_credentials):
    settings.MODAL_ENABLED = True
    settings.MODAL_FALLBACK_LOCAL = False

    messages = check_modal()

    assert ids(messages) == ["reelforge.E301", "reelforge.E302"]
    assert "modal token set" in messages[0].hint


def test_local_storage_with_the_fallback_is_only_a_warning(settings, no_credentials):
    settings.MODAL_ENABLED = True
    settings.MODAL_FALLBACK_LOCAL = True

    assert ids(check_modal()) == ["reelforge.E301", "reelforge.W303"]


def test_credentials_from_the_environment_and_s3_pass(settings, monkeypatch, s3):
    settings.MODAL_ENABLED = True
    monkeypatch.setenv("MODAL_TOKEN_ID", "ak-test")
    monkeypatch.setenv("MODAL_TOKEN_SECRET", "as-test")

    assert check_modal() == []


def test_credentials_from_modal_toml_pass(settings, monkeypatch, no_credentials, s3):
    settings.MODAL_ENABLED = True
    monkeypatch.setattr(
        "modal.config._user_config",
        {"default": {"token_id": "ak-toml", "token_secret": "as-toml", "active": True}},
    )
    monkeypatch.setattr("modal.config._profile", "default")

    assert check_modal() == []


def test_the_check_runs_with_the_projects_checks(settings, no_credentials):
    from django.core.checks import run_checks

    settings.MODAL_ENABLED = True

    assert "reelforge.E301" in ids(run_checks())
