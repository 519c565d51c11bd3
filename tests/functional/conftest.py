"""Fixtures for functional tests: a real Heat run locally on loopback.

The ``local_heat`` fixture needs openstack-heat (``pip install
'heatplan[local]'``, as tox's functional env does).  Without it the fixture
fails loudly rather than skipping: CI must not pass by running nothing.
"""

import importlib.util
import os
import socket
import types

import pytest

from heatplan.cli import app
from heatplan.heat import HeatAdapter
from heatplan.local import launcher


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


@pytest.fixture(scope='session')
def local_heat(tmp_path_factory):
    """A local Heat in a temporary data dir on a free port, for the session.

    Yields an object with ``url``, ``adapter`` (:class:`HeatAdapter`),
    ``data_dir``, ``port``, ``log_file`` and ``status`` (what ``up`` said).
    """
    require_heat()
    data_dir = str(tmp_path_factory.mktemp('local-heat'))
    status = launcher.up(data_dir=data_dir, port=free_port(), exit_with_pid=os.getpid())
    try:
        yield types.SimpleNamespace(
            url=status.url,
            adapter=HeatAdapter.from_url(status.url, local=True),
            data_dir=data_dir,
            port=status['port'],
            log_file=status['log_file'],
            status=status,
        )
    finally:
        launcher.down(data_dir=data_dir)


@pytest.fixture
def adapter(local_heat):
    return local_heat.adapter


@pytest.fixture
def name(request):
    from tests.functional import plans

    return plans.stack_name(request)


@pytest.fixture
def cli(local_heat, capsys):
    """Run ``heatplan ARGS --heat-url URL``; return (exit code, stdout, stderr)."""

    def run(*args):
        capsys.readouterr()
        code = app.main([str(a) for a in args] + ['--heat-url', local_heat.url])
        out, err = capsys.readouterr()
        return code, out, err

    return run
