"""New events once each, in order, listed after a marker (heatplan.heat.events)."""

from heatplan.heat import events as events_mod


class Heat:
    """Heat's event list: (creation time, id) order; ``marker`` lists those after it."""

    def __init__(self):
        self.events = []
        self.markers = []

    def add(self, eid, second, name='r'):
        self.events.append({'id': eid, 'event_time': '2026-12-01T10:00:%02dZ' % second,
                            'resource_name': name, 'resource_status': 'CREATE_COMPLETE'})

    def list_events(self, ident, nested_depth=None, marker=None):
        self.markers.append(marker)
        ordered = sorted(self.events, key=lambda e: (e['event_time'], e['id']))
        if marker is None:
            return ordered
        ids = [e['id'] for e in ordered]
        if marker not in ids:          # purged: Heat lists them all
            return ordered
        return ordered[ids.index(marker) + 1:]


def test_each_event_once_in_order_and_the_marker_trails_by_the_lookback():
    heat = Heat()
    feed = events_mod.EventFeed(heat, 's/1', nested_depth=5)
    for i in range(10):
        heat.add('e%02d' % i, i)
    assert [e['id'] for e in feed.new()] == ['e%02d' % i for i in range(10)]
    assert feed.new() == []
    # the marker stays on the newest event LOOKBACK seconds older than the newest
    assert feed.marker == 'e04'
    heat.add('e10', 12)
    assert [e['id'] for e in feed.new()] == ['e10']
    assert heat.markers[-1] == 'e04'
    assert feed.marker == 'e07'    # newest 12 s: the last event at 7 s or before


def test_an_event_committed_late_by_another_engine_is_still_reported():
    heat = Heat()
    feed = events_mod.EventFeed(heat, 's/1')
    for i in range(8):
        heat.add('e%02d' % (i * 2), i)
    feed.new()
    # an event stamped at second 6 (earlier than the newest, 7) commits now,
    # and sorts before events already seen
    heat.add('e11', 6)
    assert [e['id'] for e in feed.new()] == ['e11']


def test_a_purged_marker_lists_everything_again_but_reports_nothing_twice():
    heat = Heat()
    feed = events_mod.EventFeed(heat, 's/1')
    for i in range(10):
        heat.add('e%02d' % i, i)
    feed.new()
    heat.events = [e for e in heat.events if e['id'] > 'e05']   # max_events_per_stack
    heat.add('e10', 11)
    assert [e['id'] for e in feed.new()] == ['e10']
