"""Secrets: hidden parameter values and auth credentials never leak.

The commands run for real (``heatplan.cli.app.main``) with ``--debug -vvv``
and a ``--log-file``, against an in-memory Heat (:class:`FakeHeat`) served
through requests-mock: python-heatclient and keystoneauth1 run unchanged
(keystoneauth logs every request body at debug level), and no request
leaves the process.  The fake stores exactly what heatplan sends, so its
files maps, tags and parameters are what Heat would store.

A secret must never appear, raw or in any encoding a log line or a JSON
body could give it (JSON escapes, ``repr``), in: stdout, stderr, the log
file, the log records, the files map of the stack and of every revision
record, any tag, the manifest, ``heatplan build`` output or an export.
"""

import contextlib
import io
import json
import logging
import os
import re
import tarfile
import urllib.parse
import uuid

import pytest
import requests_mock
import yaml

from heatplan import errors
from heatplan import secrets
from heatplan.cli import app
from tests.figures import figure

HEAT_URL = 'http://127.0.0.1:8999/v1/admin'
HOT = 'heat_template_version: 2021-04-16\n'




# -- an in-memory Heat behind requests-mock ---------------------------------------------------

def _response(request, status_code=200, json=None, text=None):
    if json is not None:
        return requests_mock.create_response(
            request, status_code=status_code, json=json,
            headers={'Content-Type': 'application/json'})
    return requests_mock.create_response(request, status_code=status_code, text=text or '')


class FakeHeat:
    """Enough of Heat's v1 API for deploy, history, show, export, rollback."""

    def __init__(self, url=HEAT_URL):
        self.url = url
        self.stacks = {}
        self.bodies = []            # every request body heatplan sent
        self.reject_with_value = False

    def install(self, mocker):
        mocker.add_matcher(self.handle)

    # -- helpers ---------------------------------------------------------------
    @staticmethod
    def _hidden(template):
        try:
            data = yaml.safe_load(template) if isinstance(template, str) else template
        except yaml.YAMLError:
            return set()
        params = (data or {}).get('parameters') or {}
        return {k for k, v in params.items() if isinstance(v, dict) and v.get('hidden')}

    def _show(self, stack):
        hidden = self._hidden(stack['template'])
        return {
            'id': stack['id'], 'stack_name': stack['stack_name'],
            'stack_status': stack['stack_status'], 'stack_status_reason': '',
            'creation_time': stack['creation_time'], 'updated_time': stack['updated_time'],
            'tags': list(stack['tags']) or None,
            'parameters': {k: ('******' if k in hidden else v)
                           for k, v in stack['parameters'].items()},
            'links': [{'rel': 'self', 'href': '%s/stacks/%s/%s' % (
                self.url, stack['stack_name'], stack['id'])}],
        }

    def _find(self, name):
        for stack in self.stacks.values():
            if name in (stack['stack_name'], stack['id']):
                return stack
        return None

    def _store(self, stack, body):
        stack['template'] = body.get('template')
        stack['files'] = dict(body.get('files') or {})
        stack['environment_files'] = list(body.get('environment_files') or [])
        stack['parameters'] = dict(body.get('parameters') or {})
        tags = body.get('tags')
        stack['tags'] = [t for t in (tags.split(',') if isinstance(tags, str) else
                                     tags or []) if t]

    def _error(self, request, code, message, kind='StackValidationFailed'):
        return _response(request, status_code=code, json={
            'code': code, 'title': 'Error', 'explanation': message,
            'error': {'type': kind, 'message': message, 'traceback': None}})

    # -- the API -----------------------------------------------------------------
    def handle(self, request):
        if not request.url.startswith(self.url + '/'):
            return None
        parsed = urllib.parse.urlparse(request.url[len(self.url):])
        query = urllib.parse.parse_qs(parsed.query)
        parts = [urllib.parse.unquote(p) for p in parsed.path.strip('/').split('/')]
        body = request.body
        if isinstance(body, bytes):
            body = body.decode('utf-8')
        if body:
            self.bodies.append(body)
        data = json.loads(body) if body else {}
        ok = _response
        if parts == ['validate']:
            return ok(request, json={'Parameters': {}})
        if parts[0] != 'stacks':
            return self._error(request, 404, 'not found', 'NotFound')
        if len(parts) == 1 and request.method == 'GET':
            wanted = [t for t in ','.join(query.get('tags', [])).split(',') if t]
            found = [self._show(s) for s in self.stacks.values()
                     if all(t in s['tags'] for t in wanted)]
            return ok(request, json={'stacks': found})
        if len(parts) == 1 and request.method == 'POST':
            if self._find(data['stack_name']) is not None:
                return self._error(request, 409, 'The Stack (%s) already exists.'
                                   % data['stack_name'], 'StackExists')
            if self.reject_with_value and data.get('parameters'):
                # Heat's own words, value included (it does not mask hidden ones here)
                name, value = sorted(data.get('parameters', {}).items())[0]
                return self._error(request, 400, 'Parameter \'%s\' is invalid: "%s" does not '
                                   'match pattern "[a-z]+"' % (name, value))
            stack = {'id': str(uuid.uuid4()), 'stack_name': data['stack_name'],
                     'stack_status': 'CREATE_COMPLETE', 'creation_time': '2024-01-01T00:00:00Z',
                     'updated_time': None}
            self._store(stack, data)
            self.stacks[stack['id']] = stack
            return ok(request, status_code=201, json={'stack': {'id': stack['id'], 'links': []}})
        stack = self._find(parts[1]) if len(parts) < 3 or self._find(parts[2]) is None \
            else self._find(parts[2])
        if stack is None:
            return self._error(request, 404, 'The Stack (%s) could not be found.' % parts[1],
                               'EntityNotFound')
        sub = parts[3] if len(parts) > 3 else (parts[2] if len(parts) == 3 and
                                               parts[2] != stack['id'] else None)
        if sub is None:
            if request.method == 'GET':
                return ok(request, json={'stack': self._show(stack)})
            if request.method == 'PUT':
                self._store(stack, data)
                stack['stack_status'] = 'UPDATE_COMPLETE'
                stack['updated_time'] = '2024-01-01T00:00:01Z'
                return ok(request, status_code=202, text='')
            if request.method == 'PATCH':
                if 'tags' in data:
                    stack['tags'] = [t for t in data['tags'].split(',') if t]
                stack['files'].update(data.get('files') or {})   # Heat merges them
                return ok(request, status_code=202, text='')
            if request.method == 'DELETE':
                del self.stacks[stack['id']]
                return ok(request, status_code=204, text='')
        if sub == 'files':
            return ok(request, json=stack['files'])
        if sub == 'template':
            return ok(request, json=yaml.safe_load(stack['template']))
        if sub == 'environment':
            return ok(request, json={'parameters': {}, 'parameter_defaults': {},
                                     'resource_registry': {}})
        if sub == 'events':
            return ok(request, json={'events': []})
        if sub == 'resources':
            return ok(request, json={'resources': []})
        if sub == 'preview':
            return ok(request, json={'resource_changes': {
                k: [] for k in ('added', 'deleted', 'replaced', 'updated', 'unchanged')}})
        return self._error(request, 404, 'no %s' % sub, 'NotFound')

    # -- what it holds ---------------------------------------------------------------
    def everything_stored(self):
        """Every files map, tag and template it stores, as one text.

        Not the stacks' parameters: Heat must get hidden values to use them
        (it masks them when it shows a stack).  Revision records have none.
        """
        stored = []
        for stack in self.stacks.values():
            if stack['stack_name'].startswith('hp.'):
                assert stack['parameters'] == {}, stack['parameters']
            stored.append({k: v for k, v in stack.items() if k != 'parameters'})
        return json.dumps(stored, sort_keys=True, ensure_ascii=False)


@pytest.fixture
def heat():
    fake = FakeHeat()
    with requests_mock.Mocker(real_http=False) as mocker:
        fake.install(mocker)
        yield fake


def forms(secret):
    """The ways a secret can show up in text: raw, JSON-escaped, repr'd, URL-quoted."""
    out = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
           repr(secret)[1:-1], urllib.parse.quote(secret), urllib.parse.quote_plus(secret)}
    return {f for f in out if f}


def leaks(secret, *texts):
    """(form, where) for every appearance of ``secret`` in ``texts``."""
    found = []
    for i, text in enumerate(texts):
        if isinstance(text, bytes):
            text = text.decode('utf-8', 'replace')
        for form in forms(secret):
            if form in text:
                found.append((form, i))
    return found


class Run:
    def __init__(self, code, out, err, log):
        self.code, self.out, self.err, self.log = code, out, err, log

    def texts(self):
        return self.out, self.err, self.log


@pytest.fixture
def run(tmp_path, caplog):
    """``run(*args)``: heatplan --debug -vvv --log-file ... ARGS; a :class:`Run`."""
    caplog.set_level(logging.DEBUG)

    def _run(*args, debug=True):
        log = tmp_path / ('log-%s.txt' % uuid.uuid4().hex[:8])
        prefix = ['--debug', '-vvv', '--log-file', str(log)] if debug else []
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = app.main(prefix + [str(a) for a in args])
        text = log.read_text('utf-8', 'replace') if log.exists() else ''
        records = '\n'.join(r.getMessage() + (r.exc_text or '') for r in caplog.records)
        return Run(code, out.getvalue(), err.getvalue(), text + '\n' + records)

    return _run


def secret_plan(tmp_path, name='plan', extra_params='', files=None):
    root = tmp_path / name
    root.mkdir()
    (root / 'main.yaml').write_text(HOT + (
        'parameters:\n'
        '  db_password:\n'
        '    type: string\n'
        '    hidden: true\n'
        '  api_token:\n'
        '    type: string\n'
        '    hidden: true\n'
        '    default: default-token-not-secret\n'
        '  label:\n'
        '    type: string\n'
        '    default: visible\n' + extra_params +
        'resources:\n'
        '  v:\n'
        '    type: OS::Heat::Value\n'
        '    properties: {value: {get_param: db_password}}\n'), 'utf-8')
    files = dict({'heatplan.yaml': 'template: main.yaml\n'}, **(files or {}))
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, 'utf-8')
    return str(root)


#: Secrets chosen to defeat naive masking: JSON escapes, quotes, non-ASCII, %...
SECRETS = [
    'Zq9-plain-SECRET-4711',
    'quote"and\\backslash-SECRET',
    'p\u00e4ssw\u00f6rd-\u00fcmlaut-SECRET',
    'spaces and $dollar %s %(x)s SECRET',
    "single'quote-SECRET",
    'slash/and+plus=SECRET&amp;',
]
NEWLINE_SECRET = 'Zq9-from-a-file-SECRET'


def _assert_no_leak(secret, heat, result, *more):
    found = leaks(secret, *result.texts(), heat.everything_stored(), *more)
    assert found == [], 'secret %r leaked as %s' % (secret, found)


@pytest.mark.parametrize('secret', [s for s in SECRETS if s.isascii() and '"' not in s
                                    and '\\' not in s])
def test_deploy_with_a_hidden_parameter_never_shows_it(heat, run, tmp_path, secret):
    source = secret_plan(tmp_path)
    result = run('deploy', source, '--stack', 'sec', '--parameter', 'db_password=' + secret,
                 '--heat-url', heat.url)
    assert result.code == 0, result.err
    # Heat received it (it must, to deploy), and heatplan logged at debug level
    assert any(secret in json.loads(b).get('parameters', {}).get('db_password', '')
               for b in heat.bodies if b.startswith('{'))
    assert 'REQ: curl' in result.log
    _assert_no_leak(secret, heat, result)
    # Heat stores the value only as the stack's parameter (Heat masks it when shown)
    stack = [s for s in heat.stacks.values() if s['stack_name'] == 'sec'][0]
    assert stack['parameters']['db_password'] == secret
    manifest = json.loads(stack['files']['heatplan://manifest.json'])
    assert manifest['parameters']['db_password'] == '******'
    assert manifest['hidden_parameters'] == ['db_password']
    assert manifest['hidden_fingerprints']['db_password'].startswith('scrypt:')


@pytest.mark.parametrize('secret', [s for s in SECRETS if not s.isascii() or '"' in s
                                    or '\\' in s])
def test_deploy_with_an_escaped_hidden_value_never_shows_it(heat, run, tmp_path, secret):
    source = secret_plan(tmp_path)
    result = run('deploy', source, '--stack', 'sec', '--parameter', 'db_password=' + secret,
                 '--heat-url', heat.url)
    assert result.code == 0, result.err
    assert leaks(secret, *result.texts()) == []


def test_a_hidden_value_from_a_parameter_file_never_shows(heat, run, tmp_path):
    source = secret_plan(tmp_path, files={'secret.txt': NEWLINE_SECRET + '\n'})
    result = run('deploy', source, '--stack', 'sec', '--parameter-file',
                 'db_password=secret.txt', '--heat-url', heat.url)
    assert result.code == 0, result.err
    _assert_no_leak(NEWLINE_SECRET, heat, result)


def test_a_hidden_value_from_a_parameter_file_is_not_stored(heat, run, tmp_path):
    source = secret_plan(tmp_path, files={'secret.txt': NEWLINE_SECRET + '\n'})
    result = run('deploy', source, '--stack', 'sec', '--parameter-file',
                 'db_password=secret.txt', '--heat-url', heat.url, debug=False)
    assert result.code == 0, result.err
    assert leaks(NEWLINE_SECRET, heat.everything_stored()) == []
    assert leaks(NEWLINE_SECRET, result.out, result.err) == []


def test_heat_error_quoting_the_value_does_not_leak_it(heat, run, tmp_path):
    heat.reject_with_value = True
    secret = SECRETS[0]
    source = secret_plan(tmp_path)
    result = run('deploy', source, '--stack', 'sec', '--parameter', 'db_password=' + secret,
                 '--heat-url', heat.url)
    assert result.code == errors.ExitCode.HEAT_REJECTED
    assert 'does not match pattern' in result.err
    assert leaks(secret, *result.texts()) == []


def test_history_show_export_diff_never_show_it(heat, run, tmp_path):
    secret = SECRETS[0]
    source = secret_plan(tmp_path)
    assert run('deploy', source, '--stack', 'sec', '--parameter', 'db_password=' + secret,
               '--heat-url', heat.url, debug=False).code == 0
    seen = []
    for args in (['history', 'sec'], ['show', 'sec'], ['show', 'sec', '-f', 'json'],
                 ['history', 'sec', '-f', 'json'], ['diff', 'sec', source],
                 ['export', 'sec', tmp_path / 'exported'],
                 ['export', 'sec', tmp_path / 'exported.tar.gz']):
        result = run(*args, '--heat-url', heat.url)
        assert result.code in (0, 1), (args, result.err)
        _assert_no_leak(secret, heat, result)
        seen.append(result)
    exported = {p: open(os.path.join(dp, p), 'rb').read()
                for dp, _d, names in os.walk(str(tmp_path / 'exported')) for p in names}
    assert leaks(secret, *exported.values()) == []
    with tarfile.open(str(tmp_path / 'exported.tar.gz')) as tar:
        members = [tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()]
    assert leaks(secret, *members) == []
    # export lists the hidden parameters as values to supply again
    manifest = exported['heatplan.yaml'].decode()
    assert '--parameter db_password=...' in manifest
    assert 'hidden parameters to supply again: db_password' in seen[5].err


def test_build_masks_hidden_values_unless_asked(run, tmp_path):
    secret = SECRETS[0]
    source = secret_plan(tmp_path)
    out = tmp_path / 'built.json'
    for args in (['build', source], ['build', source, '--body-only'],
                 ['build', source, '-o', out], ['validate', source, '-f', 'json']):
        result = run(*args, '-t', 'main.yaml', '--parameter', 'db_password=' + secret)
        assert result.code == 0, result.err
        assert leaks(secret, *result.texts()) == []
    assert leaks(secret, out.read_text('utf-8')) == []
    assert '"db_password": "******"' in out.read_text('utf-8')
    shown = run('build', source, '--show-secrets', '--parameter', 'db_password=' + secret,
                debug=False)
    assert secret in shown.out  # asked for


def test_package_does_not_write_hidden_values(run, tmp_path):
    secret = SECRETS[0]
    source = secret_plan(tmp_path)
    out = tmp_path / 'plan.tar.gz'
    result = run('package', source, '-t', 'main.yaml', '--parameter',
                 'db_password=' + secret, '-o', out)
    assert result.code == 0, result.err
    assert leaks(secret, *result.texts()) == []
    with tarfile.open(str(out)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert leaks(secret, *members.values()) == [], sorted(members)


def test_a_structured_hidden_value_never_shows(heat, run, tmp_path):
    inner = 'Zq9-inner-SECRET-0815'
    source = secret_plan(tmp_path, extra_params='  conf:\n    type: json\n    hidden: true\n',
                         files={'heatplan.yaml': 'template: main.yaml\nparameters:\n'
                                                 '  db_password: Zq9-plain-SECRET-4711\n'
                                                 '  conf: {password: %s}\n' % inner})
    result = run('deploy', source, '--stack', 'sec', '--heat-url', heat.url)
    assert result.code == 0, result.err
    assert leaks(inner, *result.texts()) == []


def test_a_hidden_value_in_heatplan_yaml_is_not_stored(heat, run, tmp_path):
    secret = SECRETS[0]
    source = secret_plan(tmp_path, files={
        'heatplan.yaml': 'template: main.yaml\nparameters:\n  db_password: %s\n' % secret})
    result = run('deploy', source, '--stack', 'sec', '--heat-url', heat.url)
    assert result.code == 0, result.err
    _assert_no_leak(secret, heat, result)


def test_rollback_asks_for_hidden_values_by_name(heat, run, tmp_path):
    first, second = SECRETS[0], 'Zq9-second-SECRET-1234'
    v1 = secret_plan(tmp_path, 'v1')
    v2 = secret_plan(tmp_path, 'v2', files={'extra.txt': 'changed'})
    for source, secret in ((v1, first), (v2, second)):
        result = run('deploy', source, '--stack', 'sec', '--parameter',
                     'db_password=' + secret, '--heat-url', heat.url, debug=False)
        assert result.code == 0, result.err
    # without the values: refused, with the list of what to pass
    result = run('rollback', 'sec', '1', '--heat-url', heat.url)
    assert result.code == errors.ExitCode.REFUSED, result.err
    assert 'needs the value of hidden parameter(s) db_password' in result.err
    assert 'pass them again: --parameter db_password=...' in result.err
    # a different value than revision 1 had: refused (a keyed hash tells)
    result = run('rollback', 'sec', '1', '--parameter', 'db_password=' + second,
                 '--heat-url', heat.url)
    assert result.code == errors.ExitCode.REFUSED, result.err
    assert 'differs from the one revision was deployed with' in result.err
    assert leaks(second, *result.texts()) == []
    # the same values: redeployed as revision 3, with revision 1's digest
    result = run('rollback', 'sec', '1', '--parameter', 'db_password=' + first,
                 '--heat-url', heat.url, '-f', 'json')
    assert result.code == 0, result.err
    assert json.loads(result.out)['revision'] == 3
    for secret in (first, second):
        _assert_no_leak(secret, heat, result)


def test_fingerprints_are_keyed_slow_hashes():
    a = secrets.fingerprint('db_password', 'hunter2')
    assert a.startswith('scrypt:') and 'hunter2' not in a
    assert a == secrets.fingerprint('db_password', 'hunter2')
    assert a != secrets.fingerprint('other', 'hunter2')      # keyed by the name
    assert a != secrets.fingerprint('db_password', 'hunter3')


def test_the_docs_say_plan_files_are_stored_as_written():
    here = os.path.dirname(os.path.abspath(__file__))
    docs = os.path.join(os.path.dirname(os.path.dirname(here)), 'doc', 'source')
    text = ''
    for name in sorted(os.listdir(docs)):
        if name.endswith('.rst') and name != 'reliability.rst':
            with open(os.path.join(docs, name), encoding='utf-8') as f:
                text += f.read()
    text = re.sub(r'\s+', ' ', text)
    assert 'Plan files themselves are stored exactly as written' in text
    assert 'a password written in an environment file is stored in Heat' in text


# -- auth configuration: tokens and passwords ------------------------------------------------

KEYSTONE = 'http://127.0.0.1:5999'
PASSWORD = 'Pa55-word-SECRET-9e1'
TOKEN = 'gAAAAAB-token-SECRET-77aa'
APP_SECRET = 'app-cred-SECRET-42bb'


def _keystone(mocker, heat, subject_token=TOKEN):
    mocker.get(KEYSTONE + '/v3', json={'version': {
        'id': 'v3.14', 'status': 'stable', 'media-types': [],
        'links': [{'rel': 'self', 'href': KEYSTONE + '/v3/'}]}})
    mocker.get(KEYSTONE, json={'versions': {'values': [{
        'id': 'v3.14', 'status': 'stable', 'media-types': [],
        'links': [{'rel': 'self', 'href': KEYSTONE + '/v3/'}]}]}})
    token = {'token': {
        'methods': ['password'], 'expires_at': '2099-01-01T00:00:00.000000Z',
        'issued_at': '2020-01-01T00:00:00.000000Z',
        'user': {'id': 'u1', 'name': 'admin', 'domain': {'id': 'default', 'name': 'Default'}},
        'project': {'id': 'admin', 'name': 'admin',
                    'domain': {'id': 'default', 'name': 'Default'}},
        'roles': [{'id': 'r', 'name': 'admin'}],
        'catalog': [{'type': 'orchestration', 'name': 'heat', 'id': 'h', 'endpoints': [
            {'id': 'e', 'interface': 'public', 'region': 'RegionOne',
             'region_id': 'RegionOne', 'url': heat.url}]}]}}
    mocker.post(KEYSTONE + '/v3/auth/tokens', status_code=201, json=token,
                headers={'X-Subject-Token': subject_token})


CLOUDS = {
    'password': {'auth_type': 'password', 'auth': {
        'auth_url': KEYSTONE + '/v3', 'username': 'admin', 'password': PASSWORD,
        'project_name': 'admin', 'user_domain_name': 'Default',
        'project_domain_name': 'Default'}},
    'token': {'auth_type': 'token', 'auth': {
        'auth_url': KEYSTONE + '/v3', 'token': TOKEN, 'project_name': 'admin',
        'project_domain_name': 'Default'}},
    'appcred': {'auth_type': 'v3applicationcredential', 'auth': {
        'auth_url': KEYSTONE + '/v3', 'application_credential_id': 'appcred-id',
        'application_credential_secret': APP_SECRET}},
}


@pytest.mark.parametrize('cloud', sorted(CLOUDS))
@pytest.mark.parametrize('via', ['clouds.yaml', 'environment'])
def test_debug_logs_never_show_auth_secrets(tmp_path, run, monkeypatch, cloud, via):
    heat = FakeHeat()
    for name in list(os.environ):
        if name.startswith('OS_'):
            monkeypatch.delenv(name)
    args = []
    if via == 'clouds.yaml':
        config = dict(CLOUDS[cloud], region_name='RegionOne', identity_api_version=3)
        path = tmp_path / 'clouds.yaml'
        path.write_text(yaml.safe_dump({'clouds': {'fake': config}}))
        monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(path))
        args = ['--os-cloud', 'fake']
    else:
        monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(tmp_path / 'none.yaml'))
        monkeypatch.setenv('OS_AUTH_TYPE', CLOUDS[cloud]['auth_type'])
        monkeypatch.setenv('OS_REGION_NAME', 'RegionOne')
        monkeypatch.setenv('OS_IDENTITY_API_VERSION', '3')
        for key, value in CLOUDS[cloud]['auth'].items():
            monkeypatch.setenv('OS_' + key.upper(), value)
    with requests_mock.Mocker(real_http=False) as mocker:
        _keystone(mocker, heat)
        heat.install(mocker)
        source = secret_plan(tmp_path)
        result = run('deploy', source, '--stack', 'sec', '--parameter',
                     'db_password=' + SECRETS[0], *args)
        history = run('history', 'sec', *args)
        called = [r.url for r in mocker.request_history]
    assert result.code == 0, result.err[-2000:]
    assert history.code == 0, history.err[-2000:]
    assert any('/auth/tokens' in u for u in called)     # it authenticated for real
    assert 'X-Auth-Token' in result.log                  # and logged its requests
    for secret in (PASSWORD, TOKEN, APP_SECRET, SECRETS[0]):
        assert leaks(secret, *result.texts(), *history.texts()) == [], secret
    figure('auth configuration checked in --debug logs: %s via %s' % (cloud, via), 1)


def test_package_leaves_out_a_hidden_parameter_file_and_says_so(run, tmp_path):
    # issue 12: package wrote a hidden --parameter-file into the archive in clear
    source = secret_plan(tmp_path, files={'secret.txt': NEWLINE_SECRET + '\n'})
    out = tmp_path / 'plan.tar.gz'
    result = run('package', source, '-t', 'main.yaml', '--parameter-file',
                 'db_password=secret.txt', '-o', out, debug=False)
    assert result.code == 0, result.err
    with tarfile.open(str(out)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert 'secret.txt' not in members
    assert leaks(NEWLINE_SECRET, *members.values()) == [], sorted(members)
    assert 'left out of the archive' in result.err and 'secret.txt (db_password)' in result.err
    manifest = members['heatplan.yaml'].decode()
    assert '--parameter db_password=...' in manifest and 'secret.txt' not in manifest


@pytest.mark.parametrize('secret', ['Zq7', 'ab', 'x'])
def test_a_short_hidden_value_is_masked_by_structure(heat, run, tmp_path, secret):
    # issue 12: values under 4 characters were never masked in --debug logs
    source = secret_plan(tmp_path)
    result = run('deploy', source, '--stack', 'short', '--parameter',
                 'db_password=' + secret, '--heat-url', heat.url)
    assert result.code == 0, result.err
    assert 'REQ: curl' in result.log
    for form in ('"db_password": "%s"' % secret, 'db_password=%s' % secret,
                 '\\"db_password\\": \\"%s\\"' % secret):
        assert form not in result.log
    assert '"db_password": "******"' in result.log


@pytest.mark.parametrize('secret', ['Zq7', 'Zq9-env-file-SECRET'])
def test_a_hidden_value_in_an_environment_file_is_masked_in_logs(heat, run, tmp_path, secret):
    # issue 12: stored as written (documented), but unmasked in --debug -vvv
    source = secret_plan(tmp_path, files={
        'env.yaml': 'parameter_defaults:\n  db_password: %s\n' % secret})
    result = run('deploy', source, '--stack', 'envsec', '-t', 'main.yaml', '-e', 'env.yaml',
                 '--heat-url', heat.url)
    assert result.code == 0, result.err
    assert 'REQ: curl' in result.log
    assert 'db_password: %s' % secret not in result.log
    assert 'db_password: ******' in result.log


def test_a_change_of_only_a_hidden_value_is_reported_never_shown(heat, run, tmp_path):
    # issue 12: the digest changed, but diff printed nothing and exited 0, and the
    # dry run, the deploy and history said "no changes": a rotation looked like nothing
    old, new = 'Zq9-old-SECRET-1', 'Zq9-new-SECRET-2'
    source = secret_plan(tmp_path)
    assert run('deploy', source, '--stack', 'rot', '--parameter', 'db_password=' + old,
               '--heat-url', heat.url, debug=False).code == 0
    diff = run('diff', 'rot', source, '--parameter', 'db_password=' + new,
               '--heat-url', heat.url)
    assert diff.code == errors.ExitCode.DIFFERENT, diff.err
    assert 'hidden parameter db_password changed' in diff.out
    same = run('diff', 'rot', source, '--parameter', 'db_password=' + old,
               '--heat-url', heat.url, debug=False)
    assert same.code == 0 and same.out == ''
    dry = run('deploy', source, '--stack', 'rot', '--parameter', 'db_password=' + new,
              '--dry-run', '--heat-url', heat.url)
    assert 'hidden parameter db_password changed' in dry.out, dry.out
    done = run('deploy', source, '--stack', 'rot', '--parameter', 'db_password=' + new,
               '--heat-url', heat.url)
    assert done.code == 0, done.err
    history = run('history', 'rot', '-f', 'json', '--heat-url', heat.url, debug=False)
    rows = json.loads(history.out)
    assert any('hidden parameter db_password changed' in r.get('Changes', r.get('changes', ''))
               for r in rows), rows
    for result in (diff, dry, done, history):
        assert leaks(old, *result.texts()) == [] and leaks(new, *result.texts()) == []


def test_fingerprints_with_an_operator_key(tmp_path, monkeypatch, heat, run):
    # issue 12: an unkeyed fingerprint of a 2-character value was brute-forced
    # offline in 86 s; with a key only the operator holds it cannot be
    key = tmp_path / 'fp.key'
    key.write_text('k' * 32 + '\n')
    monkeypatch.setenv(secrets.KEY_FILE_ENV, str(key))
    a = secrets.fingerprint('pin', 'Zq')
    assert a.startswith('hmac:') and a == secrets.fingerprint('pin', 'Zq')
    assert a != secrets.fingerprint('pin', 'Zr') != secrets.fingerprint('pon', 'Zq')
    key.write_text('j' * 32)
    assert secrets.fingerprint('pin', 'Zq') != a  # another key, another fingerprint
    # deploy records it; a scheme change reads as a change (fail closed)
    source = secret_plan(tmp_path)
    assert run('deploy', source, '--stack', 'keyed', '--parameter', 'db_password=Zq',
               '--heat-url', heat.url, debug=False).code == 0
    stack = [s for s in heat.stacks.values() if s['stack_name'] == 'keyed'][0]
    manifest = json.loads(stack['files']['heatplan://manifest.json'])
    assert manifest['hidden_fingerprints']['db_password'].startswith('hmac:')
    monkeypatch.delenv(secrets.KEY_FILE_ENV)
    diff = run('diff', 'keyed', source, '--parameter', 'db_password=Zq',
               '--heat-url', heat.url, debug=False)
    assert diff.code == errors.ExitCode.DIFFERENT
    assert 'hidden parameter db_password changed' in diff.out
    # a key that cannot be read, or is too short, refuses: never a silent fallback
    for value, needle in ((str(tmp_path / 'missing.key'), 'cannot read the fingerprint key'),
                          (str(tmp_path / 'short.key'), 'shorter than 16 bytes')):
        (tmp_path / 'short.key').write_text('abc')
        monkeypatch.setenv(secrets.KEY_FILE_ENV, value)
        result = run('build', source, '--parameter', 'db_password=Zq', debug=False)
        assert result.code == errors.ExitCode.USAGE and needle in result.err


def test_a_change_set_never_holds_a_hidden_value(heat, run, tmp_path):
    secret = 'Zq9-changeset-SECRET'
    source = secret_plan(tmp_path)
    assert run('deploy', source, '--stack', 'cs', '--parameter', 'db_password=' + secret,
               '--heat-url', heat.url, debug=False).code == 0
    cs = tmp_path / 'cs.json'
    saved = run('deploy', source, '--stack', 'cs', '--parameter', 'db_password=' + secret,
                '--parameter', 'label=two', '--dry-run', '--save', cs, '--heat-url', heat.url)
    assert saved.code == 0, saved.err
    assert leaks(secret, cs.read_text(), *saved.texts()) == []
    missing = run('apply', cs, '--heat-url', heat.url, debug=False)
    assert missing.code == errors.ExitCode.REFUSED and 'db_password' in missing.err
    wrong = run('apply', cs, '--parameter', 'db_password=other', '--heat-url', heat.url,
                debug=False)
    assert wrong.code == errors.ExitCode.REFUSED and 'differs' in wrong.err
    done = run('apply', cs, '--parameter', 'db_password=' + secret, '--heat-url', heat.url)
    assert done.code == 0, done.err
    assert leaks(secret, *done.texts()) == []
