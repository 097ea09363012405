"""The published API description matches the routes the server really has.

The routes are read from the Application itself, so adding a route or a method without
describing it (or describing one that does not exist) fails here.
"""

import json
import os
import re

import pytest
import tornado.web

from handlers.base import NotFoundHandler
from handlers.pages import AppShellHandler, StaticHandler
from handlers.trust import AuthorityHandler, TrustPageHandler

DOC_PATH = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "handlers", "openapi.json"
)
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
# Catch-alls and pages for people, not endpoints: unknown API paths (JSON 404), the UI's
# pages, and the certificate authority with the page on trusting it.
FALLBACKS = (NotFoundHandler, AppShellHandler, AuthorityHandler, TrustPageHandler)


def load_doc():
    with open(DOC_PATH, encoding="utf-8") as f:
        return json.load(f)


def close_paren(pattern, start):
    """Index of the parenthesis closing the group that opens at ``start``."""
    depth = 0
    i = start
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "(":
            depth += 1
        elif pattern[i] == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced pattern {pattern!r}")


def split_alternatives(pattern):
    parts, depth, last = [], 0, 0
    for i, char in enumerate(pattern):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0 and pattern[i - 1] != "\\":
            parts.append(pattern[last:i])
            last = i + 1
    parts.append(pattern[last:])
    return parts


def expand(pattern):
    """Every concrete path a route pattern stands for, named groups written ``{name}``.

    Handles what the routes use: named groups, ``(?:a|b)`` alternatives, optional groups
    and optional single characters. Anything else is refused, so a new kind of pattern
    makes this test say so rather than pass silently.
    """
    results = [""]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "(":
            end = close_paren(pattern, i)
            inner = pattern[i + 1 : end]
            named = re.match(r"\?P<(\w+)>", inner)
            if named:
                options = ["{" + named.group(1) + "}"]
            elif inner.startswith("?:"):
                options = [p for alt in split_alternatives(inner[2:]) for p in expand(alt)]
            else:
                raise ValueError(f"unsupported group in {pattern!r}")
            i = end + 1
        elif char == "\\":
            options = [pattern[i + 1]]
            i += 2
        elif char in "[]*+{}|^":
            raise ValueError(f"unsupported pattern {pattern!r}")
        else:
            options = [char]
            i += 1
        if i < len(pattern) and pattern[i] == "?":
            options = options + [""]
            i += 1
        results = [r + o for r in results for o in options]
    return results


def implemented_methods(handler_class):
    """The HTTP methods a handler answers itself (not Tornado's 405 default)."""
    return {
        method
        for method in METHODS
        if getattr(handler_class, method) is not getattr(tornado.web.RequestHandler, method)
    }


def served_paths(app):
    """{path: set of methods} for every route of the app, fallbacks left out."""
    served = {}
    for rule in app.wildcard_router.rules:
        # Static files (Tornado adds /static/, /favicon.ico, /robots.txt) are not API;
        # shared files, served by a StaticFileHandler too, are.
        if rule.target in FALLBACKS or issubclass(rule.target, StaticHandler):
            continue
        pattern = rule.matcher.regex.pattern.rstrip("$")
        for path in expand(pattern):
            served.setdefault(path, set()).update(implemented_methods(rule.target))
    return served


def documented_paths():
    return {
        path: {m for m in item if m in METHODS}
        for path, item in load_doc()["paths"].items()
    }


def test_the_route_pattern_reader_understands_aliases_and_parameters():
    assert sorted(expand(r"/auth/token/(?:create|login)/")) == [
        "/auth/token/create/",
        "/auth/token/login/",
    ]
    assert sorted(expand(r"/api/me/?")) == ["/api/me", "/api/me/"]
    assert expand(r"/api/chats/(?P<uri>[^/]+)/messages/") == ["/api/chats/{uri}/messages/"]
    with pytest.raises(ValueError):
        expand(r"/files/.*")


def test_every_route_the_app_serves_is_documented_with_each_of_its_methods(app):
    served = served_paths(app)
    documented = documented_paths()
    assert "/api/chats/{uri}/messages/" in served  # the reader did find the routes
    missing = {
        path: sorted(methods - documented.get(path, set()))
        for path, methods in served.items()
        if methods - documented.get(path, set())
    }
    assert missing == {}, "served but not described in handlers/openapi.json"


def test_every_documented_path_and_method_is_served(app):
    served = served_paths(app)
    extra = {
        path: sorted(methods - served.get(path, set()))
        for path, methods in documented_paths().items()
        if methods - served.get(path, set())
    }
    assert extra == {}, "described in handlers/openapi.json but not served"


def test_every_api_route_is_under_api_auth_ws_hooks_or_healthz(app):
    # Guards the fallback exclusion above: a new endpoint elsewhere would be missed.
    for path in served_paths(app):
        assert re.match(r"^/(api/|auth/|ws(/|$)|hooks/|healthz$)", path), path


def test_every_path_parameter_is_declared_and_every_reference_resolves():
    doc = load_doc()
    text = json.dumps(doc)
    for target in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node = doc
        for part in target.split("/"):
            assert part in node, f"dangling $ref #/{target}"
            node = node[part]
    for path, item in doc["paths"].items():
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), path
        for method in set(item) & set(METHODS):
            operation = item[method]
            assert operation["responses"], f"{method.upper()} {path} has no responses"
            for scheme in operation.get("security", []):
                assert set(scheme) <= set(doc["components"]["securitySchemes"])


def test_no_user_object_but_the_callers_own_has_an_email():
    schemas = load_doc()["components"]["schemas"]
    assert "email" not in schemas["User"]["properties"]
    assert schemas["User"]["additionalProperties"] is False
    assert "email" not in schemas["Member"]["properties"]
    assert {"email", "is_admin"} <= set(schemas["OwnUser"]["properties"])


@pytest.mark.gen_test
async def test_the_served_description_is_valid_json_in_openapi_3(api):
    response = await api.client.fetch(api.base_url + "/api/openapi.json")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    doc = json.loads(response.body)
    assert re.match(r"^3\.\d+\.\d+$", doc["openapi"])
    assert doc == load_doc()
    assert "docs/protocol.md" in doc["info"]["description"]


def conforms(value, schema, schemas, where="$"):
    """Problems with ``value`` against the parts of ``schema`` the description uses:
    references, ``allOf``, ``oneOf``, types, array items, required and (where it is
    false) additional properties. Enough to keep the documented fields true."""
    if "$ref" in schema:
        return conforms(value, schemas[schema["$ref"].rsplit("/", 1)[1]], schemas, where)
    if "allOf" in schema:
        return [
            p for part in schema["allOf"] for p in conforms(value, part, schemas, where)
        ]
    if "oneOf" in schema:
        fits = [not conforms(value, part, schemas, where) for part in schema["oneOf"]]
        return [] if sum(fits) == 1 else [f"{where}: {value!r} fits {sum(fits)} of oneOf"]
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types or []
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "boolean": bool,
        "null": type(None),
    }
    if types and not any(
        isinstance(value, kinds[t]) and not (t == "integer" and isinstance(value, bool))
        for t in types
    ):
        return [f"{where}: {value!r} is not {types}"]
    problems = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        missing = set(schema.get("required", ())) - set(value)
        if missing:
            problems.append(f"{where}: lacks {sorted(missing)}")
        if schema.get("additionalProperties") is False and set(value) - set(properties):
            problems.append(f"{where}: undocumented {sorted(set(value) - set(properties))}")
        for key, item in value.items():
            if key in properties:
                problems += conforms(item, properties[key], schemas, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += conforms(item, schema["items"], schemas, f"{where}[{i}]")
    return problems


@pytest.mark.gen_test(timeout=30)
async def test_real_answers_of_the_conversation_routes_fit_their_schemas(api):
    schemas = load_doc()["components"]["schemas"]
    alice, bob = await api.signup("alice"), await api.signup("bob")
    status, me = await alice.call("PATCH", "/api/me/", {"display_name": "Alice L."})
    assert status == 200 and conforms(me, schemas["OwnUser"], schemas) == []
    status, direct = await alice.call("POST", "/api/direct/", {"username": "bob"})
    assert status == 201 and conforms(direct, schemas["ChatSummary"], schemas) == []
    assert direct["direct_with"]["username"] == "bob"
    uri = await alice.start_chat()
    await bob.join(uri)
    asked = await alice.say(uri, "where is the key?")
    reply = await bob.say(uri, "@alice under the mat", reply_to=asked["id"])
    status, reacted = await alice.call(
        "POST", f"/api/chats/{uri}/messages/{reply['id']}/reactions/", {"emoji": "👍"}
    )
    assert status == 201
    status, named = await bob.call("PUT", f"/api/chats/{uri}/name/", {"name": "Keys"})
    assert status == 200
    status, chat = await alice.call("GET", f"/api/chats/{uri}/")
    status, people = await alice.call("GET", "/api/users/?q=b")
    status, history = await alice.call("GET", f"/api/chats/{uri}/messages/")
    status, gone = await alice.call("DELETE", f"/api/chats/{uri}/messages/{asked['id']}/")
    # Each answer with every field a client may meet: a quote, a mention, a reaction,
    # a tombstone, a direct chat's other person, a display name.
    assert reacted["reply_to"] and reacted["mentions"] and reacted["reactions"]
    for value, name in (
        (reacted, "Message"),
        (gone, "Message"),
        (named, "ChatSummary"),
        (chat, "Chat"),
        (people, "UserList"),
        (history, "History"),
    ):
        assert conforms(value, schemas[name], schemas) == [], name
    assert conforms({"id": 1}, schemas["User"], schemas)  # the checker does check
