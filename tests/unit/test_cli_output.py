"""cliff output of the verbs that print their own text by default.

validate, build, package, deploy, diff, rollback and apply are cliff
ShowOne/Lister commands: ``-f text`` (the default) is what they always
printed, ``-f json|yaml|value|table|shell`` and ``-c COLUMN`` give their
columns, and their exit codes do not depend on the format.  The stack verbs
run against the in-memory Heat of test_secrets (requests-mock; python-heatclient
and keystoneauth1 unchanged).
"""

import dataclasses
import json
import re

import pytest
import requests_mock
import yaml

from heatplan import errors
from heatplan.actions import deploy as deploy_mod
from heatplan.cli import base
from heatplan.cli import ops as ops_cli
from heatplan.cli import plan as plan_cli
from heatplan.cli import stack as stack_cli
from tests.unit.conftest import make_plan
from tests.unit.conftest import run_cli
from tests.unit.conftest import template
from tests.unit.test_secrets import FakeHeat

RESULT_KEYS = [f.name for f in dataclasses.fields(deploy_mod.DeployResult)]
DIGEST = re.compile(r'sha256:[0-9a-f]{64}')


@pytest.fixture
def heat():
    fake = FakeHeat()
    with requests_mock.Mocker(real_http=False) as mocker:
        fake.install(mocker)
        yield fake


def plan(tmp_path, label='one', name='plan'):
    return make_plan(tmp_path, {
        'heatplan.yaml': 'template: root.yaml\n',
        'root.yaml': template(parameters='  label:\n    type: string\n    default: %s\n'
                              % label)}, name=name)


def warned_plan(tmp_path):
    """A plan with one lint warning (HP2xx: a template URL Heat fetches itself)."""
    return make_plan(tmp_path, {'root.yaml': template(
        resources='  a:\n    type: https://example.com/x.yaml\n')}, name='warned')


def heat_args(heat):
    return ['--heat-url', heat.url]


# -- every converted verb is a cliff ShowOne/Lister whose default is text ---------------

@pytest.mark.parametrize('cls,kind', [
    (plan_cli.Validate, base.Lister), (plan_cli.Build, base.ShowOne),
    (plan_cli.Package, base.ShowOne), (stack_cli.Deploy, base.ShowOne),
    (stack_cli.Rollback, base.ShowOne), (stack_cli.Diff, base.ShowOne),
    (ops_cli.Apply, base.ShowOne)])
def test_the_text_verbs_are_cliff_data_commands(cls, kind):
    from heatplan.cli import app

    cmd = cls(app.HeatplanApp(), None)
    assert isinstance(cmd, kind)
    parser = cmd.get_parser('heatplan x')
    fmt = next(a for a in parser._actions if '--format' in a.option_strings)
    assert fmt.default == 'text'
    assert {'text', 'json', 'yaml', 'value', 'table'} <= set(fmt.choices)
    assert any('--noindent' in a.option_strings for a in parser._actions)
    assert any('--max-width' in a.option_strings for a in parser._actions)


# -- validate ---------------------------------------------------------------------------

def test_validate_text_json_value(tmp_path, capsys):
    source = warned_plan(tmp_path)
    rc, out, err = run_cli(['validate', source, '-t', 'root.yaml'], capsys)
    assert rc == 0
    assert re.fullmatch(r'root\.yaml:\d+:\d+: warning\[HP\d{3}\]: .+\n', out), out
    assert err == '0 error(s), 1 warning(s)\n'
    rc, out, err = run_cli(['validate', source, '-t', 'root.yaml', '-f', 'json'], capsys)
    assert rc == 0 and err == ''
    (found,) = json.loads(out)
    assert list(found) == list(plan_cli.Validate.COLUMNS)
    rc, out, _err = run_cli(['validate', source, '-t', 'root.yaml', '-f', 'value',
                             '-c', 'code'], capsys)
    assert rc == 0 and out == found['code'] + '\n'
    rc, out, _err = run_cli(['validate', source, '-t', 'root.yaml', '-c', 'line'], capsys)
    assert rc == 0 and out == '%d\n' % found['line']   # -f text -c: values
    rc, out, _err = run_cli(['validate', source, '-t', 'root.yaml', '-f', 'json',
                             '--noindent'], capsys)
    assert rc == 0 and out == json.dumps([found]) + '\n'


def test_validate_keeps_exit_3_in_every_format(tmp_path, capsys):
    source = make_plan(tmp_path, {'root.yaml': template(
        resources='  a:\n    type: missing.yaml\n')})
    for fmt in ('text', 'json', 'yaml', 'value', 'table', 'csv'):
        rc, out, _err = run_cli(['validate', source, '-t', 'root.yaml', '-f', fmt], capsys)
        assert rc == errors.ExitCode.PLAN_INVALID, fmt
        assert 'HP201' in out, fmt
    rc, out, _err = run_cli(['validate', source, '-t', 'root.yaml', '-f', 'value',
                             '-c', 'code', '-c', 'severity'], capsys)
    assert rc == 3 and out == 'error HP201\n'   # in the columns' order


# -- build and package --------------------------------------------------------------------

def test_build_summary_formats(tmp_path, capsys):
    source = plan(tmp_path)
    out_file = tmp_path / 'plan.json'
    rc, text, _err = run_cli(['build', source, '-o', str(out_file)], capsys)
    assert rc == 0
    digest = json.loads(out_file.read_text())['digest']
    assert re.fullmatch(r'%s: 3 files, \d+ bytes, %s\n' % (re.escape(str(out_file)), digest),
                        text), text
    rc, out, _err = run_cli(['build', source, '-o', str(out_file), '-f', 'json'], capsys)
    assert rc == 0
    info = json.loads(out)
    assert list(info) == list(plan_cli.Build.COLUMNS)
    assert info['digest'] == digest and info['files'] == 3 and info['output'] == str(out_file)
    rc, out, _err = run_cli(['build', source, '-o', '/dev/null', '-f', 'value', '-c',
                             'digest'], capsys)
    assert rc == 0 and out == digest + '\n'
    rc, out, _err = run_cli(['build', source, '-o', str(out_file), '-f', 'shell',
                             '-c', 'files'], capsys)
    assert rc == 0 and out == 'files="3"\n'


def test_build_with_a_format_but_no_output_file_is_a_usage_error(tmp_path, capsys):
    source = plan(tmp_path)
    for extra in (['-f', 'json'], ['-c', 'digest'], ['-o', '-', '-f', 'yaml']):
        rc, out, err = run_cli(['build', source] + extra, capsys)
        assert rc == errors.ExitCode.USAGE, extra
        assert out == '' and '-o FILE' in err, extra
    rc, out, _err = run_cli(['build', source, '-f', 'text'], capsys)   # the document
    assert rc == 0 and list(json.loads(out)) == ['body', 'digest']


def test_package_summary_formats(tmp_path, capsys):
    source = plan(tmp_path)
    target = tmp_path / 'plan.tar.gz'
    rc, out, _err = run_cli(['package', source, '-o', str(target)], capsys)
    assert rc == 0
    assert re.fullmatch(r'%s: 2 files, sha256:[0-9a-f]{64}\n' % re.escape(str(target)), out)
    rc, out, _err = run_cli(['package', source, '-o', str(target), '-f', 'json'], capsys)
    assert rc == 0
    info = json.loads(out)
    assert info == {'output': str(target), 'files': 2, 'digest': info['digest'],
                    'left_out': {}}
    assert list(info) == list(plan_cli.Package.COLUMNS)
    rc, out, _err = run_cli(['package', source, '-o', str(target), '-f', 'yaml',
                             '-c', 'digest'], capsys)
    assert rc == 0 and yaml.safe_load(out) == {'digest': info['digest']}
    rc, out, err = run_cli(['package', source, '-o', '-', '-f', 'json'], capsys)
    assert rc == errors.ExitCode.USAGE and out == '' and '-o FILE' in err


# -- deploy, rollback, apply ----------------------------------------------------------------

def test_deploy_text_json_value(heat, tmp_path, capsys):
    source = plan(tmp_path)
    rc, out, _err = run_cli(['deploy', source, '--stack', 'web'] + heat_args(heat), capsys)
    assert rc == 0
    assert re.fullmatch(r'web: created revision 1, CREATE_COMPLETE, sha256:[0-9a-f]{64} '
                        r'\(\d+\.\d s\)\nplan changes: new plan: 1 files\n', out), out
    rc, out, _err = run_cli(['deploy', source, '--stack', 'web', '-f', 'json']
                            + heat_args(heat), capsys)
    assert rc == 0
    result = json.loads(out)
    assert list(result) == RESULT_KEYS
    assert result['outcome'] == 'unchanged' and result['revision'] == 1
    rc, out, _err = run_cli(['deploy', source, '--stack', 'web', '-f', 'value',
                             '-c', 'outcome', '-c', 'revision'] + heat_args(heat), capsys)
    assert rc == 0 and out == 'unchanged\n1\n'
    rc, out, _err = run_cli(['deploy', source, '--stack', 'web'] + heat_args(heat), capsys)
    assert rc == 0 and out == 'web: unchanged (%s revision 1)\n' % result['digest']


def test_deploy_dry_run_text_and_table(heat, tmp_path, capsys):
    source = plan(tmp_path)
    assert run_cli(['deploy', source, '--stack', 'web'] + heat_args(heat), capsys)[0] == 0
    changed = plan(tmp_path, 'two', name='plan2')
    rc, out, _err = run_cli(['deploy', changed, '--stack', 'web', '--dry-run']
                            + heat_args(heat), capsys)
    assert rc == 0
    lines = out.splitlines()
    assert re.fullmatch(r'web: dry run, nothing changed \(sha256:[0-9a-f]{64}\)', lines[0])
    assert lines[1:] == ['plan changes against the deployed plan: files: 1 changed',
                         '  file changed: root.yaml',
                         'preview: 0 resource(s) in all, nested stacks included: '
                         'no resources']
    rc, out, _err = run_cli(['deploy', changed, '--stack', 'web', '--dry-run', '-f', 'shell',
                             '-c', 'changes'] + heat_args(heat), capsys)
    assert rc == 0
    (line,) = out.splitlines()
    assert line.startswith('changes="{') and '\\"changed\\": [\\"root.yaml\\"]' in line


def test_deploy_failed_exits_6_in_every_format(heat, tmp_path, capsys, monkeypatch):
    failed = deploy_mod.DeployResult(
        'failed', 'web', 'sha256:' + 'a' * 64, revision=2, status='UPDATE_FAILED',
        failures=[{'stack': 'web', 'resource': 'server', 'type': 'OS::Nova::Server',
                   'reason': 'quota'}], elapsed=1.25)
    monkeypatch.setattr(deploy_mod, 'deploy', lambda *a, **kw: failed)
    source = plan(tmp_path)
    base_argv = ['deploy', source, '--stack', 'web'] + heat_args(heat)
    rc, out, _err = run_cli(base_argv, capsys)
    assert rc == errors.ExitCode.DEPLOY_FAILED
    assert out == ('web: failed revision 2, UPDATE_FAILED, %s (1.2 s)\n'
                   '  FAILED web/server (OS::Nova::Server): quota\n' % failed.digest)
    for extra in (['-f', 'json'], ['-f', 'yaml'], ['-f', 'table'], ['-f', 'value', '-c',
                                                                     'status']):
        rc, out, _err = run_cli(base_argv + extra, capsys)
        assert rc == errors.ExitCode.DEPLOY_FAILED, extra
        assert 'UPDATE_FAILED' in out, extra
    rc, out, _err = run_cli(base_argv + ['-f', 'json'], capsys)
    assert json.loads(out)['failures'][0]['reason'] == 'quota'


def test_an_unknown_column_is_refused_before_anything_is_sent(heat, tmp_path, capsys):
    source = plan(tmp_path)
    rc, out, err = run_cli(['deploy', source, '--stack', 'web', '-f', 'value', '-c', 'bogus']
                           + heat_args(heat), capsys)
    assert rc == errors.ExitCode.USAGE and out == ''
    assert 'no column bogus' in err and 'outcome' in err
    assert heat.stacks == {} and heat.bodies == []


def test_rollback_text_json_value(heat, tmp_path, capsys):
    for label in ('one', 'two'):
        source = plan(tmp_path, label, name='plan-' + label)
        assert run_cli(['deploy', source, '--stack', 'web'] + heat_args(heat), capsys)[0] == 0
    rc, out, _err = run_cli(['rollback', 'web', '1', '-f', 'json'] + heat_args(heat), capsys)
    assert rc == 0
    result = json.loads(out)
    assert list(result) == RESULT_KEYS
    assert result['outcome'] == 'updated' and result['revision'] == 3
    rc, out, _err = run_cli(['rollback', 'web', '2', '-f', 'value', '-c', 'revision']
                            + heat_args(heat), capsys)
    assert rc == 0 and out == '4\n'
    rc, out, _err = run_cli(['rollback', 'web', '3'] + heat_args(heat), capsys)
    assert rc == 0
    assert re.fullmatch(r'rolled back to revision 3\nweb: updated revision 5, UPDATE_COMPLETE, '
                        r'sha256:[0-9a-f]{64} \(\d+\.\d s\)\nplan changes: files: 1 changed\n',
                        out), out
    rc, _out, _err = run_cli(['rollback', 'web', '99', '-f', 'json'] + heat_args(heat),
                             capsys)
    assert rc == errors.ExitCode.NOT_FOUND


def test_apply_text_json_value(heat, tmp_path, capsys):
    source = plan(tmp_path)
    assert run_cli(['deploy', source, '--stack', 'web'] + heat_args(heat), capsys)[0] == 0
    changed = plan(tmp_path, 'two', name='plan2')
    saved = str(tmp_path / 'change.json')
    assert run_cli(['deploy', changed, '--stack', 'web', '--dry-run', '--save', saved]
                   + heat_args(heat), capsys)[0] == 0
    rc, out, _err = run_cli(['apply', saved, '-f', 'json'] + heat_args(heat), capsys)
    assert rc == 0, _err
    result = json.loads(out)
    assert list(result) == RESULT_KEYS and result['outcome'] == 'updated'
    # the stack moved on: refused (4) in every format
    for extra in ([], ['-f', 'json'], ['-f', 'value', '-c', 'outcome']):
        rc, out, err = run_cli(['apply', saved] + extra + heat_args(heat), capsys)
        assert rc == errors.ExitCode.REFUSED, (extra, err)
        assert out == ''


# -- diff --------------------------------------------------------------------------------

def test_diff_text_json_value_and_exit_codes(heat, tmp_path, capsys):
    one = plan(tmp_path, 'one', name='plan-one')
    two = plan(tmp_path, 'two', name='plan-two')
    assert run_cli(['deploy', one, '--stack', 'web'] + heat_args(heat), capsys)[0] == 0
    rc, text, _err = run_cli(['diff', 'web', two] + heat_args(heat), capsys)
    assert rc == errors.ExitCode.DIFFERENT
    assert text.startswith('--- a/root.yaml\n+++ b/root.yaml\n@@ ')
    assert '-    default: one\n+    default: two\n' in text
    rc, out, _err = run_cli(['diff', 'web', two, '-f', 'json'] + heat_args(heat), capsys)
    assert rc == errors.ExitCode.DIFFERENT
    info = json.loads(out)
    assert list(info) == list(stack_cli.Diff.COLUMNS)
    assert info == {'identical': False, 'files_added': [], 'files_removed': [],
                    'files_changed': ['root.yaml'], 'parameters': [], 'hidden_changed': [],
                    'environments_changed': False, 'root_changed': False, 'diff': text}
    rc, out, _err = run_cli(['diff', 'web', two, '-f', 'value', '-c', 'identical',
                             '-c', 'files_changed'] + heat_args(heat), capsys)
    assert rc == 1 and out == 'False\n["root.yaml"]\n'
    same = ['diff', 'web', one] + heat_args(heat)
    assert run_cli(same, capsys)[:2] == (0, '')
    rc, out, _err = run_cli(same + ['-f', 'json'], capsys)
    assert rc == 0 and json.loads(out)['identical'] is True and json.loads(out)['diff'] == ''
    assert run_cli(same + ['-f', 'value', '-c', 'identical'], capsys)[:2] == (0, 'True\n')
    rc, _out, err = run_cli(['diff', 'web', '-f', 'json'] + heat_args(heat), capsys)
    assert rc == errors.ExitCode.USAGE and 'give SOURCE' in err
    rc, _out, _err = run_cli(['diff', 'nosuch', one, '-f', 'json'] + heat_args(heat), capsys)
    assert rc == errors.ExitCode.NOT_FOUND


# -- the same through openstackclient ---------------------------------------------------

def _openstack(*args, auth=('--os-auth-type', 'none', '--os-endpoint',
                             'http://127.0.0.1:1/v1/x')):
    import os
    import subprocess
    import sys

    exe = os.path.join(os.path.dirname(sys.executable), 'openstack')
    if not os.path.exists(exe):
        pytest.skip('no openstackclient installed beside this Python')
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    return subprocess.run(
        [exe] + list(auth) + ['stack', 'plan'] + [str(a) for a in args],
        capture_output=True, text=True, env=env, timeout=120)


def test_local_verbs_under_openstackclient_need_no_credentials(tmp_path):
    # before: "Missing value auth-url required for auth plugin password" (exit 1)
    # for verbs that never reach a cloud
    clean = plan(tmp_path)
    proc = _openstack('validate', clean, '-f', 'json', auth=())
    assert (proc.returncode, proc.stdout) == (0, '[]\n'), proc.stderr
    proc = _openstack('build', clean, '-o', tmp_path / 'plan.json', '-f', 'value',
                      '-c', 'files', auth=())
    assert proc.returncode == 0, proc.stderr
    proc = _openstack('package', clean, '-o', tmp_path / 'plan.tar.gz', '-f', 'json', auth=())
    assert proc.returncode == 0, proc.stderr
    proc = _openstack('lint', 'rules', '-f', 'value', '-c', 'code', auth=())
    assert proc.returncode == 0 and 'HP201' in proc.stdout, proc.stderr
    # a verb that talks to Heat still asks for them
    proc = _openstack('history', 'web', auth=())
    assert proc.returncode != 0 and 'auth' in proc.stderr.lower(), proc.stderr


def test_openstack_stack_plan_verbs_take_the_formats_and_keep_exit_codes(tmp_path):
    clean = plan(tmp_path)
    broken = make_plan(tmp_path, {'root.yaml': template(
        resources='  a:\n    type: missing.yaml\n')}, name='broken')
    proc = _openstack('validate', clean, '-f', 'json')
    assert (proc.returncode, proc.stdout) == (0, '[]\n'), proc.stderr
    proc = _openstack('validate', broken, '-t', 'root.yaml', '-f', 'value', '-c', 'code')
    assert (proc.returncode, proc.stdout) == (3, 'HP201\n'), proc.stderr
    proc = _openstack('validate', broken, '-t', 'root.yaml')   # text, as heatplan's
    assert proc.returncode == 3 and re.match(r'root\.yaml:\d+:\d+: error\[HP201\]', proc.stdout)
    proc = _openstack('build', clean, '-o', tmp_path / 'plan.json', '-f', 'json')
    assert proc.returncode == 0, proc.stderr
    assert list(json.loads(proc.stdout)) == list(plan_cli.Build.COLUMNS)
    proc = _openstack('build', clean, '-f', 'json')
    assert proc.returncode == errors.ExitCode.USAGE and 'Traceback' not in proc.stderr
