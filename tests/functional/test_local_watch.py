"""The local Heat under trouble: the watchdog, engine progress in status, the port's owner."""

import json
import os
import time

import pytest

from heatplan import errors
from heatplan.heat.adapter import HeatAdapter
from heatplan.local import config as local_config
from heatplan.local import launcher
from tests.functional.conftest import free_port
from tests.functional.conftest import require_heat
from tests.functional.test_local_heat import heatplan

SLOW = """\
heat_template_version: 2021-04-16
resources:
  sleeper:
    type: OS::Heat::TestResource
    properties:
      value: slow
      action_wait_secs: {create: 14}
"""


@pytest.fixture
def data_dir(tmp_path):
    path = str(tmp_path / 'heat')
    yield path
    launcher.down(data_dir=path)


def test_watchdog_dumps_threads_and_status_shows_the_engine(data_dir):
    require_heat()
    status = launcher.up(data_dir=data_dir, port=free_port(), exit_with_pid=os.getpid(),
                         watchdog_seconds=3)
    adapter = HeatAdapter.from_url(status.url, local=True)
    code, out, _err = heatplan('local', 'status', '--data-dir', data_dir, '-f', 'json')
    assert code == 0
    assert json.loads(out)['engine'].startswith(('idle', 'unknown'))
    # A resource that waits 14 s changes nothing in the database meanwhile:
    # to the watchdog (3 s here) that is a stall, and it dumps every thread.
    adapter.create_stack('slow', {'template': SLOW, 'files': {}})
    deadline = time.monotonic() + 12
    engine = None
    while time.monotonic() < deadline:
        code, out, _err = heatplan('local', 'status', '--data-dir', data_dir, '-f', 'json')
        engine = json.loads(out)['engine']
        if engine.startswith('STALLED'):
            break
        time.sleep(0.5)
    assert engine.startswith('STALLED: 1 stack(s) in progress'), engine
    with open(status['log_file']) as f:
        log = f.read()
    assert 'watchdog: 1 stack(s) IN_PROGRESS and no progress' in log
    assert 'pool worker ' in log and '--- thread heatplan-watchdog' in log
    assert 'check_create_complete' in log or 'TaskRunner' in log or '_sleep' in log
    assert adapter.wait_for_stack('slow', timeout=60, poll=0.5) == 'CREATE_COMPLETE'
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        code, out, _err = heatplan('local', 'status', '--data-dir', data_dir, '-f', 'json')
        engine = json.loads(out)['engine']
        if engine.startswith('idle'):
            break
        time.sleep(0.5)
    assert engine.startswith('idle'), engine


def test_up_adopts_its_own_server_whose_pid_file_is_gone(data_dir):
    require_heat()
    port = free_port()
    first = launcher.up(data_dir=data_dir, port=port, exit_with_pid=os.getpid())
    paths = local_config.Paths(data_dir)
    os.unlink(paths.pid)
    os.unlink(paths.state)
    code, out, err = heatplan('local', 'up', '--data-dir', data_dir, '--port', str(port),
                              '-f', 'json')
    assert code == 0, err
    shown = json.loads(out)
    assert shown['state'] == 'already running' and shown['pid'] == first['pid']
    assert 'adopted the running local Heat' in err
    assert launcher.status(data_dir)['running'] is True


def test_up_names_the_other_local_heat_holding_the_port(data_dir, tmp_path):
    require_heat()
    port = free_port()
    other = launcher.up(data_dir=data_dir, port=port, exit_with_pid=os.getpid())
    mine = str(tmp_path / 'mine')
    code, _out, err = heatplan('local', 'up', '--data-dir', mine, '--port', str(port))
    assert code == errors.ExitCode.LOCAL_HEAT
    assert 'taken by another local Heat (pid %d, data dir %s)' % (other['pid'], data_dir) \
        in err, err
    assert 'heatplan local down --data-dir %s' % data_dir in err
    assert 'Traceback' not in err


def test_heat_log_is_capped(tmp_path):
    conf = local_config.render_conf(local_config.Paths(str(tmp_path)), '127.0.0.1', 8006)
    assert 'log_rotation_type = size' in conf
    assert 'max_logfile_size_mb = %d' % local_config.LOG_MAX_MB in conf
    assert 'max_logfile_count = %d' % local_config.LOG_KEEP in conf
