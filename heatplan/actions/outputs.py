"""``heatplan outputs STACK [NAME]``: the stack's outputs."""

from heatplan import errors
from heatplan.actions import _stack


def run(adapter, stack_name, name=None):
    """``{key: value}`` of the stack's outputs (one when ``name`` is given)."""
    _stack_dict, ident = _stack.live(adapter, stack_name)
    outputs = adapter.get_outputs(ident)
    if name is not None:
        if name not in outputs:
            raise errors.NotFound(
                'stack %s has no output %r' % (stack_name, name),
                hint='its outputs: %s' % (', '.join(sorted(outputs)) or 'none'))
        return {name: outputs[name]}
    return outputs
