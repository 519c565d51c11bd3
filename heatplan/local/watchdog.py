"""The local Heat's watchdog: a stall explains itself.

A daemon thread in the server process reads Heat's database every few
seconds (a read-only SQLite connection of its own, so it never waits on the
engine's sessions).  *Progress* is any change of the newest ``stack``,
``resource`` or ``sync_point`` row time, or of the newest event.  When some
stack is IN_PROGRESS and nothing progressed for ``stall_after`` seconds
(default 60), it writes every thread's stack and the RPC thread pools'
counts to heat.log, once per stall (again every ``stall_after * 10``
seconds while it lasts).

It also writes ``progress.json`` in the data dir at every check, which
``heatplan local status`` reads: whether stacks are in progress, when the
engine last made progress, whether it looks stalled.

Nothing here imports Heat; the probe only needs the database path.
"""

import json
import logging
import os
import sqlite3
import sys
import threading
import time
import traceback

LOG = logging.getLogger('heatplan.local.watchdog')

#: Seconds without progress, while stacks are IN_PROGRESS, before a dump.
STALL_AFTER = 60.0
#: Seconds between two checks.
INTERVAL = 5.0

_QUERIES = (
    ("in_progress", "SELECT count(*) FROM stack WHERE status = 'IN_PROGRESS' "
                    "AND deleted_at IS NULL"),
    ("stack", "SELECT max(coalesce(updated_at, created_at)) FROM stack"),
    ("resource", "SELECT max(coalesce(updated_at, created_at)) FROM resource"),
    ("sync_point", "SELECT max(coalesce(updated_at, created_at)), count(*) FROM sync_point"),
    ("event", "SELECT max(id) FROM event"),
)


def probe(database):
    """``(in_progress count, progress signature)`` read from Heat's SQLite file."""
    con = sqlite3.connect('file:%s?mode=ro' % database, uri=True, timeout=5.0)
    try:
        values = {}
        for name, sql in _QUERIES:
            try:
                row = con.execute(sql).fetchone()
            except sqlite3.Error:
                row = None
            values[name] = tuple(row) if row else None
        in_progress = (values.pop('in_progress') or (0,))[0] or 0
        return in_progress, tuple(sorted(values.items()))
    finally:
        con.close()


def thread_dump(frames=None):
    """Every thread's name and stack, as text (newest call last)."""
    frames = sys._current_frames() if frames is None else frames
    names = {t.ident: t for t in threading.enumerate()}
    out = []
    for ident, frame in sorted(frames.items()):
        thread = names.get(ident)
        label = '%s (%s%s)' % (thread.name if thread else '?', ident,
                               ', daemon' if thread is not None and thread.daemon else '')
        out.append('--- thread %s' % label)
        out.extend(line.rstrip('\n') for line in traceback.format_stack(frame))
    return '\n'.join(out)


def pool_lines(pools):
    """One line per RPC thread pool: type, threads, idle, queued."""
    lines = []
    for name, pool in pools:
        stats = []
        for attr in ('num_workers', 'queue_size'):
            value = getattr(pool, attr, None)
            if value is not None:
                stats.append('%s=%s' % (attr, value))
        idle = getattr(pool, 'get_num_idle_workers', None)
        if callable(idle):
            stats.append('idle=%s' % idle())
        for attr in ('idle_threads', 'threads', 'queued'):
            value = getattr(pool, attr, None)
            if value is not None:
                stats.append('%s=%s' % (attr, value() if callable(value) else value))
        lines.append('pool %s %s: %s' % (name, type(pool).__name__, ', '.join(stats)))
    return lines


def _iso(ts):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ts)) if ts else None


class Watchdog:
    """Watches Heat's progress; dumps the threads when it stops."""

    def __init__(self, database, state_file, stall_after=STALL_AFTER, interval=INTERVAL,
                 pools=None, log=LOG, clock=time.time):
        self.database = database
        self.state_file = state_file
        self.stall_after = float(stall_after)
        self.interval = float(interval)
        self.pools = pools or (lambda: [])
        self.log = log
        self.clock = clock
        self.signature = None
        self.last_progress = clock()
        self.last_dump = None
        self.dumps = 0
        self.in_progress = 0
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        try:
            os.unlink(self.state_file)  # a previous run's report
        except OSError:
            pass
        self._thread = threading.Thread(target=self._run, name='heatplan-watchdog',
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # never let the watchdog die or take Heat down
                self.log.exception('watchdog check failed')

    def check(self):
        """One check; returns True when it dumped the threads."""
        now = self.clock()
        try:
            in_progress, signature = probe(self.database)
        except sqlite3.Error as exc:
            self.log.warning('watchdog cannot read %s: %s', self.database, exc)
            return False
        if signature != self.signature or not in_progress:
            if signature != self.signature and self.last_dump is not None:
                self.log.warning('watchdog: progress again after %.0f s without',
                                 now - self.last_progress)
            self.signature = signature
            self.last_progress = now
            self.last_dump = None
        self.in_progress = in_progress
        idle = now - self.last_progress
        stalled = bool(in_progress) and idle >= self.stall_after
        dumped = False
        if stalled and (self.last_dump is None or
                        now - self.last_dump >= self.stall_after * 10):
            self.dump(idle)
            self.last_dump = now
            dumped = True
        self.write_state(now, stalled)
        return dumped

    def dump(self, idle):
        self.dumps += 1
        lines = ['watchdog: %d stack(s) IN_PROGRESS and no progress in the database for '
                 '%.0f s (no stack, resource, sync point or event changed); every '
                 'thread follows (dump %d)' % (self.in_progress, idle, self.dumps)]
        try:
            lines.extend(pool_lines(self.pools()))
        except Exception as exc:  # pools are private to oslo.messaging
            lines.append('pools: cannot read (%s)' % exc)
        lines.append(thread_dump())
        self.log.warning('\n'.join(lines))

    def write_state(self, now, stalled):
        state = {
            'checked_at': _iso(now),
            'checked_ts': now,
            'in_progress': self.in_progress,
            'last_progress_at': _iso(self.last_progress),
            'seconds_without_progress': round(now - self.last_progress, 1),
            'stalled': stalled,
            'stall_after': self.stall_after,
            'interval': self.interval,
            'dumps': self.dumps,
        }
        tmp = self.state_file + '.tmp'
        try:
            with open(tmp, 'w') as f:
                json.dump(state, f)
            os.replace(tmp, self.state_file)
        except OSError:
            pass


def read_state(state_file, now=None):
    """What ``progress.json`` says, as ``local status`` shows it (or None)."""
    try:
        with open(state_file) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    now = time.time() if now is None else now
    checked = state.get('checked_ts') or 0
    interval = state.get('interval') or INTERVAL
    if now - checked > max(30.0, interval * 6):
        return 'unknown: the watchdog last reported %.0f s ago' % (now - checked)
    count = state.get('in_progress') or 0
    if not count:
        return 'idle (no stack in progress)'
    idle = state.get('seconds_without_progress') or 0
    if state.get('stalled'):
        return ('STALLED: %d stack(s) in progress, no progress for %.0f s (thread dump '
                'in heat.log)' % (count, idle))
    return 'progressing: %d stack(s) in progress, last progress %.0f s ago' % (count, idle)
