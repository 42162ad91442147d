"""Kestra's HTTP polling trigger, ``io.kestra.plugin.core.http.Trigger``.

Every ``interval`` (default PT60S) the scheduler (``orchestrator.scheduler.polling``) calls ``evaluate``:
it sends the request as Kestra's Request task would, with ``allowFailed`` forced on (the status is for
``responseCondition`` to judge, default ``{{ response.statusCode < 400 }}``), and when the condition
holds the flow starts with Request's outputs as ``trigger.*`` (``uri``, ``code``, ``headers``,
``body``). The request itself is the http tasks' (``orchestrator.plugins.http.tasks.send``): the same
client, TLS verification, limits and options.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import Field, field_validator

from orchestrator.flowmodel import templating
from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.flow_errors import NOT_SUPPORTED
from orchestrator.flowmodel.task_api import register
from orchestrator.plugins.core.tasks import Props
from orchestrator.plugins.core.trigger_types import STATES
from orchestrator.plugins.http.options import HttpOptions, SslOptions
from orchestrator.plugins.http.tasks import Method, RequestProps, read_text, response_headers, send

DEFAULT_CONDITION = "{{ response.statusCode < 400 }}"


class PollContext(Protocol):
    """What the scheduler gives a polling trigger's evaluation."""

    template_context: dict[str, Any]

    def log(self, level: str, message: str) -> None: ...


class HttpTriggerProps(Props):
    """Kestra's ``Trigger`` properties: Request's, plus the condition and the polling schedule."""

    # Rendered by ``evaluate`` with the response, not beforehand with the rest.
    rendered_late: ClassVar[frozenset[str]] = frozenset({"responseCondition"})

    uri: str
    method: Method = "GET"
    body: str | None = None
    formData: dict[str, Any] | None = None  # noqa: N815 (Kestra's property names)
    contentType: str | None = None  # noqa: N815
    headers: dict[str, Any] | None = None
    options: HttpOptions = HttpOptions()
    sslOptions: SslOptions | None = None  # noqa: N815
    encryptBody: bool = False  # noqa: N815
    responseCondition: str = DEFAULT_CONDITION  # noqa: N815
    interval: timedelta = Field(default=timedelta(seconds=60))
    stopAfter: list[STATES] | None = None  # noqa: N815

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        interval = parse_duration(value)
        if interval <= timedelta(0):
            raise ValueError("interval must be a positive duration")
        return interval

    @field_validator("encryptBody")
    @classmethod
    def _encrypt(cls, value: bool) -> bool:
        if value:
            raise ValueError(f"encryptBody is {NOT_SUPPORTED}")
        return value

    def request(self) -> RequestProps:
        """The Request this trigger sends; failed statuses are allowed, as Kestra's trigger does."""
        given = self.model_dump(
            include={"uri", "method", "body", "formData", "contentType", "headers", "sslOptions"},
            exclude_none=True,
        )
        return RequestProps.model_validate({**given, "options": self.options, "allowFailed": True})


@register(
    "io.kestra.plugin.core.http.Trigger",
    aliases=("io.kestra.plugin.fs.http.Trigger",),
    props=HttpTriggerProps,
    kind="trigger",
)
def evaluate(props: HttpTriggerProps, ctx: PollContext) -> dict[str, Any]:
    """Call the endpoint; the execution's trigger variables when ``responseCondition`` holds, else {}.

    A failed call raises ``StepError`` (the scheduler logs it and polls again next interval).
    """
    request = props.request()

    def handle(response: httpx.Response) -> dict[str, Any]:
        _, body = read_text(request, response)
        return {
            "uri": str((response.history[0] if response.history else response).request.url),
            "code": response.status_code,
            "headers": response_headers(response),
            "body": body,
        }

    output = send(request, handle, log=ctx.log, taskrun=None)
    ctx.log("DEBUG", f"{output['uri']} responded with status code '{output['code']}'")
    response = {"statusCode": output["code"], "body": output["body"], "headers": output["headers"]}
    context = {**ctx.template_context, "response": response}
    if not templating.is_truthy(templating.render(props.responseCondition, context)):
        return {}
    return output
