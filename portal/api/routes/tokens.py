"""The caller (``/me``) and their personal API tokens: create (from a session only), list, revoke."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest
from ninja import Router, Status

from portal.accounts.roles import is_approver, is_requester

from .. import present, tokens
from ..auth import SessionCookie, caller
from ..errors import ERRORS, ApiError, ErrorOut
from ..models import ApiToken
from ..paging import PageQuery, paginate
from ..schemas import MeOut, Page, RowId, TokenCreatedOut, TokenIn, TokenOut

router = Router(tags=["tokens"])


@router.get("/me", response={200: MeOut, ERRORS: ErrorOut})
def me(request: HttpRequest):
    who = caller(request)
    return {
        "username": who.user.get_username(),
        "requester": is_requester(who.user),
        "approver": is_approver(who.user),
        "token": present.token(who.token) if who.token is not None else None,
    }


@router.get("/tokens", response={200: Page[TokenOut], ERRORS: ErrorOut})
def list_tokens(request: HttpRequest, paging: PageQuery):
    return paginate(ApiToken.objects.filter(user=caller(request).user), paging, present.token)


@router.post("/tokens", auth=[SessionCookie()], response={201: TokenCreatedOut, ERRORS: ErrorOut})
def create_token(request: HttpRequest, payload: TokenIn):
    """A new token, shown once. Only a logged-in session creates one: a token cannot mint another."""
    issued = tokens.do_create_token(
        caller(request).user,
        name=payload.name,
        namespaces=payload.namespaces,
        verbs=payload.verbs,
        lifetime=timedelta(days=payload.expires_in_days),
    )
    return Status(201, {**present.token(issued.token), "token": issued.plain})


@router.delete("/tokens/{token_id}", response={200: TokenOut, ERRORS: ErrorOut})
def revoke_token(request: HttpRequest, token_id: RowId):
    """Revoke one of one's tokens; a token may revoke only itself (a leaked one cannot revoke the rest)."""
    who = caller(request)
    if who.token is not None and who.token.pk != token_id:
        raise ApiError(403, "a token may revoke only itself: use the session for the others")
    return present.token(tokens.do_revoke_token(token_id, acting_user=who.user))
