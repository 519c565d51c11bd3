"""A stack's new events, each once, in order, without re-listing them all on every poll.

Heat lists events after a *marker* (an event id) in its (creation time, id)
order.  Several engines write events concurrently, so an event can commit
after a later one was already listed; the marker therefore stays on the
newest event at least :data:`LOOKBACK` seconds older than the newest one
seen, and the few events after it are listed again and skipped by id.  A
marker Heat no longer has (events purged past ``max_events_per_stack``)
makes Heat list them all: still each reported once.
"""

import datetime
import re

#: Seconds of events listed again on each poll (late commits of other engines).
LOOKBACK = 5.0


def _when(event):
    text = (event.get('event_time') or '')[:19]
    try:
        return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S')
    except ValueError:
        return None


def event_key(event):
    return event.get('id') or (event.get('event_time'), event.get('stack_name'),
                               event.get('resource_name'), event.get('resource_status'))


class EventFeed:
    """New events of ``ident`` (nested ones with ``nested_depth``)."""

    def __init__(self, adapter, ident, nested_depth=None):
        self.adapter = adapter
        self.ident = ident
        self.nested_depth = nested_depth
        self.seen = set()
        self.marker = None
        self._listed = []      # (time, id) of the events of the last few seconds

    def new(self):
        """Events not returned before, oldest first."""
        events = self.adapter.list_events(self.ident, nested_depth=self.nested_depth,
                                          marker=self.marker)
        fresh = []
        for ev in events:
            key = event_key(ev)
            if key in self.seen:
                continue
            self.seen.add(key)
            fresh.append(ev)
        self._move_marker(events)
        return fresh

    def _move_marker(self, events):
        known = {eid for _, eid in self._listed}
        self._listed.extend((_when(ev), ev.get('id')) for ev in events
                            if ev.get('id') and ev.get('id') not in known and
                            _when(ev) is not None)
        self._listed.sort(key=lambda item: item[0])
        if not self._listed:
            return
        newest = max(when for when, _ in self._listed)
        cutoff = newest - datetime.timedelta(seconds=LOOKBACK)
        older = [(when, eid) for when, eid in self._listed if when <= cutoff]
        if older:
            self.marker = older[-1][1]
            self._listed = [(when, eid) for when, eid in self._listed if when > cutoff]


_NESTED_SUFFIX = re.compile(r'-[a-z0-9]{12}(?=-|$)')


def stack_key(name):
    """A nested stack's name without Heat's random suffixes.

    Heat names nested stacks ``<parent>-<resource>-<12 random chars>``; an
    update preview names the ones it previews ``<parent>-<resource>``.
    """
    return _NESTED_SUFFIX.sub('', name or '')
