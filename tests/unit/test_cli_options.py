"""openstack's global options on ``heatplan`` (before the verb), and messages
that name the component that failed.

Parsing and the session's configuration are checked through osc-lib's and
keystoneauth1's own loaders, without a server: the forms that need one run in
tests/functional/test_cli_options.py.  Connection failures here go to a
closed loopback port (a real refusal, no mock).
"""

import argparse
import socket
import subprocess
import sys

import pytest

from heatplan import errors
from heatplan.cli import app
from heatplan.cli import osopts
from tests.unit.conftest import closed_port
from tests.unit.conftest import run_cli

SECRET = 'pw-Zq8-never-shown'


pytestmark = pytest.mark.usefixtures('clean_os_env')
run = run_cli


def parse(argv):
    """What the app's parser makes of ``argv``: (options, remainder)."""
    heatplan = app.HeatplanApp()
    heatplan.split_argv(argv)
    return heatplan.parser.parse_known_args(argv)


class Cmd:
    """The command's own connection options (after the verb), unset."""
    os_cloud = os_region_name = os_interface = None


# -- parsing ---------------------------------------------------------------------------

KEYSTONE = ['--os-auth-url', 'http://ks.example:5000/v3', '--os-username', 'alice',
            '--os-password', SECRET, '--os-project-name', 'proj',
            '--os-project-domain-name', 'PD', '--os-user-domain-name', 'UD',
            '--os-region-name', 'R2', '--os-interface', 'internal']


def test_keystone_options_before_the_verb_are_parsed_by_osc_lib():
    options, rest = parse(KEYSTONE + ['history', 'web', '--os-cloud', 'after'])
    assert (options.auth_url, options.username, options.password, options.project_name,
            options.project_domain_name, options.user_domain_name) == (
        'http://ks.example:5000/v3', 'alice', SECRET, 'proj', 'PD', 'UD')
    assert (options.region_name, options.interface) == ('R2', 'internal')
    # the command's words are left whole for cliff (its own --os-cloud too)
    assert rest == ['history', 'web', '--os-cloud', 'after']


def test_the_commands_options_are_not_taken_by_the_global_parser():
    # keystoneauth's session options include --timeout; deploy has its own
    options, rest = parse(['--os-cloud', 'c', 'deploy', 'plan', '--timeout', '5',
                           '--insecure'])
    assert options.cloud == 'c'
    assert rest == ['deploy', 'plan', '--timeout', '5', '--insecure']
    assert not options.insecure


@pytest.mark.parametrize('argv, expect', [
    (['--os-cloud', 'c1'], {'cloud': 'c1'}),
    (['--os-cloud=c2'], {'cloud': 'c2'}),
    (['--os-auth-type', 'none', '--os-endpoint', 'http://h:8004/v1/p'],
     {'auth_type': 'none', 'endpoint': 'http://h:8004/v1/p'}),
    (['--os-token', 'tok', '--os-endpoint', 'http://h/v1/p'],
     {'token': 'tok', 'endpoint': 'http://h/v1/p'}),
    (['--os-cacert', '/etc/ca.pem'], {'cacert': '/etc/ca.pem'}),
    (['--insecure'], {'insecure': True}),
    (['--os-region-name', 'R', '--os-interface', 'admin'],
     {'region_name': 'R', 'interface': 'admin'}),
])
def test_each_option_form(argv, expect):
    options, rest = parse(argv + ['list'])
    assert rest == ['list']
    for key, value in expect.items():
        assert getattr(options, key) == value, key


def test_os_variables_are_the_defaults(monkeypatch):
    monkeypatch.setenv('OS_AUTH_URL', 'http://env:5000/v3')
    monkeypatch.setenv('OS_USERNAME', 'envuser')
    monkeypatch.setenv('OS_CLOUD', 'envcloud')
    options, _rest = parse(['--os-username', 'cli', 'list'])
    assert (options.auth_url, options.username, options.cloud) == (
        'http://env:5000/v3', 'cli', 'envcloud')


def test_an_unknown_auth_type_is_a_usage_error(capsys):
    rc, _out, err = run(['--os-auth-type', 'nosuch', 'list'], capsys)
    assert rc == errors.ExitCode.USAGE
    assert 'nosuch' in err and 'choose from' in err


def test_version_does_not_load_the_auth_plugins():
    code = ('import sys\nfrom heatplan.cli import app\n'
            'try:\n    app.main(["--version"])\nexcept SystemExit:\n    pass\n'
            'print(sorted(m for m in ("osc_lib.api.auth", "keystoneauth1.loading", '
            '"openstack") if m in sys.modules))')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == '[]', proc.stdout + proc.stderr


def test_help_lists_openstacks_options(capsys):
    rc, out, _err = run(['--help'], capsys)
    assert rc in (0, None)
    for option in ('--os-cloud', '--os-auth-type', '--os-auth-url', '--os-username',
                   '--os-password', '--os-project-name', '--os-project-domain-name',
                   '--os-user-domain-name', '--os-token', '--os-endpoint',
                   '--os-region-name', '--os-interface', '--os-cacert', '--insecure'):
        assert option in out, option


# -- misplaced options ---------------------------------------------------------------


@pytest.mark.parametrize('argv, option, verb', [
    (['--heat-url', 'http://127.0.0.1:8006/v1/admin', 'deploy', 'p', '--stack', 's'],
     '--heat-url', 'deploy'),
    (['--local', 'history', 's'], '--local', 'history'),
    (['--stack', 's', 'deploy', 'p'], '--stack', 'deploy'),
])
def test_a_commands_option_before_the_verb_says_where_it_goes(capsys, argv, option, verb):
    rc, _out, err = run(argv, capsys)
    assert rc == errors.ExitCode.USAGE
    first = err.splitlines()[0]
    assert first.startswith('heatplan: error: %s is not an option of heatplan itself' % option)
    assert 'goes after the command (heatplan %s ... %s)' % (verb, option) in first
    assert 'is not a heatplan command' not in err


def test_an_unknown_os_option_is_named(capsys):
    rc, _out, err = run(['--os-passwrod', SECRET, 'list'], capsys)
    assert rc == errors.ExitCode.USAGE
    assert '--os-passwrod is not an option openstack' in err
    assert SECRET not in err


def test_options_after_the_verb_keep_working(capsys):
    port = closed_port()
    rc, _out, err = run(['list', '--heat-url', 'http://127.0.0.1:%d/v1/admin' % port],
                        capsys)
    assert rc == errors.ExitCode.CONNECTION
    assert 'cannot reach Heat at http://127.0.0.1:%d/v1/admin' % port in err


# -- the session the options give (osc-lib's ClientManager) -------------------------


def test_password_options_configure_keystoneauths_password_plugin():
    options, _rest = parse(KEYSTONE + ['list'])
    manager = osopts.client_manager(options, Cmd())
    auth = manager.auth
    assert type(auth).__name__ == 'Password'
    assert auth.auth_url == 'http://ks.example:5000/v3'
    assert manager._cli_options.config['auth']['username'] == 'alice'
    assert (manager.region_name, manager.interface) == ('R2', 'internal')


def test_token_and_endpoint_give_admin_token_as_openstackclient():
    options, _rest = parse(['--os-token', 'tok', '--os-endpoint', 'http://h:1/v1/p', 'list'])
    manager = osopts.client_manager(options, Cmd())
    assert manager.auth_plugin_name == 'admin_token'
    assert manager.session.get_endpoint(service_type='orchestration') == 'http://h:1/v1/p'
    assert manager.session.get_token() == 'tok'


def test_token_alone_uses_keystones_token_plugin():
    options, _rest = parse(['--os-auth-url', 'http://ks:5000/v3', '--os-token', 'tok',
                            '--os-project-name', 'p', 'list'])
    manager = osopts.client_manager(options, Cmd())
    assert manager.auth_plugin_name == 'token'


def test_insecure_and_cacert_reach_the_session(tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text('not checked before a request\n')
    base = ['--os-auth-type', 'none', '--os-endpoint', 'http://h/v1/p']
    options, _rest = parse(base + ['--insecure', 'list'])
    assert osopts.client_manager(options, Cmd()).verify is False
    options, _rest = parse(base + ['--os-cacert', str(ca), 'list'])
    assert osopts.client_manager(options, Cmd()).verify == str(ca)


def test_os_variables_without_options(monkeypatch):
    monkeypatch.setenv('OS_AUTH_URL', 'http://env:5000/v3')
    monkeypatch.setenv('OS_USERNAME', 'envuser')
    monkeypatch.setenv('OS_PASSWORD', SECRET)
    monkeypatch.setenv('OS_PROJECT_NAME', 'envproj')
    options, _rest = parse(['list'])
    manager = osopts.client_manager(options, Cmd())
    assert manager.auth.auth_url == 'http://env:5000/v3'
    assert manager._cli_options.config['auth']['project_name'] == 'envproj'


def write_clouds(tmp_path, monkeypatch, text):
    path = tmp_path / 'clouds.yaml'
    path.write_text(text)
    monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(path))


CLOUDS = '''clouds:
  one:
    auth: {auth_url: "http://one:5000/v3", username: u1, password: p1,
           project_name: pr1, user_domain_name: Default, project_domain_name: Default}
    region_name: R1
  two:
    auth: {auth_url: "http://two:5000/v3", username: u2, password: p2,
           project_name: pr2, user_domain_name: Default, project_domain_name: Default}
    region_name: R2
'''


def test_clouds_yaml_before_and_after_the_verb(tmp_path, monkeypatch):
    write_clouds(tmp_path, monkeypatch, CLOUDS)
    options, _rest = parse(['--os-cloud', 'one', 'list'])
    manager = osopts.client_manager(options, Cmd())
    assert (manager.auth.auth_url, manager.region_name) == ('http://one:5000/v3', 'R1')
    # the command's --os-cloud (after the verb) wins over the one before it
    after = Cmd()
    after.os_cloud = 'two'
    manager = osopts.client_manager(options, after)
    assert manager.auth.auth_url == 'http://two:5000/v3'
    # and without any global option (nothing registered), as before
    options, _rest = parse(['list'])
    manager = osopts.client_manager(options, after)
    assert manager.auth.auth_url == 'http://two:5000/v3'


def test_the_endpoint_override_of_clouds_yaml_is_honoured(tmp_path, monkeypatch):
    from heatplan.cli import connect

    write_clouds(tmp_path, monkeypatch, '''clouds:
  ovr:
    auth_type: none
    auth: {endpoint: "http://127.0.0.1:9/v1/wrong"}
    orchestration_endpoint_override: "http://127.0.0.1:9/v1/right"
''')
    options, _rest = parse(['--os-cloud', 'ovr', 'list'])
    manager = osopts.client_manager(options, Cmd())
    adapter = connect._manager_adapter(manager, manager.session)
    assert adapter.client.http_client.endpoint_override == 'http://127.0.0.1:9/v1/right'


def test_cli_namespace_precedence(monkeypatch):
    monkeypatch.setenv('OS_REGION_NAME', 'env')
    before = argparse.Namespace(region_name='before', cloud=None, interface=None)
    after = Cmd()
    assert osopts.cli_namespace(before, after).region_name == 'before'
    after.os_region_name = 'after'
    assert osopts.cli_namespace(before, after).region_name == 'after'
    assert osopts.cli_namespace(None, Cmd()).region_name == 'env'


def test_a_password_before_the_verb_is_not_in_debug_logs(capsys):

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    # --debug logs the failure's traceback, on purpose: app.main, not run()
    rc = app.main(['--debug', '-vv', '--os-auth-url', 'http://127.0.0.1:%d/v3' % port,
                   '--os-username', 'u', '--os-password', SECRET,
                   '--os-project-name', 'p', 'list'])
    out, err = capsys.readouterr()
    assert rc == errors.ExitCode.CONNECTION
    assert 'Auth plugin password selected' in out + err    # the debug log ran
    assert SECRET not in out + err


@pytest.mark.parametrize('flags', [['-v'], ['-vv'], ['--debug'], ['-q'],
                                   ['--log-file', 'LOG'], ['--log-file=LOG']])
def test_cliffs_output_options_work_after_the_verb_too(flags, tmp_path, capsys):
    """As in ``openstack server list --debug``: -v, -q, --debug, --log-file
    anywhere (session 4's commands took them after the verb)."""
    from tests.unit.conftest import make_plan

    flags = [str(tmp_path / 'heatplan.log') if f == 'LOG' else
             f.replace('LOG', str(tmp_path / 'heatplan.log')) for f in flags]
    root = make_plan(tmp_path, {'root.yaml': 'heat_template_version: 2021-04-16\n'})
    rc, out, _err = run(['build', root, '-t', 'root.yaml'] + flags, capsys)
    assert rc == 0 and '"digest"' in out


@pytest.mark.parametrize('argv, option, said', [
    ('build plan --max-body-bytes -1', '--max-body-bytes', '-1 is not allowed: give 0 or more'),
    ('build plan --max-files -5', '--max-files', '-5 is not allowed'),
    ('validate plan --max-file-bytes -1', '--max-file-bytes', '-1 is not allowed'),
    ('build plan --max-total-bytes -1', '--max-total-bytes', '-1 is not allowed'),
    ('build plan --max-expansion-ratio x', '--max-expansion-ratio', "'x' is not a whole number"),
    ('deploy --stack s plan --timeout 0', '--timeout', '0 is not allowed: give 1 or more'),
    ('deploy --stack s plan --history-max -1', '--history-max', '-1 is not allowed'),
    ('local up --max-events-per-stack -3', '--max-events-per-stack', '-3 is not allowed'),
    ('local log --lines -1', '-n/--lines', '-1 is not allowed'),
    ('deploy --stack s plan --expect-revision -1', '--expect-revision', '-1 is not allowed'),
    ('export s out --revision 0', '--revision', '0 is not allowed: give a revision number'),
    ('show s --revision -2', '--revision', '-2 is not allowed: give a revision number'),
    ('diff s --from-revision 0 --to-revision 2', '--from-revision', '0 is not allowed'),
    ('diff s --from-revision 1 --to-revision two', '--to-revision',
     "'two' is not a whole number"),
    ('rollback s 0', 'REVISION', '0 is not allowed: give a revision number'),
])
def test_a_negative_count_or_size_is_a_usage_error_naming_the_option(capsys, argv, option, said):
    # before: -1 was taken as a cap ("over the per-file cap of -1 bytes", exit 3), or
    # silently (--max-expansion-ratio -1 built the plan with no ratio check at all)
    rc, _out, err = run_cli(argv.split(), capsys)
    assert rc == errors.ExitCode.USAGE
    assert 'argument %s: %s' % (option, said) in err


def test_zero_keeps_its_documented_meaning():
    # "--max-body-bytes 0 disables the check" and "--history-max 0 keeps all" still parse
    from heatplan.cli import argtypes

    assert argtypes.count('0') == 0
    assert argtypes.positive('1') == 1
    assert argtypes.revision('1') == 1
