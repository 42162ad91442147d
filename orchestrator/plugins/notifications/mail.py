"""``io.kestra.plugin.notifications.mail.MailSend``: one email over SMTP, with Kestra's properties.

Transport strategies as in Kestra (Simple Java Mail's names): ``SMTP`` (plain), ``SMTP_TLS`` (STARTTLS,
required), ``SMTPS`` (implicit TLS; Kestra's default). ``SMTP_OAUTH2`` is refused at load: Portico has
no OAuth2 token flow for mail yet. Certificates are verified unless ``verifyServerIdentity: false`` or
the host is listed in ``trustedHosts``. Attachments and embedded images come from internal storage
(``kestra:///`` URIs this execution may read). Several recipients are separated by ``;`` (or ``,``).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, Literal

from pydantic import Field, field_validator

from orchestrator.flowmodel import storage
from orchestrator.flowmodel.flow_errors import NOT_SUPPORTED
from orchestrator.flowmodel.task_api import RunContext, StepError, register
from orchestrator.plugins.core.tasks import Props
from orchestrator.state.models import Execution


class Attachment(Props):
    uri: str
    name: str
    contentType: str = "application/octet-stream"  # noqa: N815 (Kestra's property names)


class MailSendProps(Props):
    host: str
    port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    transportStrategy: Literal["SMTP", "SMTPS", "SMTP_TLS", "SMTP_OAUTH2"] = "SMTPS"  # noqa: N815
    sessionTimeout: int = Field(default=10000, ge=1)  # noqa: N815 (milliseconds, as in Kestra)
    verifyServerIdentity: bool = True  # noqa: N815
    trustedHosts: list[str] | None = None  # noqa: N815
    # ``from`` is a Python keyword: the model reads Kestra's key through an alias.
    sender: str = Field(alias="from")
    to: str | None = None
    cc: str | None = None
    subject: str | None = None
    htmlTextContent: str | None = None  # noqa: N815
    plainTextContent: str | None = None  # noqa: N815
    attachments: list[Attachment] | None = None
    embeddedImages: list[Attachment] | None = None  # noqa: N815

    @field_validator("transportStrategy")
    @classmethod
    def _oauth(cls, value: str) -> str:
        if value == "SMTP_OAUTH2":
            raise ValueError(f"transportStrategy SMTP_OAUTH2 is {NOT_SUPPORTED}")
        return value


def _addresses(text: str | None) -> list[str]:
    return [address for _, address in getaddresses([(text or "").replace(";", ",")]) if address]


def _context(props: MailSendProps) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not props.verifyServerIdentity or props.host in (props.trustedHosts or []):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _message(props: MailSendProps, ctx: RunContext) -> EmailMessage:
    recipients = _addresses(props.to)
    if not recipients:
        raise StepError("to: at least one recipient address is required")
    message = EmailMessage()
    message["From"] = props.sender
    message["To"] = ", ".join(recipients)
    if props.cc:
        message["Cc"] = ", ".join(_addresses(props.cc))
    message["Subject"] = props.subject or ""
    message.set_content(props.plainTextContent or "")
    if props.htmlTextContent is not None:
        message.add_alternative(props.htmlTextContent, subtype="html")
    files = [*(props.attachments or []), *(props.embeddedImages or [])]
    if files:
        execution = Execution.objects.only("id", "namespace", "flow_id", "parent_id", "trigger").get(
            pk=ctx.execution_id
        )
        html = message.get_body(("html",)) if props.htmlTextContent is not None else None
        for item in props.embeddedImages or []:
            maintype, _, subtype = item.contentType.partition("/")
            target = html if html is not None else message
            target.add_related(
                _read(execution, item.uri), maintype=maintype, subtype=subtype or "octet-stream",
                cid=f"<{item.name}>", filename=item.name,
            )
        for item in props.attachments or []:
            maintype, _, subtype = item.contentType.partition("/")
            message.add_attachment(
                _read(execution, item.uri), maintype=maintype, subtype=subtype or "octet-stream",
                filename=item.name,
            )
    return message


def _read(execution: Execution, uri: str) -> bytes:
    try:
        return storage.read(execution, uri.strip())
    except storage.StorageError as exc:
        raise StepError(f"attachment {uri}: {exc}") from None


@register("io.kestra.plugin.notifications.mail.MailSend", props=MailSendProps)
def run_mail_send(props: MailSendProps, ctx: RunContext) -> dict[str, Any]:
    message = _message(props, ctx)
    timeout = props.sessionTimeout / 1000
    ctx.log("DEBUG", f"Sending an email to '{props.to}'")
    try:
        if props.transportStrategy == "SMTPS":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                props.host, props.port, timeout=timeout, context=_context(props)
            )
        else:
            server = smtplib.SMTP(props.host, props.port, timeout=timeout)
        with server:
            if props.transportStrategy == "SMTP_TLS":
                server.starttls(context=_context(props))
            if props.username:
                server.login(props.username, props.password or "")
            server.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise StepError(f"the mail server refused the login: {exc.smtp_code} {exc.smtp_error!r}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise StepError(f"cannot send the email: {type(exc).__name__}: {exc}", permanent=False) from None
    return {}
