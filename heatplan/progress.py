"""Deploy progress from Heat events: new events once each, resources done/total."""

import time

from heatplan import errors


class EventWatcher:
    """Polls a stack's events (nested too) and reports each new one once."""

    def __init__(self, adapter, ident, reporter, started=None, nested_depth=5):
        self.adapter = adapter
        self.ident = ident
        self.reporter = reporter
        self.started = started if started is not None else time.monotonic()
        self.nested_depth = nested_depth
        self.seen = set()
        self.latest = {}   # (stack, resource) -> status

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
        done = sum(1 for s in self.latest.values() if s.endswith('_COMPLETE'))
        self.reporter.progress(done, len(self.latest), time.monotonic() - self.started)
        return new
