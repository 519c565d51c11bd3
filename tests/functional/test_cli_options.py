"""openstack's global options before the verb, against a real Heat.

On the embedded Heat (no authentication) the endpoint forms: ``--os-auth-type
none --os-endpoint URL``, ``--os-token T --os-endpoint URL`` (openstackclient's
``admin_token``), ``OS_*`` variables, a clouds.yaml cloud.  On a cloud
(``HEATPLAN_TEST_CLOUD``, e.g. the production-shaped Heat) the Keystone
forms: ``--os-cloud``, the password options one by one, a Keystone token
(``--os-token`` with ``--os-auth-url``, ``--os-auth-type v3token``), a token
with the Heat endpoint, ``OS_*`` variables.  Every form reaches the same
stack; the secret passed is in no output and no stored record.  Then
``openstack stack plan`` and ``heatplan`` both honour a cloud's
``orchestration_endpoint_override``.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from heatplan import store as store_mod
from heatplan.cli import app
from tests.functional import conftest
from tests.functional import plans
from tests.functional.faultproxy import FaultProxy

CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No OS_* variables; clouds.yaml only where a test writes one."""
    for key in list(os.environ):
        if key.startswith('OS_'):
            monkeypatch.delenv(key)
    monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(tmp_path / 'none.yaml'))
    return monkeypatch


def cloud_config(name):
    """The cloud's merged config (auth dict, region, interface) from clouds.yaml."""
    from openstack import config as os_config

    files = [conftest.CLOUDS_FILE] if conftest.CLOUDS_FILE else None
    region = os_config.OpenStackConfig(config_files=files).get_one(cloud=name)
    return region.config


def main(argv, capsys):
    capsys.readouterr()
    code = app.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def forms(heat, config, token):
    """``(label, argv before the verb, extra env)`` for this Heat."""
    if not conftest.CLOUD:
        url = heat.url
        return [
            ('auth-type none', ['--os-auth-type', 'none', '--os-endpoint', url], {}),
            ('admin_token', ['--os-auth-type', 'admin_token', '--os-token', token,
                             '--os-endpoint', url], {}),
            ('token+endpoint', ['--os-token', token, '--os-endpoint', url, '--insecure'], {}),
            ('OS_* variables', [], {'OS_AUTH_TYPE': 'none', 'OS_ENDPOINT': url}),
        ]
    auth = config['auth']
    password = ['--os-auth-url', auth['auth_url'], '--os-username', auth['username'],
                '--os-password', auth['password'], '--os-project-name', auth['project_name'],
                '--os-project-domain-name', auth['project_domain_name'],
                '--os-user-domain-name', auth['user_domain_name'],
                '--os-region-name', config['region_name'],
                '--os-interface', config.get('interface') or 'public']
    scope = ['--os-project-name', auth['project_name'],
             '--os-project-domain-name', auth['project_domain_name']]
    return [
        ('password options', password, {}),
        ('password + --os-cacert', password + ['--os-cacert', CA_BUNDLE], {}),
        ('token', ['--os-auth-url', auth['auth_url'], '--os-token', token] + scope, {}),
        ('v3token', ['--os-auth-type', 'v3token', '--os-auth-url', auth['auth_url'],
                     '--os-token', token] + scope, {}),
        ('token+endpoint', ['--os-token', token, '--os-endpoint', heat.url,
                            '--insecure'], {}),
        ('OS_* variables', [], {
            'OS_AUTH_URL': auth['auth_url'], 'OS_USERNAME': auth['username'],
            'OS_PASSWORD': auth['password'], 'OS_PROJECT_NAME': auth['project_name'],
            'OS_PROJECT_DOMAIN_NAME': auth['project_domain_name'],
            'OS_USER_DOMAIN_NAME': auth['user_domain_name'],
            'OS_REGION_NAME': config['region_name']}),
    ]


def secrets_of(config, token):
    values = [token]
    if config:
        values.append(config['auth']['password'])
    return [v for v in values if v and len(v) >= 8]


def test_every_global_option_form_reaches_heat(local_heat, clean_env, capsys, tmp_path,
                                               request):
    heat = local_heat
    config = cloud_config(conftest.CLOUD) if conftest.CLOUD else None
    # a token of the cloud's user (the embedded Heat takes any)
    token = heat.adapter.client.http_client.session.get_token() if conftest.CLOUD \
        else 'tok-0123456789abcdef'
    name = plans.stack_name(request)
    all_forms = forms(heat, config, token)
    label, before, env = all_forms[0]
    source = plans.make_plan(tmp_path)
    code, out, err = main(before + ['deploy', source, '--stack', name], capsys)
    assert code == 0, (label, out, err)
    assert '%s: created revision 1, CREATE_COMPLETE' % name in out
    hidden = secrets_of(config, token)
    try:
        for label, before, env in all_forms:
            with pytest.MonkeyPatch.context() as mp:
                for key, value in env.items():
                    mp.setenv(key, value)
                code, out, err = main(before + ['history', name, '-f', 'json'], capsys)
            assert code == 0, (label, out, err)
            assert [(r['revision'], r['status']) for r in json.loads(out)] == [
                (1, 'deployed')], label
            for secret in hidden:
                assert secret not in out + err, label
        # nothing the user passed is stored: the record's files, the stack's tags
        record = store_mod.Store(heat.adapter).records(name)[0]
        stored = json.dumps(heat.adapter.get_files(record.snapshot.ident)) + json.dumps(
            heat.adapter.get_stack(name))
        for secret in hidden:
            assert secret not in stored
    finally:
        main(all_forms[0][1] + ['delete', name, '--yes'], capsys)


def test_os_cloud_before_and_after_the_verb(local_heat, clean_env, capsys, tmp_path,
                                            request):
    heat = local_heat
    if conftest.CLOUD:
        clean_env.setenv('OS_CLIENT_CONFIG_FILE', conftest.CLOUDS_FILE)
        cloud = conftest.CLOUD
    else:
        path = tmp_path / 'clouds.yaml'
        path.write_text(yaml.safe_dump({'clouds': {'embedded': {
            'auth_type': 'none', 'auth': {'endpoint': heat.url}}}}))
        clean_env.setenv('OS_CLIENT_CONFIG_FILE', str(path))
        cloud = 'embedded'
    name = plans.stack_name(request)
    source = plans.make_plan(tmp_path)
    code, out, err = main(['--os-cloud', cloud, 'deploy', source, '--stack', name], capsys)
    assert code == 0, (out, err)
    try:
        code, out, err = main(['status', name, '--os-cloud', cloud, '-f', 'json'], capsys)
        assert code == 0, (out, err)
        assert json.loads(out)['stack_status'] == 'CREATE_COMPLETE'
        # the one after the verb wins
        code, out, err = main(['--os-cloud', 'nosuch', 'status', name, '--os-cloud', cloud],
                              capsys)
        assert code == 0, (out, err)
        clean_env.setenv('OS_CLOUD', cloud)
        code, out, err = main(['status', name], capsys)
        assert code == 0, (out, err)
    finally:
        main(['--os-cloud', cloud, 'delete', name, '--yes'], capsys)


def test_openstack_and_heatplan_honour_orchestration_endpoint_override(
        local_heat, clean_env, capsys, tmp_path, request):
    """A cloud whose orchestration_endpoint_override is a loopback proxy in front
    of Heat: both commands' requests go through it.  (On the embedded Heat
    the cloud's own endpoint is a closed port besides.)"""
    heat = local_heat
    if conftest.CLOUD:
        config = cloud_config(conftest.CLOUD)
        entry = {'auth': config['auth'], 'region_name': config['region_name'],
                 'identity_api_version': 3}
    else:
        entry = {'auth_type': 'none',
                 'auth': {'endpoint': 'http://127.0.0.1:%d/v1/admin' % conftest.free_port()}}
    name = plans.stack_name(request)
    source = plans.make_plan(tmp_path)
    with FaultProxy(heat.port, project=heat.project) as proxy:
        entry['orchestration_endpoint_override'] = proxy.url
        path = tmp_path / 'clouds.yaml'
        path.write_text(yaml.safe_dump({'clouds': {'ovr': entry}}))
        clean_env.setenv('OS_CLIENT_CONFIG_FILE', str(path))
        code, out, err = main(['--os-cloud', 'ovr', 'deploy', source, '--stack', name],
                              capsys)
        assert code == 0, (out, err)
        try:
            through = len(proxy.log)
            assert through >= 3       # reads, the record, the stack
            exe = os.path.join(os.path.dirname(sys.executable), 'openstack')
            proc = subprocess.run([exe, '--os-cloud', 'ovr', 'stack', 'plan', 'history',
                                   name, '-f', 'json'], capture_output=True, text=True,
                                  env=dict(os.environ), timeout=300)
            assert proc.returncode == 0, proc.stderr
            assert [(r['revision'], r['status']) for r in json.loads(proc.stdout)] == [
                (1, 'deployed')]
            assert len(proxy.log) > through   # openstack's requests came through it
        finally:
            main(['--os-cloud', 'ovr', 'delete', name, '--yes'], capsys)
