"""The heatplan command line, through heatplan.cli.app.main()."""

import json
import os

import pytest

from heatplan import errors
from heatplan.actions import plan as plan_actions
from heatplan.cli import app
from tests import contract
from tests.unit.conftest import HOT
from tests.unit.conftest import build
from tests.unit.conftest import template

NESTED = template(resources='  n:\n    type: OS::Heat::None\n')
PLAN = {
    'heatplan.yaml': 'template: root.yaml\nenvironments: [env.yaml]\nparameters:\n  name: cli\n',
    'root.yaml': template(parameters='  name: {type: string}\n',
                          resources='  n:\n    type: ./lib/n.yaml\n'),
    'lib/n.yaml': NESTED,
    'env.yaml': 'parameter_defaults:\n  name: env\n',
}
BROKEN = {
    'root.yaml': template(resources='  a:\n    type: gone.yaml\n  b:\n    type: x.yml\n'),
}
WARNS = {
    'root.yaml': template(resources='  a:\n    type: https://example.com/x.yaml\n'),
}


def run(argv, capsys):
    """Run the CLI; return (exit code, stdout, stderr)."""
    try:
        rc = app.main(argv)
    except SystemExit as exc:   # argparse usage errors and --help
        rc = exc.code
    out, err = capsys.readouterr()
    assert 'Traceback' not in err and 'Traceback' not in out
    contract.check_exit_code(argv, rc)
    return rc, out, err


def assert_user_error(err, code, rc, *needles):
    assert rc == code
    first = err.splitlines()[0]
    assert first.startswith('heatplan: error: ')
    for needle in needles:
        assert needle in err


# ---------------------------------------------------------------------------
# build

def test_build_to_stdout(plan_dir, capsys):
    root = plan_dir(PLAN)
    rc, out, err = run(['build', root], capsys)
    assert rc == 0
    plan = build(root)
    assert out == plan_actions.document(plan) + '\n'
    doc = json.loads(out)
    assert set(doc) == {'digest', 'body'}
    assert doc['digest'] == plan.digest
    assert set(doc['body']) == {'template', 'files', 'environment_files', 'parameters'}
    assert doc['body']['files']['lib/n.yaml'] == NESTED
    assert 'type: lib/n.yaml' in doc['body']['template']


def test_build_to_file(plan_dir, tmp_path, capsys):
    root = plan_dir(PLAN)
    out_file = tmp_path / 'out.json'
    rc, out, err = run(['build', root, '-o', str(out_file)], capsys)
    assert rc == 0
    plan = build(root)
    assert out_file.read_text() == plan_actions.document(plan) + '\n'
    assert out.startswith(str(out_file) + ': ')
    assert plan.digest in out
    assert '%d bytes' % plan.body_size in out
    # written again, atomically replacing the old file
    rc, _out, _err = run(['build', root, '--output', str(out_file)], capsys)
    assert rc == 0 and out_file.read_text() == plan_actions.document(plan) + '\n'
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.heatplan-')] == []


def test_build_body_only(plan_dir, capsys):
    root = plan_dir(PLAN)
    rc, out, _err = run(['build', root, '--body-only'], capsys)
    assert rc == 0
    plan = build(root)
    assert json.loads(out) == plan.body
    assert out == plan.body_json() + '\n'


def test_build_flags(plan_dir, capsys):
    root = plan_dir({k: v for k, v in PLAN.items() if k != 'heatplan.yaml'})
    rc, out, _err = run(['build', root, '-t', 'lib/n.yaml', '-e', 'env.yaml',
                         '--body-only'], capsys)
    assert rc == 0
    body = json.loads(out)
    assert body['template'] == NESTED
    assert body['environment_files'] == ['env.yaml']


def test_build_from_archive(plan_dir, tmp_path, capsys):
    from tests.unit.conftest import tar_bytes
    from tests.unit.conftest import write_bytes

    root = plan_dir(PLAN)
    arc = write_bytes(tmp_path / 'p.tar.xz', tar_bytes({'top/' + k: v for k, v in PLAN.items()},
                                                       'w:xz'))
    rc, out, _err = run(['build', arc], capsys)
    assert rc == 0
    assert out == plan_actions.document(build(root)) + '\n'


def test_build_with_lint_errors(plan_dir, capsys):
    root = plan_dir(BROKEN)
    rc, out, err = run(['build', root, '-t', 'root.yaml'], capsys)
    assert_user_error(err, errors.ExitCode.PLAN_INVALID, rc, 'root.yaml:4:11: error[HP201]:',
                      'root.yaml:6:11: error[HP204]:', '2 error(s)')
    assert out == ''


def test_build_output_directory_missing(plan_dir, tmp_path, capsys):
    root = plan_dir(PLAN)
    target = str(tmp_path / 'no' / 'such' / 'dir' / 'out.json')
    rc, out, err = run(['build', root, '-o', target], capsys)
    assert_user_error(err, errors.ExitCode.OUTPUT, rc, target)
    assert not os.path.exists(target)


def test_build_output_is_a_directory(plan_dir, tmp_path, capsys):
    root = plan_dir(PLAN)
    rc, _out, err = run(['build', root, '-o', str(tmp_path)], capsys)
    assert_user_error(err, errors.ExitCode.OUTPUT, rc, 'is a directory')


# ---------------------------------------------------------------------------
# validate

def test_validate_clean(plan_dir, capsys):
    rc, out, err = run(['validate', plan_dir(PLAN)], capsys)
    assert rc == 0
    assert out == ''
    assert err.strip() == '0 error(s), 0 warning(s)'


def test_validate_errors_text(plan_dir, capsys):
    rc, out, err = run(['validate', plan_dir(BROKEN), '-t', 'root.yaml'], capsys)
    assert rc == errors.ExitCode.PLAN_INVALID == 3
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("root.yaml:4:11: error[HP201]: type 'gone.yaml'")
    assert lines[1].startswith("root.yaml:6:11: error[HP204]: type 'x.yml' ends in .yml")
    assert '2 error(s), 0 warning(s)' in err


def test_validate_warnings_only_exit_zero(plan_dir, capsys):
    rc, out, err = run(['validate', plan_dir(WARNS), '-t', 'root.yaml'], capsys)
    assert rc == 0
    assert out.startswith('root.yaml:4:11: warning[HP207]:')
    assert '0 error(s), 1 warning(s)' in err


def test_validate_json(plan_dir, capsys):
    rc, out, _err = run(['validate', plan_dir(BROKEN), '-t', 'root.yaml', '-f', 'json'], capsys)
    assert rc == 3
    data = json.loads(out)
    assert [(d['path'], d['line'], d['col'], d['severity'], d['code']) for d in data] == [
        ('root.yaml', 4, 11, 'error', 'HP201'), ('root.yaml', 6, 11, 'error', 'HP204')]
    assert [d['rule'] for d in data] == ['missing', 'yml-type']
    assert set(data[0]) == {'path', 'line', 'col', 'severity', 'message', 'code', 'rule'}


def test_validate_json_clean(plan_dir, capsys):
    rc, out, _err = run(['validate', plan_dir(PLAN), '--format', 'json'], capsys)
    assert rc == 0
    assert json.loads(out) == []


def test_validate_body_limit_flag(plan_dir, capsys):
    root = plan_dir(PLAN)
    rc, out, _err = run(['validate', root, '--max-body-bytes', '100'], capsys)
    assert rc == 3
    assert 'over the limit of 100 bytes' in out
    rc, _out, _err = run(['validate', root, '--max-body-bytes', '0'], capsys)
    assert rc == 0


# ---------------------------------------------------------------------------
# package

def test_package(plan_dir, tmp_path, capsys):
    root = plan_dir(PLAN)
    target = tmp_path / 'plan.tar.gz'
    rc, out, _err = run(['package', root, '-o', str(target)], capsys)
    assert rc == 0
    first = target.read_bytes()
    assert build(root).digest in out
    rc, _out, _err = run(['package', root, '-o', str(target)], capsys)
    assert rc == 0 and target.read_bytes() == first
    rc, out, _err = run(['build', str(target)], capsys)
    assert rc == 0 and json.loads(out)['digest'] == build(root).digest


def test_package_requires_output(plan_dir, capsys):
    rc, _out, err = run(['package', plan_dir(PLAN)], capsys)
    assert rc == errors.ExitCode.USAGE
    assert '-o' in err


# ---------------------------------------------------------------------------
# user errors: a message and an exit code, never a traceback

def test_missing_source(tmp_path, capsys):
    missing = str(tmp_path / 'nope')
    rc, out, err = run(['build', missing], capsys)
    assert_user_error(err, errors.ExitCode.PLAN_INVALID, rc, missing)
    assert out == ''


@pytest.mark.parametrize('verb', ['build', 'validate', 'package'])
def test_confinement_error(plan_dir, tmp_path, capsys, verb):
    root = plan_dir(PLAN)
    outside = tmp_path / 'outside.yaml'
    outside.write_text(HOT)
    argv = [verb, root, '-t', str(outside)]
    if verb == 'package':
        argv += ['-o', str(tmp_path / 'p.tgz')]
    rc, _out, err = run(argv, capsys)
    assert_user_error(err, errors.ExitCode.PLAN_INVALID, rc, str(outside), 'outside')


def test_bad_parameter_flag(plan_dir, capsys):
    rc, _out, err = run(['build', plan_dir(PLAN), '--parameter', 'novalue'], capsys)
    assert rc == errors.ExitCode.USAGE
    assert 'argument --parameter: expected KEY=VALUE' in err and 'novalue' not in err


def test_limit_flags(plan_dir, capsys):
    rc, _out, err = run(['build', plan_dir(PLAN), '--max-files', '1'], capsys)
    assert_user_error(err, errors.ExitCode.PLAN_INVALID, rc, 'more than 1 files')
    rc, _out, err = run(['build', plan_dir(PLAN, 'p2'), '--max-file-bytes', '10'], capsys)
    assert_user_error(err, errors.ExitCode.PLAN_INVALID, rc, 'per-file cap of 10 bytes')


def test_archive_refusal(tmp_path, capsys):
    import tarfile

    from tests.unit.conftest import file_member
    from tests.unit.conftest import special_member
    from tests.unit.conftest import tar_bytes
    from tests.unit.conftest import write_bytes

    # A member outside the root no plan file needs is skipped with a warning...
    arc = write_bytes(tmp_path / 'p.tar', tar_bytes({'../evil.yaml': HOT, 'root.yaml': HOT}))
    rc, out, _err = run(['validate', arc, '-t', 'root.yaml'], capsys)
    assert rc == 0
    assert '../evil.yaml: warning[HP209]: archive member skipped' in out
    # ... and a plan that reads through a skipped member is refused, naming it.
    arc = write_bytes(tmp_path / 'q.tar', tar_bytes([
        file_member('root.yaml', HOT + 'resources:\n  a: {type: link.yaml}\n'),
        special_member('link.yaml', tarfile.SYMTYPE, '../outside.yaml')]))
    rc, _out, err = run(['validate', arc, '-t', 'root.yaml'], capsys)
    assert rc == errors.ExitCode.PLAN_INVALID
    rc, out, err = run(['build', arc, '-t', 'root.yaml'], capsys)
    assert_user_error(err, errors.ExitCode.PLAN_INVALID, rc, 'error[HP203]',
                      "a symlink to '../outside.yaml', which leaves the plan root")


def test_unknown_manifest_key(plan_dir, capsys):
    root = plan_dir(dict(PLAN, **{'heatplan.yaml': 'template: root.yaml\ntempalte: x\n'}))
    rc, _out, err = run(['validate', root], capsys)
    assert_user_error(err, errors.ExitCode.PLAN_INVALID, rc, 'heatplan.yaml:2:1:')


def test_unknown_option(plan_dir, capsys):
    rc, _out, err = run(['build', plan_dir(PLAN), '--bogus'], capsys)
    assert rc == errors.ExitCode.USAGE
    assert '--bogus' in err


def test_missing_source_argument(capsys):
    rc, _out, err = run(['build'], capsys)
    assert rc == errors.ExitCode.USAGE
    assert 'SOURCE' in err


def test_deeply_nested_manifest_parameter(plan_dir, capsys):
    root = plan_dir({
        'root.yaml': template(parameters='  d: {type: json}\n'),
        'heatplan.yaml': 'template: root.yaml\nparameters:\n  d: %s%s\n' % ('[' * 990, ']' * 990),
    })
    rc, _out, err = run(['build', root, '-o', os.path.join(root, '..', 'out.json')], capsys)
    assert rc in (0, errors.ExitCode.PLAN_INVALID)
    assert rc == 0 or err.startswith('heatplan: error: ')


# ---------------------------------------------------------------------------
# help

@pytest.mark.parametrize('verb,option', [('build', '--body-only'), ('validate', '--format'),
                                         ('package', '--output')])
def test_help_for_each_verb(capsys, verb, option):
    rc, out, _err = run([verb, '--help'], capsys)
    assert rc == 0
    assert 'usage:' in out
    assert option in out
    for common in ('--template', '--environment', '--parameter', '--max-files',
                   '--max-body-bytes'):
        assert common in out
    rc, out2, _err = run(['help', verb], capsys)
    assert rc == 0 and option in out2


def test_top_level_help_lists_the_verbs(capsys):
    rc, out, _err = run(['--help'], capsys)
    assert rc in (0, None)   # SystemExit(None): the shell sees 0
    for verb in ('build', 'package', 'validate'):
        assert verb in out


def test_commands_come_from_heatplans_own_entry_points(monkeypatch):
    # issue 18: cliff's stevedore scan of every distribution dominated start-up
    import configparser
    import types

    from cliff import commandmanager

    from heatplan.cli import app as app_mod

    class NoScan:
        def __class_getitem__(cls, item):
            return cls

        def __init__(self, *a, **kw):
            raise AssertionError('stevedore scanned the entry points')

    monkeypatch.setattr(commandmanager, 'stevedore', types.SimpleNamespace(ExtensionManager=NoScan))
    manager = app_mod.OwnCommandManager('heatplan.cli')
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(os.path.dirname(__file__), '..', '..', 'setup.cfg'))
    want = {line.split('=')[0].strip().replace('_', ' ')
            for line in cfg['entry_points']['heatplan.cli'].strip().splitlines()}
    assert set(name for name, _ep in manager) == want
    cls, name, rest = manager.find_command(['lint', 'rules', '-f', 'json'])
    assert name == 'lint rules' and rest == ['-f', 'json']


def test_version_is_the_installed_distributions(capsys):
    import importlib.metadata

    with pytest.raises(SystemExit):
        app.main(['--version'])
    out, err = capsys.readouterr()
    assert (out + err).split()[-1] == importlib.metadata.version('heatplan')


def test_every_verb_is_documented_in_cli_rst():
    import configparser

    root = os.path.join(os.path.dirname(__file__), '..', '..')
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(root, 'setup.cfg'))
    with open(os.path.join(root, 'doc', 'source', 'cli.rst'), encoding='utf-8') as f:
        doc = f.read()
    for line in cfg['entry_points']['heatplan.cli'].strip().splitlines():
        verb = line.split('=')[0].strip().replace('_', ' ')
        assert '``%s' % verb in doc or ('``' + verb.split()[0]) in doc, verb
    for code in range(0, 12):
        assert '\n%-4d ' % code in doc, code


@pytest.mark.parametrize('argv', [
    ['build', '--parameter', 'hunter2-typed-without-a-name'],
    ['validate', '--parameter-file', 'hunter2-typed-without-a-name'],
    ['deploy', '--local', '--stack', 's', '--parameter', 'hunter2-typed-without-a-name'],
    ['rollback', 's', '--parameter', 'hunter2-typed-without-a-name'],
])
def test_a_malformed_key_value_is_refused_at_parse_time_without_echoing_it(
        argv, plan_dir, capsys):
    root = plan_dir(PLAN)
    rc, out, err = run(argv + [root] if argv[0] != 'rollback' else argv, capsys)
    assert rc == 2
    assert 'KEY=' in err and 'without "="' in err
    assert 'hunter2' not in err + out


def test_an_empty_parameter_name_is_refused_at_parse_time(plan_dir, capsys):
    rc, _out, err = run(['build', '--parameter', '=x', plan_dir(PLAN)], capsys)
    assert rc == 2 and 'empty name' in err


def test_commands_load_their_hooks_without_scanning_every_distribution(monkeypatch):
    # issue 18: cliff's Command.__init__ asked stevedore for the hooks of
    # "heatplan.cli.<verb>" (rebuilding its cache of every distribution's
    # entry points) and get_epilog mapped every installed file to its
    # distribution: 0.15-0.3 s of every command
    from cliff import command as cliff_command
    from stevedore import extension

    from heatplan.cli import plan as plan_cli

    def no_scan(*a, **kw):
        raise AssertionError('scanned every distribution')

    monkeypatch.setattr(extension.ExtensionManager, '__init__', no_scan)
    monkeypatch.setattr(cliff_command, 'packages_distributions', no_scan)
    monkeypatch.setattr(cliff_command, '_dists_by_mods', None)
    shell = app.HeatplanApp()
    cmd = plan_cli.Build(shell, None, cmd_name='build')
    assert list(cmd._hooks) == []
    parser = cmd.get_parser('heatplan build')
    assert 'plugin' not in (parser.epilog or '')


def test_outside_heatplans_app_cliff_loads_hooks_its_own_way(monkeypatch):
    # inside openstackclient the command keeps cliff's behaviour
    import types

    from stevedore import extension

    from heatplan.cli import plan as plan_cli

    seen = []

    def record(self, namespace, **kw):
        seen.append(namespace)
        self.extensions = []

    monkeypatch.setattr(extension.ExtensionManager, '__init__', record)
    osc = types.SimpleNamespace(command_manager=types.SimpleNamespace(namespace='openstack.cli'))
    plan_cli.Build(osc, None, cmd_name='stack plan build')
    assert seen == ['openstack.cli.stack_plan_build']
