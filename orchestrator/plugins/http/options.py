"""Kestra's HTTP client options (``options:`` of the http tasks), as one pydantic model, and the httpx
client they configure.

Property names follow Kestra's ``HttpConfiguration``: ``timeout``, ``proxy``, ``auth``, ``ssl``,
``followRedirects``, ``allowFailed``, ``defaultCharset``, ``logs``. Kestra's deprecated flat forms
(``connectTimeout``, ``readTimeout``, ``basicAuthUser`` ...) still load and mean the same thing, as
they do in Kestra. What Portico cannot honour (a SOCKS proxy without its library, ...) is refused at
load with "not supported yet"; nothing is accepted and ignored.
"""

from __future__ import annotations

import codecs
from datetime import timedelta
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator, model_validator

from orchestrator.flowmodel.durations import parse_duration
from orchestrator.flowmodel.flow_errors import NOT_SUPPORTED
from orchestrator.plugins.core.tasks import Props

# Kestra's defaults: no connect timeout of its own (the OS decides; we cap it), a read-idle timeout of
# five minutes, and a 10 MB response limit for Request (``maxContentLength``).
DEFAULT_CONNECT_TIMEOUT = timedelta(seconds=30)
DEFAULT_READ_IDLE_TIMEOUT = timedelta(minutes=5)
DEFAULT_MAX_CONTENT_LENGTH = 10 * 1024 * 1024
LogKind = Literal["REQUEST_HEADERS", "REQUEST_BODY", "RESPONSE_HEADERS", "RESPONSE_BODY"]


def _duration(value: Any) -> timedelta | None:
    return None if value is None else parse_duration(value)


class TimeoutOptions(Props):
    connectTimeout: timedelta | None = None  # noqa: N815 (Kestra's property names)
    readIdleTimeout: timedelta | None = None  # noqa: N815

    @field_validator("connectTimeout", "readIdleTimeout", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> timedelta | None:
        return _duration(value)


class ProxyOptions(Props):
    type: Literal["DIRECT", "HTTP", "SOCKS"] = "DIRECT"
    address: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = None
    password: str | None = None

    @field_validator("type")
    @classmethod
    def _socks(cls, value: str) -> str:
        if value == "SOCKS":
            raise ValueError(f"a SOCKS proxy is {NOT_SUPPORTED}")
        return value

    @model_validator(mode="after")
    def _address(self) -> ProxyOptions:
        if self.type == "HTTP" and not self.address:
            raise ValueError("an HTTP proxy needs an address")
        return self


class AuthOptions(Props):
    type: Literal["BASIC", "BEARER", "DIGEST"]
    username: str | None = None
    password: str | None = None
    token: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> AuthOptions:
        if self.type == "BEARER" and not self.token:
            raise ValueError("BEARER auth needs a token")
        if self.type != "BEARER" and self.username is None:
            raise ValueError(f"{self.type} auth needs a username")
        return self


class SslOptions(Props):
    insecureTrustAllCertificates: bool = False  # noqa: N815


class HttpOptions(Props):
    timeout: TimeoutOptions | None = None
    proxy: ProxyOptions | None = None
    auth: AuthOptions | None = None
    ssl: SslOptions | None = None
    followRedirects: bool = True  # noqa: N815
    allowFailed: bool = False  # noqa: N815
    defaultCharset: str = "UTF-8"  # noqa: N815
    logs: list[LogKind] | None = None
    # Kestra's response limit for Request (deprecated there, without a replacement; kept meaningful here).
    maxContentLength: int = Field(default=DEFAULT_MAX_CONTENT_LENGTH, ge=1)  # noqa: N815
    # Deprecated flat forms, folded into the structured ones below as Kestra's builder does.
    connectTimeout: timedelta | None = None  # noqa: N815
    readTimeout: timedelta | None = None  # noqa: N815
    readIdleTimeout: timedelta | None = None  # noqa: N815
    connectionPoolIdleTimeout: timedelta | None = None  # noqa: N815
    proxyType: Literal["DIRECT", "HTTP", "SOCKS"] | None = None  # noqa: N815
    proxyAddress: str | None = None  # noqa: N815
    proxyPort: int | None = None  # noqa: N815
    proxyUsername: str | None = None  # noqa: N815
    proxyPassword: str | None = None  # noqa: N815
    basicAuthUser: str | None = None  # noqa: N815
    basicAuthPassword: str | None = None  # noqa: N815
    logLevel: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] | None = None  # noqa: N815

    @field_validator(
        "connectTimeout", "readTimeout", "readIdleTimeout", "connectionPoolIdleTimeout", mode="before"
    )
    @classmethod
    def _iso(cls, value: Any) -> timedelta | None:
        return _duration(value)

    @field_validator("defaultCharset")
    @classmethod
    def _charset(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown charset '{value}'") from None
        return value

    @model_validator(mode="after")
    def _fold_deprecated(self) -> HttpOptions:
        """Kestra maps each deprecated flat option onto its structured replacement; so do we."""
        if self.connectTimeout or self.readTimeout or self.readIdleTimeout:
            timeout = self.timeout or TimeoutOptions()
            self.timeout = TimeoutOptions(
                connectTimeout=self.connectTimeout or timeout.connectTimeout,
                readIdleTimeout=self.readTimeout or self.readIdleTimeout or timeout.readIdleTimeout,
            )
        if self.proxyType or self.proxyAddress:
            self.proxy = ProxyOptions(
                type=self.proxyType or "HTTP",
                address=self.proxyAddress,
                port=self.proxyPort,
                username=self.proxyUsername,
                password=self.proxyPassword,
            )
        if self.basicAuthUser is not None:
            self.auth = AuthOptions(
                type="BASIC", username=self.basicAuthUser, password=self.basicAuthPassword
            )
        if self.logLevel and self.logs is None:
            self.logs = {
                "TRACE": ["REQUEST_HEADERS", "REQUEST_BODY", "RESPONSE_HEADERS", "RESPONSE_BODY"],
                "DEBUG": ["REQUEST_HEADERS", "RESPONSE_HEADERS"],
                "INFO": ["RESPONSE_HEADERS"],
            }.get(self.logLevel, [])
        return self


def client(options: HttpOptions) -> httpx.Client:
    """An httpx client as ``options`` describe it: TLS verified unless the flow says otherwise."""
    timeout = options.timeout or TimeoutOptions()
    connect = (timeout.connectTimeout or DEFAULT_CONNECT_TIMEOUT).total_seconds()
    read = (timeout.readIdleTimeout or DEFAULT_READ_IDLE_TIMEOUT).total_seconds()
    limits = httpx.Limits(
        keepalive_expiry=(
            options.connectionPoolIdleTimeout.total_seconds() if options.connectionPoolIdleTimeout else 5.0
        )
    )
    proxy = None
    if options.proxy is not None and options.proxy.type == "HTTP":
        credentials = ""
        if options.proxy.username:
            credentials = f"{options.proxy.username}:{options.proxy.password or ''}@"
        port = f":{options.proxy.port}" if options.proxy.port else ""
        proxy = f"http://{credentials}{options.proxy.address}{port}"
    return httpx.Client(
        timeout=httpx.Timeout(read, connect=connect),
        limits=limits,
        follow_redirects=options.followRedirects,
        verify=not (options.ssl and options.ssl.insecureTrustAllCertificates),
        auth=_auth(options.auth),
        proxy=proxy,
        trust_env=False,  # the worker's environment (proxies, netrc) is not the flow's configuration
    )


def _auth(auth: AuthOptions | None) -> httpx.Auth | None:
    if auth is None:
        return None
    if auth.type == "BEARER":
        return _Bearer(auth.token or "")
    if auth.type == "DIGEST":
        return httpx.DigestAuth(auth.username or "", auth.password or "")
    return httpx.BasicAuth(auth.username or "", auth.password or "")


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request
