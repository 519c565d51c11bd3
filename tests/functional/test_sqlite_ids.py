"""The embedded Heat's stall and wedge, made on purpose: SQLite reusing a deleted id.

Heat deletes a resource's attribute record when the resource goes
IN_PROGRESS but keeps its id, then writes (and, losing a race, deletes) by
that id after the action.  SQLite without ``AUTOINCREMENT`` gives the
newest row's id to the next row inserted once that row is deleted, so the
stale id names someone else's *properties* record by then
(heatplan/local/sqlite_ids.py says how).  Here the newest record is, by
construction, the attribute record of a registry-mapped template resource
over a nested ``OS::Heat::Value`` (the issue's plan shape): before the fix
the first in-place update deleted the nested Value's properties record, the
convergence worker dropped its check (heat.log: ``Heat drops the check of
resource ...``), the update hung UPDATE_IN_PROGRESS, and every later update
failed with ``ResourcePropertiesData with id N not found``.

A Heat of its own (a fresh database), so no other test's rows change which
record is the newest.
"""

import json
import os
import sqlite3

import pytest

from heatplan.heat.adapter import HeatAdapter
from heatplan.local import launcher
from heatplan.local import sqlite_ids
from tests.functional.conftest import free_port
from tests.functional.conftest import require_heat

pytestmark = pytest.mark.local_only  # its own embedded Heat, and its database

NESTED = {
    'heat_template_version': '2018-08-31',
    'parameters': {'p': {'type': 'string'}},
    'resources': {'v': {'type': 'OS::Heat::Value',
                        'properties': {'value': {'get_param': 'p'}, 'type': 'string'}}},
    'outputs': {'out': {'value': {'get_attr': ['v', 'value']}}},
}
ROOT = {
    'heat_template_version': '2018-08-31',
    'parameters': {'p': {'type': 'string'}},
    'resources': {
        't': {'type': 'My::Nested', 'properties': {'p': {'get_param': 'p'}}},
        # A dependant makes Heat store t's attributes (the record reused).
        'w': {'type': 'OS::Heat::None', 'depends_on': ['t']},
    },
    'outputs': {'out': {'value': {'get_attr': ['t', 'out']}}},
}

#: Far above the second or two an update of this plan takes, even under load.
UPDATE_TIMEOUT = 120


def body(value):
    return {'template': json.dumps(ROOT),
            'files': {'nested.yaml': json.dumps(NESTED)},
            'environment': {'resource_registry': {'My::Nested': 'nested.yaml'}},
            'parameters': {'p': value}}


@pytest.fixture(scope='module')
def own_heat(tmp_path_factory):
    require_heat()
    data_dir = str(tmp_path_factory.mktemp('ids-heat'))
    status = launcher.up(data_dir=data_dir, port=free_port(), exit_with_pid=os.getpid())
    try:
        yield HeatAdapter.from_url(status.url, local=True), data_dir
    finally:
        launcher.down(data_dir=data_dir)


def _read(data_dir, sql, args=()):
    con = sqlite3.connect('file:%s?mode=ro' % os.path.join(data_dir, 'heat.sqlite'),
                          uri=True, timeout=60)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _records(data_dir):
    """{resource name: (properties record id, attributes record id, properties)}."""
    rows = _read(data_dir,
                 "SELECT r.name, r.rsrc_prop_data_id, r.attr_data_id, p.data FROM resource r "
                 "LEFT JOIN resource_properties_data p ON p.id = r.rsrc_prop_data_id "
                 "WHERE r.name IN ('t', 'v')")
    return {name: (prop_id, attr_id, json.loads(data) if data else None)
            for name, prop_id, attr_id, data in rows}


def test_heat_tables_never_reuse_ids(own_heat):
    _adapter, data_dir = own_heat
    con = sqlite3.connect('file:%s?mode=ro' % os.path.join(data_dir, 'heat.sqlite'), uri=True)
    try:
        assert sqlite_ids.tables_reusing_ids(con) == []
        (sql,), = con.execute("SELECT sql FROM sqlite_master WHERE type = 'table' "
                              "AND name = 'resource_properties_data'").fetchall()
    finally:
        con.close()
    assert 'PRIMARY KEY AUTOINCREMENT' in sql


def test_updates_keep_every_resource_properties_record(own_heat):
    adapter, data_dir = own_heat
    adapter.create_stack('ids-reuse', body('one'))
    created = adapter.get_stack('ids-reuse')
    stack = '%s/%s' % (created['stack_name'], created['id'])
    assert adapter.wait_for_stack(stack, timeout=UPDATE_TIMEOUT, poll=0.5) == 'CREATE_COMPLETE'
    for value in ('two', 'three'):
        adapter.update_stack(stack, body(value))
        status = adapter.wait_for_stack(stack, timeout=UPDATE_TIMEOUT, poll=0.5)
        current = adapter.get_stack(stack)
        assert status == 'UPDATE_COMPLETE', (value, current.get('stack_status_reason'))
        dangling = _read(data_dir, 'PRAGMA foreign_key_check(resource)')
        assert dangling == [], 'resources pointing at deleted records: %s' % dangling
        shared = _read(data_dir,
                       'SELECT r.name, o.name FROM resource r JOIN resource o ON o.id != r.id '
                       'AND r.rsrc_prop_data_id IN (o.rsrc_prop_data_id, o.attr_data_id)')
        assert shared == [], 'properties records shared between resources: %s' % shared
        records = _records(data_dir)
        for name in ('t', 'v'):
            prop_id, attr_id, _data = records[name]
            assert prop_id is not None and prop_id != attr_id, (name, records)
        # The nested Value's properties record holds its properties, not attributes.
        assert records['v'][2] == {'value': value, 'type': 'string'}, records
        assert records['t'][2] == {'p': value}, records
        assert adapter.get_outputs(stack) == {'out': value}
    with open(os.path.join(data_dir, 'heat.log'), encoding='utf-8', errors='replace') as f:
        log = f.read()
    assert 'Heat drops the check' not in log
    assert 'ResourcePropertiesData with id' not in log
