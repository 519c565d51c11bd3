"""No unbounded wait: --wait-timeout on deploy/rollback/delete, and the no-progress report.

A slow update comes from ``OS::Heat::TestResource``'s ``action_wait_secs``
in a nested template, so the report shows a nested path.
"""

import re

from heatplan import errors
from heatplan import store as store_mod
from tests.functional import plans

ExitCode = errors.ExitCode

MANIFEST = """\
template: main.yaml
parameters:
  label: {label}
"""

MAIN = """\
heat_template_version: 2021-04-16
parameters:
  label: {type: string}
resources:
  slow:
    type: slow.yaml
    properties:
      label: {get_param: label}
"""

SLOW = """\
heat_template_version: 2021-04-16
parameters:
  label: {{type: string}}
resources:
  sleeper:
    type: OS::Heat::TestResource
    properties:
      value: {{get_param: label}}
      action_wait_secs: {{create: 0, update: {update}, delete: {delete}}}
"""


def slow_plan(tmp_path, label, update=0, delete=0):
    return plans.write_plan(tmp_path / ('p-%s-%s-%s' % (label, update, delete)), {
        'heatplan.yaml': MANIFEST.format(label=label),
        'main.yaml': MAIN,
        'slow.yaml': SLOW.format(update=update, delete=delete),
    })


def test_deploy_wait_timeout_says_it_goes_on_and_how_to_follow(tmp_path, cli, name,
                                                               adapter):
    code, _out, err = cli('deploy', slow_plan(tmp_path, 'one', update=10), '--stack', name)
    assert code == 0, err
    code, out, err = cli('deploy', slow_plan(tmp_path, 'two', update=10), '--stack', name,
                         '--wait-timeout', '2', '--quiet-report', '0')
    assert code == ExitCode.TIMED_OUT, (out, err)
    assert 'still UPDATE_IN_PROGRESS after 2 s' in err, err
    assert 'the deploy goes on in Heat' in err, err
    assert 'heatplan wait %s' % name in err and 'heatplan events %s --follow' % name in err
    assert 'heatplan recover %s' % name in err
    # The revision stays pending: heatplan wait follows it, recover settles it.
    assert plans.revisions(adapter, name)[-1] == (2, store_mod.PENDING)
    code, out, err = cli('wait', name, '--wait-timeout', '120', '-f', 'value',
                         '-c', 'status')
    assert code == 0, err
    assert out.strip() == 'UPDATE_COMPLETE'
    code, _out, err = cli('recover', name)
    assert code == 0, err
    assert plans.revisions(adapter, name)[-1] == (2, store_mod.DEPLOYED)


def test_quiet_wait_lists_resources_in_progress_with_nested_path(tmp_path, cli, name):
    code, _out, err = cli('deploy', slow_plan(tmp_path, 'one', update=9), '--stack', name)
    assert code == 0, err
    code, out, err = cli('deploy', slow_plan(tmp_path, 'two', update=9), '--stack', name,
                         '--quiet-report', '3')
    assert code == 0, (out, err)
    assert re.search(r'no event for \d+ s; resources still in progress:', err), err
    # the nested template resource and the resource inside it, for how long
    assert re.search(r'  %s/slow/sleeper \(OS::Heat::TestResource\) UPDATE_IN_PROGRESS '
                     r'for \d+s' % re.escape(name), err), err
    assert re.search(r'  %s/slow \(slow.yaml\) UPDATE_IN_PROGRESS for \d+s'
                     % re.escape(name), err), err


def test_wait_verb_reports_quiet_too(tmp_path, cli, name):
    code, _out, err = cli('deploy', slow_plan(tmp_path, 'one', update=8), '--stack', name)
    assert code == 0, err
    code, _out, err = cli('deploy', slow_plan(tmp_path, 'two', update=8), '--stack', name,
                          '--no-wait')
    assert code == 0, err
    code, out, err = cli('wait', name, '--quiet-report', '3', '--wait-timeout', '120')
    assert code == 0, err
    assert '%s/slow/sleeper (OS::Heat::TestResource) UPDATE_IN_PROGRESS' % name in err, err
    code, _out, err = cli('recover', name)
    assert code == 0, err


def test_rollback_and_delete_take_wait_timeout(tmp_path, cli, name, adapter):
    code, _out, err = cli('deploy', slow_plan(tmp_path, 'one', update=10, delete=10),
                          '--stack', name)
    assert code == 0, err
    code, _out, err = cli('deploy', slow_plan(tmp_path, 'two', update=10, delete=10),
                          '--stack', name)
    assert code == 0, err
    code, out, err = cli('rollback', name, '--wait-timeout', '2', '--quiet-report', '0')
    assert code == ExitCode.TIMED_OUT, (out, err)
    assert 'the rollback goes on in Heat' in err, err
    code, _out, err = cli('wait', name, '--wait-timeout', '120')
    assert code == 0, err
    code, _out, err = cli('recover', name)
    assert code == 0, err
    code, out, err = cli('delete', name, '--yes', '--wait-timeout', '2')
    assert code == ExitCode.TIMED_OUT, (out, err)
    assert 'DELETE_IN_PROGRESS' in err and 'the delete goes on in Heat' in err, err
    assert 'heatplan wait %s' % name in err
    code, _out, err = cli('wait', name, '--wait-timeout', '120')
    assert code == 0, err
