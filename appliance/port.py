"""``port-to-postgres``: copy a SQLite box into an empty PostgreSQL database, and prove it.

The copy runs in one PostgreSQL transaction: it either lands whole or leaves the target
as empty as it found it, so a failed run is simply run again. Tables go in dependency
order (a row's references are there before it), in batches of ``BATCH`` rows read in
primary-key order, with their ids kept, so every reference, link and resume point
(message ids, room sequence numbers) means on PostgreSQL what it meant on SQLite. Each
table's id sequence is then set past its largest id, so new rows do not collide.

The check afterwards reads both databases again, table by table in primary-key order,
and compares every row's every column as the models read them (the same Python values
from both engines): "verified N" means N rows are equal, not merely counted.

SQLite's full-text index is not copied: it is derived from the messages, and PostgreSQL
keeps its own. The uploads folder is not in the database: it moves as a folder.
"""

import logging

from peewee import AutoField, sort_models

from models import MODELS

log = logging.getLogger("chatbox.port")

# Rows per INSERT: big enough that round trips do not dominate, small enough that one
# batch of messages (up to 4,000 characters each) stays a few megabytes.
BATCH = 500


class PortError(Exception):
    """The copy cannot be made (a non-empty target) or did not verify."""


def ordered_models():
    """The tables in an order where each row's references are copied before it."""
    return sort_models(MODELS)


def _rows(model, database, after=None, batch=BATCH):
    """Every row of ``model`` in ``database`` as tuples of the models' Python values, in
    primary-key order, read ``batch`` rows at a time."""
    key = model._meta.primary_key
    fields = model._meta.sorted_fields
    with database.bind_ctx([model], bind_refs=False, bind_backrefs=False):
        while True:
            query = model.select(*fields).order_by(key).limit(batch)
            if after is not None:
                query = query.where(key > after)
            rows = list(query.tuples())
            if not rows:
                return
            yield from rows
            after = rows[-1][fields.index(key)]


def _count(model, database):
    with database.bind_ctx([model], bind_refs=False, bind_backrefs=False):
        return model.select().count()


def check_empty(target):
    """Refuse a target that holds any row of any chatbox table."""
    full = [m._meta.table_name for m in ordered_models() if _count(m, target)]
    if full:
        raise PortError(
            f"the PostgreSQL database already holds data (tables {', '.join(full)}); "
            "port-to-postgres copies only into an empty one. Create a new database "
            "(createdb), or drop this one if it is a failed earlier attempt"
        )


def copy(source, target):
    """Copy every table from ``source`` into ``target`` in one transaction; returns
    {table: rows copied}."""
    copied = {}
    with target.atomic():
        for model in ordered_models():
            fields = model._meta.sorted_fields
            count = 0
            batch = []
            for row in _rows(model, source):
                batch.append(row)
                if len(batch) == BATCH:
                    count += _insert(model, fields, batch, target)
                    batch = []
            if batch:
                count += _insert(model, fields, batch, target)
            copied[model._meta.table_name] = count
        reset_sequences(target)
    return copied


def _insert(model, fields, rows, target):
    with target.bind_ctx([model], bind_refs=False, bind_backrefs=False):
        model.insert_many(rows, fields=fields).execute()
    return len(rows)


def reset_sequences(target):
    """Set each table's id sequence past the largest id copied into it.

    Rows were inserted with their ids, which does not advance a serial column's
    sequence: without this the next new row would be given id 1 and collide.
    """
    for model in ordered_models():
        key = model._meta.primary_key
        if not isinstance(key, AutoField):
            continue  # a key the application chooses (setting.key): no sequence
        table, column = model._meta.table_name, key.column_name
        # is_called false on an empty table: its first id stays 1.
        target.execute_sql(
            f"SELECT setval(pg_get_serial_sequence(%s, %s), "
            f'COALESCE(MAX("{column}"), 1), MAX("{column}") IS NOT NULL) '
            f'FROM "{table}"',
            (f'"{table}"', column),
        )


def verify(source, target):
    """Compare both databases row by row; returns {table: rows verified}.

    Raises PortError at the first table whose rows or counts differ, naming the row.
    """
    verified = {}
    for model in ordered_models():
        table = model._meta.table_name
        names = [f.name for f in model._meta.sorted_fields]
        expected = _count(model, source)
        found = _count(model, target)
        if expected != found:
            raise PortError(f"{table}: {expected} rows in SQLite but {found} in PostgreSQL")
        equal = 0
        theirs = _rows(model, target)
        for mine in _rows(model, source):
            other = next(theirs, None)
            if mine != other:
                raise PortError(f"{table}: {_difference(names, mine, other)}")
            equal += 1
        if next(theirs, None) is not None:
            raise PortError(f"{table}: PostgreSQL holds rows SQLite does not")
        verified[table] = equal
    return verified


def _difference(names, mine, other):
    if other is None:
        return f"row {mine[0]!r} is missing in PostgreSQL"
    for name, a, b in zip(names, mine, other, strict=True):
        if a != b:
            return (
                f"row {mine[0]!r} differs in {name}: {a!r} in SQLite, {b!r} in PostgreSQL"
            )
    return f"row {mine[0]!r} differs"


def port(source, target, report=print):
    """Check the target is empty, copy, verify; returns {table: (copied, verified)}."""
    check_empty(target)
    copied = copy(source, target)
    verified = verify(source, target)
    for table, count in verified.items():
        report(f"{table}: copied {copied[table]}, verified {count}")
    return {table: (copied[table], verified[table]) for table in verified}
