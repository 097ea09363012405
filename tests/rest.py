"""Helpers for tests of the REST API: fixtures-free functions shared by its test files."""

import http.cookies
import json
import urllib.parse

from conftest import PASSWORD, XSRF

import models


def loopback(base_url):
    """The server's URL by IPv4 address, so a caller can pick its own 127.x source."""
    return base_url.replace("//localhost:", "//127.0.0.1:")


def snapshot():
    """How many rows each table holds: a refused request must leave it unchanged."""
    return {model.__name__: model.select().count() for model in models.MODELS}


# What anyone may see of a user (models.User.public): never the e-mail address.
PUBLIC_USER_FIELDS = frozenset(
    {"id", "username", "display_name", "first_name", "last_name", "avatar_url", "is_bot"}
)


def find_key(data, key):
    """Every value stored under ``key`` anywhere in a JSON document."""
    if isinstance(data, dict):
        found = [data[key]] if key in data else []
        return found + [v for value in data.values() for v in find_key(value, key)]
    if isinstance(data, list):
        return [v for item in data for v in find_key(item, key)]
    return []


def form(**fields):
    return dict(
        raw=urllib.parse.urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def cookie_login(api, username, with_header=True, with_cookie=True):
    headers = {"Content-Type": "application/json"}
    if with_cookie:
        headers["Cookie"] = f"_xsrf={XSRF}"
    if with_header:
        headers["X-XSRFToken"] = XSRF
    status, data = await api.call(
        "POST",
        "/auth/session/",
        headers=headers,
        raw=json.dumps({"username": username, "password": PASSWORD}),
    )
    session = None
    for header in api.last_response.headers.get_list("Set-Cookie"):
        cookie = http.cookies.SimpleCookie(header)
        if "chatbox_session" in cookie:
            session = cookie["chatbox_session"].value
            assert "httponly" in header.lower() and "samesite=lax" in header.lower()
    return status, data, session


def cookie_headers(session, xsrf=True):
    headers = {"Cookie": f"_xsrf={XSRF}; chatbox_session={session}"}
    if xsrf:
        headers["X-XSRFToken"] = XSRF
    return headers
