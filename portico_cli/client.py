"""A thin httpx client for ``/api/v1/``: every error body (``{"error": {...}}``) becomes one ``ApiError``
whose text is a single line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from .config import Config

MAX_PAGES = 100


class ApiError(Exception):
    """The server refused (its message and wrong fields), or could not be reached."""


def _message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        text = str(error["message"])
        if fields := error.get("fields"):
            text += " (" + "; ".join(f"{k}: {v}" for k, v in fields.items()) + ")"
    except (ValueError, KeyError, TypeError):
        text = response.reason_phrase or "error"
    return f"{response.status_code}: {' '.join(text.split())}"


class Client:
    def __init__(self, config: Config, *, timeout: float = 60.0) -> None:
        self._http = httpx.Client(
            base_url=f"{config.url}/api/v1",
            headers={"Authorization": f"Bearer {config.token}", "Accept": "application/json"},
            timeout=timeout,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the server: {exc}") from None
        if response.status_code >= 400:
            raise ApiError(_message(response))
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.call("POST", path, json=body or {})

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, page after page."""
        page: int | None = 1
        for _ in range(MAX_PAGES):
            if page is None:
                return
            answer = self.get(path, page=page, per_page=100, **params)
            yield from answer["items"]
            page = answer["next_page"]
