"""Running chatbox as an appliance: configuration, systemd, backups, admin commands.

Nothing here serves chat; ``chatbox.py`` wires these pieces around the application.
"""

__version__ = "0.1.0"
