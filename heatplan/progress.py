"""Deploy progress from Heat events: new events once each, resources done/total."""

import time

from heatplan import errors


class EventWatcher:
    """Polls a stack's events (nested too) and reports each new one once."""

    def __init__(self, adapter, ident, reporter, started=None, nested_depth=5, expected=0):
        self.adapter = adapter
        self.ident = ident
        self.reporter = reporter
        self.started = started if started is not None else time.monotonic()
        self.nested_depth = nested_depth
        self.seen = set()
        self.latest = {}   # (stack, resource) -> status
        #: resources the operation is known to touch before any event (from
        #: the preview, or the plan): the total never starts at 0/0 and grows
        self.expected = expected

    def _events(self):
        try:
            return self.adapter.list_events(self.ident, nested_depth=self.nested_depth)
        except errors.HeatRejected:
            return []

    def prime(self):
        """Remember the events that happened before this deploy."""
        for ev in self._events():
            self.seen.add(ev.get('id'))

    def poll(self):
        new = []
        for ev in self._events():
            eid = ev.get('id')
            if eid in self.seen:
                continue
            self.seen.add(eid)
            new.append(ev)
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
