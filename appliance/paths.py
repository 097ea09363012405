"""Where a box keeps its state, all derived from ``--data-dir`` (and ``--db``)."""

import os
import socket
import urllib.parse


def give_to_owner_of(path, reference):
    """Make ``path`` belong to whoever owns ``reference``, when running as root.

    An administrator runs commands with sudo while the service runs as its own account;
    a file root leaves in the data dir (a restored database, a lock) would otherwise be
    unreadable to the service at its next start.
    """
    if os.geteuid() != 0 or not os.path.exists(reference):
        return
    st = os.stat(reference)
    os.chown(path, st.st_uid, st.st_gid)


def put_in_place(prepared, path):
    """Give the complete file ``prepared`` the name ``path``, unless ``path`` exists.

    Raises FileExistsError (and leaves ``prepared``) if something took the name first:
    two processes making the same new database never overwrite each other, and a name
    that exists only ever holds a complete file.
    """
    try:
        os.link(prepared, path)
    except FileExistsError:
        raise
    except OSError:
        # A filesystem without hard links (FAT on a USB stick): a rename, which cannot
        # refuse an existing name, after a last look.
        if os.path.lexists(path):
            raise FileExistsError(path) from None
        os.rename(prepared, path)
    else:
        os.unlink(prepared)


def redact(url):
    """A database URL with its password replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


# Where a box keeps its data when told nothing: beside chatbox.py.
DEFAULT_DATA_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Paths:
    """The files of one box: database, cookie secret, lock, uploads, backups.

    With ``database`` (a PostgreSQL URL) there is no database file: the data dir then
    holds the cookie secret, the uploads (unless ``uploads`` names another folder) and
    one lock per process (``instance_lock``), and may be shared by every process.
    """

    def __init__(self, data_dir=None, db=None, uploads=None, secret=None, database=None):
        if not data_dir:
            # A database named on its own keeps its secret and backups beside it, so
            # pointing --db at a scratch file never writes into the install folder.
            data_dir = os.path.dirname(os.path.abspath(db)) if db else DEFAULT_DATA_DIR
        self.data_dir = os.path.abspath(data_dir)
        self.db = os.path.abspath(db) if db else os.path.join(self.data_dir, "chatbox.db")
        # The PostgreSQL URL, or None: the SQLite file ``db``.
        self.database = database or None
        self.secret = (
            os.path.abspath(secret)
            if secret
            else os.path.join(self.data_dir, "chatbox.secret")
        )
        # The running server's note (pid, port) for status; the lock itself is on the
        # database file. Beside the file the path leads to, so a symlink finds it too.
        self.lock = os.path.realpath(self.db) + ".lock"
        self.uploads = (
            os.path.abspath(uploads) if uploads else os.path.join(self.data_dir, "uploads")
        )
        self.backups = os.path.join(self.data_dir, "backups")
        # The box's own certificate authority and server certificate (appliance/certs.py).
        self.tls = os.path.join(self.data_dir, "tls")
        # On PostgreSQL: a lock file and a note per running process.
        self.instances = os.path.join(self.data_dir, "instances")

    @property
    def target(self):
        """What ``schema.open_database`` opens: the URL, else the file."""
        return self.database or self.db

    def instance_lock(self, port, host=None):
        """(lock file, note) of the process serving ``port`` on this host.

        Named by host and port: processes on several hosts may share one data dir (on
        shared storage), and on one host no two can listen on one port anyway.
        """
        name = f"{host or socket.gethostname()}-{port}"
        return (
            os.path.join(self.instances, name + ".lock"),
            os.path.join(self.instances, name + ".json"),
        )

    @classmethod
    def from_options(cls, options):
        return cls(
            options.data_dir,
            options.db or None,
            uploads=options.uploads or None,
            secret=options.cookie_secret_file or None,
            database=options.database or None,
        )

    def make(self):
        """Create the directories a server writes to; private to the service user."""
        folders = [self.data_dir, self.uploads]
        folders.append(self.instances if self.database else self.backups)
        for path in folders:
            os.makedirs(path, mode=0o700, exist_ok=True)
