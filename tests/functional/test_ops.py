"""The operator's read and watch verbs against a real Heat: status, list, outputs, events, wait."""

import json

from heatplan import errors
from heatplan.actions import deploy
from tests.functional import plans

ExitCode = errors.ExitCode


def _deploy(adapter, tmp_path, name, wait=True, **kwargs):
    plan = plans.build(plans.make_plan(tmp_path, 'p-%s' % name, **kwargs))
    return deploy.deploy(adapter, plan, deploy.DeployOptions(stack=name, poll=0.5, wait=wait))


def test_status_list_outputs_events(local_heat, tmp_path, cli, name):
    adapter = local_heat.adapter
    result = _deploy(adapter, tmp_path, name)
    code, out, err = cli('status', name, '-f', 'json')
    assert code == 0, err
    info = json.loads(out)
    assert (info['stack_status'], info['revision'], info['digest']) == (
        'CREATE_COMPLETE', 1, result.digest)
    assert info['plan_matches'] is True and info['pending'] is None
    assert info['outputs'] == {'value': plans.DATA} or 'value' in info['outputs']
    # list: the managed stack, not its revision records
    code, out, err = cli('list', '-f', 'json')
    assert code == 0, err
    rows = [r for r in json.loads(out) if r['stack'] == name]
    assert [(r['revision'], r['status']) for r in rows] == [(1, 'CREATE_COMPLETE')]
    assert not [r for r in json.loads(out) if r['stack'].startswith('hp.')]
    # outputs, all and one
    code, out, _err = cli('outputs', name, '-f', 'json')
    assert code == 0 and [r['output'] for r in json.loads(out)] == ['value']
    code, out, _err = cli('outputs', name, 'value', '-f', 'value', '-c', 'value')
    assert code == 0 and out.strip()
    code, _out, err = cli('outputs', name, 'nope')
    assert code != 0 and "has no output 'nope'" in err and 'value' in err
    # events: each once, in time order, nested ones with --nested-depth
    code, out, err = cli('events', name, '--nested-depth', '3', '-f', 'json')
    assert code == 0, err
    events = json.loads(out)
    assert events and [e['time'] for e in events] == sorted(e['time'] for e in events)
    keys = [(e['time'], e['stack'], e['resource'], e['status']) for e in events]
    assert len(keys) == len(set(keys))
    assert any(e['status'] == 'CREATE_COMPLETE' for e in events)


def test_status_sees_a_change_made_outside_heatplan(local_heat, tmp_path, cli, name):
    adapter = local_heat.adapter
    _deploy(adapter, tmp_path, name)
    stack = adapter.get_stack(name)
    ident = '%s/%s' % (stack['stack_name'], stack['id'])
    # as "openstack stack update --existing" would: one file of the map changed
    adapter.client.stacks.update(ident, existing=True,
                                 files={'files/data.txt': 'changed by hand'})
    adapter.wait_for_stack(ident, timeout=120, poll=0.5)
    code, out, err = cli('status', name, '-f', 'json')
    assert code == 0, err
    info = json.loads(out)
    assert info['plan_matches'] is False
    assert 'files/data.txt' in info['plan_check'] and 'changed outside heatplan' in \
        info['plan_check']


def test_wait_follows_a_deploy_started_without_waiting(local_heat, tmp_path, cli, name):
    adapter = local_heat.adapter
    result = _deploy(adapter, tmp_path, name, wait=False)
    assert result.outcome == 'accepted'
    code, out, err = cli('wait', name, '--wait-timeout', '300', '-f', 'json')
    assert code == 0, err
    done = json.loads(out)
    assert (done['status'], done['revision']) == ('CREATE_COMPLETE', 1)
    # on a settled stack it returns at once
    code, out, _err = cli('wait', name, '-f', 'value', '-c', 'status')
    assert code == 0 and out.strip() == 'CREATE_COMPLETE'
    code, _out, err = cli('wait', 'no-such-stack-%s' % name)
    assert code != 0 and 'no stack' in err


def test_wait_and_events_follow_time_out_with_exit_7(local_heat, tmp_path, cli, name):
    adapter = local_heat.adapter
    _deploy(adapter, tmp_path, name)
    plan = plans.build(plans.make_plan(tmp_path, 'slow', update_wait=20, label='two'))
    result = deploy.deploy(adapter, plan, deploy.DeployOptions(stack=name, poll=0.5,
                                                               wait=False))
    assert result.outcome == 'accepted'
    code, _out, err = cli('wait', name, '--wait-timeout', '1', '--poll', '0.2')
    assert code == ExitCode.TIMED_OUT, err
    assert 'goes on in Heat' in err or 'still' in err
    code, _out, err = cli('events', name, '--follow', '--wait-timeout', '1', '--poll', '0.2')
    assert code == ExitCode.TIMED_OUT, err
    code, _out, err = cli('wait', name, '--wait-timeout', '300')
    assert code == 0, err


def test_not_found_is_one_exit_code_with_a_hint(local_heat, cli, name):
    nosuch = 'nosuch-%s' % name
    for args in (('status', nosuch), ('outputs', nosuch), ('events', nosuch),
                 ('wait', nosuch), ('history', nosuch), ('show', nosuch),
                 ('rollback', nosuch), ('recover', nosuch), ('delete', nosuch, '--yes')):
        code, _out, err = cli(*args)
        assert code == ExitCode.NOT_FOUND == 11, (args, code, err)
        assert 'no stack %s' % nosuch in err and 'hint:' in err, (args, err)
    # a stack heatplan never deployed has no history (said so, not an empty table)
    local_heat.adapter.create_stack(name, {'template': 'heat_template_version: 2021-04-16\n'})
    local_heat.adapter.wait_for_stack(name, timeout=60, poll=0.5)
    code, _out, err = cli('history', name)
    assert code == ExitCode.NOT_FOUND and 'heatplan never deployed it' in err


def test_a_revision_description_is_kept_and_shown(tmp_path, cli, name):
    source = plans.make_plan(tmp_path, 'described')
    code, _out, err = cli('deploy', source, '--stack', name, '--description', 'ticket OPS-42')
    assert code == 0, err
    code, out, err = cli('history', name, '-f', 'json')
    assert code == 0, err
    assert [r['description'] for r in json.loads(out)] == ['ticket OPS-42']
