"""``heatplan wait STACK``: wait for the operation running on a stack, as deploy waits."""

import time

from heatplan import errors
from heatplan import store as store_mod
from heatplan.actions import _stack
from heatplan.actions import apply
from heatplan.actions import deploy as deploy_mod


def run(adapter, stack_name, reporter, wait_timeout=None, poll=2.0, quiet_report=120.0):
    """Wait until the stack settles; return ``{stack, status, revision, failures, elapsed}``.

    Raises :class:`~heatplan.errors.DeployFailed` when it ends failed and
    :class:`~heatplan.errors.DeployTimedOut` after ``wait_timeout`` seconds,
    with deploy's exit codes.  A stack not in progress returns at once.
    """
    stack, ident = _stack.live(adapter, stack_name)
    started = time.monotonic()
    opts = deploy_mod.DeployOptions(stack=stack_name, wait_timeout=wait_timeout, poll=poll,
                                    disable_rollback=True, quiet_report=quiet_report,
                                    action='wait', timeout_mins=stack.get('timeout_mins'))
    status = stack.get('stack_status') or ''
    if status.endswith('_IN_PROGRESS'):
        status = apply.wait(adapter, ident, opts, reporter, started)
    final = adapter.get_stack(ident) or {}
    rev = store_mod.held_revision(final)
    result = {'stack': stack_name, 'status': status,
              'reason': final.get('stack_status_reason') or '',
              'revision': int(rev) if rev and rev.isdigit() else None,
              'failures': [], 'elapsed': round(time.monotonic() - started, 1)}
    if status.endswith('_FAILED') or status.startswith('ROLLBACK'):
        result['failures'] = apply.failures(adapter, ident)
        raise errors.DeployFailed(
            'stack %s ended %s: %s' % (stack_name, status, result['reason']),
            hint='see what failed with "heatplan events %s"; settle its revision '
                 'record with "heatplan recover %s"' % (stack_name, stack_name))
    return result
