"""The embedded local Heat and the Heat adapter, against a real Heat."""

import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from heatplan import errors
from heatplan.heat.adapter import HeatAdapter
from heatplan.local import config as local_config
from tests.functional.conftest import free_port
from tests.functional.conftest import require_heat

ROOT = """\
heat_template_version: rocky
description: root of a small plan
parameters:
  length:
    type: number
    default: 12
resources:
  single:
    type: nested.yaml
    properties:
      length: {get_param: length}
  group:
    type: OS::Heat::ResourceGroup
    properties:
      count: 3
      resource_def:
        type: sub/leaf.yaml
        properties:
          index: "%index%"
outputs:
  secret:
    value: {get_attr: [single, secret]}
  names:
    value: {get_attr: [group, name]}
"""

NESTED = """\
heat_template_version: rocky
# comments, key order and layout must survive the round trip
parameters:
  length: {type: number}
resources:
  secret:
    type: OS::Heat::RandomString
    properties:
      length: {get_param: length}
  echo:
    type: OS::Heat::Value
    properties:
      value: {get_attr: [secret, value]}
outputs:
  secret:
    value: {get_attr: [echo, value]}
"""

LEAF = """\
heat_template_version: rocky
parameters:
  index: {type: string}
resources:
  name:
    type: OS::Heat::Value
    properties:
      value: {list_join: ['-', [leaf, {get_param: index}]]}
outputs:
  name:
    value: {get_attr: [name, value]}
"""

MULTIPART = """\
heat_template_version: rocky
resources:
  script:
    type: OS::Heat::SoftwareConfig
    properties:
      group: script
      config: |
        #!/bin/sh
        echo configured
  cloud:
    type: OS::Heat::CloudConfig
    properties:
      cloud_config:
        runcmd: [[echo, hello]]
  mime:
    type: OS::Heat::MultipartMime
    properties:
      parts:
      - config: {get_resource: script}
      - config: {get_resource: cloud}
        type: multipart
outputs:
  mime_id:
    value: {get_resource: mime}
"""


def nested_body():
    return {
        'template': ROOT,
        'files': {'nested.yaml': NESTED, 'sub/leaf.yaml': LEAF},
        'environment_files': [],
        'parameters': {'length': 9},
    }


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


def create_and_wait(adapter, name, body, **kwargs):
    adapter.create_stack(name, body, **kwargs)
    status = adapter.wait_for_stack(name, timeout=300, poll=0.5)
    stack = adapter.get_stack(name)
    return status, stack


# -- (a) nested templates, files round trip ------------------------------------


def test_create_nested_plan_and_read_files_back(local_heat):
    adapter = local_heat.adapter
    name = unique('nested')
    body = nested_body()
    status, stack = create_and_wait(adapter, name, body, tags=['plan', 'rev-1'])
    assert status == 'CREATE_COMPLETE', stack['stack_status_reason']
    assert sorted(stack['tags']) == ['plan', 'rev-1']

    files = adapter.get_files(name)
    assert files == body['files']
    for key, text in body['files'].items():
        assert files[key].encode('utf-8') == text.encode('utf-8')

    template = adapter.get_template(name)
    assert template['description'] == 'root of a small plan'
    outputs = adapter.get_outputs(name)
    assert len(outputs['secret']) == 9
    assert outputs['names'] == ['leaf-0', 'leaf-1', 'leaf-2']
    assert adapter.get_environment(name)['parameters'] == {'length': 9}


def test_update_is_a_full_put(local_heat):
    adapter = local_heat.adapter
    name = unique('update')
    body = nested_body()
    body['files']['unused.txt'] = 'stale\n'
    status, _stack = create_and_wait(adapter, name, body, tags=['keep'])
    assert status == 'CREATE_COMPLETE'

    new = nested_body()
    new['parameters'] = {'length': 5}
    adapter.update_stack(name, new)  # no tags: a PUT clears them
    assert adapter.wait_for_stack(name, timeout=300, poll=0.5) == 'UPDATE_COMPLETE'
    assert adapter.get_files(name) == new['files']  # unused.txt is gone
    assert len(adapter.get_outputs(name)['secret']) == 5
    assert not adapter.get_stack(name).get('tags')


def test_missing_stack_is_none_and_errors_are_mapped(local_heat):
    adapter = local_heat.adapter
    assert adapter.get_stack(unique('absent')) is None

    with pytest.raises(errors.HeatRejected) as info:
        adapter.validate({'template': 'heat_template_version: rocky\nresources:\n'
                                      '  x: {type: missing.yaml}\n'})
    assert info.value.exit_code == errors.ExitCode.HEAT_REJECTED
    assert 'missing.yaml' in str(info.value)

    name = unique('clash')
    adapter.create_stack(name, {'template': 'heat_template_version: rocky\n'})
    with pytest.raises(errors.HeatRejected) as info:
        adapter.create_stack(name, {'template': 'heat_template_version: rocky\n'})
    assert info.value.status_code == 409
    assert 'already exists' in str(info.value)


def test_record_tag_hides_stacks(local_heat):
    adapter = local_heat.adapter
    name = unique('record')
    status, _ = create_and_wait(adapter, name, {'template': 'heat_template_version: rocky\n'},
                                tags=[local_config.RECORD_TAG])
    assert status == 'CREATE_COMPLETE'
    assert name not in [s['stack_name'] for s in adapter.list_stacks()]
    hidden = adapter.list_stacks(tags=[local_config.RECORD_TAG], show_hidden=True)
    assert name in [s['stack_name'] for s in hidden]


def test_large_request_hits_max_json_body_size(local_heat):
    # 20 files of 450 KiB: each under max_template_size, 9 MiB in all.
    chunk = '# ' + 'x' * (450 * 1024) + '\n'
    body = {'template': 'heat_template_version: rocky\n',
            'files': {'f%02d.txt' % i: chunk for i in range(20)}}
    with pytest.raises(errors.HeatRejected) as info:
        local_heat.adapter.create_stack(unique('big'), body)
    assert 'max_json_body_size' in str(info.value)


def test_unreachable_heat_is_a_connection_error():
    adapter = HeatAdapter.from_url('http://127.0.0.1:%d/v1/admin' % free_port(), local=True)
    with pytest.raises(errors.ConnectionFailed) as info:
        adapter.list_stacks()
    assert info.value.exit_code == errors.ExitCode.CONNECTION
    assert 'heatplan local up' in str(info.value)
    assert '127.0.0.1' in str(info.value)


# -- (b) MultipartMime needs the cloudformation endpoint in the catalog ------


def test_multipart_mime_validates_and_creates(local_heat):
    adapter = local_heat.adapter
    body = {'template': MULTIPART}
    adapter.validate(body)
    status, stack = create_and_wait(adapter, unique('mime'), body)
    assert status == 'CREATE_COMPLETE', stack['stack_status_reason']


# -- (c) concurrency: SQLite must not lock ------------------------------------


@pytest.mark.local_only  # reads heat.log
def test_server_runs_with_its_oslo_messaging_fixes(local_heat):
    """The patches the local server applies to oslo.messaging took effect.

    They touch private parts (the RPC servers' executor class, the fake
    driver's polling); an oslo.messaging that changed them would bring back
    thousands of threads or 50 ms per RPC call, and say so only in heat.log.
    """
    with open(local_heat.log_file, encoding='utf-8', errors='replace') as f:
        log = f.read()
    assert 'RPC server thread pools: DynamicThreadPoolExecutor\n' in log
    assert 'keeps its 50 ms polling' not in log
    assert 'keep their stock thread pools' not in log
    # (what they buy is measured by the benchmarks: see doc/source/local.rst)


@pytest.mark.local_only  # reads heat.log
def test_twenty_concurrent_nested_creates(local_heat):
    adapter = local_heat.adapter
    names = [unique('conc%02d' % i) for i in range(20)]

    def deploy(name):
        adapter.create_stack(name, nested_body())
        return adapter.wait_for_stack(name, timeout=600, poll=1.0)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        results = dict(zip(names, pool.map(deploy, names), strict=True))
    elapsed = time.monotonic() - started
    print('\n20 concurrent nested creates: %.1fs' % elapsed)

    failed = {n: s for n, s in results.items() if s != 'CREATE_COMPLETE'}
    reasons = {n: adapter.get_stack(n)['stack_status_reason'] for n in failed}
    assert not failed, reasons
    with open(local_heat.log_file, encoding='utf-8', errors='replace') as f:
        log = f.read()
    assert 'database is locked' not in log


@pytest.mark.local_only  # reads heat.log and the server pid
def test_thirty_concurrent_lifecycles(local_heat):
    """Create, update and delete 30 nested plans at once.

    Each nested stack in flight keeps an engine worker thread busy; with
    Heat's default executor_thread_pool_size (64) this starves and hangs.
    With the large pool it needs, oslo.messaging's stock executor grew past
    2,000 threads and stalled the whole server for minutes; the server's
    thread count is watched to keep that from coming back.
    """
    adapter = local_heat.adapter
    pid = local_heat.status['pid']
    peak = [0]
    done = threading.Event()

    def watch_threads():
        while not done.wait(0.5):
            try:
                peak[0] = max(peak[0], len(os.listdir('/proc/%d/task' % pid)))
            except OSError:
                return

    watcher = threading.Thread(target=watch_threads, daemon=True)
    watcher.start()
    log_start = os.path.getsize(local_heat.log_file)

    def lifecycle(name):
        adapter.create_stack(name, nested_body())
        created = adapter.wait_for_stack(name, timeout=300, poll=1.0)
        changed = nested_body()
        changed['parameters'] = {'length': 3}
        adapter.update_stack(name, changed)
        updated = adapter.wait_for_stack(name, timeout=300, poll=1.0)
        reason = adapter.get_stack(name)['stack_status_reason']
        adapter.delete_stack(name)
        deleted = adapter.wait_for_stack(name, timeout=300, poll=1.0)
        if deleted != 'DELETE_COMPLETE':
            reason += ' / ' + adapter.get_stack(name)['stack_status_reason']
        reasons[name] = reason
        return created, updated, deleted

    reasons = {}
    names = [unique('life%02d' % i) for i in range(30)]
    started = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=30) as pool:
            results = list(pool.map(lifecycle, names))
    finally:
        done.set()
        watcher.join()
    print('\n30 concurrent create/update/delete: %.1fs, peak %d server threads'
          % (time.monotonic() - started, peak[0]))
    assert set(results) == {('CREATE_COMPLETE', 'UPDATE_COMPLETE', 'DELETE_COMPLETE')}, {
        n: r for n, r, res in zip(names, [reasons.get(n) for n in names], results, strict=True)
        if res != ('CREATE_COMPLETE', 'UPDATE_COMPLETE', 'DELETE_COMPLETE')}
    with open(local_heat.log_file, encoding='utf-8', errors='replace') as f:
        f.seek(log_start)
        log = f.read()
    assert 'database is locked' not in log
    # Not one error while it ran (with deferred_auth_method=trusts, each root
    # update rotated credentials its nested stacks still used, and Heat
    # logged the failed trustee auth on every stack load).
    errors_logged = [line for line in log.splitlines() if ' ERROR ' in line]
    assert not errors_logged, errors_logged[:5]
    # The stock pools reached ~2,100; the dynamic ones stay near 300.
    assert 0 < peak[0] < 1000, peak[0]


# -- (d) the launcher and its CLI ---------------------------------------------


def heatplan(*args, env=None):
    """Run the heatplan CLI; return (exit code, stdout, stderr)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, '-m', 'heatplan.cli.app'] + list(args),
        capture_output=True, text=True, env=full_env, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def data_dir(tmp_path):
    path = str(tmp_path / 'heat')
    yield path
    # Never leave a server behind, whatever the test did.
    heatplan('local', 'down', '--data-dir', path, '--timeout', '10')


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open('/proc/%d/stat' % pid) as f:
        return f.read().rsplit(')', 1)[-1].split()[0] != 'Z'


@pytest.mark.local_only  # heatplan local
def test_cli_up_is_idempotent_status_and_down(data_dir):
    require_heat()
    port = free_port()
    started = time.monotonic()
    code, out, err = heatplan('local', 'up', '--data-dir', data_dir, '--port', str(port),
                              '-f', 'json')
    elapsed = time.monotonic() - started
    assert code == 0, err
    first = json.loads(out)
    print('\nheatplan local up: %.1fs (server startup %.1fs)'
          % (elapsed, first['startup_seconds']))
    assert first['state'] == 'started'
    assert first['url'] == 'http://127.0.0.1:%d/v1/admin' % port
    pid_file = os.path.join(data_dir, 'heat.pid')
    with open(pid_file) as f:
        pid = int(f.read())
    assert pid == first['pid'] and pid_alive(pid)
    for name in ('heat.conf', 'heat.sqlite', 'heat.log', 'token.json'):
        assert os.path.exists(os.path.join(data_dir, name)), name

    code, out, err = heatplan('local', 'up', '--data-dir', data_dir, '-f', 'json')
    assert code == 0, err
    again = json.loads(out)
    assert again['state'] == 'already running'
    assert again['pid'] == pid

    assert HeatAdapter.from_url(first['url']).list_stacks() == []

    code, out, err = heatplan('local', 'status', '--data-dir', data_dir, '-f', 'json')
    assert code == 0, err
    shown = json.loads(out)
    assert shown['running'] is True and shown['responding'] is True
    assert shown['url'] == first['url']

    code, out, err = heatplan('local', 'logs', '--data-dir', data_dir, '-n', '5')
    assert code == 0, err
    assert len(out.splitlines()) == 5

    code, out, err = heatplan('local', 'down', '--data-dir', data_dir)
    assert code == 0, err
    assert 'stopped' in out
    assert not os.path.exists(pid_file)
    assert not pid_alive(pid)

    code, out, err = heatplan('local', 'status', '--data-dir', data_dir, '-f', 'json')
    assert code == 0
    assert json.loads(out)['running'] is False
    code, out, err = heatplan('local', 'down', '--data-dir', data_dir)
    assert code == 0 and 'not running' in out


@pytest.mark.local_only  # heatplan local
def test_cli_stale_pid_file_is_cleaned_up(data_dir):
    require_heat()
    os.makedirs(data_dir)
    gone = subprocess.Popen(['true'])
    gone.wait()
    with open(os.path.join(data_dir, 'heat.pid'), 'w') as f:
        f.write('%d\n' % gone.pid)

    code, out, err = heatplan('local', 'status', '--data-dir', data_dir, '-f', 'json')
    assert code == 0
    shown = json.loads(out)
    assert shown['running'] is False and 'stale pid file' in shown['notes']

    code, out, err = heatplan('local', 'up', '--data-dir', data_dir,
                              '--port', str(free_port()), '-f', 'json')
    assert code == 0, err
    assert 'stale pid file' in err and str(gone.pid) in err
    assert json.loads(out)['state'] == 'started'


@pytest.mark.local_only  # heatplan local
def test_cli_port_in_use_is_a_clear_error(data_dir):
    require_heat()
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, out, err = heatplan('local', 'up', '--data-dir', data_dir, '--port', str(port))
    assert code == errors.ExitCode.LOCAL_HEAT
    assert 'port %d' % port in err and 'in use' in err
    assert 'Traceback' not in err
    assert not os.path.exists(os.path.join(data_dir, 'heat.pid'))


@pytest.mark.local_only  # heatplan local
def test_cli_heat_failing_to_start_quotes_the_log(data_dir):
    require_heat()
    os.makedirs(os.path.join(data_dir, 'heat.sqlite'))  # a directory: the DB cannot open
    code, out, err = heatplan('local', 'up', '--data-dir', data_dir,
                              '--port', str(free_port()), '--timeout', '60')
    assert code == errors.ExitCode.LOCAL_HEAT
    assert 'failed to start' in err
    assert 'last lines of' in err and 'heat.log' in err
    assert not os.path.exists(os.path.join(data_dir, 'heat.pid'))


@pytest.mark.local_only  # heatplan local
def test_cli_unusable_data_dir(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    code, out, err = heatplan('local', 'up', '--data-dir', str(blocker / 'heat'))
    assert code == errors.ExitCode.LOCAL_HEAT
    assert 'data dir' in err and 'Traceback' not in err


def test_server_help():
    proc = subprocess.run([sys.executable, '-m', 'heatplan.local.server', '--help'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert '--max-json-body-size' in proc.stdout and '--data-dir' in proc.stdout
