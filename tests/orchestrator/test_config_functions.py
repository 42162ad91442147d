"""secret() and setting() in templates: deployment configuration a flow names but never contains."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from orchestrator.flowmodel import masking, templating


def test_it_reads_an_allowed_secret_setting_and_masks_it(settings: Any) -> None:
    settings.HCLOUD_TOKEN = "tok-1234567890"

    value = templating.render_string("{{ secret('HCLOUD_TOKEN') }}", {})

    assert value == "tok-1234567890"
    assert masking.mask("token is tok-1234567890") == f"token is {masking.MASK}"


def test_it_reads_a_kestra_style_base64_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_WEBHOOK_KEY", base64.b64encode(b"hook-key-42").decode())

    assert templating.render_string("{{ secret('WEBHOOK_KEY') }}", {}) == "hook-key-42"


def test_it_refuses_secrets_and_settings_that_are_not_configured(settings: Any) -> None:
    settings.HCLOUD_TOKEN = ""

    with pytest.raises(templating.TemplateError, match="secret 'HCLOUD_TOKEN' is not configured"):
        templating.render_string("{{ secret('HCLOUD_TOKEN') }}", {})
    with pytest.raises(templating.TemplateError, match="setting 'SECRET_KEY' is not readable from flows"):
        templating.render_string("{{ setting('SECRET_KEY') }}", {})
    with pytest.raises(templating.TemplateError, match="secret 'SECRET_KEY' is not configured"):
        templating.render_string("{{ secret('SECRET_KEY') }}", {})


def test_it_exposes_the_hetzner_terraform_module_choice(settings: Any) -> None:
    settings.HCLOUD_TERRAFORM_MODULE = "hcloud-server"

    assert templating.render_string("{{ setting('HCLOUD_TERRAFORM_MODULE') }}", {}) == "hcloud-server"
