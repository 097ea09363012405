"""How several processes on one PostgreSQL database tell each other about news.

The interface chatbox.main uses: ``from_option(value, database_url)`` gives the bus
``--bus`` names (None without one); a bus has ``async start()`` and ``async close()``.
"""


def from_option(value, database_url):
    """The bus ``--bus=value`` names, or None for no bus."""
    if not value:
        return None
    raise ValueError(f"--bus={value}: this chatbox has no bus yet")
