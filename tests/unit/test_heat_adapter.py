"""HeatAdapter error mapping and request shape, with requests-mock.

The functional tests cover the real Heat; these cover answers a local Heat
cannot be made to give (413 from a proxy, 500s, bad credentials) and the
exact request bodies sent.
"""

import json
import os
import subprocess
import sys

import pytest
import requests_mock

from heatplan import errors
from heatplan.cli import connect
from heatplan.heat import adapter as heat
from heatplan.heat.adapter import HeatAdapter
from heatplan.local import launcher

URL = 'http://heat.example:8004/v1/p1'
JSON = {'Content-Type': 'application/json'}
BODY = {
    'template': 'heat_template_version: rocky\n',
    'files': {'a.yaml': 'x: 1\n'},
    'environment_files': ['env.yaml'],
    'parameters': {'p': 'v'},
}


def heat_error(code, message, kind='StackValidationFailed'):
    return {'status_code': code, 'headers': JSON,
            'json': {'code': code, 'title': 'x', 'explanation': 'x',
                     'error': {'message': message, 'type': kind, 'traceback': None}}}


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(heat, 'READ_RETRY_DELAYS', (0.0, 0.0, 0.0))


@pytest.fixture
def adapter():
    return HeatAdapter.from_url(URL)


def test_reads_retry_on_5xx_then_succeed(adapter):
    stack = {'stack': {'id': 'i1', 'stack_name': 's', 'stack_status': 'CREATE_COMPLETE'}}
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks/s', [
            heat_error(503, 'busy', 'ServiceUnavailable'),
            {'status_code': 302, 'headers': {'Location': URL + '/stacks/s/i1'}},
        ])
        m.get(URL + '/stacks/s/i1', [
            heat_error(500, 'oops', 'InternalServerError'),
            {'status_code': 200, 'headers': JSON, 'json': stack},
        ])
        got = adapter.get_stack('s')
    assert got['id'] == 'i1'
    # 503; then 302 + 500 (the whole read is retried); then 302 + 200
    assert [r.path.rsplit('/', 1)[-1] for r in m.request_history] == ['s', 's', 'i1', 's', 'i1']


def test_reads_give_up_after_the_retries(adapter):
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks', **heat_error(503, 'busy', 'ServiceUnavailable'))
        with pytest.raises(errors.HeatRejected):
            adapter.list_stacks()
    assert len(m.request_history) == len(heat.READ_RETRY_DELAYS) + 1


def test_writes_are_never_retried(adapter):
    with requests_mock.Mocker() as m:
        m.post(URL + '/stacks', **heat_error(503, 'busy', 'ServiceUnavailable'))
        m.put(URL + '/stacks/s/i1', **heat_error(500, 'oops', 'InternalServerError'))
        with pytest.raises(errors.HeatRejected):
            adapter.create_stack('s', BODY)
        with pytest.raises(errors.HeatRejected):
            adapter.update_stack('s/i1', BODY)
    assert [r.method for r in m.request_history] == ['POST', 'PUT']


def test_client_errors_are_not_retried(adapter):
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks', **heat_error(400, 'bad', 'InvalidRequest'))
        with pytest.raises(errors.HeatRejected):
            adapter.list_stacks()
    assert len(m.request_history) == 1


def test_create_sends_one_full_request(adapter):
    with requests_mock.Mocker() as m:
        m.post(URL + '/stacks', status_code=201, headers=JSON,
               json={'stack': {'id': 'abc', 'links': []}})
        result = adapter.create_stack('s', BODY, tags=['t1', 't2'], timeout_mins=30)
    assert result['id'] == 'abc'
    sent = m.request_history[0].json()
    assert sent['stack_name'] == 's'
    assert sent['template'] == BODY['template']
    assert sent['files'] == BODY['files']
    assert sent['environment_files'] == ['env.yaml']
    assert sent['parameters'] == {'p': 'v'}
    assert sent['tags'] == 't1,t2'
    assert sent['timeout_mins'] == 30
    assert sent['disable_rollback'] is True
    assert m.request_history[0].headers['X-Auth-Token'] == 'notused'


def test_update_is_put_never_patch(adapter):
    with requests_mock.Mocker() as m:
        m.put(URL + '/stacks/s/abc', status_code=202)
        adapter.update_stack('s/abc', BODY)
    assert m.request_history[0].method == 'PUT'
    assert 'tags' not in m.request_history[0].json()
    assert 'existing' not in m.request_history[0].json()


def test_heat_message_is_kept(adapter):
    with requests_mock.Mocker() as m:
        m.post(URL + '/validate', **heat_error(400, 'Property error: x.y'))
        with pytest.raises(errors.HeatRejected) as info:
            adapter.validate(BODY)
    assert 'Property error: x.y' in str(info.value)
    assert 'StackValidationFailed' in str(info.value)
    assert info.value.status_code == 400
    assert info.value.exit_code == errors.ExitCode.HEAT_REJECTED


def test_413_explains_max_json_body_size(adapter):
    with requests_mock.Mocker() as m:
        m.post(URL + '/stacks', status_code=413, text='Request Entity Too Large')
        with pytest.raises(errors.HeatRejected) as info:
            adapter.create_stack('s', BODY)
    assert 'max_json_body_size' in str(info.value)


def test_heat_body_limit_explains_max_json_body_size(adapter):
    message = ('Request limit exceeded: JSON body size (9437417 bytes) exceeds '
               'maximum allowed size (8388608 bytes).')
    with requests_mock.Mocker() as m:
        m.post(URL + '/stacks', **heat_error(400, message, 'RequestLimitExceeded'))
        with pytest.raises(errors.HeatRejected) as info:
            adapter.create_stack('s', BODY)
    assert '--max-json-body-size' in str(info.value)


def test_get_stack_404_is_none_but_500_raises(adapter):
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks/gone', **heat_error(404, 'The Stack (gone) could not be found.',
                                                 'EntityNotFound'))
        assert adapter.get_stack('gone') is None
        m.get(URL + '/stacks/boom', **heat_error(500, 'kaput', 'Exception'))
        with pytest.raises(errors.HeatRejected) as info:
            adapter.get_stack('boom')
    assert 'kaput' in str(info.value)


def test_the_first_reads_go_over_the_session_as_heatclient_would_send_them(adapter):
    # issue 18: get_stack and list_stacks are made without heatclient; the
    # requests and the answers' mapping are the ones heatclient gave
    stack = {'id': 'i1', 'stack_name': 's', 'stack_status': 'CREATE_COMPLETE',
             'tags': ['a', '', 'hp-rev=1']}
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks/s', status_code=302,
              headers={'Location': URL + '/stacks/s/i1'})
        m.get(URL + '/stacks/s/i1', headers=JSON, json={'stack': stack})
        m.get(URL + '/stacks', headers=JSON, json={'stacks': [stack, dict(stack, id='i2')]})
        got = adapter.get_stack('s')
        listed = adapter.list_stacks(tags=['heatplan-lock', 'hp-stack=s'], show_hidden=True,
                                     name='hp.s.lock')
        history = m.request_history
    assert got == dict(stack, tags=['a', 'hp-rev=1'])     # empty tags dropped
    assert [s['id'] for s in listed] == ['i1', 'i2']
    assert history[0].qs == {'resolve_outputs': ['false']}
    assert history[0].headers['Accept'] == 'application/json'
    assert 'X-Auth-Token' in history[0].headers
    assert history[2].qs == {'tags': ['heatplan-lock,hp-stack=s'], 'show_hidden': ['true'],
                             'name': ['hp.s.lock']}
    assert 'heatplan' in history[2].headers['User-Agent']


def test_a_region_is_sent_as_heatclient_sends_it():
    from keystoneauth1 import noauth
    from keystoneauth1 import session as ks_session

    session = ks_session.Session(auth=noauth.NoAuth(endpoint=URL))
    adapter = HeatAdapter.from_session(session, endpoint_override=URL, region_name='r2')
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks', headers=JSON, json={'stacks': []})
        assert adapter.list_stacks() == []
        assert m.request_history[0].headers['X-Region-Name'] == 'r2'


def test_a_proxys_page_on_a_first_read_is_mapped_with_its_text(adapter):
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks', status_code=403, text='<html><h1>Forbidden by proxy</h1></html>')
        with pytest.raises(errors.HeatRejected) as info:
            adapter.list_stacks()
        m.get(URL + '/stacks/s', status_code=409, headers=JSON,
              json={'error': {'message': 'busy', 'type': 'Conflict'}})
        with pytest.raises(errors.HeatRejected) as busy:
            adapter.get_stack('s')
    assert 'HTTP 403' in str(info.value) and 'Forbidden by proxy' in str(info.value)
    assert busy.value.status_code == 409 and 'busy' in str(busy.value)


def test_a_heatclient_given_whole_is_used_for_every_read():
    class Stacks:
        def get(self, name, resolve_outputs=True):
            return {'id': 'c1', 'stack_name': name, 'tags': None}

        def list(self, **kwargs):
            return iter([{'id': 'c2', 'kw': sorted(kwargs)}])

    class Client:
        stacks = Stacks()

    adapter = HeatAdapter(Client(), url=URL)
    assert adapter.get_stack('s') == {'id': 'c1', 'stack_name': 's', 'tags': []}
    assert adapter.list_stacks(tags=['t'], name='n') == [{'id': 'c2', 'kw': ['filters', 'tags']}]


def test_wait_for_stack_returns_final_status(adapter):
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks/s', [
            {'headers': JSON, 'json': {'stack': {'id': '1', 'stack_name': 's',
                                                 'stack_status': 'UPDATE_IN_PROGRESS'}}},
            {'headers': JSON, 'json': {'stack': {'id': '1', 'stack_name': 's',
                                                 'stack_status': 'UPDATE_FAILED'}}},
        ])
        assert adapter.wait_for_stack('s', timeout=10, poll=0.01) == 'UPDATE_FAILED'


def test_wait_for_stack_times_out(adapter):
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks/s', headers=JSON,
              json={'stack': {'id': '1', 'stack_name': 's',
                              'stack_status': 'CREATE_IN_PROGRESS'}})
        with pytest.raises(errors.DeployTimedOut):
            adapter.wait_for_stack('s', timeout=0.05, poll=0.01)


def test_connection_refused_names_url_and_local_up():
    from requests import exceptions as rexc

    adapter = HeatAdapter.from_url('http://127.0.0.1:1/v1/admin')
    with requests_mock.Mocker() as m:
        m.get(requests_mock.ANY, exc=rexc.ConnectionError('refused'))
        with pytest.raises(errors.ConnectionFailed) as info:
            adapter.list_stacks()
    assert 'http://127.0.0.1:1/v1/admin' in str(info.value)
    assert 'heatplan local up' in str(info.value)
    assert info.value.exit_code == errors.ExitCode.CONNECTION


def test_bad_url_is_a_usage_error():
    with pytest.raises(errors.UsageError):
        HeatAdapter.from_url('127.0.0.1:8006/v1/admin')


def test_session_auth_failure_is_connection_error():
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url='http://keystone.example/v3', username='u',
                       password='secret-pw', project_name='p',
                       user_domain_id='default', project_domain_id='default')
    adapter = HeatAdapter.from_session(ks_session.Session(auth=auth))
    with requests_mock.Mocker() as m:
        m.post('http://keystone.example/v3/auth/tokens', status_code=401,
               json={'error': {'code': 401, 'message': 'nope'}})
        with pytest.raises(errors.ConnectionFailed) as info:
            adapter.list_stacks()
    assert 'authentication failed' in str(info.value)
    assert 'secret-pw' not in str(info.value)


# -- connect: which Heat -----------------------------------------------------


class FakeApp:
    pass


def parse(argv, app=None, env=None, monkeypatch=None):
    import argparse

    for name in (connect.HEAT_URL_ENV, connect.LOCAL_ENV, 'OS_CLOUD'):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    parser = argparse.ArgumentParser()
    connect.add_heat_arguments(parser, app)
    return parser.parse_args(argv)


def test_heat_url_option_and_env(monkeypatch):
    args = parse(['--heat-url', URL], monkeypatch=monkeypatch)
    assert connect.get_adapter(FakeApp(), args).url == URL
    args = parse([], env={connect.HEAT_URL_ENV: URL + '/'}, monkeypatch=monkeypatch)
    assert connect.get_adapter(FakeApp(), args).url == URL


def test_local_env_starts_local_heat(monkeypatch):
    calls = []

    def fake_ensure_up(data_dir=None, port=None):
        calls.append(port)
        return launcher.Status(running=True, url='http://127.0.0.1:8006/v1/admin')

    monkeypatch.setattr(launcher, 'ensure_up', fake_ensure_up)
    args = parse([], env={connect.LOCAL_ENV: '1'}, monkeypatch=monkeypatch)
    adapter = connect.get_adapter(FakeApp(), args)
    assert calls == [None]
    assert adapter.url == 'http://127.0.0.1:8006/v1/admin' and adapter.local


def test_local_and_heat_url_exclude_each_other(monkeypatch):
    args = parse(['--local', '--heat-url', URL], monkeypatch=monkeypatch)
    with pytest.raises(errors.UsageError):
        connect.get_adapter(FakeApp(), args)


def test_openstackclient_session_is_used(monkeypatch):
    from keystoneauth1 import session as ks_session

    session = ks_session.Session()
    app = FakeApp()
    app.client_manager = type('CM', (), {'stack_plan': session, 'interface': 'internal',
                                         'region_name': 'R2'})()
    args = parse([], app=app, monkeypatch=monkeypatch)
    assert not hasattr(args, 'os_cloud')  # openstackclient has its own --os-*
    adapter = connect.get_adapter(app, args)
    http = adapter.client.http_client
    assert http.session is session
    assert http.interface == 'internal' and http.region_name == 'R2'


def test_no_credentials_is_a_clear_error(monkeypatch, tmp_path):
    for name in list(__import__('os').environ):
        if name.startswith('OS_'):
            monkeypatch.delenv(name)
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.chdir(tmp_path)
    args = parse([], monkeypatch=monkeypatch)
    with pytest.raises(errors.ConnectionFailed) as info:
        connect.get_adapter(FakeApp(), args)
    assert '--local' in str(info.value)


def test_unknown_cloud_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.chdir(tmp_path)
    args = parse(['--os-cloud', 'nowhere'], monkeypatch=monkeypatch)
    with pytest.raises(errors.ConnectionFailed) as info:
        connect.get_adapter(FakeApp(), args)
    assert 'nowhere' in str(info.value)


def test_up_without_heat_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(launcher, 'heat_installed', lambda: False)
    with pytest.raises(errors.LocalHeatError) as info:
        launcher.up(data_dir=str(tmp_path))
    assert "pip install 'heatplan[local]'" in str(info.value)
    assert info.value.exit_code == errors.ExitCode.LOCAL_HEAT


def test_token_response_lists_both_heat_endpoints():
    from heatplan.local import config

    token = config.token_response('127.0.0.1', 8006)
    types = {entry['type'] for entry in token['token']['catalog']}
    assert {'orchestration', 'cloudformation'} <= types
    json.dumps(token)


def test_server_now_follows_the_date_of_heats_answers(adapter):
    """Ages of records are measured on Heat's clock: its answers' Date header."""
    import datetime

    assert adapter.server_now() is None  # no answer yet: callers use this machine's clock
    stack = {'stack': {'id': 'i1', 'stack_name': 's', 'stack_status': 'CREATE_COMPLETE'}}
    heat_time = datetime.datetime(2031, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    dated = dict(JSON, Date='Tue, 06 May 2031 07:08:09 GMT')
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks/s', status_code=200, headers=dated, json=stack)
        adapter.get_stack('s')
    now = adapter.server_now()
    assert heat_time <= now < heat_time + datetime.timedelta(seconds=5)
    with requests_mock.Mocker() as m:
        m.get(URL + '/stacks/s', status_code=200, headers=dict(JSON, Date='garbage'),
              json=stack)
        adapter.get_stack('s')
    assert adapter.server_now() is None  # an unreadable Date is no clock


def test_record_age_uses_the_clock_it_is_given():
    import datetime

    from heatplan import store

    rec = store.Record('r', 'i', 1, 'pending', None, '2031-05-06T07:08:09Z', 'me', [])
    heat_now = datetime.datetime(2031, 5, 6, 7, 9, 9, tzinfo=datetime.timezone.utc)
    assert rec.age(heat_now) == 60.0
    mine = (datetime.datetime.now(datetime.timezone.utc) - heat_now).total_seconds() + 60
    assert abs(rec.age() - mine) < 5  # without Heat's clock: this machine's
    assert store.Record('r', 'i', 1, 'pending', None, '', 'me', []).age(heat_now) == 0.0


_OSPROFILER_PROBE = '''
import sys
{pre}
from heatplan.heat import adapter
a = adapter.HeatAdapter.from_url('http://127.0.0.1:9/v1/admin')
a.client   # heatclient is made on first use
import keystoneauth1.session as s
from heatclient.common import http
print(repr(['osprofiler' in sys.modules, s.osprofiler_web is not None,
            http.osprofiler_web is not None, sys.modules.get('osprofiler', 0) is None]))
'''


@pytest.mark.parametrize('pre, want', [
    ('', [False, False, False, False]),   # left out: heatplan starts no trace
    ('import osprofiler.profiler', [True, True, True, False]),   # loaded: used as before
])
def test_the_heat_client_is_imported_without_osprofiler_unless_loaded(pre, want):
    pytest.importorskip('osprofiler.web')
    out = subprocess.run([sys.executable, '-c', _OSPROFILER_PROBE.format(pre=pre)],
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert out.stdout.strip() == repr(want)
