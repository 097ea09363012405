"""Where a box keeps its state, all derived from ``--data-dir`` (and ``--db``)."""
import os


class Paths:
    """The files of one box: database, cookie secret, lock, uploads, backups."""

    def __init__(self, data_dir, db=None):
        self.data_dir = os.path.abspath(data_dir)
        self.db = os.path.abspath(db) if db else os.path.join(self.data_dir, "chatbox.db")
        self.secret = os.path.join(self.data_dir, "chatbox.secret")
        # Beside the database it guards, so two data dirs sharing one --db still clash.
        self.lock = self.db + ".lock"
        self.uploads = os.path.join(self.data_dir, "uploads")
        self.backups = os.path.join(self.data_dir, "backups")

    @classmethod
    def from_options(cls, options):
        return cls(options.data_dir, options.db or None)

    def make(self):
        """Create the directories a server writes to; private to the service user."""
        for path in (self.data_dir, self.uploads, self.backups):
            os.makedirs(path, mode=0o700, exist_ok=True)
        # SQLite gives its -wal and -shm files the database file's mode: a new database
        # starts as an empty 0600 file so messages and password hashes stay private.
        if not os.path.exists(self.db):
            os.close(os.open(self.db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
