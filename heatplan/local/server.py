"""The embedded local Heat: Heat's API and engine in one process.

Run as ``python -m heatplan.local.server --data-dir DIR --port PORT``
(``heatplan local up`` does that, detached).  The process:

* selects oslo.service's *threading* backend before any other oslo import
  (Heat 25+ ships no ``heat-all``; ``service.launch`` would fork and break
  the in-memory ``fake://`` RPC transport, so the engine is started
  in-process);
* writes ``heat.conf`` (noauth paste flavor, fake Keystone backend, token
  response with ``orchestration`` and ``cloudformation`` endpoints) into the
  data dir and loads it;
* creates the schema (``heat-manage db_sync``), makes its integer ids
  never reused (SQLite ``AUTOINCREMENT``, as MySQL's ``AUTO_INCREMENT``:
  :mod:`heatplan.local.sqlite_ids`) and SQLite safe for a threaded engine
  (WAL, a busy timeout and ``BEGIN IMMEDIATE`` on every transaction);
* gives oslo.messaging's RPC servers thread pools that reuse idle threads
  (see :func:`use_dynamic_rpc_pools`) and wakes the fake transport's
  listeners on delivery instead of every 50 ms (:func:`use_prompt_fake_transport`);
* starts ``EngineService`` and serves ``heat-api`` with a threaded WSGI
  server on loopback until SIGTERM/SIGINT.

There is **no authentication**: every request is the ``admin`` project.
"""

import argparse
import logging
import os
import signal
import socketserver
import sys
import threading
import time
from wsgiref import simple_server

from heatplan.local import config as local_config

LOG = logging.getLogger('heatplan.local.server')

#: Exit codes of the server process (the launcher explains them).
EXIT_PORT_IN_USE = 3
EXIT_NO_HEAT = 4
EXIT_STARTUP_FAILED = 5


def build_parser():
    parser = argparse.ArgumentParser(
        prog='python -m heatplan.local.server',
        description=(
            'Run a real OpenStack Heat (API + engine) in this one process on '
            'loopback, with NO authentication, storing its state in DATA_DIR. '
            'Normally started by "heatplan local up", which detaches it.'))
    parser.add_argument('--data-dir', required=True,
                        help='directory for heat.conf, heat.sqlite, heat.log, ...')
    parser.add_argument('--host', default=local_config.DEFAULT_HOST,
                        help='address to bind (default: %(default)s; keep it loopback)')
    parser.add_argument('--port', type=int, default=local_config.DEFAULT_PORT,
                        help='port to bind (default: %(default)s)')
    for name, default in sorted(local_config.LIMIT_DEFAULTS.items()):
        parser.add_argument('--' + name.replace('_', '-'), type=int, default=None,
                            metavar='N',
                            help='Heat option %s (default: %d)' % (name, default))
    parser.add_argument('--debug', action='store_true', help='debug logging in heat.log')
    parser.add_argument('--watchdog-seconds', type=float, default=None, metavar='SECONDS',
                        help='dump every thread to heat.log when stacks are in progress '
                             'and nothing progressed for SECONDS (default: %d; 0: off)'
                             % local_config.WATCHDOG_SECONDS)
    parser.add_argument('--exit-with-pid', type=int, default=None, metavar='PID',
                        help='stop when process PID ends (test fixtures use it so '
                             'a killed test run leaves no server behind)')
    return parser


class ThreadingWSGIServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    """wsgiref's server, one daemon thread per request."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class QuietHandler(simple_server.WSGIRequestHandler):
    """Log requests to heat.log instead of stderr."""

    def log_message(self, format, *args):
        LOG.info('%s - %s', self.address_string(), format % args)


def bind(host, port):
    """Create and bind the API server (before Heat starts, to fail fast)."""
    server = ThreadingWSGIServer((host, port), QuietHandler, bind_and_activate=True)
    return server


def harden_sqlite(engine, busy_timeout_ms=local_config.SQLITE_BUSY_TIMEOUT_MS):
    """Make a SQLite engine safe for many threads writing at once.

    oslo.db disables pysqlite's own transaction handling and emits a plain
    ``BEGIN`` from an engine "begin" listener, guarded by
    ``conn.info["in_transaction"]``.  A deferred ``BEGIN`` takes a read lock;
    when that transaction later writes while another connection has written,
    SQLite fails at once with "database is locked" (WAL: a stale snapshot
    cannot be upgraded; the busy timeout does not help).  Here oslo.db's
    listener is replaced by one that emits ``BEGIN IMMEDIATE`` (the write
    lock is taken up front and waits for the busy timeout) and sets the same
    marker, which oslo.db's commit/rollback listener clears.

    (``event.listen(..., insert=True)`` cannot put a listener ahead of
    oslo.db's: SQLAlchemy's ConnectionEvents ignore ``insert``.)

    Every connection also gets a busy timeout and WAL journaling, so readers
    never block the writer.
    """
    from sqlalchemy import event
    from sqlalchemy import text

    if engine.dialect.name != 'sqlite':
        return

    def on_connect(dbapi_con, con_record):
        dbapi_con.execute('PRAGMA busy_timeout = %d' % int(busy_timeout_ms))
        dbapi_con.execute('PRAGMA journal_mode = WAL')
        dbapi_con.execute('PRAGMA synchronous = NORMAL')

    def begin_immediate(conn):
        if 'in_transaction' not in conn.info:
            conn.execute(text('BEGIN IMMEDIATE'))
            conn.info['in_transaction'] = True

    for listener in list(engine.dispatch.begin):
        if getattr(listener, '__name__', '') == '_sqlite_emit_begin':
            event.remove(engine, 'begin', listener)
    event.listen(engine, 'begin', begin_immediate)
    event.listen(engine, 'connect', on_connect)
    if list(engine.dispatch.begin)[:1] != [begin_immediate]:
        raise RuntimeError('cannot make SQLite transactions BEGIN IMMEDIATE: '
                           'oslo.db\'s "begin" listener was not found')
    # Connections made before the listeners existed lack the pragmas.
    engine.dispose()


def use_dynamic_rpc_pools():
    """Make oslo.messaging's *threading* RPC servers reuse idle threads.

    oslo.messaging runs each RPC server's messages on a
    ``futurist.ThreadPoolExecutor``, which starts a new thread on **every**
    submit until ``executor_thread_pool_size`` threads exist, and keeps them
    all, each waking once a second.  With the pool size the in-process
    engine needs (:data:`~heatplan.local.config.EXECUTOR_THREADS`, for many
    nested stacks in flight) a busy local Heat grew past 2,000 threads; their
    wake-ups convoyed on the queue lock and the GIL until the whole process
    stalled for minutes, RPC calls timed out and SQLite writers gave up with
    "database is locked".  ``futurist.DynamicThreadPoolExecutor`` (same
    maximum) starts a thread only when most are busy and stops idle ones.

    Returns True when the servers were switched; False when this
    oslo.messaging no longer has the (private) attribute patched here, and
    the stock pool is used.
    """
    import futurist
    from oslo_messaging import server as om_server

    cls = om_server.MessageHandlingServer
    if getattr(cls, '_heatplan_dynamic_pools', False):
        return True
    if not hasattr(futurist, 'DynamicThreadPoolExecutor'):
        return False
    original_init = cls.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if getattr(self, '_executor_cls', None) is futurist.ThreadPoolExecutor:
            self._executor_cls = futurist.DynamicThreadPoolExecutor

    cls.__init__ = __init__
    cls._heatplan_dynamic_pools = True
    return True


class _Doorbell:
    """Stands in for the ``time`` module inside oslo.messaging's fake driver.

    The fake driver's listeners poll their queues and, when empty, sleep 50
    ms: every RPC call waited up to 50 ms (a stack GET, two calls, took 100
    ms; the whole local Heat paced itself by it).  Here ``sleep`` waits on a
    condition that message delivery rings, so a listener wakes as soon as a
    message arrives.  A per-thread generation count makes a delivery that
    lands between a listener's empty poll and its sleep end the sleep at
    once, so no wake-up is missed.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._generation = 0
        self._seen = threading.local()

    @staticmethod
    def time():
        return time.time()

    def ring(self):
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def sleep(self, seconds):
        with self._cond:
            if self._generation == getattr(self._seen, 'value', None):
                self._cond.wait(seconds)
            self._seen.value = self._generation


def use_prompt_fake_transport():
    """Wake oslo.messaging's fake-transport listeners on delivery (see _Doorbell).

    Returns False (and changes nothing) when the driver is not shaped as
    expected.
    """
    try:
        from oslo_messaging._drivers import impl_fake
    except ImportError:
        return False
    exchange = getattr(impl_fake, 'FakeExchange', None)
    if getattr(impl_fake, 'time', None) is not time or exchange is None or \
            not hasattr(exchange, 'deliver_message'):
        return isinstance(getattr(impl_fake, 'time', None), _Doorbell)
    bell = _Doorbell()
    original = exchange.deliver_message

    def deliver_message(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        finally:
            bell.ring()

    exchange.deliver_message = deliver_message
    impl_fake.time = bell
    return True


def keep_not_found_ids():
    """Keep the id in Heat's ``NotFound`` messages (a Heat bug loses it).

    ``NotFound(_('ResourcePropertiesData with id %s not found') % id)``
    hands ``HeatException.__init__`` an already formatted *lazy* message,
    which it formats again with no arguments: ``msg % {}`` replaces the
    message's saved arguments with ``{}``, and the API, translating the
    message for the answer, renders ``... with id {} not found``.  Here the
    message is made plain text first (``%`` escaped), so the answer says
    which id.  Returns False if Heat's class is not shaped as expected.
    """
    from heat.common import exception

    cls = exception.NotFound
    if getattr(cls, '_heatplan_keeps_ids', False):
        return True
    original = cls.__init__
    try:
        import inspect

        if list(inspect.signature(original).parameters) != ['self', 'msg_fmt']:
            return False
    except (TypeError, ValueError):
        return False

    def __init__(self, msg_fmt=None):
        if msg_fmt is None:
            original(self)
        else:
            original(self, str(msg_fmt).replace('%', '%%'))

    cls.__init__ = __init__
    cls._heatplan_keeps_ids = True
    return True


def log_dropped_checks():
    """Log the convergence checks Heat drops because a record is missing.

    Heat's ``check_resource.load_resource`` returns nothing, silently, when
    loading the resource raises ``NotFound`` (for instance its
    ``ResourcePropertiesData`` row is gone): the worker then drops the
    message, and if that resource was still part of the traversal, the
    stack stays IN_PROGRESS for ever with nothing in the log.  Here the same
    function logs a warning naming the resource, the traversal and Heat's
    error first.  Returns False if Heat's function is not shaped as expected.
    """
    import inspect

    from heat.common import exception
    from heat.engine import check_resource
    from heat.engine import resource

    original = getattr(check_resource, 'load_resource', None)
    if original is None:
        return False
    if getattr(original, '_heatplan_logs', False):
        return True
    try:
        params = list(inspect.signature(original).parameters)
    except (TypeError, ValueError):
        return False
    if params != ['cnxt', 'resource_id', 'resource_data', 'current_traversal',
                  'is_update']:
        return False

    def load_resource(cnxt, resource_id, resource_data, current_traversal, is_update):
        try:
            return resource.Resource.load(cnxt, resource_id, current_traversal,
                                          is_update, resource_data)
        except (exception.ResourceNotFound, exception.NotFound) as exc:
            LOG.warning('Heat drops the check of resource %s (traversal %s, %s): %s; '
                        'if it is still part of that traversal, its stack will not '
                        'complete', resource_id, current_traversal,
                        'update' if is_update else 'cleanup', exc)
            return None, None, None

    load_resource._heatplan_logs = True
    check_resource.load_resource = load_resource
    return True


class LocalHeat:
    """Heat's engine and API in this process."""

    def __init__(self, args):
        self.args = args
        self.paths = local_config.Paths(args.data_dir)
        self.engine_service = None
        self.server = None
        self.watchdog = None
        self._stopping = threading.Event()

    def limits(self):
        return {name: getattr(self.args, name) for name in local_config.LIMIT_DEFAULTS}

    def configure(self):
        """Write and load heat.conf, set up logging and the RPC transport."""
        local_config.write_files(self.paths, self.args.host, self.args.port,
                                 limits=self.limits(), debug=self.args.debug)

        from heat import version
        from heat.common import config as heat_config
        from heat.common import crypt  # noqa: F401 - registers auth_encryption_key
        from heat.common import messaging
        from oslo_config import cfg
        import oslo_i18n
        from oslo_log import log as oslo_logging

        oslo_i18n.enable_lazy()
        conf = cfg.CONF
        oslo_logging.register_options(conf)
        conf(args=[], project='heat', prog='heat-api',
             version=version.version_info.version_string(),
             default_config_files=[self.paths.conf], default_config_dirs=[])
        oslo_logging.setup(conf, 'heat')
        heat_config.set_config_defaults()
        messaging.setup()
        heat_config.startup_sanity_check()

    def sync_db(self):
        """Create or upgrade the schema (``heat-manage db_sync``)."""
        from heat.db import api as db_api
        from heat.db import migration

        engine = db_api.get_engine()
        # Before hardening: alembic opens a second connection while its first
        # holds a transaction, which BEGIN IMMEDIATE would deadlock.  Nothing
        # else runs yet.
        migration.db_sync(engine=engine)
        if engine.dialect.name == 'sqlite':
            self.make_ids_monotonic(engine)
        harden_sqlite(engine)
        self.reset_stale_stacks()

    def make_ids_monotonic(self, engine):
        """Stop SQLite from reusing deleted ids (see :mod:`heatplan.local.sqlite_ids`)."""
        from heatplan.local import sqlite_ids

        engine.dispose()  # no pooled connection across the rebuild
        rebuilt, skipped = sqlite_ids.make_ids_monotonic(self.paths.database)
        if rebuilt:
            LOG.info('SQLite ids made AUTOINCREMENT (never reused) in: %s', ', '.join(rebuilt))
        if skipped:
            LOG.warning('SQLite may reuse deleted ids in %s (schema not as expected); '
                        'Heat can then lose resource properties records', ', '.join(skipped))

    def reset_stale_stacks(self):
        """Mark FAILED what a dead engine left IN_PROGRESS.

        This process is the only engine: nothing can still be working on a
        stack that is IN_PROGRESS at start.  Heat's own reset covers only
        legacy (non-convergence) stacks; convergence ones would stay
        IN_PROGRESS for ever (``heat-manage reset_stack_status`` per stack).
        """
        from heat.common import context
        from heat.db import api as db_api

        ctx = context.get_admin_context()
        stale = [s.id for s in db_api.stack_get_all(
            ctx, filters={'status': 'IN_PROGRESS'}, show_nested=True, show_hidden=True)]
        for stack_id in stale:
            try:
                db_api.reset_stack_status(ctx, stack_id)
                LOG.warning('stack %s was IN_PROGRESS when the local Heat stopped; '
                            'marked FAILED', stack_id)
            except Exception:  # a stack deleted meanwhile, or a nested one already reset
                LOG.exception('could not reset stack %s', stack_id)

    def start_engine(self):
        from heat.engine import service as engine_service
        from heat.engine import template
        from heat.rpc import api as rpc_api
        from oslo_config import cfg

        mgr = template._get_template_extension_manager()
        if not mgr or not mgr.names():
            raise RuntimeError('no Heat template format plugins registered')
        if not log_dropped_checks():
            LOG.warning('Heat drops convergence checks of missing records silently')
        if not keep_not_found_ids():
            LOG.warning('Heat\'s NotFound messages may show "{}" instead of the id')
        if not use_prompt_fake_transport():
            LOG.warning('oslo.messaging fake transport keeps its 50 ms polling')
        if not use_dynamic_rpc_pools():
            LOG.warning('oslo.messaging RPC servers keep their stock thread pools: '
                        'a busy local Heat may run thousands of threads')
        self.engine_service = engine_service.EngineService(
            cfg.CONF.host, rpc_api.ENGINE_TOPIC)
        self.engine_service.start()
        pools = self.rpc_pools()
        LOG.info('RPC server thread pools: %s',
                 ', '.join(sorted({type(p).__name__ for _n, p in pools})) or 'none found')
        self.start_watchdog()

    def start_watchdog(self):
        from heatplan.local import watchdog

        seconds = self.args.watchdog_seconds
        if seconds is None:
            seconds = local_config.WATCHDOG_SECONDS
        if seconds <= 0:
            LOG.info('watchdog off')
            return
        self.watchdog = watchdog.Watchdog(
            self.paths.database, self.paths.progress, stall_after=seconds,
            interval=min(watchdog.INTERVAL, max(0.5, seconds / 6.0)),
            pools=self.rpc_pools).start()
        LOG.info('watchdog on: a thread dump goes to this log after %.0f s without '
                 'progress', seconds)

    def rpc_pools(self):
        """The thread pools of the engine's started RPC servers."""
        engine = self.engine_service
        pools = []
        for name, server in (
                ('engine', getattr(engine, '_rpc_server', None)),
                ('worker', getattr(getattr(engine, 'worker_service', None), '_rpc_server',
                                   None)),
                ('listener', getattr(getattr(engine, 'listener', None), '_server', None))):
            pool = getattr(server, '_work_executor', None)
            if pool is not None:
                pools.append((name, pool))
        return pools

    def load_api(self):
        from heat.common import config as heat_config

        return heat_config.load_paste_app('heat-api')

    def run(self):
        started = time.monotonic()
        self.configure()
        LOG.info('starting local Heat in %s on %s:%d',
                 self.paths.data_dir, self.args.host, self.args.port)
        self.sync_db()
        self.start_engine()
        app = self.load_api()
        if self._stopping.is_set():
            return
        self.server.set_app(app)
        LOG.info('local Heat API serving %s (started in %.1fs)',
                 local_config.endpoint_url(self.args.host, self.args.port),
                 time.monotonic() - started)
        self.server.serve_forever(poll_interval=0.2)

    def watch_pid(self, pid, interval=1.0):
        """Shut down when process ``pid`` is gone."""
        def watch():
            while not self._stopping.wait(interval):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    LOG.info('process %d is gone: stopping', pid)
                    self.shutdown()
                    return
                except OSError:
                    pass

        threading.Thread(target=watch, name='watch-pid', daemon=True).start()

    def shutdown(self, signum=None, frame=None):
        if self._stopping.is_set():
            return
        self._stopping.set()
        LOG.info('stopping local Heat (signal %s)', signum)
        if self.server is not None:
            # serve_forever() runs in the main thread: shut it down from another.
            threading.Thread(target=self.server.shutdown, daemon=True).start()

    def cleanup(self):
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.engine_service is not None:
            try:
                self.engine_service.stop()
            except Exception:
                LOG.exception('error stopping the Heat engine')
        if self.server is not None:
            self.server.server_close()
        self._remove_pid_file()
        LOG.info('local Heat stopped')

    def _remove_pid_file(self):
        """Remove the launcher's pid and state files if they name this process."""
        try:
            with open(self.paths.pid) as f:
                if int(f.read().strip() or 0) != os.getpid():
                    return
        except (OSError, ValueError):
            return
        for name in (self.paths.pid, self.paths.state):
            try:
                os.unlink(name)
            except OSError:
                pass


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.data_dir = os.path.abspath(args.data_dir)
    os.makedirs(args.data_dir, mode=0o700, exist_ok=True)

    # Before anything imports oslo.service (Heat does, at import time).
    try:
        from oslo_service import backend
    except ImportError as exc:
        sys.stderr.write('heatplan-local: openstack-heat is not installed (%s)\n' % exc)
        return EXIT_NO_HEAT
    backend.init_backend(backend.BackendType.THREADING)
    try:
        import heat  # noqa: F401
    except ImportError as exc:
        sys.stderr.write('heatplan-local: openstack-heat is not installed (%s)\n' % exc)
        return EXIT_NO_HEAT

    local = LocalHeat(args)
    try:
        local.server = bind(args.host, args.port)
    except OSError as exc:
        sys.stderr.write('heatplan-local: cannot bind %s:%d: %s\n'
                         % (args.host, args.port, exc))
        return EXIT_PORT_IN_USE

    signal.signal(signal.SIGTERM, local.shutdown)
    signal.signal(signal.SIGINT, local.shutdown)
    if args.exit_with_pid:
        local.watch_pid(args.exit_with_pid)
    try:
        local.run()
    except Exception as exc:
        LOG.exception('local Heat failed')
        sys.stderr.write('heatplan-local: local Heat failed: %s\n' % exc)
        import traceback
        traceback.print_exc()
        local.cleanup()
        return EXIT_STARTUP_FAILED
    local.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main())
