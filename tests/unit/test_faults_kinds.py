"""What a failed call proves (heatplan.heat.faults), from real failed connections."""

import socket
import threading

import pytest

from heatplan import errors
from heatplan.heat import faults
from heatplan.heat.adapter import HeatAdapter

BODY = {'template': 'heat_template_version: 2021-04-16\nresources: {}\n', 'files': {}}


def _create(url):
    adapter = HeatAdapter.from_url(url, timeout=5)
    adapter.read_retry_delays = ()
    with pytest.raises(errors.ConnectionFailed) as caught:
        adapter.create_stack('s', BODY)
    return caught.value


def _closed_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_a_refused_connection_was_never_sent():
    exc = _create('http://127.0.0.1:%d/v1/p' % _closed_port())
    assert faults.never_sent(exc)


def test_a_name_that_does_not_resolve_was_never_sent():
    # (the text-matching rule before heatplan.heat.faults said "may have been sent")
    exc = _create('http://heat.invalid:8004/v1/p')
    assert faults.never_sent(exc)


def test_a_connection_dropped_after_the_request_may_have_been_sent():
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)

    def take_and_drop():
        conn, _ = server.accept()
        conn.recv(65536)          # the request arrived
        conn.close()              # and no answer

    thread = threading.Thread(target=take_and_drop, daemon=True)
    thread.start()
    try:
        exc = _create('http://127.0.0.1:%d/v1/p' % server.getsockname()[1])
    finally:
        thread.join(5)
        server.close()
    assert not faults.never_sent(exc)


def test_heat_answered_needs_heats_own_500_and_not_a_timeout():
    def rejected(code, kind):
        exc = errors.HeatRejected('x')
        exc.status_code = code
        exc.heat_type = kind
        return exc

    assert faults.heat_answered(rejected(500, 'StackValidationFailed'))
    assert not faults.heat_answered(rejected(500, 'MessagingTimeout'))
    assert not faults.heat_answered(rejected(502, None))
    assert not faults.heat_answered(rejected(500, None))
    assert not faults.never_sent(rejected(500, 'X'))
