"""Deploy progress from Heat events: new events once each, resources done/total."""

import logging
import time

from heatplan import errors
from heatplan.heat import events as events_mod

LOG = logging.getLogger(__name__)

#: The last events poll (after the stack is over): attempts, and the pause between.
FINAL_TRIES = 3
FINAL_RETRY_PAUSE = 1.0


class EventWatcher:
    """Polls a stack's events (nested too) and reports each new one once."""

    def __init__(self, adapter, ident, reporter, started=None, nested_depth=5, expected=0):
        self.adapter = adapter
        self.ident = ident
        self.reporter = reporter
        self.started = started if started is not None else time.monotonic()
        self.nested_depth = nested_depth
        self.feed = events_mod.EventFeed(adapter, ident, nested_depth)
        self.latest = {}   # (stack, resource) -> status
        #: resources the operation is known to touch before any event (from
        #: the preview, or the plan): the total never starts at 0/0 and grows
        self.expected = expected
        #: why the last events list failed (None once one succeeds)
        self.unread = None

    def _events(self, tries=1, pause=FINAL_RETRY_PAUSE):
        """New events; ``[]`` when Heat refused the list ``tries`` times.

        A missed poll costs nothing while the stack runs (the next one lists
        what it missed); the last one, after the stack is over, is retried,
        and ``self.unread`` keeps why it failed.
        """
        for attempt in range(tries):
            try:
                events = self.feed.new()
            except errors.HeatRejected as exc:
                self.unread = exc.message.splitlines()[0]
                LOG.debug('listing the events of %s failed: %s', self.ident, self.unread)
                if attempt + 1 < tries:
                    time.sleep(pause)
                continue
            self.unread = None
            return events
        return []

    def prime(self):
        """Remember the events that happened before this deploy."""
        self._events()

    def final(self, tries=FINAL_TRIES):
        """The last poll, once the stack is over: retried, and a note when the
        last events could not be read (the outcome itself is unaffected)."""
        new = self.poll(tries)
        if self.unread:
            name = self.ident.split('/')[0]
            self.reporter.note('could not list the last events of %s (%s): "heatplan '
                               'events %s" shows them' % (name, self.unread, name))
        return new

    def poll(self, tries=1):
        new = self._events(tries)
        for ev in new:
            name = ev.get('resource_name')
            stack = ev.get('stack_name') or ''
            # a stack's own events name the stack as the resource: not counted
            if name and name != stack:
                self.latest[(stack, name)] = ev.get('resource_status') or ''
            self.reporter.event(ev)
        self.tick()
        return new

    def tick(self):
        """Report progress now (the clock moves even when no event arrives)."""
        done = sum(1 for s in self.latest.values() if s.endswith('_COMPLETE'))
        total = max(self.expected, len(self.latest))
        self.reporter.progress(done, total, time.monotonic() - self.started)

    def sleep(self, seconds, step=1.0):
        """Sleep ``seconds``, ticking the clock at least every ``step`` seconds."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(step, left))
            self.tick()


#: Seconds without a new event before the resources still in progress are listed.
QUIET_REPORT = 120.0


def nested_paths(resources, root):
    """``{nested stack name: path}``: ``root/group/0/...`` from the resources' links."""
    paths = {}
    parents = {}
    for r in resources:
        for link in r.get('links') or ():
            if link.get('rel') == 'nested':
                parts = (link.get('href') or '').rstrip('/').split('/')
                if len(parts) >= 2:
                    parents[parts[-2]] = (r.get('stack_name') or '', r.get('resource_name'))

    def path(stack):
        if stack in paths:
            return paths[stack]
        seen = set()
        chain = []
        while stack in parents and stack not in seen:
            seen.add(stack)
            parent, name = parents[stack]
            chain.append(name or '?')
            stack = parent
        paths[stack] = paths.get(stack, stack or root)
        return '/'.join([paths[stack]] + chain[::-1])

    return {name: path(name) for name in list(parents)}


def resource_path(resource, paths=None, root=None):
    """``root/nested/.../resource``; without ``paths``, the stack name's path."""

    stack = resource.get('stack_name') or ''
    name = resource.get('resource_name') or '?'
    if paths and stack in paths:
        where = paths[stack]
    else:
        where = events_mod.stack_key(stack) or root or ''
    return '%s/%s' % (where, name) if where else name


def _parse_time(text):
    import datetime

    if not text:
        return None
    for fmt in ('%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M:%S.%f'):
        try:
            return datetime.datetime.strptime(text, fmt).replace(
                tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
    return None


def in_progress_resources(adapter, ident, now=None, nested_depth=5):
    """``[(path, type, status, seconds or None)]`` of resources still IN_PROGRESS.

    Seconds count from the resource's last status change (Heat's
    ``updated_time``, else ``creation_time``) to ``now`` (Heat's clock when
    known), longest first.  Nested stacks' resources are included.
    """
    import datetime

    if now is None:
        now = adapter.server_now() or datetime.datetime.now(datetime.timezone.utc)
    out = []
    resources = adapter.list_resources(ident, nested_depth=nested_depth)
    paths = nested_paths(resources, ident.split('/')[0])
    for r in resources:
        status = r.get('resource_status') or ''
        if not status.endswith('_IN_PROGRESS'):
            continue
        since = _parse_time(r.get('updated_time')) or _parse_time(r.get('creation_time'))
        seconds = max(0.0, (now - since).total_seconds()) if since else None
        out.append((resource_path(r, paths), r.get('resource_type') or '', status, seconds))
    out.sort(key=lambda item: -(item[3] or 0))
    return out


class QuietReport:
    """Lists the resources still in progress when no event came for a while.

    ``heard()`` after each events poll that brought something new; ``check()``
    in the wait loop reports once ``seconds`` passed without one (and again
    every ``seconds`` while it stays quiet).  ``seconds`` None or 0: never.
    """

    def __init__(self, adapter, ident, reporter, seconds=QUIET_REPORT, clock=time.monotonic):
        self.adapter = adapter
        self.ident = ident
        self.reporter = reporter
        self.seconds = seconds
        self.clock = clock
        self.last = clock()
        self.reports = 0

    def heard(self):
        self.last = self.clock()

    def check(self):
        if not self.seconds or self.clock() - self.last < self.seconds:
            return None
        quiet_for = self.clock() - self.last
        self.last = self.clock()
        try:
            busy = in_progress_resources(self.adapter, self.ident)
        except errors.HeatplanError as exc:
            busy = None
            why = exc.message.splitlines()[0]
        lines = ['no event for %d s; resources still in progress:' % quiet_for]
        if busy is None:
            lines = ['no event for %d s (cannot list the resources in progress: %s)'
                     % (quiet_for, why)]
        elif not busy:
            lines = ['no event for %d s and no resource in progress (Heat is between '
                     'steps, or finishing the stack itself)' % quiet_for]
        for path, rtype, status, seconds in busy or ():
            took = 'for %s' % _duration(seconds) if seconds is not None else 'since ?'
            lines.append('  %s (%s) %s %s' % (path, rtype, status, took))
        self.reports += 1
        message = '\n'.join(lines)
        self.reporter.note(message)
        return message


def _duration(seconds):
    mins, secs = divmod(int(seconds), 60)
    return '%dm%02ds' % (mins, secs) if mins else '%ds' % secs
