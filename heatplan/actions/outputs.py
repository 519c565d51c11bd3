"""``heatplan outputs STACK [NAME]``: the stack's outputs."""

from heatplan import errors


def run(adapter, stack_name, name=None):
    """``{key: value}`` of the stack's outputs (one when ``name`` is given)."""
    stack = adapter.get_stack(stack_name)
    if stack is None:
        raise errors.NotFound('no stack %s' % stack_name,
                                   hint='list the stacks with "heatplan list"')
    outputs = adapter.get_outputs('%s/%s' % (stack['stack_name'], stack['id']))
    if name is not None:
        if name not in outputs:
            raise errors.NotFound(
                'stack %s has no output %r' % (stack_name, name),
                hint='its outputs: %s' % (', '.join(sorted(outputs)) or 'none'))
        return {name: outputs[name]}
    return outputs
