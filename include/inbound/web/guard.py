"""What the plugin's app refuses before any route sees a request, and how it says so.

- a request body larger than `INBOUND_MAX_REQUEST_BYTES` (default 1 MiB) is answered 413
  unread: by its `Content-Length`, or once a streamed (chunked) body passes the limit. A
  route that parses JSON (a segment rule) would otherwise hold the whole body as Python
  objects before the rule's own bounds (`inbound.rules`) could answer;
- an error's JSON is ASCII: a 4xx that repeats what it refused (a validation error's
  `input`, a message quoting a rule) stays an answer even when that holds a lone surrogate
  (`"\\ud800"` in a JSON body), which no UTF-8 response can carry;
- a store whose schema is not this inbound's (`SchemaMismatch`) is a 503 that says so and how
  to fix it ("run `inbound migrate`", or upgrade inbound), not a bare 500.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inbound.errors import SchemaMismatch
from inbound.settings import max_request_bytes


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: the same document, encodable whatever it holds."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def install(app: FastAPI) -> None:
    """The body limit and the ASCII error answers, on the plugin's app."""
    app.add_middleware(BodyLimit)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(SchemaMismatch, schema_mismatch)


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own answer to an `HTTPException` (`{"detail": ...}`), in ASCII JSON."""
    if not isinstance(exc, HTTPException):
        raise exc
    headers = getattr(exc, "headers", None)
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=headers)
    return AsciiJSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own 422 (each error with its `loc`, `msg` and `input`), in ASCII JSON."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    return AsciiJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


async def schema_mismatch(request: Request, exc: Exception) -> Response:
    """The store's schema is behind this inbound (or ahead of it, for a write): 503 with the fix."""
    if not isinstance(exc, SchemaMismatch):
        raise exc
    return AsciiJSONResponse({"detail": str(exc)}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)


class TooLarge(Exception):
    """The body passed the limit while it was read."""


class BodyLimit:
    """ASGI middleware: a body over `INBOUND_MAX_REQUEST_BYTES` is a 413, and never reaches the app.

    The body (at most the limit) is read here first and handed to the app as it came, so a
    route never starts on a body that is later cut off.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = max_request_bytes()
        try:
            if _declared_length(scope) > limit:
                raise TooLarge
            messages = await _read_body(receive, limit)
        except TooLarge:
            await _too_large(limit)(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)


def _declared_length(scope: Scope) -> int:
    """The request's `Content-Length` (0 without one, or with one that is no number: the read counts)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.strip().isdigit() else 0
    return 0


async def _read_body(receive: Receive, limit: int) -> list[Message]:
    """The body's messages up to its end (or a disconnect); `TooLarge` once they pass `limit` bytes."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        size += len(message.get("body", b""))
        if size > limit:
            raise TooLarge
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` that hands out the messages read already, then goes on with the connection's."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _too_large(limit: int) -> Response:
    return AsciiJSONResponse(
        {"detail": f"the request body is larger than {limit} bytes (INBOUND_MAX_REQUEST_BYTES): refused unread"},
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        headers={"Connection": "close"},
    )
