"""Pages served elsewhere calling the API with a token (``--allow-origin``).

A client such as Chatire's Vue app is served by its own web server, so the browser
only lets it read chatbox's answers when they carry CORS headers. chatbox sends them
only to the origins named on the command line, and only for calls that do not carry
the browser's session cookie: a page elsewhere may use a token it holds, never a
visitor's login. That is also why no answer ever says
``Access-Control-Allow-Credentials``.
"""

import urllib.parse

ALLOWED_HEADERS = "Authorization, Content-Type"
# The one header a client must read that browsers hide by default: how long a
# throttled login must wait.
EXPOSED_HEADERS = "Retry-After"
# How long a browser may reuse a preflight answer (Chromium caps it at two hours). Ten
# minutes: a client posting every second preflights each address once in that time,
# and a box restarted with other origins is obeyed within it.
MAX_AGE = 600

DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(text):
    """``text`` as a browser writes it in an ``Origin`` header: lower-case scheme and
    host, the port only when it is not the scheme's default, no path.

    Raises ValueError for anything else, so a typo on the command line is caught at
    start rather than silently matching nothing.
    """
    parts = urllib.parse.urlsplit(text.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
        or port == -1
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(f"{text!r} is not an origin such as http://192.168.1.20:8080")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


class CrossOrigin:
    """The origins whose pages may call the API with a token: none, some, or any (``*``)."""

    def __init__(self, origins=()):
        names = [origin.strip() for origin in origins if origin.strip()]
        self.anyone = "*" in names
        self.origins = frozenset(parse_origin(name) for name in names if name != "*")

    def __bool__(self):
        return self.anyone or bool(self.origins)

    def allows(self, origin):
        if not origin:
            return False
        if self.anyone:
            return True
        try:
            return parse_origin(origin) in self.origins
        except ValueError:  # "null" (a sandboxed page or a file) or garbage
            return False

    def allow_origin_header(self, origin):
        """The value of ``Access-Control-Allow-Origin`` for a page at ``origin``."""
        return "*" if self.anyone else origin
