"""Kestra's HTTP tasks on httpx: ``io.kestra.plugin.core.http.Request`` and ``.Download``.

Property and output names follow Kestra's ``AbstractHttp``, ``Request`` and ``Download``. Two places
where Portico adds to Kestra:

* A response body larger than ``settings.PORTICO_HTTP_INLINE_BODY_BYTES`` is not put into the task
  run's row (outputs live in the database): it goes to internal storage, ``body`` is None and
  ``bodyUri`` names the file, with a WARN line saying so. Kestra keeps up to ``maxContentLength``
  (10 MB) inline; a row that size slows every page that lists the execution.
* A failure of the call itself (refused connection, timeout, TLS error, a status >= 400 without
  ``allowFailed``) may be retried by the task's ``retry``, as in Kestra; a mistake in the flow (a URI
  that is not http(s), a file that cannot be read) is permanent.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import httpx
from django.conf import settings
from pydantic import field_validator

from orchestrator.flowmodel import storage
from orchestrator.flowmodel.flow_errors import NOT_SUPPORTED
from orchestrator.flowmodel.task_api import RunContext, StepError, register
from orchestrator.plugins.core.tasks import Props
from orchestrator.plugins.http.options import HttpOptions, SslOptions, client
from orchestrator.state.models import TaskRun

Log = Callable[[str, str], None]  # (level, message): a task's log, or the scheduler's for a trigger
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]
_CHUNK = 64 * 1024
_FILENAME = re.compile(r"""filename\*?=(?:[\w-]+'[\w-]*')?"?([^";]+)"?""", re.IGNORECASE)


class HttpProps(Props):
    """Kestra's ``AbstractHttp``: what both tasks send."""

    uri: str
    method: Method = "GET"
    body: str | None = None
    formData: dict[str, Any] | None = None  # noqa: N815 (Kestra's property names)
    contentType: str = "application/json"  # noqa: N815
    headers: dict[str, str] | None = None
    options: HttpOptions = HttpOptions()
    # Deprecated in Kestra in favour of options.allowFailed / options.ssl; they mean the same.
    allowFailed: bool | None = None  # noqa: N815
    sslOptions: SslOptions | None = None  # noqa: N815

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("headers", mode="before")
    @classmethod
    def _header_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): "" if v is None else str(v) for k, v in value.items()}
        return value

    def effective_options(self) -> HttpOptions:
        updates: dict[str, Any] = {}
        if self.allowFailed is not None:
            updates["allowFailed"] = self.allowFailed
        if self.sslOptions is not None:
            updates["ssl"] = self.sslOptions
        return self.options.model_copy(update=updates) if updates else self.options


class RequestProps(HttpProps):
    encryptBody: bool = False  # noqa: N815

    @field_validator("encryptBody")
    @classmethod
    def _encrypt(cls, value: bool) -> bool:
        if value:
            raise ValueError(f"encryptBody is {NOT_SUPPORTED}")
        return value


class DownloadProps(HttpProps):
    failOnEmptyResponse: bool = True  # noqa: N815


def _target(uri: str) -> str:
    """The URI to call: http(s) only (a ``file:`` or ``kestra:`` URI is a flow mistake), spaces encoded
    as Kestra does."""
    text = uri.strip().replace(" ", "%20")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StepError(f"uri must be an http:// or https:// URL, got '{uri}'")
    return text


def _request(props: HttpProps, taskrun: TaskRun | None, stack: ExitStack) -> dict[str, Any]:
    """httpx keyword arguments for the body: form data (multipart when asked), a raw body, or none."""
    headers = dict(props.headers or {})
    kwargs: dict[str, Any] = {}
    if props.formData:
        if props.contentType.split(";")[0].strip().lower() == "multipart/form-data":
            data, files = _multipart(props.formData, taskrun, stack)
            kwargs.update(data=data, files=files or None)
        else:
            kwargs["data"] = {k: _form_text(v) for k, v in props.formData.items()}
    elif props.body is not None:
        charset = props.effective_options().defaultCharset
        kwargs["content"] = props.body.encode(charset)
        headers.setdefault("Content-Type", props.contentType)
    elif props.contentType:
        headers.setdefault("Content-Type", props.contentType)
    kwargs["headers"] = headers
    return kwargs


def _form_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _multipart(
    form: dict[str, Any], taskrun: TaskRun | None, stack: ExitStack
) -> tuple[dict[str, str], dict[str, Any]]:
    """Kestra's multipart rules: a ``kestra:///`` string is a file from internal storage, a
    ``{name, content}`` map a file with that name, anything else a JSON-encoded field."""
    data: dict[str, str] = {}
    files: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, str) and storage.is_uri(value.strip()):
            uri = value.strip()
            files[key] = (PurePosixPath(storage.path_of(uri)).name, _stored(taskrun, uri, stack))
        elif isinstance(value, dict) and {"name", "content"} <= set(value):
            files[key] = (str(value["name"]), _stored(taskrun, str(value["content"]).strip(), stack))
        else:
            data[key] = _form_text(value)
    return data, files


def _stored(taskrun: TaskRun | None, uri: str, stack: ExitStack) -> Any:
    if taskrun is None:  # a trigger's request: no execution whose files it could send
        raise StepError(f"formData file {uri}: internal storage files need an execution", permanent=True)
    try:
        storage.check_readable(taskrun.execution, uri)
        return stack.enter_context(storage.local_path(uri).open("rb"))
    except (storage.StorageError, OSError) as exc:
        raise StepError(f"formData file {uri}: {exc}") from None


def response_headers(response: httpx.Response) -> dict[str, list[str]]:
    """Response headers as Kestra outputs them: each name (lower case) to the list of its values."""
    found: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        found.setdefault(name.lower(), []).append(value)
    return found


def _log_exchange(log: Log, props: HttpProps, request: httpx.Request, response: httpx.Response) -> None:
    logs = set(props.effective_options().logs or [])
    if "REQUEST_HEADERS" in logs:
        log("INFO", f"request headers: {dict(request.headers)}")
    if "REQUEST_BODY" in logs and props.body is not None:
        log("INFO", f"request body: {props.body}")
    if "RESPONSE_HEADERS" in logs:
        log("INFO", f"response headers: {dict(response.headers)}")


def _fail_on_status(props: HttpProps, response: httpx.Response, body: str | None) -> None:
    if response.status_code >= 400 and not props.effective_options().allowFailed:
        message = f"Failed http request with response code '{response.status_code}'"
        if body:
            message += f" and body:\n{body[:2000]}"
        raise StepError(message, permanent=False)


def send(
    props: HttpProps, handle: Callable[[httpx.Response], Any], *, log: Log, taskrun: TaskRun | None
) -> Any:
    """Send the request and hand the streamed response to ``handle``; call failures become retryable
    ``StepError``s with the cause in plain words. ``taskrun`` is None for a trigger's request."""
    url = _target(props.uri)
    with ExitStack() as stack:
        kwargs = _request(props, taskrun, stack)
        try:
            http = stack.enter_context(client(props.effective_options()))
            response = stack.enter_context(http.stream(props.method, url, **kwargs))
            _log_exchange(log, props, response.request, response)
            return handle(response)
        except httpx.TimeoutException as exc:
            message = f"{props.method} {url}: timed out ({type(exc).__name__})"
            raise StepError(message, permanent=False) from None
        except httpx.ConnectError as exc:
            raise StepError(f"{props.method} {url}: cannot connect: {exc}", permanent=False) from None
        except httpx.TooManyRedirects:
            raise StepError(f"{props.method} {url}: too many redirects", permanent=False) from None
        except httpx.HTTPError as exc:
            raise StepError(f"{props.method} {url}: {type(exc).__name__}: {exc}", permanent=False) from None


def _call(props: HttpProps, ctx: RunContext, handle: Any) -> Any:
    taskrun = TaskRun.objects.select_related("execution").get(pk=ctx.taskrun_id)
    return send(props, lambda response: handle(response, taskrun), log=ctx.log, taskrun=taskrun)


def read_text(props: HttpProps, response: httpx.Response) -> tuple[bytes, str | None]:
    """The whole body (at most ``maxContentLength`` bytes) and its text in the response's charset."""
    limit = props.effective_options().maxContentLength
    raw = bytearray()
    for chunk in response.iter_bytes(_CHUNK):
        raw.extend(chunk)
        if len(raw) > limit:
            raise StepError(
                f"the response is larger than maxContentLength ({limit} bytes): use "
                "io.kestra.plugin.core.http.Download for large payloads"
            )
    charset = response.charset_encoding or props.effective_options().defaultCharset
    return bytes(raw), bytes(raw).decode(charset, errors="replace") if raw else None


def _inline_limit() -> int:
    return int(settings.PORTICO_HTTP_INLINE_BODY_BYTES)


@register(
    "io.kestra.plugin.core.http.Request",
    aliases=("io.kestra.plugin.fs.http.Request", "io.kestra.core.tasks.http.Request"),
    props=RequestProps,
)
def run_request(props: RequestProps, ctx: RunContext) -> dict[str, Any]:
    """Outputs ``uri``, ``code``, ``headers`` and ``body`` (text), as Kestra's Request."""

    def handle(response: httpx.Response, taskrun: TaskRun) -> dict[str, Any]:
        raw, body = read_text(props, response)
        _fail_on_status(props, response, body)
        if "RESPONSE_BODY" in set(props.effective_options().logs or []):
            ctx.log("INFO", f"response body: {body}")
        outputs: dict[str, Any] = {
            # Kestra's ``uri`` is the request it sent, not where redirects led.
            "uri": str((response.history[0] if response.history else response).request.url),
            "code": response.status_code,
            "headers": response_headers(response),
            "body": body,
        }
        if len(raw) > _inline_limit():
            name = _file_name(response, "body")
            outputs["bodyUri"] = storage.put(storage.taskrun_prefix(taskrun), name, raw)
            outputs["body"] = None
            ctx.log("WARN", f"the {len(raw)}-byte body is stored as {outputs['bodyUri']} (outputs.bodyUri)")
        return outputs

    return _call(props, ctx, handle)


@register(
    "io.kestra.plugin.core.http.Download",
    aliases=("io.kestra.plugin.fs.http.Download", "io.kestra.core.tasks.http.Download"),
    props=DownloadProps,
)
def run_download(props: DownloadProps, ctx: RunContext) -> dict[str, Any]:
    """Streams the response into internal storage; outputs ``uri`` (kestra:///), ``code``, ``length``
    and ``headers``, as Kestra's Download."""

    def handle(response: httpx.Response, taskrun: TaskRun) -> dict[str, Any]:
        _fail_on_status(props, response, None)
        with tempfile.TemporaryDirectory(prefix="portico-download-") as folder:
            target = Path(folder) / "body"
            size = 0
            with target.open("wb") as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                    size += len(chunk)
            declared = response.headers.get("Content-Length")
            if declared is not None and "Content-Encoding" not in response.headers and int(declared) != size:
                raise StepError(f"Invalid size, got {size}, expected {declared}", permanent=False)
            if size == 0:
                if props.failOnEmptyResponse and not props.effective_options().allowFailed:
                    raise StepError("No response from server", permanent=False)
                ctx.log("WARN", f"File '{props.uri}' is empty")
            uri = storage.put_file(storage.taskrun_prefix(taskrun), _file_name(response, "download"), target)
        headers = response_headers(response)
        return {"uri": uri, "code": response.status_code, "length": size, "headers": headers}

    return _call(props, ctx, handle)


def _file_name(response: httpx.Response, fallback: str) -> str:
    """The name from ``Content-Disposition`` (its last path segment only), else the URL's last segment,
    else ``fallback``; percent-encoded, as Kestra stores it, so it is always one safe path segment."""
    name = ""
    disposition = response.headers.get("Content-Disposition", "")
    for match in _FILENAME.finditer(disposition):
        name = unquote(match.group(1))
    if not name:
        name = PurePosixPath(unquote(response.request.url.path)).name
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", ".."):
        name = fallback
    return quote(name, safe=".-_")[:200]
