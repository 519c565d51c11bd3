"""``heatplan delete STACK``: the stack and its history."""



from heatplan import errors
from heatplan import store as store_mod
from heatplan.actions import apply
from heatplan.actions import deploy as deploy_mod
from heatplan.actions import revisions
from heatplan.actions._stack import LIST_HINT


def delete(adapter, stack_name, keep_history=False, wait=True, dry_run=False,
           wait_timeout=None):
    """Delete the stack and (unless ``keep_history``) its records; ``dry_run`` only checks.

    The wait lasts at most ``wait_timeout`` seconds (default: the stack's
    timeout plus deploy's margin); past it
    :class:`~heatplan.errors.DeployTimedOut` says the delete goes on in Heat.
    """
    st = store_mod.Store(adapter)
    stack = revisions.live_stack(adapter, stack_name)
    records = st.records(stack_name)
    if stack is None and (keep_history or not records):
        raise errors.NotFound('no stack %s' % stack_name, hint=LIST_HINT)
    if dry_run:
        return None
    status = None
    if stack is not None:
        ident = '%s/%s' % (stack['stack_name'], stack['id'])
        if wait_timeout is None:
            wait_timeout = apply.wait_timeout(deploy_mod.DeployOptions(
                stack=stack_name, timeout_mins=stack.get('timeout_mins')))
        status = adapter.delete_stack(ident, wait=False)
        if wait:
            try:
                status = adapter.wait_for_stack(ident, timeout=wait_timeout, poll=2.0)
            except errors.DeployTimedOut:
                current = adapter.get_stack(ident)
                raise apply.timed_out(
                    stack_name, store_mod.status_of(current) or 'DELETE_IN_PROGRESS',
                    wait_timeout, 'the delete')
        if wait and status != 'DELETE_COMPLETE':
            raise errors.DeployFailed('deleting stack %s ended %s' % (stack_name, status))
    removed = []
    if not keep_history:
        removed = st.delete_history(stack_name, records, wait=wait)
    return {'stack': stack_name, 'status': status, 'records_deleted': removed}
