"""Connection failures name the component: Keystone is not Heat, the cause is
given whole, a local Heat's hint names its port and data dir.

Failures go to a closed loopback port: a real refusal, no mock.
"""

import http.server
import threading

import pytest

from heatplan import errors
from heatplan.cli import connect
from heatplan.heat import adapter as heat_mod
from heatplan.heat.adapter import HeatAdapter
from tests.unit.conftest import closed_port
from tests.unit.conftest import run_cli

SECRET = 'pw-Zq8-never-shown'


pytestmark = pytest.mark.usefixtures('clean_os_env')
run = run_cli



def test_a_keystone_that_is_down_is_not_heat(capsys):
    port = closed_port()
    rc, out, err = run(['--os-auth-url', 'http://127.0.0.1:%d/v3' % port,
                        '--os-username', 'u', '--os-password', SECRET,
                        '--os-project-name', 'p', '--os-user-domain-name', 'Default',
                        '--os-project-domain-name', 'Default', 'list'], capsys)
    assert rc == errors.ExitCode.CONNECTION
    line = [x for x in err.splitlines() if x.startswith('heatplan: error:')][0]
    assert 'cannot reach Keystone (identity) at http://127.0.0.1:%d/v3' % port in line
    assert 'Heat' not in line
    assert line.endswith('Connection refused'), line     # the cause, not cut off
    assert SECRET not in out + err


def test_unreachable_heat_gives_the_whole_cause_and_the_local_port_and_dir(tmp_path):
    port = closed_port()
    adapter = HeatAdapter.from_url('http://127.0.0.1:%d/v1/admin' % port, local=True)
    adapter.read_retry_delays = ()
    adapter.local_port, adapter.local_data_dir = port, str(tmp_path / 'heat-data')
    with pytest.raises(errors.ConnectionFailed) as info:
        adapter.list_stacks()
    assert info.value.message.endswith('Connection refused')
    assert 'heatplan local up --port %d --data-dir %s' % (port, tmp_path / 'heat-data') \
        in info.value.hint


def test_loopback_heat_url_hint_uses_its_port(monkeypatch, tmp_path):
    monkeypatch.setenv('HEATPLAN_LOCAL_DATA_DIR', str(tmp_path / 'dd'))
    port = closed_port()
    # (what --heat-url gives: heatplan.cli.connect adds the local Heat's defaults)
    adapter = connect._with_local_defaults(
        HeatAdapter.from_url('http://127.0.0.1:%d/v1/admin' % port))
    adapter.read_retry_delays = ()
    with pytest.raises(errors.ConnectionFailed) as info:
        adapter.list_stacks()
    assert '--port %d --data-dir %s' % (port, tmp_path / 'dd') in info.value.hint


# -- a Heat that sends no Date header -------------------------------------------------

class _Undated(http.server.BaseHTTPRequestHandler):
    """Answers GET .../stacks like Heat, without a Date header (as uWSGI)."""

    def do_GET(self):  # noqa: N802 - http.server's name
        body = b'{"stacks": []}'
        self.send_response_only(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Dated(_Undated):
    def do_GET(self):  # noqa: N802
        self.send_response_only(200)
        self.send_header('Date', 'Mon, 01 Jan 2001 00:00:00 GMT')
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', '14')
        self.end_headers()
        self.wfile.write(b'{"stacks": []}')


@pytest.fixture
def serve():
    servers = []

    def start(handler):
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return 'http://127.0.0.1:%d/v1/admin' % server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_missing_date_header_is_said_once(serve, caplog, monkeypatch):
    monkeypatch.setattr(heat_mod, '_UNDATED_WARNED', [])
    adapter = HeatAdapter.from_url(serve(_Undated))
    assert adapter.server_now() is None          # nothing heard yet: no warning
    assert not [r for r in caplog.records if 'Date header' in r.getMessage()]
    adapter.list_stacks()
    adapter.list_stacks()
    assert adapter.server_now() is None
    assert adapter.server_now() is None
    warned = [r for r in caplog.records if 'Date header' in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].levelname == 'WARNING'
    assert "this machine's clock" in warned[0].getMessage()


def test_a_date_header_gives_heats_clock(serve, caplog, monkeypatch):
    monkeypatch.setattr(heat_mod, '_UNDATED_WARNED', [])
    adapter = HeatAdapter.from_url(serve(_Dated))
    adapter.list_stacks()
    now = adapter.server_now()
    assert now is not None and now.year == 2001
    assert not [r for r in caplog.records if 'Date header' in r.getMessage()]
