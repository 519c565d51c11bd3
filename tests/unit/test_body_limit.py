"""The request body limit: its default per target, and how to raise it.

``--max-body-bytes`` defaults to Heat's own 1 MiB for clouds and to the local
Heat's ``max_json_body_size`` with ``--local``; a plan over the limit, and a
413 from Heat or a proxy (requests-mock: the only path a real Heat cannot be
made to give), say exactly how to raise it.
"""

import argparse
import logging

import pytest
import requests_mock

from heatplan import errors
from heatplan import lint
from heatplan.cli import app
from heatplan.cli import connect
from heatplan.heat import adapter as heat
from heatplan.heat.adapter import HeatAdapter
from heatplan.local import config as local_config
from heatplan.local import launcher
from tests.unit.conftest import template

URL = 'http://heat.example:8004/v1/p1'
LOCAL_URL = 'http://127.0.0.1:8006/v1/admin'
BODY = {'template': 'heat_template_version: rocky\n', 'files': {'a.txt': 'x' * 1000}}
#: Four files of 400 KiB (each under max_template_size): a 1.6 MB request.
CHUNK = '#' * (400 * 1024) + '\n'
BIG_PLAN = {
    'root.yaml': template(resources=''.join(
        '  v%d:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: data/%d.txt}\n' % (i, i) for i in range(4))),
}
BIG_PLAN.update({'data/%d.txt' % i: CHUNK for i in range(4)})


@pytest.fixture(autouse=True)
def _restore_root_logging():
    root = logging.getLogger('')
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def no_local_heat(tmp_path, monkeypatch):
    """Point the local Heat at an empty data dir: nothing runs there."""
    monkeypatch.setenv(local_config.DATA_DIR_ENV, str(tmp_path / 'local-heat'))
    monkeypatch.delenv('HEATPLAN_LOCAL', raising=False)
    monkeypatch.delenv('HEATPLAN_HEAT_URL', raising=False)


def run(argv, capsys):
    try:
        rc = app.main([str(a) for a in argv])
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    assert 'Traceback' not in out + err
    return rc, out, err


def args(**kw):
    base = {'max_body_bytes': None, 'local': False, 'heat_url': None}
    base.update(kw)
    return argparse.Namespace(**base)


def test_default_is_heats_own_limit_for_clouds():
    assert connect.max_body_bytes(args()) == lint.DEFAULT_MAX_BODY_BYTES == 1024 * 1024
    assert connect.max_body_bytes(args(heat_url=URL)) == 1024 * 1024


def test_local_default_is_the_local_heats_limit():
    # Not running: what "--local" would start it with.
    assert launcher.configured_limits() == local_config.LIMIT_DEFAULTS
    assert connect.max_body_bytes(args(local=True)) == \
        local_config.LIMIT_DEFAULTS['max_json_body_size'] == 8 * 1024 * 1024


def test_not_given_on_the_command_line_is_the_default(capsys):
    # Deploy's parser: --max-body-bytes defaults to a marked 1 MiB.
    assert isinstance(connect.DEFAULT_BODY_LIMIT, connect.DefaultBodyLimit)
    assert connect.max_body_bytes(args(max_body_bytes=connect.DEFAULT_BODY_LIMIT,
                                       local=True)) == 8 * 1024 * 1024
    # ... while the same number given explicitly stays.
    assert connect.max_body_bytes(args(max_body_bytes=1024 * 1024, local=True)) == \
        1024 * 1024


def test_explicit_limit_wins_and_must_not_be_negative():
    assert connect.max_body_bytes(args(local=True, max_body_bytes=5)) == 5
    assert connect.max_body_bytes(args(max_body_bytes=0)) == 0
    with pytest.raises(errors.UsageError):
        connect.max_body_bytes(args(max_body_bytes=-1))


def test_build_over_the_cloud_limit_says_how_to_raise_it(plan_dir, capsys, tmp_path):
    root = plan_dir(BIG_PLAN)
    rc, _out, err = run(['build', root, '-t', 'root.yaml'], capsys)
    assert rc == errors.ExitCode.PLAN_INVALID
    assert 'over the limit of 1048576 bytes' in err
    for needle in ('[DEFAULT] max_json_body_size = N', 'heat.conf', 'restart heat-api',
                   '--max-body-bytes N', 'heatplan local up --max-json-body-size N'):
        assert needle in err
    rc, _out, err = run(['build', root, '-t', 'root.yaml', '--max-body-bytes', '2000000',
                         '-o', tmp_path / 'plan.json'], capsys)
    assert rc == 0, err


def test_validate_reports_the_limit(plan_dir, capsys):
    rc, out, _err = run(['validate', plan_dir(BIG_PLAN), '-t', 'root.yaml'], capsys)
    assert rc == errors.ExitCode.PLAN_INVALID
    assert 'over the limit of 1048576 bytes' in out
    assert 'max_json_body_size' in out and '--max-body-bytes' in out


def test_deploy_help_tells_the_local_default(capsys):
    rc, out, _err = run(['help', 'deploy'], capsys)
    assert rc == 0
    assert "checked against its max_json_body_size unless --max-body-bytes" in \
        ' '.join(out.split())


def test_cloud_deploy_is_checked_against_1_mib(plan_dir, capsys):
    rc, _out, err = run(['deploy', plan_dir(BIG_PLAN), '-t', 'root.yaml', '--stack', 's',
                         '--heat-url', 'http://127.0.0.1:9/v1/admin'], capsys)
    assert rc == errors.ExitCode.PLAN_INVALID
    assert '[DEFAULT] max_json_body_size = N' in err


def test_local_deploy_is_checked_against_the_local_limit(plan_dir, capsys, monkeypatch):
    reached = []

    def local_adapter(*a, **kw):
        reached.append(True)
        raise errors.LocalHeatError('not starting a Heat in a unit test')

    monkeypatch.setattr(connect, 'local_adapter', local_adapter)
    root = plan_dir(BIG_PLAN)
    rc, _out, err = run(['deploy', root, '-t', 'root.yaml', '--stack', 's', '--local',
                         '--dry-run'], capsys)
    # The 1.6 MB plan passed the check (8 MiB) and went on to the Heat.
    assert reached and rc == errors.ExitCode.LOCAL_HEAT, err
    rc, _out, err = run(['deploy', root, '-t', 'root.yaml', '--stack', 's', '--local',
                         '--max-body-bytes', '1000000'], capsys)
    assert rc == errors.ExitCode.PLAN_INVALID
    assert 'heatplan local up --max-json-body-size N' in err
    assert '(1000000 bytes now)' in err


def test_413_from_a_cloud_says_how_to_raise_the_limit():
    adapter = HeatAdapter.from_url(URL)
    size = heat._body_size(adapter._fields(BODY, disable_rollback=True) |
                           {'stack_name': 's'})
    with requests_mock.Mocker() as m:
        m.post(URL + '/stacks', status_code=413, text='Request Entity Too Large')
        with pytest.raises(errors.HeatRejected) as info:
            adapter.create_stack('s', BODY)
    text = str(info.value)
    assert info.value.exit_code == errors.ExitCode.HEAT_REJECTED
    assert 'HTTP 413' in text
    for needle in ('"[DEFAULT] max_json_body_size = N" in heat.conf',
                   'N at least %d' % size, 'restart heat-api', '--max-body-bytes N'):
        assert needle in text


def test_413_from_the_local_heat_says_how_to_restart_it():
    adapter = HeatAdapter.from_url(LOCAL_URL, local=True)
    adapter.max_json_body_size = 8388608
    with requests_mock.Mocker() as m:
        m.put(LOCAL_URL + '/stacks/s/i', status_code=413, text='too large')
        with pytest.raises(errors.HeatRejected) as info:
            adapter.update_stack('s/i', BODY)
    text = str(info.value)
    assert 'max_json_body_size (8388608 bytes now)' in text
    assert '"heatplan local down" then "heatplan local up --max-json-body-size N"' in text
