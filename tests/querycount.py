"""Counting the SQL statements a piece of code runs, to catch N+1 queries."""
import contextlib

import models


@contextlib.contextmanager
def counting_queries():
    """Every statement run through ``models.db`` meanwhile, in a list, as SQL text.

    The server in the tests runs in this process, so a request made inside the block
    is counted too (reads run on the event loop thread, writes on the writer's).
    """
    seen = []
    original = models.db.execute_sql

    def execute_sql(sql, params=None, *args, **kwargs):
        seen.append(sql)
        return original(sql, params, *args, **kwargs)

    models.db.execute_sql = execute_sql
    try:
        yield seen
    finally:
        del models.db.execute_sql
