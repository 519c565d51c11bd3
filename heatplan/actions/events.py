"""``heatplan events STACK [--follow]``: Heat's events, once each, in order."""

import time

from heatplan import errors
from heatplan.actions import _stack
from heatplan.heat import events as events_mod

COLUMNS = ('time', 'stack', 'resource', 'status', 'reason')


def _row(ev):
    return {'time': ev.get('event_time') or '', 'stack': ev.get('stack_name') or '',
            'resource': ev.get('resource_name') or '',
            'status': ev.get('resource_status') or '',
            'reason': ev.get('resource_status_reason') or ''}


def run(adapter, stack_name, nested_depth=None, follow=False, poll=2.0, timeout=None,
        sleep=time.sleep, clock=time.monotonic):
    """Yield event rows oldest first, each once; with ``follow`` until the stack settles.

    Events are deduplicated by id (nested listings repeat a nested stack's
    own events) and ordered by time.  Following ends when the stack is no
    longer ``*_IN_PROGRESS`` (after one last listing) or after ``timeout``
    seconds (:class:`~heatplan.errors.DeployTimedOut`).
    """
    stack, ident = _stack.live(adapter, stack_name)
    feed = events_mod.EventFeed(adapter, ident, nested_depth)
    deadline = clock() + timeout if timeout else None
    while True:
        settled = not (stack.get('stack_status') or '').endswith('_IN_PROGRESS')
        for ev in feed.new():
            yield _row(ev)
        if not follow or settled:
            return
        if deadline is not None and clock() > deadline:
            raise errors.DeployTimedOut(
                'stack %s still %s after %d s' % (stack_name, stack.get('stack_status'),
                                                   timeout),
                hint='it goes on in Heat; follow it again with "heatplan events %s '
                     '--follow"' % stack_name)
        sleep(poll)
        stack = adapter.get_stack(ident) or {'stack_status': 'DELETE_COMPLETE'}
