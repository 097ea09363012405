"""Reading the options: a config file first, then the command line, which wins.

``python chatbox.py [command] [words] [--option=value ...]``: words before or after
the options name the command and its arguments. The config file uses Tornado's format,
which is Python assignments (``port = 8080``, ``data_dir = "/var/lib/chatbox"``).
"""

import io
import sys

import tornado.options

from appliance.listener import check_networks
from appliance.options import options
from database import is_postgres
from handlers.cors import CrossOrigin

# Every admin command, with the line --help shows for it; appliance.admin runs them.
COMMANDS = {
    "users": "list accounts: id, username, admin, active, created",
    "reset-password USER": "set a new password (asked twice, or one line from stdin)",
    "deactivate USER": "lock an account out; its open sockets close within 2 s",
    "activate USER": "let a deactivated account log in again",
    "rename USER NEW": "give an account a new name (USER may be #ID, the id users lists)",
    "backup FILE": "SQLite: consistent copy of the database, safe while the server "
    "runs (PostgreSQL: use pg_dump)",
    "restore FILE": "SQLite: put a backup back (the server must be stopped)",
    "status": "version, uptime, counts, connected sockets, database size, last backup",
    "export FOLDER": "write every chat's history into FOLDER, as JSON and as HTML",
    "install-service": "write a hardened systemd unit (see --user, --output); with "
    "--instances, the template chatbox@.service for several processes on PostgreSQL",
    "nginx-config": "print a sample nginx configuration in front of the processes "
    "--instances names",
    "port-to-postgres": "copy this box's SQLite database into the empty PostgreSQL "
    "database --database names, and check every row",
    "make-cert": "make the box's certificate authority (once) and a new HTTPS "
    "certificate for its names and addresses, in <data-dir>/tls/",
}
COMMAND_NAMES = frozenset(usage.split()[0] for usage in COMMANDS)


class UsageError(Exception):
    pass


def split(args):
    """Separate ``--options`` from words; everything after a bare ``--`` is a word.

    An option's value may follow it as the next argument (``--port 8080``) or be joined
    to it (``--port=8080``), as in most command-line tools; a flag (``--debug``) takes
    no value unless one is joined to it.
    """
    known = options.as_dict()
    flags, words = [], []
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            words.extend(rest)
            break
        if not (arg.startswith("-") and len(arg) > 1):
            words.append(arg)
            continue
        name, joined, _ = arg.lstrip("-").partition("=")
        name = name.replace("-", "_")
        if name not in known:
            # Checked here: Tornado would print its whole help before refusing it.
            raise UsageError(f"unknown option --{name.replace('_', '-')}")
        if not joined and not isinstance(known[name], bool):
            value = next(rest, None)
            if value is None:
                raise UsageError(f"option --{name.replace('_', '-')} needs a value")
            arg = f"{arg}={value}"
        flags.append(arg)
    return flags, words


def usage(prog):
    return f"Usage: {prog} [command] [--option value ...]  (--help lists them all)"


def print_help(prog, file=sys.stdout):
    print(f"Usage: {prog} [command] [--option value ...]\n", file=file)
    print("Commands (run without one to serve):", file=file)
    for command, what in COMMANDS.items():
        print(f"  {command:<21} {what}", file=file)
    print(file=file)
    text = io.StringIO()
    options.print_help(text)
    # Tornado's own first line says "Usage: ... [OPTIONS]"; ours above is fuller.
    file.write(text.getvalue().split("\n", 1)[1])


def check_config_names(path):
    """Refuse a config file naming an option that does not exist (a typo would be lost)."""
    namespace = {"__file__": path}
    with open(path, "rb") as f:
        exec(compile(f.read(), path, "exec"), namespace)  # Tornado's format is Python
    known = set(options.as_dict())
    for name, value in namespace.items():
        if name.startswith("_") or type(value).__name__ == "module":
            continue
        if name.replace("-", "_") not in known:
            raise UsageError(f"{path}: unknown option {name!r}")


def check_database_options(command):
    """``--database``, ``--bus`` and ``--read-threads`` agree with each other."""
    if options.database and not is_postgres(options.database):
        raise UsageError(
            "--database takes a postgresql://user:password@host:5432/dbname URL; "
            "a SQLite file is named with --db"
        )
    if command == ["port-to-postgres"] and not options.database:
        raise UsageError(
            "port-to-postgres needs --database=postgresql://... (the empty database "
            "to copy into)"
        )
    if options.bus:
        if not options.database:
            raise UsageError(
                "--bus joins several processes sharing one PostgreSQL database: give "
                "--database=postgresql://... as well (one process on SQLite needs none)"
            )
        if options.bus != "postgres" and not options.bus.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise UsageError(
                f"--bus must be postgres or a redis://host:port/N URL, not {options.bus!r}"
            )
    if options.read_threads < 0 or (options.database and options.read_threads < 1):
        raise UsageError("--read-threads must be 1 or more on PostgreSQL")
    if options.database and options.tls == "auto" and not command:
        # Each process would make its own authority, and browsers would trust one only.
        raise UsageError(
            "--tls=auto is for a single box; with PostgreSQL, serve HTTPS from the "
            "reverse proxy in front of the processes (docs/scale-out.md)"
        )


def parse(argv):
    """Parse config file and command line into ``options``; returns (words, flags)."""
    prog = argv[0]
    if any(arg.lstrip("-") == "help" for arg in argv[1:] if arg.startswith("-")):
        print_help(prog)
        raise SystemExit(0)
    flags, words = split(argv[1:])
    if words and words[0] not in COMMAND_NAMES:
        raise UsageError(f"unknown command {words[0]!r}")
    try:
        options.parse_command_line([prog, *flags], final=False)
        if options.config:
            try:
                check_config_names(options.config)
                options.parse_config_file(options.config, final=False)
            except (OSError, SyntaxError) as exc:
                raise UsageError(f"cannot read the config file: {exc}") from None
            # Parse again so that every option given on the command line wins.
            options.parse_command_line([prog, *flags], final=False)
    except tornado.options.Error as exc:
        raise UsageError(str(exc)) from None
    if options.durability not in ("full", "normal"):
        raise UsageError(f"--durability must be full or normal, not {options.durability!r}")
    for name in ("idle_timeout", "body_timeout"):
        if not options[name] > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be more than 0 seconds")
    if options.max_connections_per_address < 0:
        raise UsageError("--max-connections-per-address must be 0 (no cap) or more")
    try:
        check_networks(options.max_connections_exempt)
    except ValueError as exc:
        raise UsageError(f"--max-connections-exempt: {exc}") from None
    if options.tls not in ("off", "auto"):
        raise UsageError(f"--tls must be auto or off, not {options.tls!r}")
    if options.tls == "auto" and (options.certfile or options.keyfile):
        raise UsageError(
            "--tls=auto makes its own certificate; leave out --certfile/--keyfile"
        )
    if options.redirect_http:
        if not 0 < options.redirect_http < 65536:
            raise UsageError("--redirect-http must be a port number (1-65535)")
        if options.tls == "off" and not options.certfile:
            raise UsageError(
                "--redirect-http needs HTTPS: --tls=auto or --certfile/--keyfile"
            )
        if options.redirect_http == options.port:
            raise UsageError("--redirect-http needs a port of its own, not --port")
    check_database_options(words[:1])
    try:
        CrossOrigin(options.allow_origin)
    except ValueError as exc:
        raise UsageError(f"--allow-origin: {exc}") from None
    options.run_parse_callbacks()
    return words, flags
