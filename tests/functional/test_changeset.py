"""Change sets against a real Heat: deploy --dry-run --save, changeset show, apply."""

import json

from heatplan import errors
from heatplan.cli import app
from tests.functional import plans

ExitCode = errors.ExitCode


def test_create_review_apply_then_update(tmp_path, cli, name, capsys):
    v1 = plans.make_plan(tmp_path, 'v1')
    cs = tmp_path / 'create.json'
    code, _out, err = cli('deploy', v1, '--stack', name, '--dry-run', '--save', cs)
    assert code == 0, err
    assert 'change set written to' in err
    doc = json.loads(cs.read_text())
    assert doc['base'] == {'exists': False, 'revision': 0, 'digest': None,
                           'stack_status': None, 'updated_time': None}
    capsys.readouterr()
    code = app.main(['changeset', 'show', str(cs), '-f', 'json'])  # needs no Heat
    out, err = capsys.readouterr()
    assert code == 0, err
    shown = json.loads(out)
    assert shown['stack'] == name and shown['added'] and shown['base_revision'] == 0
    code, out, err = cli('apply', cs, '-f', 'json')
    assert code == 0, err
    result = json.loads(out)
    assert (result['outcome'], result['revision'], result['digest']) == (
        'created', 1, doc['digest'])
    # an update reviewed, then applied with no second preview (nothing changed)
    v2 = plans.make_plan(tmp_path, 'v2', label='two')
    cs2 = tmp_path / 'update.json'
    code, _out, err = cli('deploy', v2, '--stack', name, '--dry-run', '--save', cs2)
    assert code == 0, err
    assert json.loads(cs2.read_text())['base']['revision'] == 1
    code, out, err = cli('apply', cs2, '-f', 'json')
    assert code == 0, err
    result = json.loads(out)
    assert (result['outcome'], result['revision']) == ('updated', 2)
    assert any('using its reviewed preview' in m for m in result['messages'])
    # applied once, the change set is stale: the stack moved on
    code, _out, err = cli('apply', cs2)
    assert code == ExitCode.REFUSED and 'changed since the change set was previewed' in err


def test_a_stale_or_edited_change_set_is_refused(tmp_path, cli, name):
    assert cli('deploy', plans.make_plan(tmp_path, 'v1'), '--stack', name)[0] == 0
    cs = tmp_path / 'cs.json'
    assert cli('deploy', plans.make_plan(tmp_path, 'v2', label='two'), '--stack', name,
               '--dry-run', '--save', cs)[0] == 0
    # edited: one file of the request changed after the review
    doc = json.loads(cs.read_text())
    doc['request']['files']['files/data.txt'] = 'not what was reviewed'
    edited = tmp_path / 'edited.json'
    edited.write_text(json.dumps(doc))
    code, _out, err = cli('apply', edited)
    assert code == ExitCode.REFUSED and 'changed after its preview' in err
    # stale: another deploy landed in between
    assert cli('deploy', plans.make_plan(tmp_path, 'v3', label='three'), '--stack',
               name)[0] == 0
    code, _out, err = cli('apply', cs)
    assert code == ExitCode.REFUSED and 'revision 2' in err and 'revision 1' in err
    code, _out, err = cli('apply', tmp_path / 'nope.json')
    assert code == ExitCode.PLAN_INVALID and 'cannot read the change set' in err


def test_the_guard_judges_the_reviewed_changes(tmp_path, cli, name):
    assert cli('deploy', plans.make_plan(tmp_path, 'v1'), '--stack', name)[0] == 0
    cs = tmp_path / 'replace.json'
    code, _out, err = cli('deploy', plans.make_plan(tmp_path, 'v2', replace='b'), '--stack',
                          name, '--dry-run', '--save', cs)
    assert code == 0, err
    assert json.loads(cs.read_text())['preview']['replaced']
    code, _out, err = cli('apply', cs)
    assert code == ExitCode.REFUSED and '--allow-replace' in err
    code, out, err = cli('apply', cs, '--allow-replace', '-f', 'json')
    assert code == 0, err
    assert json.loads(out)['revision'] == 2
