"""The live stack a read or watch verb works on."""

from heatplan import errors

LIST_HINT = '"heatplan list" lists the stacks heatplan manages'


def live(adapter, stack_name):
    """``(stack dict, "name/id")`` of a live stack; :class:`errors.NotFound` if none."""
    stack = adapter.get_stack(stack_name)
    if stack is None or stack.get('stack_status') == 'DELETE_COMPLETE':
        raise errors.NotFound('no stack %s' % stack_name, hint=LIST_HINT)
    return stack, '%s/%s' % (stack['stack_name'], stack['id'])
