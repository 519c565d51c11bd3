"""A stack Heat itself cannot update: its preview fails on the stack's own stored data.

The fault is made by pointing a nested resource at a properties record that
does not exist (what the issue saw after deploys were killed: "ResourcePropertiesData
with id ... not found").  heatplan says the fault is in Heat's records, shows
the real id (the local Heat keeps it; a Heat bug renders it as "{}") and
offers the explicit ways out; nothing is changed or recorded.
"""

import os
import sqlite3

import pytest

from heatplan import errors
from tests.functional import plans


def _wedge(data_dir, stack):
    con = sqlite3.connect(os.path.join(data_dir, 'heat.sqlite'), timeout=60)
    try:
        with con:
            rows = con.execute(
                "SELECT r.id FROM resource r JOIN stack s ON r.stack_id = s.id "
                "WHERE s.name LIKE ? AND r.name = 'echo' AND s.deleted_at IS NULL",
                (stack + '-nested-%',)).fetchall()
            assert len(rows) == 1, rows
            con.execute('UPDATE resource SET rsrc_prop_data_id = 987654 WHERE id = ?',
                        (rows[0][0],))
    finally:
        con.close()


@pytest.mark.local_only  # the embedded Heat's SQLite database
def test_preview_failing_on_the_stacks_own_data_is_named_so(local_heat, tmp_path, cli,
                                                             name, adapter):
    code, _out, err = cli('deploy', plans.make_plan(tmp_path, 'v1', nested=True),
                          '--stack', name)
    assert code == 0, err
    _wedge(local_heat.data_dir, name)
    before = plans.revisions(adapter, name)
    v2 = plans.make_plan(tmp_path, 'v2', nested=True, data='changed data')
    for extra in ((), ('--dry-run',)):
        code, out, err = cli('deploy', v2, '--stack', name, *extra)
        assert code == errors.ExitCode.HEAT_REJECTED, (out, err)
        assert "fails on the stack's own stored data, not on the plan" in err, err
        assert 'ResourcePropertiesData with id 987654 not found' in err, err
        assert '{}' not in err
        assert 'heatplan delete %s' % name in err and '--allow-replace --allow-delete' in err
        assert 'Nothing was changed and no revision was recorded' in err
        assert 'Traceback' not in err
    assert plans.revisions(adapter, name) == before
