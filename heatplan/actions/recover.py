"""``heatplan recover STACK``: settle pending records from the stack's real state."""



from heatplan import errors
from heatplan import store as store_mod
from heatplan.actions import revisions
from heatplan.actions._stack import LIST_HINT


def recover(adapter, stack_name, force=False):
    """Settle pending records from the stack's real state; release the lock."""
    st = store_mod.Store(adapter)
    stack = revisions.live_stack(adapter, stack_name)
    records = st.records(stack_name)
    if stack is None and not records:
        raise errors.NotFound('no stack %s and no heatplan history for it' % stack_name,
                              hint=LIST_HINT)
    return store_mod.recover(st, stack_name, records, stack, force=force)
