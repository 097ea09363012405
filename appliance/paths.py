"""Where a box keeps its state, all derived from ``--data-dir`` (and ``--db``)."""

import os


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


# Where a box keeps its data when told nothing: beside chatbox.py.
DEFAULT_DATA_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Paths:
    """The files of one box: database, cookie secret, lock, uploads, backups."""

    def __init__(self, data_dir=None, db=None):
        if not data_dir:
            # A database named on its own keeps its secret and backups beside it, so
            # pointing --db at a scratch file never writes into the install folder.
            data_dir = os.path.dirname(os.path.abspath(db)) if db else DEFAULT_DATA_DIR
        self.data_dir = os.path.abspath(data_dir)
        self.db = os.path.abspath(db) if db else os.path.join(self.data_dir, "chatbox.db")
        self.secret = os.path.join(self.data_dir, "chatbox.secret")
        # The running server's note (pid, port) for status; the lock itself is on the
        # database file. Beside the file the path leads to, so a symlink finds it too.
        self.lock = os.path.realpath(self.db) + ".lock"
        self.uploads = os.path.join(self.data_dir, "uploads")
        self.backups = os.path.join(self.data_dir, "backups")
        # The box's own certificate authority and server certificate (appliance/certs.py).
        self.tls = os.path.join(self.data_dir, "tls")

    @classmethod
    def from_options(cls, options):
        return cls(options.data_dir, options.db or None)

    def make(self):
        """Create the directories a server writes to; private to the service user."""
        for path in (self.data_dir, self.uploads, self.backups):
            os.makedirs(path, mode=0o700, exist_ok=True)
