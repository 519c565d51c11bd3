"""The one loop that waits for a stack's operation to end.

Used by :meth:`heatplan.heat.adapter.HeatAdapter.wait_for_stack` (delete,
records) and by deploy's wait (progress from events, the quiet report, the
rollback grace) through its hooks.
"""

import time

#: Statuses after which a stack operation is over.
TERMINAL_SUFFIXES = ('_COMPLETE', '_FAILED')


def until_over(read, timeout, on_timeout, poll=2.0, sleep=time.sleep, on_read=None,
               keep_waiting=None, clock=time.monotonic):
    """Call ``read()`` (the stack, or None once gone) until its operation ends.

    Returns the final status (``'DELETE_COMPLETE'`` for a stack gone).  The
    first polls come quickly (0.2 s, growing to ``poll``).  ``on_read(stack)``
    runs after each read; ``keep_waiting(status)`` may hold a terminal
    status for another poll (a rollback about to start).  Past ``timeout``
    seconds, raises ``on_timeout(status)``.
    """
    deadline = clock() + timeout
    delay = min(0.2, poll)
    while True:
        stack = read()
        if on_read is not None:
            on_read(stack)
        if stack is None:
            return 'DELETE_COMPLETE'
        status = stack.get('stack_status') or ''
        if status.endswith(TERMINAL_SUFFIXES) and not (
                keep_waiting is not None and keep_waiting(status)):
            return status
        now = clock()
        if now >= deadline:
            raise on_timeout(status)
        sleep(min(delay, max(0.0, deadline - now) + 0.01))
        delay = min(poll, delay * 1.5)
