"""Fixtures for functional tests: a real Heat, local on loopback or any cloud.

By default the ``local_heat`` fixture starts heatplan's embedded Heat (it
needs openstack-heat: ``pip install 'heatplan[local]'``, as tox's functional
env does).  Without it the fixture fails loudly rather than skipping: CI must
not pass by running nothing.

``HEATPLAN_TEST_CLOUD=NAME`` (a cloud in clouds.yaml; ``OS_CLIENT_CONFIG_FILE``
says which file) runs the same tests against that cloud's Heat instead,
through a keystoneauth session, as that cloud's user -- e.g. the
production-shaped Heat of ``tools/prodheat`` (``tox -e functional-prod``).
Tests that need the embedded Heat's internals (its data dir, log, process, or
``heatplan local``) are marked ``local_only`` and skipped there.
"""

import importlib.util
import os
import secrets
import socket
import types
import urllib.parse

import pytest

from heatplan.cli import app
from heatplan.heat.adapter import HeatAdapter
from heatplan.local import launcher
from tests import contract
from tests.functional import plans

CLOUD_ENV = 'HEATPLAN_TEST_CLOUD'
CLOUD = os.environ.get(CLOUD_ENV) or None
#: The clouds.yaml the session started with (tests may point OS_CLIENT_CONFIG_FILE elsewhere).
CLOUDS_FILE = os.environ.get('OS_CLIENT_CONFIG_FILE')


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'local_only: needs the embedded local Heat\'s internals (data dir, '
                   'log, process, heatplan local); skipped with %s' % CLOUD_ENV)
    if CLOUD:
        # Stacks outlive a session on a shared cloud: names unique to this run.
        plans.RUN_TAG = '-' + secrets.token_hex(3)


@pytest.fixture(autouse=True, scope='session')
def _own_cache_home(tmp_path_factory):
    """The CLI's analysis cache (heatplan.plan.cache) in a directory of the run's own."""
    old = os.environ.get('XDG_CACHE_HOME')
    os.environ['XDG_CACHE_HOME'] = str(tmp_path_factory.mktemp('xdg-cache'))
    yield
    if old is None:
        os.environ.pop('XDG_CACHE_HOME', None)
    else:
        os.environ['XDG_CACHE_HOME'] = old


def pytest_collection_modifyitems(config, items):
    if not CLOUD:
        return
    skip = pytest.mark.skip(reason='local_only: needs the embedded Heat (%s=%s)'
                                   % (CLOUD_ENV, CLOUD))
    for item in items:
        if 'local_only' in item.keywords:
            item.add_marker(skip)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def require_heat():
    if importlib.util.find_spec('heat') is None:
        pytest.fail(
            "openstack-heat is not installed: functional tests need a real Heat "
            "(pip install -e '.[local]')", pytrace=False)


class CloudHeat:
    """The Heat of clouds.yaml cloud ``name``, reached as that cloud's user."""

    def __init__(self, name):
        self.cloud = name
        self.adapter = self.connect()
        session = self._last_session
        self.url = session.get_endpoint(service_type='orchestration',
                                        interface=self._interface,
                                        region_name=self._region).rstrip('/')
        parsed = urllib.parse.urlsplit(self.url)
        self.port = parsed.port or (443 if parsed.scheme == 'https' else 80)
        self.project = parsed.path.rstrip('/').rsplit('/', 1)[-1]
        self.data_dir = self.log_file = self.status = None
        self.cli_args = ['--os-cloud', name]
        self.osc_args = ['--os-cloud', name]

    def connect(self, url=None, timeout=600):
        """A new adapter with its own session (and token); ``url`` overrides the
        orchestration endpoint (a fault proxy in front of it)."""
        from keystoneauth1 import session as ks_session
        from openstack import config as os_config

        region = os_config.OpenStackConfig(app_name='heatplan-tests').get_one(
            cloud=self.cloud)
        self._interface = region.get_interface('orchestration')
        self._region = region.region_name
        session = ks_session.Session(auth=region.get_auth(), timeout=timeout,
                                     verify=region.verify)
        self._last_session = session
        return HeatAdapter.from_session(session, endpoint_override=url,
                                        interface=self._interface,
                                        region_name=self._region)


@pytest.fixture(scope='session')
def local_heat(tmp_path_factory):
    """The Heat under test, for the session.

    Yields an object with ``url``, ``adapter`` (:class:`HeatAdapter`),
    ``connect(url=None, timeout=600)`` (a new adapter, optionally through a
    proxy at ``url``), ``port`` and ``project`` (of the orchestration
    endpoint), ``cli_args`` / ``osc_args`` (how heatplan / openstack reach it)
    and, for the embedded Heat only, ``data_dir``, ``log_file`` and
    ``status`` (what ``up`` said).
    """
    if CLOUD:
        yield CloudHeat(CLOUD)
        return
    require_heat()
    data_dir = str(tmp_path_factory.mktemp('local-heat'))
    status = launcher.up(data_dir=data_dir, port=free_port(), exit_with_pid=os.getpid())
    try:
        yield types.SimpleNamespace(
            url=status.url,
            adapter=HeatAdapter.from_url(status.url, local=True),
            connect=lambda url=None, timeout=600: HeatAdapter.from_url(
                url or status.url, timeout=timeout),
            data_dir=data_dir,
            port=status['port'],
            project='admin',
            log_file=status['log_file'],
            status=status,
            cli_args=['--heat-url', status.url],
            osc_args=['--os-auth-type', 'none', '--os-endpoint', status.url],
        )
    finally:
        launcher.down(data_dir=data_dir)


@pytest.fixture
def adapter(local_heat):
    return local_heat.adapter


@pytest.fixture
def name(request):
    return plans.stack_name(request)


@pytest.fixture
def cli(local_heat, capsys):
    """Run ``heatplan ARGS`` against the Heat under test (``--heat-url URL`` or
    ``--os-cloud NAME``); return (exit code, stdout, stderr)."""

    def run(*args):
        capsys.readouterr()
        code = app.main([str(a) for a in args] + local_heat.cli_args)
        out, err = capsys.readouterr()
        contract.check_exit_code(args, code)
        return code, out, err

    return run
