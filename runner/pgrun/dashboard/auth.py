"""Who may see the dashboard: with a token, a request carries it as the login form's cookie,
as `Authorization: Bearer TOKEN` (scripts), or as the password of HTTP basic auth (any user
name: a browser's own prompt, a reverse proxy's health check)."""

from __future__ import annotations

import base64
import binascii
import secrets

from starlette.requests import Request

COOKIE = "pgrun_dashboard_token"


def _same(given: str, token: str) -> bool:
    return secrets.compare_digest(given.encode(), token.encode())


def _basic_password(header: str) -> str | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if sep else None


def allowed(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    header = request.headers.get("authorization", "")
    for given in (request.cookies.get(COOKIE), header.removeprefix("Bearer ") if header.startswith("Bearer ")
                  else None, _basic_password(header)):
        if given is not None and _same(given, token):
            return True
    return False


def token_matches(given: str, token: str | None) -> bool:
    return token is not None and _same(given, token)
