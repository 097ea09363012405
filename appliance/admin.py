"""The admin commands: ``python chatbox.py <command> [args] [--options]``.

They open the database directly, beside a running server if there is one: SQLite's
busy_timeout makes a write wait for the server's short transactions rather than fail,
and each command writes in one short transaction of its own. A running server notices
deactivations and password resets within two seconds (see handlers/revocation.py).

With ``--database=postgresql://...`` the same commands work on the shared database,
beside every running process; the ones about the SQLite file (backup, restore) say
what to use instead.
"""

import datetime
import getpass
import json
import os
import sqlite3
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

import peewee

import export
import schema
from appliance import __version__, backup, dbfile, lock, nginx, port, systemd
from appliance.certs import CertificateError, CertificateFiles, covered, fingerprint
from appliance.options import options
from appliance.paths import Paths, redact
from models import Message, Room, User, ValidationError, db
from schema import SCHEMA_VERSION


class CommandError(Exception):
    pass


def open_postgres(paths):
    """Open the shared PostgreSQL database for a command; its schema must be current."""
    try:
        version = schema.open_database(paths.database, upgrade=False)
    except peewee.OperationalError as exc:
        raise CommandError(
            f"cannot reach {redact(paths.database)}: {str(exc).strip()}"
        ) from None
    if version == 0:
        raise CommandError(
            f"{redact(paths.database)} holds no chatbox database yet: start a server on "
            "it, or fill it from a SQLite box with port-to-postgres"
        )
    if version != SCHEMA_VERSION:
        newer = "newer" if version > SCHEMA_VERSION else "older"
        raise CommandError(
            f"the database is at schema version {version}, {newer} than this chatbox "
            f"({SCHEMA_VERSION}); run the chatbox of that version, or start this one's "
            "server, which upgrades it"
        )
    return version


def sqlite_only(paths, command, instead):
    if paths.database:
        raise CommandError(f"{command} is for a SQLite box; on PostgreSQL {instead}")


def open_db(paths):
    """Open the box's database for a command, upgrading it only if no server runs."""
    if paths.database:
        open_postgres(paths)
        return
    if not os.path.exists(paths.db):
        raise CommandError(
            f"there is no database at {paths.db}; check --data-dir/--db "
            "(the server creates it on first start)"
        )
    # Asked before SQLite opens the file: closing the probe's descriptor afterwards would
    # drop the locks SQLite holds on it in this process.
    running = lock.holder(paths.db, paths.lock) is not None
    # Before peewee opens it: an empty file would otherwise get a fresh schema.
    dbfile.check(paths.db)
    version = schema.init_db(paths.db, upgrade=False)
    if version > SCHEMA_VERSION:
        raise CommandError(
            f"the database is at schema version {version}; this chatbox knows "
            f"{SCHEMA_VERSION}. Run the newer chatbox."
        )
    if version < SCHEMA_VERSION:
        if running:
            raise CommandError(
                "the running server uses an older schema; restart it (it upgrades the "
                "database after a backup), then run this command again"
            )
        schema.migrate_schema(
            lambda old: backup.before_upgrade(paths.db, paths.backups, old)
        )


def find_user(username):
    """The account named ``username``, or numbered N when given as ``#N`` (the id that
    ``users`` lists), for names a shell makes awkward to type."""
    if username.startswith("#") and username[1:].isdigit():
        user = User.get_or_none(User.id == int(username[1:]))
    else:
        user = User.by_username(username)
    if user is None:
        raise CommandError(f"no user {ascii(username)}")
    return user


def shown(user):
    """The name as a terminal can show it: escaped if it hides characters."""
    return user.username if User.is_valid_name(user.username) else ascii(user.username)


def one_argument(args, what):
    if len(args) != 1:
        raise CommandError(f"give exactly one {what}")
    return args[0]


def cmd_users(args, paths):
    open_db(paths)
    rows = [("id", "username", "admin", "active", "created")]
    for user in User.select().order_by(User.id):
        rows.append(
            (
                str(user.id),
                shown(user),
                "yes" if user.is_admin else "no",
                "yes" if user.is_active else "no",
                user.created_at.strftime("%Y-%m-%d %H:%M"),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
    for user in User.misnamed():
        print(f"#{user.id} {shown(user)}: {user.name_problem()} (rename '#{user.id}' NEW)")


def read_new_password():
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != first:
            raise CommandError("the two passwords differ; nothing changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_reset_password(args, paths):
    username = one_argument(args, "username")
    open_db(paths)
    user = find_user(username)
    password = read_new_password()
    try:
        User.validate_password(password)
    except ValidationError as exc:
        raise CommandError(" ".join(exc.errors["password"])) from None
    user.set_password(User.hash_password(password))
    print(f"New password set for {shown(user)}; their other logins were ended.")


def set_active(args, paths, active):
    username = one_argument(args, "username")
    open_db(paths)
    user = find_user(username)
    user.set_active(active)
    if active:
        print(f"{shown(user)} may log in again.")
    else:
        print(f"{shown(user)} is deactivated; their open connections close within 2 s.")


def cmd_rename(args, paths):
    if len(args) != 2:
        raise CommandError("give the account's name (or #id) and its new name")
    open_db(paths)
    user = find_user(args[0])
    old = shown(user)
    try:
        user.rename(args[1])
    except ValidationError as exc:
        problem = " ".join(exc.errors["username"])
        raise CommandError(f"{ascii(args[1])}: {problem}") from None
    print(f"{old} is now {user.username}; chats show the new name when next loaded.")


def cmd_backup(args, paths):
    sqlite_only(
        paths,
        "backup",
        "use pg_dump --format=custom (docs/scale-out.md), and copy the uploads folder",
    )
    dest = os.path.abspath(one_argument(args, "backup file"))
    with_uploads = bool(backup.blob_files(paths.uploads))
    if os.path.isdir(dest) and not os.path.isfile(backup.database_of(dest)):
        dest = backup.stamped_name(dest, folder=with_uploads)
    elif os.path.exists(dest) and with_uploads:
        raise CommandError(f"{dest} exists; name a new backup, or a folder to put it in")
    # What the file is, not whether every page is sound: copying a damaged database is
    # how its undamaged parts are saved (the check of the copy below says what is wrong).
    dbfile.check(paths.db, thorough=False)
    backup.take(paths.db, dest, paths.uploads)
    verdict = backup.integrity(dest)
    if verdict != "ok":
        raise CommandError(f"the copy at {dest} failed its integrity check: {verdict}")
    size = os.path.getsize(backup.database_of(dest))
    if os.path.isdir(dest):
        files, total = backup.uploads_size(os.path.join(dest, backup.UPLOADS))
        print(
            f"Backed up {paths.db} and its uploads to the folder {dest} (database "
            f"{size:,} bytes, integrity ok; {files} uploads, {human_size(total)})."
        )
    else:
        print(f"Backed up {paths.db} to {dest} ({size:,} bytes, integrity ok).")


def cmd_restore(args, paths):
    sqlite_only(paths, "restore", "use pg_restore into a new database (docs/scale-out.md)")
    source = os.path.abspath(one_argument(args, "backup file"))
    backup.vet(source)
    database = backup.database_of(source)
    if not os.path.isdir(os.path.dirname(os.path.realpath(paths.db))):
        raise CommandError(f"there is no folder for {paths.db}; check --data-dir/--db")
    guard = lock.ServerLock(paths.db, paths.lock)
    try:
        # Held until done, so no server can start halfway through. Without a database,
        # the backup becomes it, locked before it takes the name.
        made = guard.acquire(make=lambda temp: backup.prepare(database, temp))
    except lock.Busy:
        holder = lock.holder(paths.db, paths.lock) or {}
        raise CommandError(
            f"a chatbox server (pid {holder.get('pid', '?')}) is running on {paths.db}; "
            "stop it first (sudo systemctl stop chatbox), then restore"
        ) from None
    try:
        restored = aside = 0
        if os.path.isdir(source):
            restored = backup.restore_uploads(source, paths.uploads)
        kept = None if made else backup.restore(database, paths.db)
        if os.path.isdir(source):
            aside = backup.set_aside_unreferenced(
                paths.db, paths.uploads, paths.uploads + ".before-restore"
            )
    finally:
        guard.release()
    print(f"Restored {source} to {paths.db}.")
    if os.path.isdir(source):
        print(f"Its {restored} uploads are in {paths.uploads}.")
    if kept:
        print(f"The database it replaced is kept as {kept}.")
    if aside:
        print(
            f"{aside} uploads the restored database does not refer to were moved to "
            f"{paths.uploads}.before-restore."
        )


def ask_server(info):
    host = info.get("address") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    url = f"{info.get('scheme', 'http')}://{host}:{info.get('port')}/healthz"
    # Our own box on loopback: its certificate is for the LAN name, not for 127.0.0.1.
    context = ssl._create_unverified_context() if url.startswith("https") else None
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code != 503:
            raise
        return json.load(error)  # running, and saying what is wrong


def human_size(size):
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024


def human_duration(seconds):
    delta = datetime.timedelta(seconds=int(seconds))
    return str(delta)


def print_server(info, label="server"):
    try:
        health = ask_server(info)
        print(
            f"{label}: running, pid {info.get('pid')}, up "
            f"{human_duration(health['uptime_s'])}, {health['connections']} sockets "
            f"open, {health['users_online']} users online"
        )
        if health.get("status") != "ok":
            print(f"{label}: FAILING: {health.get('reason', health.get('status'))}")
    except (OSError, ValueError, KeyError) as exc:
        print(f"{label}: running (pid {info.get('pid')}) but not answering: {exc}")


def print_counts():
    users = User.select().count()
    inactive = User.select().where(User.is_active == False).count()  # noqa: E712
    print(f"users: {users} ({inactive} deactivated)")
    print(f"rooms: {Room.select().count()}")
    print(f"messages: {Message.select().count()}")


def status_postgres(paths):
    """The processes noted in the shared data dir, then the shared database."""
    running = 0
    names = sorted(os.listdir(paths.instances)) if os.path.isdir(paths.instances) else []
    for name in names:
        if not name.endswith(".lock"):
            continue
        path = os.path.join(paths.instances, name)
        info = lock.holder(path, path[: -len(".lock")] + ".json")
        if info is None:
            continue
        running += 1
        print_server(info, f"process {name[: -len('.lock')]}")
    if not running:
        print(f"processes: none running from {paths.data_dir}")
    version = open_postgres(paths)
    print(f"database: {redact(paths.database)}, schema {version}")
    files, total = backup.uploads_size(paths.uploads)
    print(f"uploads: {paths.uploads}, {files} files, {human_size(total)}")
    print_counts()
    print("backups: made by pg_dump, outside chatbox (docs/scale-out.md)")


def cmd_status(args, paths):
    print(f"chatbox {__version__}")
    if paths.database:
        status_postgres(paths)
        return
    info = lock.holder(paths.db, paths.lock)
    if info is None:
        print("server: not running")
    elif not info:
        print(
            f"server: running, but it reached {paths.db} by another path (a link), so "
            "its pid and port are noted there"
        )
    else:
        print_server(info)
    if not os.path.exists(paths.db):
        print(f"database: none yet at {paths.db}")
        return
    try:
        open_db(paths)
    except dbfile.Unsound as exc:
        # Still say what the backups hold: a restore is the cure.
        print(f"database: {exc}")
        print_backups(paths)
        raise
    size = os.path.getsize(paths.db)
    wal = os.path.getsize(paths.db + "-wal") if os.path.exists(paths.db + "-wal") else 0
    print(
        f"database: {paths.db}, schema {schema.schema_version()}, {human_size(size + wal)}"
    )
    files, total = backup.uploads_size(paths.uploads)
    print(f"uploads: {paths.uploads}, {files} files, {human_size(total)}")
    print_counts()
    print_backups(paths)


def cmd_export(args, paths):
    folder = os.path.abspath(one_argument(args, "folder"))
    open_db(paths)
    rooms = list(Room.select().order_by(Room.id))
    try:
        written = export.write_all(rooms, folder, paths.uploads)
    except OSError as exc:
        raise CommandError(f"could not write to {folder}: {exc}") from None
    print(f"Exported {len(rooms)} chats to {folder} ({len(written)} files).")


def print_backups(paths):
    if not os.path.isdir(paths.backups):
        return
    copies = backup.listed(paths.backups)
    newest = f", newest {copies[-1]}" if copies else ""
    print(f"backups: {len(copies)} in {paths.backups}{newest}")
    outcome = backup.last_outcome(paths.backups)
    if outcome is not None:
        verdict = "ok" if outcome.get("ok") else "FAILED"
        print(
            f"last automatic backup: {str(outcome.get('time', '?')).replace('T', ' ')}, "
            f"{verdict}: {outcome.get('detail', '')}"
        )


# Options that describe this box's files or this command, not how the service runs.
NOT_FORWARDED = {
    "user",
    "output",
    "data_dir",
    "db",
    "certfile",
    "keyfile",
    "instances",
    "cookie_secret_file",
}
# Options the template sets itself, for each instance.
SET_BY_TEMPLATE = {"port", "address", "behind_proxy", "mdns"}


def instance_ports(value):
    """The ports ``--instances=8001,8002`` names."""
    ports = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdigit() or not 0 < int(part) < 65536:
            raise CommandError(f"--instances: {part!r} is not a port number (1-65535)")
        ports.append(int(part))
    if len(set(ports)) != len(ports):
        raise CommandError("--instances: each process needs a port of its own")
    return ports


def without_password(url):
    """(the URL without its password, the password or None)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url, None
    netloc = parts.netloc.replace(f":{parts.password}@", "@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), urllib.parse.unquote(
        parts.password
    )


def cmd_install_service(args, paths, flags, script):
    template = bool(options.instances)
    if template:
        if not options.database:
            raise CommandError(
                "--instances runs several processes on one database: give "
                "--database=postgresql://... (and --bus)"
            )
        ports = instance_ports(options.instances)
    skipped = NOT_FORWARDED | (SET_BY_TEMPLATE if template else set())
    forwarded = [
        flag
        for flag in flags
        if flag.lstrip("-").split("=")[0].replace("-", "_") not in skipped
    ]
    password = None
    if options.database:
        # The unit file is readable by every account on the machine: the password goes
        # to a file only root reads, from which systemd sets PGPASSWORD.
        url, password = without_password(options.database)
        forwarded = [
            f"--database={url}" if flag.startswith("--database") else flag
            for flag in forwarded
        ]
        if password is not None and not template:
            raise CommandError(
                "keep the password out of the unit file, which anyone on the machine "
                "can read: leave it out of --database and put PGPASSWORD=... in an "
                "EnvironmentFile, or use --instances (which does that)"
            )
    credentials = []
    if options.certfile or options.keyfile:
        if not (options.certfile and options.keyfile):
            raise CommandError("TLS needs both --certfile and --keyfile")
        credentials = [
            ("tls.crt", os.path.abspath(options.certfile)),
            ("tls.key", os.path.abspath(options.keyfile)),
        ]
        forwarded += ["--certfile=%d/tls.crt", "--keyfile=%d/tls.key"]
    if options.cookie_secret_file:
        # Handed over like the TLS files: the service reads it without owning it.
        credentials.append(("cookie-secret", os.path.abspath(options.cookie_secret_file)))
        forwarded.append("--cookie-secret-file=%d/cookie-secret")
    writable = []
    if options.uploads:
        uploads = os.path.abspath(options.uploads)
        forwarded = [
            f"--uploads={uploads}" if flag.startswith("--uploads") else flag
            for flag in forwarded
        ]
        if not uploads.startswith(systemd.STATE_DIR + "/"):
            writable.append(uploads)
    if options.config:
        forwarded = [f for f in forwarded if not f.startswith("--config")]
        forwarded.append(f"--config={os.path.abspath(options.config)}")
    text = systemd.unit_file(
        sys.executable,
        script,
        forwarded,
        user=options.user,
        credentials=credentials,
        low_port=not template
        and min(options.port, options.redirect_http or options.port) < 1024,
        template=template,
        writable=writable,
    )
    if script.startswith(("/home/", "/root/")):
        print(
            f"warning: {script} is under a home directory, which the service cannot "
            "read (ProtectHome=yes); install chatbox under /opt instead",
            file=sys.stderr,
        )
    unit = systemd.TEMPLATE_PATH if template else systemd.UNIT_PATH
    output = options.output or (unit if os.geteuid() == 0 else "-")
    if output == "-":
        sys.stdout.write(text)
        if password is not None:
            print(
                f"note: the password is not in the unit: put PGPASSWORD=<it> in "
                f"{systemd.ENVIRONMENT_FILE} (mode 0600, owned by root)",
                file=sys.stderr,
            )
        return
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)
    if not template:
        print(f"Wrote {output}. Start it with:")
        print("  sudo systemctl daemon-reload && sudo systemctl enable --now chatbox")
        return
    if password is not None:
        write_environment(systemd.ENVIRONMENT_FILE, {"PGPASSWORD": password})
        print(f"Wrote the database password to {systemd.ENVIRONMENT_FILE} (mode 0600).")
    names = " ".join(f"chatbox@{port}" for port in ports)
    print(f"Wrote {output}. Start the processes with:")
    print(f"  sudo systemctl daemon-reload && sudo systemctl enable --now {names}")
    print("Then put nginx in front of them:")
    print(
        f"  python chatbox.py nginx-config --instances={options.instances} "
        f"--max-upload-mb={options.max_upload_mb:g} > /etc/nginx/conf.d/chatbox.conf"
    )


def write_environment(path, variables):
    """Write ``NAME=value`` lines to ``path``, readable by root alone."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for name, value in variables.items():
            # systemd's EnvironmentFile: double quotes keep spaces; escape \ and ".
            quoted = value.replace("\\", "\\\\").replace('"', '\\"')
            f.write(f'{name}="{quoted}"\n')


def cmd_nginx_config(args, paths):
    if args:
        raise CommandError("nginx-config takes no arguments")
    if not options.instances:
        raise CommandError("name the processes' ports: --instances=8001,8002")
    sys.stdout.write(nginx.config(instance_ports(options.instances), options.max_upload_mb))


def cmd_make_cert(args, paths):
    if args:
        raise CommandError("make-cert takes no arguments")
    files = CertificateFiles(paths.tls)
    try:
        files.make(force=True)
        authority, server = files.authority(), files.server()
    except (CertificateError, OSError) as exc:
        raise CommandError(str(exc)) from None
    names, addresses = covered(server)
    print(f"Certificate authority: {files.ca_cert} (key {files.ca_key})")
    print(f"  {authority.subject.rfc4514_string()}")
    print(f"  SHA-256 {fingerprint(authority)}")
    print(f"  valid until {authority.not_valid_after_utc:%Y-%m-%d}")
    print(f"Server certificate: {files.cert} (key {files.key})")
    print(f"  for {', '.join(sorted(names) + sorted(map(str, addresses)))}")
    print(f"  valid until {server.not_valid_after_utc:%Y-%m-%d}")
    print(
        "Serve it with --tls=auto; a running server takes it up at its daily check, or "
        "at once on SIGHUP (sudo systemctl kill -s HUP chatbox). Devices trust the "
        "authority once: open /trust on the box."
    )


def cmd_port_to_postgres(args, paths):
    if args:
        raise CommandError("port-to-postgres takes no arguments")
    if not os.path.exists(paths.db):
        raise CommandError(
            f"there is no SQLite database at {paths.db}; check --data-dir/--db"
        )
    guard = lock.ServerLock(paths.db, paths.lock)
    try:
        # Held throughout: no server writes to the box while it is copied, and none can
        # start on it halfway through.
        guard.acquire()
    except lock.Busy:
        raise CommandError(
            f"a chatbox server is running on {paths.db}; stop it first (sudo systemctl "
            "stop chatbox), so that nothing written during the copy is left behind"
        ) from None
    source = target = None
    try:
        dbfile.check(paths.db)
        schema.open_database(
            paths.db,
            before_upgrade=lambda old: backup.before_upgrade(paths.db, paths.backups, old),
        )
        source = db.obj
        open_target(paths)
        target = db.obj
        print(f"Copying {paths.db} into {redact(paths.database)}:")
        try:
            port.port(source, target, report=lambda line: print(f"  {line}", flush=True))
        except port.PortError as exc:
            raise CommandError(str(exc)) from None
    finally:
        for database in (target, source):
            if database is not None and not database.is_closed():
                database.close()
        guard.release()
    print(
        "Every row is copied and verified. Files are not in the database: copy the "
        f"uploads folder {paths.uploads} to the folder every process shares (or use it "
        "as it is), and start each process with --uploads=<that folder> and "
        f"--database={redact(paths.database)}. The SQLite box is left as it was."
    )


def open_target(paths):
    """Open (and give today's tables to) the PostgreSQL database to copy into."""
    try:
        version = schema.open_database(paths.database)
    except peewee.OperationalError as exc:
        raise CommandError(
            f"cannot reach {redact(paths.database)}: {str(exc).strip()}"
        ) from None
    except RuntimeError as exc:
        raise CommandError(str(exc)) from None
    if version != SCHEMA_VERSION:
        raise CommandError(
            f"the PostgreSQL database is at schema version {version}, not "
            f"{SCHEMA_VERSION}: port-to-postgres copies only into an empty database"
        )


# Each command as ``action(args, paths, flags, script)``; appliance.config.COMMANDS names
# the same commands for the parser and --help.
ACTIONS = {
    "users": lambda args, paths, *_: cmd_users(args, paths),
    "reset-password": lambda args, paths, *_: cmd_reset_password(args, paths),
    "deactivate": lambda args, paths, *_: set_active(args, paths, False),
    "activate": lambda args, paths, *_: set_active(args, paths, True),
    "rename": lambda args, paths, *_: cmd_rename(args, paths),
    "backup": lambda args, paths, *_: cmd_backup(args, paths),
    "restore": lambda args, paths, *_: cmd_restore(args, paths),
    "status": lambda args, paths, *_: cmd_status(args, paths),
    "export": lambda args, paths, *_: cmd_export(args, paths),
    "install-service": cmd_install_service,
    "make-cert": lambda args, paths, *_: cmd_make_cert(args, paths),
    "port-to-postgres": lambda args, paths, *_: cmd_port_to_postgres(args, paths),
    "nginx-config": lambda args, paths, *_: cmd_nginx_config(args, paths),
}


def run(words, flags, script):
    """Run the command ``words[0]``, which the parser has checked is one of ACTIONS."""
    command, args = words[0], words[1:]
    paths = Paths.from_options(options)
    try:
        ACTIONS[command](args, paths, flags, script)
    except (CommandError, backup.BackupError, dbfile.Unsound) as exc:
        print(f"chatbox {command}: {exc}", file=sys.stderr)
        return 1
    except (sqlite3.DatabaseError, peewee.DatabaseError) as exc:
        # Damage the start-up check cannot see (an index that disagrees with its table)
        # shows only when a query meets it.
        print(f"chatbox {command}: the database failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if not db.is_closed():
            db.close()
    return 0
