"""A loopback TCP proxy that injects network faults between heatplan and Heat.

The proxy listens on ``127.0.0.1`` (a free port) and forwards to one
upstream port on ``127.0.0.1``; it never connects anywhere else.  It reads
each HTTP request whole (head and ``Content-Length`` body), then either
passes it through or applies the first :class:`Rule` that matches it
(method, path regex, body regex) and still has uses left:

``pass``
    forward the request, relay the answer.
``drop_request``
    forward the head and the first ``nbytes`` of the body (half by default),
    then close both connections: Heat sees a truncated body.
``drop_after_accept``
    forward the whole request, read Heat's whole answer, then close the
    client's connection without a byte of it: Heat did the work, the client
    never hears.
``drop_mid_response``
    forward, read Heat's answer, relay its first half, close.
``status``
    answer ``status`` (500, 503...) like a load balancer would, without
    forwarding anything.
``status_after_forward``
    forward the request, discard Heat's answer, answer ``status`` instead
    (a gateway whose upstream was too slow: 502/503/504).
``stall_request``
    hold the request ``seconds``, then close without forwarding it.
``stall_response``
    forward, read Heat's answer, hold it ``seconds``, then relay it.
``late_forward``
    hold the request ``seconds`` (the client gives up meanwhile), then
    forward it all the same: a request stuck in a queue reaches Heat late.
``hold``
    hold the request until the test sets ``rule.release`` (at most
    ``seconds``), then pass it: lets a test order two clients' requests.

Heat's local server speaks HTTP/1.0 and closes each connection after its
answer, so the proxy handles one request per client connection.  Every wait
is bounded and interrupted by :meth:`FaultProxy.stop`.
"""

import json
import re
import socket
import threading
import time

HOST = '127.0.0.1'
MODES = ('pass', 'drop_request', 'drop_after_accept', 'drop_mid_response', 'status',
         'status_after_forward', 'stall_request', 'stall_response', 'late_forward', 'hold')
#: Bounds on what one connection may make the proxy read or wait for.
MAX_HEAD = 1024 * 1024
MAX_BODY = 256 * 1024 * 1024
IO_TIMEOUT = 60.0
#: Bound on reading one whole request or answer.
EXCHANGE_SECONDS = 180.0

_REASONS = {500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
            504: 'Gateway Timeout'}


class Rule:
    """Which requests get which fault, and how many times (``None``: always)."""

    def __init__(self, mode, method=None, path=None, body=None, times=1, nbytes=None,
                 status=503, seconds=0.0, page='html'):
        if mode not in MODES:
            raise ValueError('unknown fault mode %r' % mode)
        self.mode = mode
        self.method = method
        self.path = re.compile(path) if isinstance(path, str) else path
        self.body = re.compile(body.encode() if isinstance(body, str) else body) \
            if body is not None else None
        self.times = times
        self.nbytes = nbytes
        self.status = status
        self.seconds = seconds
        self.page = page
        self.hits = 0
        #: Set when a request is caught by this rule (before the fault).
        self.caught = threading.Event()
        #: ``hold`` waits for this.
        self.release = threading.Event()
        #: Set when a fault of this rule has been applied completely (a late
        #: forward delivered, a stalled answer relayed...).
        self.done = threading.Event()
        #: Status lines Heat answered to the requests this rule caught.
        self.upstream_status = []

    def matches(self, method, path, body):
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method != method:
            return False
        if self.path is not None and not self.path.search(path):
            return False
        if self.body is not None and not self.body.search(body):
            return False
        return True

    def __repr__(self):
        return 'Rule(%s, %s %s, hits=%d)' % (
            self.mode, self.method or '*', self.path.pattern if self.path else '*', self.hits)


class FaultProxy:
    """``with FaultProxy(heat_port) as proxy: proxy.url`` -> the Heat endpoint through it."""

    def __init__(self, upstream_port, project='admin'):
        self.upstream_port = int(upstream_port)
        self.project = project
        self.rules = []
        self.log = []           # one dict per request: method, path, mode, upstream
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, 0))
        self._sock.listen(128)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._acceptor = None

    # -- control ------------------------------------------------------------

    @property
    def url(self):
        return 'http://%s:%d/v1/%s' % (HOST, self.port, self.project)

    def add(self, mode, **kwargs):
        rule = Rule(mode, **kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self):
        with self._lock:
            self.rules = []

    @property
    def faults(self):
        """Requests a fault was applied to."""
        with self._lock:
            return [e for e in self.log if e['mode'] != 'pass']

    def start(self):
        self._acceptor = threading.Thread(target=self._accept_loop, name='faultproxy',
                                          daemon=True)
        self._acceptor.start()
        return self

    def stop(self, timeout=10.0):
        self._stop.set()
        if self._acceptor is not None:
            self._acceptor.join(timeout)
        self._sock.close()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _sleep(self, seconds):
        """Wait ``seconds`` unless the proxy stops first."""
        self._stop.wait(seconds)

    # -- connections ----------------------------------------------------------

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                client, _addr = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    @staticmethod
    def _read_request(client):
        client.settimeout(IO_TIMEOUT)
        deadline = time.monotonic() + EXCHANGE_SECONDS
        data = b''
        while b'\r\n\r\n' not in data:
            if time.monotonic() > deadline:
                raise OSError('request head not complete in time')
            chunk = client.recv(65536)
            if not chunk:
                return None
            data += chunk
            if len(data) > MAX_HEAD:
                raise ValueError('request head too large')
        head, _sep, body = data.partition(b'\r\n\r\n')
        lines = head.split(b'\r\n')
        method, path = lines[0].split(b' ')[:2]
        length = 0
        for line in lines[1:]:
            name, _sep, value = line.partition(b':')
            if name.strip().lower() == b'content-length':
                length = int(value.strip())
            elif name.strip().lower() == b'transfer-encoding':
                raise ValueError('chunked requests are not supported by the fault proxy')
        if length > MAX_BODY:
            raise ValueError('request body too large')
        while len(body) < length and time.monotonic() < deadline:
            chunk = client.recv(min(1024 * 1024, length - len(body)))
            if not chunk:
                break
            body += chunk
        return method.decode('latin-1'), path.decode('latin-1'), head + b'\r\n\r\n', body

    def _upstream(self):
        up = socket.create_connection((HOST, self.upstream_port), timeout=IO_TIMEOUT)
        up.settimeout(IO_TIMEOUT)
        return up

    def _exchange(self, head, body):
        """Send the request to Heat; return its whole answer (bytes)."""
        deadline = time.monotonic() + EXCHANGE_SECONDS
        with self._upstream() as up:
            up.sendall(head + body)
            chunks = []
            while time.monotonic() < deadline:
                chunk = up.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b''.join(chunks)

    def _pick(self, method, path, body):
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path, body):
                    rule.hits += 1
                    return rule
        return None

    def _serve(self, client):
        entry = None
        try:
            with client:
                request = self._read_request(client)
                if request is None:
                    return
                method, path, head, body = request
                rule = self._pick(method, path, body)
                entry = {'method': method, 'path': path,
                         'mode': rule.mode if rule else 'pass', 'time': time.monotonic()}
                with self._lock:
                    self.log.append(entry)
                self._apply(rule, client, head, body, entry)
        except OSError as exc:
            if entry is not None:
                entry['error'] = str(exc)

    def _apply(self, rule, client, head, body, entry):
        mode = rule.mode if rule else 'pass'
        if rule is not None:
            rule.caught.set()
        if mode == 'hold':
            deadline = time.monotonic() + (rule.seconds or 30.0)
            while not rule.release.is_set() and not self._stop.is_set() and \
                    time.monotonic() < deadline:
                rule.release.wait(0.05)
        if mode in ('pass', 'hold'):
            answer = self._exchange(head, body)
            entry['upstream'] = _status_line(answer)
            client.sendall(answer)
            if rule is not None:
                rule.upstream_status.append(entry['upstream'])
                rule.done.set()
            return
        if mode == 'drop_request':
            n = rule.nbytes if rule.nbytes is not None else len(body) // 2
            with self._upstream() as up:
                up.sendall(head + body[:n])
                up.shutdown(socket.SHUT_RDWR)
            entry['sent_body_bytes'] = n
        elif mode == 'drop_after_accept':
            answer = self._exchange(head, body)
            entry['upstream'] = _status_line(answer)
        elif mode == 'drop_mid_response':
            answer = self._exchange(head, body)
            entry['upstream'] = _status_line(answer)
            head_end = answer.find(b'\r\n\r\n') + 4
            cut = head_end + max(1, (len(answer) - head_end) // 2)
            client.sendall(answer[:cut])
        elif mode == 'status':
            client.sendall(_error_answer(rule.status, rule.page))
        elif mode == 'status_after_forward':
            answer = self._exchange(head, body)
            entry['upstream'] = _status_line(answer)
            client.sendall(_error_answer(rule.status, rule.page))
        elif mode == 'stall_request':
            self._sleep(rule.seconds)
        elif mode == 'stall_response':
            answer = self._exchange(head, body)
            entry['upstream'] = _status_line(answer)
            self._sleep(rule.seconds)
            try:
                client.sendall(answer)
            except OSError:
                pass  # the client gave up long ago
        elif mode == 'late_forward':
            self._sleep(rule.seconds)
            if not self._stop.is_set():
                answer = self._exchange(head, body)
                entry['upstream'] = _status_line(answer)
        if 'upstream' in entry:
            rule.upstream_status.append(entry['upstream'])
        rule.done.set()
        _close_writing(client)


def _status_line(answer):
    return answer.split(b'\r\n', 1)[0].decode('latin-1')


def _error_answer(status, page='html'):
    """An error answer: a load balancer's HTML page, or Heat's own JSON error."""
    reason = _REASONS.get(status, 'Error')
    if page == 'json':
        ctype = 'application/json'
        body = json.dumps({'code': status, 'title': reason, 'explanation': reason,
                           'error': {'type': 'HTTPException', 'traceback': None,
                                     'message': 'fault proxy: %s' % reason}}).encode()
    else:
        ctype = 'text/html'
        body = ('<html><body><h1>%d %s</h1>\nThe server is temporarily unable to '
                'service your request (fault proxy).\n</body></html>\n'
                % (status, reason)).encode()
    return (b'HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n'
            b'Connection: close\r\n\r\n' % (status, reason.encode(), ctype.encode(),
                                              len(body))) + body


def _close_writing(sock):
    """Let the client read what was sent, then see the connection end."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
