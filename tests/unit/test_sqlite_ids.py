"""SQLite ids made AUTOINCREMENT for Heat's tables (heatplan.local.sqlite_ids)."""

import sqlite3

from heatplan.local import sqlite_ids


# Heat 27's schema text for three tables as alembic leaves it in SQLite
# (columns joined by ", \n\t", as SQLAlchemy writes them).
def _table(name, *lines):
    return 'CREATE TABLE %s (\n\t%s\n)' % (name, ', \n\t'.join(lines))


SCHEMA = [
    _table('resource_properties_data', 'id INTEGER NOT NULL', 'data TEXT',
           'encrypted BOOLEAN', 'created_at DATETIME', 'updated_at DATETIME',
           'PRIMARY KEY (id)'),
    _table('resource', 'id INTEGER NOT NULL', 'name VARCHAR(255)', 'uuid VARCHAR(36)',
           'rsrc_prop_data_id INTEGER', 'PRIMARY KEY (id)',
           'CONSTRAINT rsrc_rsrc_prop_data_ref FOREIGN KEY(rsrc_prop_data_id) '
           'REFERENCES resource_properties_data (id)', 'UNIQUE (uuid)'),
    'CREATE INDEX ix_resource_name ON resource (name)',
    _table('stack_lock', 'stack_id VARCHAR(36) NOT NULL', 'engine_id VARCHAR(36)',
           'PRIMARY KEY (stack_id)'),
]


def _database(path):
    con = sqlite3.connect(path)
    for sql in SCHEMA:
        con.execute(sql)
    con.executemany('INSERT INTO resource_properties_data (data) VALUES (?)',
                    [('{"a": 1}',), ('{"b": 2}',), ('{"c": 3}',)])
    con.execute("INSERT INTO resource (name, uuid, rsrc_prop_data_id) VALUES ('r', 'u1', 2)")
    con.commit()
    return con


def _reused(con):
    """Delete the newest record and insert one: the new record's id, the deleted id."""
    (newest,), = con.execute('SELECT max(id) FROM resource_properties_data').fetchall()
    con.execute('DELETE FROM resource_properties_data WHERE id = ?', (newest,))
    new = con.execute("INSERT INTO resource_properties_data (data) VALUES ('{}')").lastrowid
    con.commit()
    return new, newest


def test_sqlite_reuses_the_newest_deleted_id_of_heats_schema(tmp_path):
    con = _database(str(tmp_path / 'heat.sqlite'))
    new, deleted = _reused(con)
    assert new == deleted  # what Heat does not expect (MySQL never does this)
    assert sqlite_ids.tables_reusing_ids(con) == ['resource', 'resource_properties_data']


def test_rebuilt_tables_never_reuse_an_id_and_keep_rows_keys_and_indexes(tmp_path):
    path = str(tmp_path / 'heat.sqlite')
    _database(path).close()
    rebuilt, skipped = sqlite_ids.make_ids_monotonic(path)
    assert sorted(rebuilt) == ['resource', 'resource_properties_data'] and skipped == []

    con = sqlite3.connect(path)
    assert sqlite_ids.tables_reusing_ids(con) == []
    assert con.execute('SELECT id, data FROM resource_properties_data ORDER BY id').fetchall() \
        == [(1, '{"a": 1}'), (2, '{"b": 2}'), (3, '{"c": 3}')]
    assert con.execute('SELECT id, name, uuid, rsrc_prop_data_id FROM resource').fetchall() \
        == [(1, 'r', 'u1', 2)]
    for _ in range(3):
        new, deleted = _reused(con)
        assert new > deleted
    names = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
    assert 'ix_resource_name' in names
    assert not any(n.startswith(sqlite_ids.TEMP_PREFIX) for n in names)
    (sql,), = con.execute("SELECT sql FROM sqlite_master WHERE name = 'resource'").fetchall()
    assert 'REFERENCES resource_properties_data (id)' in sql and 'UNIQUE (uuid)' in sql
    # The foreign key still names the rebuilt table: a dangling reference is found.
    con.execute('UPDATE resource SET rsrc_prop_data_id = 99')
    con.commit()
    assert [row[2] for row in con.execute('PRAGMA foreign_key_check(resource)')] \
        == ['resource_properties_data']
    con.close()


def test_a_second_run_changes_nothing(tmp_path):
    path = str(tmp_path / 'heat.sqlite')
    _database(path).close()
    sqlite_ids.make_ids_monotonic(path)
    con = sqlite3.connect(path)
    before = con.execute('SELECT type, name, sql FROM sqlite_master ORDER BY name').fetchall()
    con.close()
    assert sqlite_ids.make_ids_monotonic(path) == ([], [])
    con = sqlite3.connect(path)
    assert con.execute('SELECT type, name, sql FROM sqlite_master ORDER BY name').fetchall() \
        == before
    con.close()


def test_a_table_shaped_otherwise_is_left_alone_and_named(tmp_path):
    path = str(tmp_path / 'heat.sqlite')
    con = sqlite3.connect(path)
    # An id in a composite key: not the shape rewritten here.
    con.execute(_table('odd', 'id INTEGER NOT NULL', 'x INTEGER',
                       'CONSTRAINT pk PRIMARY KEY (id, x)'))
    con.commit()
    con.close()
    assert sqlite_ids.make_ids_monotonic(path) == ([], ['odd'])


def test_autoincrement_sql_rewrites_exactly_the_key():
    new = sqlite_ids.autoincrement_sql(SCHEMA[0], 'tmp_rpd')
    assert new.startswith('CREATE TABLE tmp_rpd (')
    assert 'id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,' in new
    assert 'PRIMARY KEY (id)' not in new
    assert sqlite_ids.autoincrement_sql('CREATE VIEW v AS SELECT 1', 'x') is None
