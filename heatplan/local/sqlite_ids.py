"""Never hand out a deleted row's id again: SQLite ``AUTOINCREMENT`` for Heat's tables.

Heat's schema gives its integer keys as ``id INTEGER NOT NULL, ...,
PRIMARY KEY (id)``.  On MySQL/MariaDB (``AUTO_INCREMENT``) and PostgreSQL
(sequences) an id is never handed out twice.  On SQLite such a column is
the table's rowid, and a new row gets *the largest id in the table plus
one*: when the newest row is deleted, the next insert gets its id again.

Heat relies on ids not coming back.  ``Resource.clear_stored_attributes``
deletes a resource's attribute record (``resource_properties_data``) when
the resource goes IN_PROGRESS but keeps the id in ``_attr_data_id``; after
the action, ``store_attributes`` writes to that id (``create_or_update``)
and, when it loses the race to set ``resource.attr_data_id``, deletes the
record by that id.  On MariaDB the id names no row any more, so a new
record is made (and a lost race deletes only that).  On SQLite the id has
meanwhile been given to the next record inserted, typically the
resource's own new properties record (or a nested resource's): Heat
overwrites those properties with attributes, and then deletes the record
that a resource's ``rsrc_prop_data_id`` still points to.  The next load of
that resource fails with ``ResourcePropertiesData with id N not found``:
the convergence worker drops its check (the stack stays IN_PROGRESS for
ever) and every later update fails.  ``tests/functional/test_sqlite_ids.py``
makes it happen on purpose (doc/source/local.rst, "When it stalls").

:func:`make_ids_monotonic` rebuilds each such table with
``INTEGER PRIMARY KEY AUTOINCREMENT`` (SQLite then keeps the highest id
ever used in ``sqlite_sequence`` and never reuses one), keeping its rows,
columns, constraints and indexes.  It runs before Heat opens the database
and is a no-op once done; a table whose schema text is not shaped as
expected is left alone and named in the result.
"""

import re
import sqlite3

_ID_COLUMN = re.compile(r'^(\s*)id INTEGER NOT NULL,', re.MULTILINE)
_PRIMARY_KEY = re.compile(r',\s*PRIMARY KEY \(id\)')
_CREATE = re.compile(r'^CREATE TABLE ("?)(\w+)\1 \(')

#: Prefix of the temporary copy while a table is rebuilt.
TEMP_PREFIX = 'heatplan_rebuild_'


def autoincrement_sql(sql, new_name):
    """``CREATE TABLE`` text ``sql`` with an AUTOINCREMENT id, renamed ``new_name``.

    Returns None when ``sql`` is not ``CREATE TABLE name (id INTEGER NOT
    NULL, ..., PRIMARY KEY (id) ...)`` exactly once each.
    """
    if _CREATE.match(sql) is None:
        return None
    new, columns = _ID_COLUMN.subn(r'\1id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,', sql)
    if columns != 1:
        return None
    new, keys = _PRIMARY_KEY.subn('', new)
    if keys != 1:
        return None
    return _CREATE.sub('CREATE TABLE %s (' % new_name, new, count=1)


def tables_reusing_ids(con):
    """Names of the tables whose integer id SQLite may hand out again."""
    rows = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    return [name for name, sql in rows
            if _ID_COLUMN.search(sql) and 'AUTOINCREMENT' not in sql.upper()]


def make_ids_monotonic(path):
    """Rebuild the tables of SQLite database ``path`` whose ids may be reused.

    Returns ``(rebuilt, skipped)``: lists of table names.  All or nothing:
    one transaction; foreign keys are not enforced meanwhile (dropping a
    referenced table must not cascade).
    """
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        if con.execute('PRAGMA foreign_keys').fetchone()[0]:
            con.execute('PRAGMA foreign_keys = OFF')
        rebuilt, skipped = [], []
        con.execute('BEGIN IMMEDIATE')
        try:
            for name in tables_reusing_ids(con):
                sql = con.execute("SELECT sql FROM sqlite_master WHERE type = 'table' "
                                  "AND name = ?", (name,)).fetchone()[0]
                temp = TEMP_PREFIX + name
                new_sql = autoincrement_sql(sql, temp)
                if new_sql is None:
                    skipped.append(name)
                    continue
                indexes = [row[0] for row in con.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                    "AND sql IS NOT NULL", (name,))]
                con.execute('DROP TABLE IF EXISTS "%s"' % temp)
                con.execute(new_sql)
                con.execute('INSERT INTO "%s" SELECT * FROM "%s"' % (temp, name))
                con.execute('DROP TABLE "%s"' % name)
                con.execute('ALTER TABLE "%s" RENAME TO "%s"' % (temp, name))
                for index in indexes:
                    con.execute(index)
                rebuilt.append(name)
            con.execute('COMMIT')
        except BaseException:
            con.execute('ROLLBACK')
            raise
        return rebuilt, skipped
    finally:
        con.close()
