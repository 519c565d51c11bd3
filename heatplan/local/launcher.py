"""Start, stop and inspect the embedded local Heat.

``up`` spawns ``python -m heatplan.local.server`` detached (its own session,
output to ``server.out`` in the data dir), records its pid, and waits until
the API answers.  ``down`` stops it with SIGTERM (SIGKILL after a grace
period).  All failures a user can cause raise
:class:`heatplan.errors.LocalHeatError` with a message and a hint.
"""

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from heatplan import errors
from heatplan.local import config as local_config
from heatplan.local import server as local_server

#: Seconds ``up`` waits for the API to answer.
START_TIMEOUT = 120
#: Seconds ``down`` waits after SIGTERM before SIGKILL.
STOP_TIMEOUT = 30
#: Log lines quoted when the local Heat fails to start.
LOG_LINES_ON_FAILURE = 20

_SERVER_MODULE = 'heatplan.local.server'
_INSTALL_HINT = "install it with: pip install 'heatplan[local]'"


class Status(dict):
    """What is known about a local Heat (a dict, for output formatting).

    Keys: ``running``, ``pid``, ``host``, ``port``, ``url``, ``data_dir``,
    ``log_file``, ``started_at``, ``notes`` (list of remarks such as a stale
    pid file cleaned up) and, from ``up``, ``state`` and ``startup_seconds``.
    """

    @property
    def running(self):
        return self.get('running', False)

    @property
    def url(self):
        return self.get('url')


def heat_installed():
    """True if openstack-heat is importable in this Python."""
    import importlib.util

    try:
        return (importlib.util.find_spec('heat') is not None
                and importlib.util.find_spec('oslo_service') is not None)
    except (ImportError, ValueError):
        return False


def _pid_alive(pid):
    """True if ``pid`` is a live (non-zombie) process."""
    if not pid or pid <= 0:
        return False
    try:
        # Reap it if it is our own exited child (up() and down() in one process).
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open('/proc/%d/stat' % pid) as f:
            if f.read().rsplit(')', 1)[-1].split()[0] == 'Z':
                return False
    except (OSError, IndexError):
        pass
    return True


def _is_our_server(pid, data_dir):
    """True unless /proc shows ``pid`` is some other program."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            argv = f.read().decode('utf-8', 'replace').split('\0')
    except OSError:
        return True  # no /proc (not Linux): trust the pid file
    return _SERVER_MODULE in argv and data_dir in argv


def _read_pid(paths):
    try:
        with open(paths.pid) as f:
            return int(f.read().strip() or 0)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return 0


def _read_state(paths):
    try:
        with open(paths.state) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _remove(*names):
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _tail(path, lines):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * 1024))
            data = f.read().decode('utf-8', 'replace')
    except OSError:
        return []
    return data.splitlines()[-lines:] if lines else data.splitlines()


def _failure_excerpt(paths, lines=LOG_LINES_ON_FAILURE):
    parts = []
    for path in (paths.log, paths.console):
        tail = [line for line in _tail(path, lines * 3) if line.strip()][-lines:]
        if tail:
            parts.append('--- last lines of %s ---\n%s' % (path, '\n'.join(tail)))
    return '\n'.join(parts) if parts else '(no log output)'


@contextlib.contextmanager
def _locked(paths):
    """Serialize up/down on one data dir (two ``up`` at once start one Heat)."""
    import fcntl

    fd = os.open(os.path.join(paths.data_dir, '.lock'), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _prepare_data_dir(paths):
    try:
        os.makedirs(paths.data_dir, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise errors.LocalHeatError(
            'cannot create the local Heat data dir %s: %s' % (paths.data_dir, exc.strerror),
            hint='pass --data-dir DIR with a writable directory')
    if not os.path.isdir(paths.data_dir):
        raise errors.LocalHeatError(
            'the local Heat data dir %s is not a directory' % paths.data_dir,
            hint='pass --data-dir DIR with a writable directory')
    try:
        with tempfile.TemporaryFile(dir=paths.data_dir):
            pass
    except OSError as exc:
        raise errors.LocalHeatError(
            'the local Heat data dir %s is not writable: %s' % (paths.data_dir, exc.strerror),
            hint='pass --data-dir DIR with a writable directory')


def _check_port_free(host, port):
    if not 0 < port < 65536:
        raise errors.LocalHeatError('port %d is not a valid TCP port' % port)
    sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise _port_in_use(host, port, exc.strerror)
        raise errors.LocalHeatError('cannot bind %s:%d: %s' % (host, port, exc.strerror))
    finally:
        sock.close()


def _port_in_use(host, port, why='address already in use'):
    owner = port_owner(port)
    if owner is None:
        return errors.LocalHeatError(
            'port %d on %s is in use by another program (%s)' % (port, host, why),
            hint='pick another port with --port N, or stop what listens there')
    pid, argv = owner
    data_dir = _argv_value(argv, '--data-dir')
    if _SERVER_MODULE in argv:
        return errors.LocalHeatError(
            'port %d on %s is taken by another local Heat (pid %d, data dir %s) that this '
            'data dir does not own' % (port, host, pid, data_dir or '?'),
            hint='stop it with "heatplan local down --data-dir %s" (or "kill %d"), or pick '
                 'another port with --port N' % (data_dir or 'DIR', pid))
    return errors.LocalHeatError(
        'port %d on %s is in use by another program: pid %d (%s)'
        % (port, host, pid, ' '.join(argv)[:200]),
        hint='pick another port with --port N, or stop that program')


def _argv_value(argv, flag):
    try:
        return argv[argv.index(flag) + 1]
    except (ValueError, IndexError):
        return None


def port_owner(port):
    """``(pid, argv)`` of the process listening on TCP ``port`` (Linux /proc), or None."""
    inodes = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    fields = line.split()
                    if len(fields) > 9 and fields[3] == '0A' and \
                            int(fields[1].rsplit(':', 1)[1], 16) == port:
                        inodes.add(fields[9])
        except (OSError, ValueError):
            continue
    if not inodes:
        return None
    try:
        pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            fds = os.listdir('/proc/%d/fd' % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
            except OSError:
                continue
            if target.startswith('socket:[') and target[8:-1] in inodes:
                try:
                    with open('/proc/%d/cmdline' % pid, 'rb') as f:
                        argv = [a for a in f.read().decode('utf-8', 'replace').split('\0')
                                if a]
                except OSError:
                    argv = []
                return pid, argv
    return None


def _adopt(paths, host, port, notes):
    """A server of this data dir still serving ``port`` though its pid file is gone."""
    owner = port_owner(port)
    if owner is None:
        return None
    pid, argv = owner
    if _SERVER_MODULE not in argv or _argv_value(argv, '--data-dir') != paths.data_dir:
        return None
    if not api_answers(host, port):
        raise errors.LocalHeatError(
            'a local Heat of %s (pid %d) holds port %d but does not answer'
            % (paths.data_dir, pid, port),
            hint='it is stuck or still starting: see %s; stop it with "kill %d" '
                 '("kill -9 %d" if it does not stop), then "heatplan local up"'
                 % (paths.log, pid, pid))
    url = local_config.endpoint_url(host, port)
    state = {'pid': pid, 'host': host, 'port': port, 'url': url,
             'started_at': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'limits': {},
             'argv': argv, 'adopted': True}
    with open(paths.pid, 'w') as f:
        f.write('%d\n' % pid)
    with open(paths.state, 'w') as f:
        json.dump(state, f, indent=2)
    notes.append('adopted the running local Heat of this data dir (pid %d), whose pid '
                 'file was missing' % pid)
    return Status(running=True, pid=pid, host=host, port=port, url=url,
                  data_dir=paths.data_dir, log_file=paths.log,
                  started_at=state['started_at'], responding=True, notes=notes,
                  state='already running')


def api_answers(host, port, timeout=2.0):
    """True if an HTTP server answers ``GET /`` at host:port (Heat: 300)."""
    url = 'http://%s:%d/' % (host, port)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False


def _server_env():
    """The environment for the server: this heatplan must be importable."""
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = env.get('PYTHONPATH')
    env['PYTHONPATH'] = here + (os.pathsep + path if path else '')
    return env


def status(data_dir=None, check_api=True):
    """Status of the local Heat in ``data_dir`` (never raises for "not running")."""
    paths = local_config.Paths(data_dir or local_config.default_data_dir())
    state = _read_state(paths)
    pid = _read_pid(paths)
    result = Status(
        running=False, pid=None, host=state.get('host'), port=state.get('port'),
        url=None, data_dir=paths.data_dir, log_file=paths.log,
        started_at=state.get('started_at'), responding=False, notes=[])
    if pid is None:
        return result
    if pid and _pid_alive(pid) and _is_our_server(pid, paths.data_dir):
        from heatplan.local import watchdog

        result.update(running=True, pid=pid, url=state.get('url'))
        if check_api and result['host'] and result['port']:
            result['responding'] = api_answers(result['host'], result['port'])
        result['engine'] = watchdog.read_state(paths.progress) or \
            'unknown: no report from the watchdog yet (or it is off)'
        return result
    result['stale_pid'] = pid
    return result


def _clean_stale(paths, result):
    pid = result.pop('stale_pid', None)
    if pid is not None:
        _remove(paths.pid, paths.state)
        result['notes'].append(
            'removed a stale pid file (process %s is gone)' % pid if pid
            else 'removed an unreadable pid file')


def up(data_dir=None, port=None, host=local_config.DEFAULT_HOST, limits=None,
       timeout=START_TIMEOUT, debug=False, exit_with_pid=None, watchdog_seconds=None):
    """Start the local Heat unless it runs already; return its :class:`Status`.

    ``port=None`` means the running one's port, else the default (8006).
    ``limits`` maps Heat option names (see ``LIMIT_DEFAULTS``) to values.
    With ``exit_with_pid`` the server stops by itself when that process
    ends (for test fixtures).
    """
    if not heat_installed():
        raise errors.LocalHeatError(
            'the local Heat needs openstack-heat, which is not installed in %s'
            % sys.prefix, hint=_INSTALL_HINT)
    limits = {k: v for k, v in (limits or {}).items() if v is not None}
    unknown = set(limits) - set(local_config.LIMIT_DEFAULTS)
    if unknown:
        raise errors.UsageError('unknown Heat limit(s): %s' % ', '.join(sorted(unknown)))
    for name, value in limits.items():
        if int(value) <= 0:
            raise errors.UsageError('%s must be a positive number' % name)
    paths = local_config.Paths(data_dir or local_config.default_data_dir())
    _prepare_data_dir(paths)
    with _locked(paths):
        current = status(paths.data_dir, check_api=False)
        _clean_stale(paths, current)
        if current.running:
            if port is not None and port != current['port']:
                raise errors.LocalHeatError(
                    'the local Heat in %s already runs on port %s, not %d'
                    % (paths.data_dir, current['port'], port),
                    hint='run "heatplan local down" first to restart it on another port')
            if limits and limits != _read_state(paths).get('limits', {}):
                current['notes'].append(
                    'already running: the limits given apply at the next start '
                    '("heatplan local down" first)')
            _wait_ready(paths, current, None, timeout)
            current['state'] = 'already running'
            return current
        return _start(paths, host, port or local_config.DEFAULT_PORT, limits, timeout,
                      debug, current['notes'], exit_with_pid, watchdog_seconds)


def _start(paths, host, port, limits, timeout, debug, notes, exit_with_pid=None,
           watchdog_seconds=None):
    adopted = _adopt(paths, host, port, notes)
    if adopted is not None:
        return adopted
    _check_port_free(host, port)
    argv = [sys.executable, '-m', _SERVER_MODULE, '--data-dir', paths.data_dir,
            '--host', host, '--port', str(port)]
    for name, value in sorted(limits.items()):
        argv += ['--' + name.replace('_', '-'), str(int(value))]
    if debug:
        argv.append('--debug')
    if exit_with_pid:
        argv += ['--exit-with-pid', str(int(exit_with_pid))]
    if watchdog_seconds is not None:
        argv += ['--watchdog-seconds', str(float(watchdog_seconds))]
    _remove(paths.console)
    started = time.monotonic()
    with open(paths.console, 'ab') as console:
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                cwd=paths.data_dir, env=_server_env(), start_new_session=True,
                close_fds=True)
        except OSError as exc:
            raise errors.LocalHeatError('cannot start %s: %s' % (sys.executable, exc))
    url = local_config.endpoint_url(host, port)
    state = {'pid': proc.pid, 'host': host, 'port': port, 'url': url,
             'started_at': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'limits': limits,
             'argv': argv}
    with open(paths.pid, 'w') as f:
        f.write('%d\n' % proc.pid)
    with open(paths.state, 'w') as f:
        json.dump(state, f, indent=2)
    result = Status(running=True, pid=proc.pid, host=host, port=port, url=url,
                    data_dir=paths.data_dir, log_file=paths.log,
                    started_at=state['started_at'], responding=False, notes=notes)
    _wait_ready(paths, result, proc, timeout)
    result['state'] = 'started'
    result['startup_seconds'] = round(time.monotonic() - started, 2)
    return result


def _wait_ready(paths, result, proc, timeout):
    """Wait until the API answers; on failure stop the process and raise."""
    pid = result['pid']
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        code = proc.poll() if proc is not None else None
        if code is not None or (proc is None and not _pid_alive(pid)):
            _remove(paths.pid, paths.state)
            if code == local_server.EXIT_PORT_IN_USE:
                raise _port_in_use(result['host'], result['port'])
            if code == local_server.EXIT_NO_HEAT:
                raise errors.LocalHeatError(
                    'the local Heat needs openstack-heat, which is not installed',
                    hint=_INSTALL_HINT)
            raise errors.LocalHeatError(
                'the local Heat failed to start (exit code %s); see %s\n%s'
                % (code, paths.log, _failure_excerpt(paths)))
        if api_answers(result['host'], result['port'], timeout=2.0):
            result['responding'] = True
            return
        if time.monotonic() >= deadline:
            _terminate(pid, proc=proc)
            _remove(paths.pid, paths.state)
            raise errors.LocalHeatError(
                'the local Heat did not answer within %ss; stopped it\n%s'
                % (timeout, _failure_excerpt(paths)))
        time.sleep(delay)
        delay = min(0.5, delay * 1.5)


def _terminate(pid, proc=None, timeout=STOP_TIMEOUT):
    """SIGTERM, wait, then SIGKILL. Return True if it had to be killed."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        if not _pid_alive(pid):
            return False
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not _pid_alive(pid):
            break
        time.sleep(0.1)
    return True


def down(data_dir=None, timeout=STOP_TIMEOUT):
    """Stop the local Heat; return its :class:`Status` (``state``: what happened)."""
    paths = local_config.Paths(data_dir or local_config.default_data_dir())
    if not os.path.isdir(paths.data_dir):
        result = status(paths.data_dir, check_api=False)
        result['state'] = 'not running'
        return result
    with _locked(paths):
        current = status(paths.data_dir, check_api=False)
        _clean_stale(paths, current)
        if not current.running:
            current['state'] = 'not running'
            return current
        killed = _terminate(current['pid'], timeout=timeout)
        _remove(paths.pid, paths.state)
        current.update(running=False, responding=False,
                       state='killed (did not stop within %ss)' % timeout if killed
                       else 'stopped')
        return current


def configured_limits(data_dir=None):
    """The Heat limits (``LIMIT_DEFAULTS`` names) of the local Heat in ``data_dir``.

    Those it runs with when it runs, else those ``ensure_up`` (``--local``)
    would start it with: the defaults.  Never starts anything.
    """
    paths = local_config.Paths(data_dir or local_config.default_data_dir())
    values = dict(local_config.LIMIT_DEFAULTS)
    current = status(paths.data_dir, check_api=False)
    if current.running:
        given = _read_state(paths).get('limits') or {}
        if isinstance(given, dict):
            for name, value in given.items():
                if name in values and isinstance(value, int) and value > 0:
                    values[name] = value
    return values


def ensure_up(data_dir=None, port=None, limits=None):
    """The URL of a running local Heat, starting it if needed (``--local``)."""
    current = status(data_dir, check_api=True)
    if current.running and current.get('responding'):
        return current
    return up(data_dir=data_dir, port=port, limits=limits)


def logs(data_dir=None, lines=50):
    """The last ``lines`` lines of heat.log (all with ``lines=0``)."""
    paths = local_config.Paths(data_dir or local_config.default_data_dir())
    if not os.path.exists(paths.log):
        raise errors.LocalHeatError(
            'no local Heat log at %s' % paths.log,
            hint='the local Heat has not run with this data dir; "heatplan local up"')
    return _tail(paths.log, lines)


def follow_logs(data_dir=None, lines=10, stream=None, poll=0.5):
    """Print the log's last lines, then new ones as they come (until Ctrl-C)."""
    paths = local_config.Paths(data_dir or local_config.default_data_dir())
    stream = stream or sys.stdout
    for line in logs(data_dir, lines):
        stream.write(line + '\n')
    stream.flush()
    with open(paths.log, 'rb') as f:
        f.seek(0, os.SEEK_END)
        while True:
            chunk = f.read()
            if chunk:
                stream.write(chunk.decode('utf-8', 'replace'))
                stream.flush()
            else:
                time.sleep(poll)
