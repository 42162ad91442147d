"""Chat notifications through incoming webhooks: Slack, Microsoft Teams and Discord.

Type names, properties and behaviour follow Kestra's ``plugin-notifications``: each task POSTs one JSON
message to ``url`` with the ``options`` of Kestra's ``AbstractHttpOptionsTask`` (timeouts, charset,
extra headers), fails on a status >= 400 ("Failed http request with response code ..."), logs the
payload at DEBUG (masked like every log line) and outputs nothing.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
from pydantic import Field, field_validator

from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.task_api import RunContext, StepError, register
from orchestrator.plugins.core.tasks import Props

_OLD = "io.kestra.plugin.notifications"


class WebhookOptions(Props):
    """Kestra's ``AbstractHttpOptionsTask.RequestOptions`` with its defaults."""

    connectTimeout: timedelta | None = None  # noqa: N815 (Kestra's property names)
    readTimeout: timedelta = timedelta(seconds=10)  # noqa: N815
    readIdleTimeout: timedelta = timedelta(minutes=5)  # noqa: N815
    connectionPoolIdleTimeout: timedelta = timedelta(0)  # noqa: N815
    maxContentLength: int = Field(default=10 * 1024 * 1024, ge=1)  # noqa: N815
    defaultCharset: str = "UTF-8"  # noqa: N815
    headers: dict[str, str] | None = None

    @field_validator(
        "connectTimeout", "readTimeout", "readIdleTimeout", "connectionPoolIdleTimeout", mode="before"
    )
    @classmethod
    def _iso(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


class WebhookProps(Props):
    url: str
    payload: str | None = None
    options: WebhookOptions | None = None


class SlackProps(WebhookProps):
    messageText: str | None = None  # noqa: N815


def post_json(url: str, message: Any, options: WebhookOptions | None, ctx: RunContext, service: str) -> None:
    """POST ``message`` as JSON; a status >= 400 or a failed call is a (retryable) task failure."""
    options = options or WebhookOptions()
    if not url.startswith(("http://", "https://")):
        raise StepError(f"url must be an http:// or https:// URL, got '{url}'")
    connect = options.connectTimeout.total_seconds() if options.connectTimeout else 30.0
    # Kestra's readTimeout bounds the whole read; readIdleTimeout the gaps (httpx has one read timeout).
    read = min(options.readTimeout, options.readIdleTimeout).total_seconds()
    text = message if isinstance(message, str) else json.dumps(message)  # Teams sends its payload as is
    headers = {**(options.headers or {}), "Content-Type": "application/json"}
    ctx.log("DEBUG", f"Send {service} webhook: {text}")
    try:
        limits = httpx.Limits(keepalive_expiry=options.connectionPoolIdleTimeout.total_seconds())
        timeout = httpx.Timeout(read, connect=connect)
        with httpx.Client(timeout=timeout, limits=limits, trust_env=False) as client:
            response = client.post(url, content=text.encode(options.defaultCharset), headers=headers)
    except httpx.HTTPError as exc:
        raise StepError(f"{service} webhook: {type(exc).__name__}: {exc}", permanent=False) from None
    answer = response.text[: options.maxContentLength]
    ctx.log("DEBUG", f"Response: {answer}")
    if response.status_code >= 400:
        raise StepError(
            f"Failed http request with response code '{response.status_code}' and body:\n{answer[:2000]}",
            permanent=False,
        )
    if response.status_code == 200:
        ctx.log("INFO", "Request succeeded")


def _json(text: str | None, what: str) -> Any:
    try:
        return json.loads(text or "")
    except ValueError as exc:
        raise StepError(f"{what} is not valid JSON: {exc}") from None


def slack_mrkdwn(text: str) -> str:
    """Kestra's conversion of Markdown to Slack's mrkdwn: **bold**, __italic__ and [links](url)."""
    text = re.sub(r"\*\*(.*?)\*\*", r"*\1*", text)
    text = re.sub(r"__(.*?)__", r"_\1_", text)
    return re.sub(r"\[(.*?)\]\((.*?)\)", r"<\2|\1>", text)


@register(
    f"{_OLD}.slack.SlackIncomingWebhook",
    props=SlackProps,
)
def run_slack(props: SlackProps, ctx: RunContext) -> dict[str, Any]:
    """``payload`` (a JSON string) wins; else ``messageText``: JSON as it is, or text sent as
    ``{"text": ...}`` after Kestra's Markdown-to-mrkdwn conversion."""
    if props.payload is not None:
        message = _json(props.payload, "payload")
    elif props.messageText is not None:
        try:
            message = json.loads(props.messageText)
        except ValueError:
            message = {"text": slack_mrkdwn(props.messageText)}
    else:
        raise StepError("Either 'messageText' or 'payload' must be provided")
    post_json(props.url, message, props.options, ctx, "Slack")
    return {}


@register(
    f"{_OLD}.teams.TeamsIncomingWebhook",
    props=WebhookProps,
)
def run_teams(props: WebhookProps, ctx: RunContext) -> dict[str, Any]:
    if props.payload is None:
        raise StepError("payload is required")
    post_json(props.url, props.payload, props.options, ctx, "Microsoft Teams")
    return {}


@register(
    f"{_OLD}.discord.DiscordIncomingWebhook",
    props=WebhookProps,
)
def run_discord(props: WebhookProps, ctx: RunContext) -> dict[str, Any]:
    post_json(props.url, _json(props.payload, "payload"), props.options, ctx, "Discord")
    return {}
