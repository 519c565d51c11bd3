"""The deploy lock's after-create decision (heatplan.store.machine.verdict), pure logic.

The race itself runs against real Heats in tests/functional/test_races.py.
"""

import itertools

from heatplan import store as store_mod
from heatplan.store import machine


def rec(ident, created='2026-12-01T10:00:00Z'):
    return store_mod.Record('hp.s.r1', ident, 0, 'pending', None, created, '', [])


def test_alone_holds():
    assert machine.verdict('a', [rec('a')]) == 'hold'


def test_the_younger_yields_to_the_older_whatever_it_sees():
    old, young = rec('b', '2026-12-01T10:00:00Z'), rec('a', '2026-12-01T10:00:01Z')
    assert machine.verdict('a', [young, old]) is old
    # same second: the id decides, the same way for everyone
    x, y = rec('x'), rec('y')
    assert machine.verdict('y', [x, y]) is x
    assert machine.verdict('x', [x, y]) == 'wait'


def test_the_oldest_waits_rather_than_holds_among_others():
    # it cannot know whether a younger one listed before it was visible
    # and holds already: holding needs a listing where it is alone
    old, young = rec('a', '2026-12-01T10:00:00Z'), rec('b', '2026-12-01T10:00:05Z')
    assert machine.verdict('a', [old, young]) == 'wait'


def test_not_yet_visible_itself():
    assert machine.verdict('a', []) == 'wait'
    other = rec('b')
    assert machine.verdict('a', [other]) is other


def test_no_two_holders_in_any_order_of_listings():
    """Every interleaving of 3 creates and their listings (each record lists
    after its own row exists, rows stay unless their owner yields): never two
    holders, whoever is older."""
    ids = ['a', 'b', 'c']
    created = {'a': '2026-12-01T10:00:01Z', 'b': '2026-12-01T10:00:00Z',
               'c': '2026-12-01T10:00:00Z'}
    events = [(i, kind) for i in ids for kind in ('row', 'list')]
    seen = 0
    for order in itertools.permutations(events):
        if any(order.index((i, 'row')) > order.index((i, 'list')) for i in ids):
            continue
        seen += 1
        rows, holders = [], []
        for ident, kind in order:
            if kind == 'row':
                rows.append(ident)
                continue
            decided = machine.verdict(ident, [rec(r, created[r]) for r in rows])
            if decided == 'hold':
                holders.append(ident)
            elif decided != 'wait':
                rows.remove(ident)        # yields: deletes its record
        assert len(holders) <= 1, (order, holders)
    assert seen == 90
