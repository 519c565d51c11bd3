"""The interface a store driver provides: the few Heat calls records need.

The heat driver is :class:`heatplan.heat.adapter.HeatAdapter` itself (these
are its methods, with its error mapping); the memory driver is
:class:`heatplan.store.memory.MemoryHeat`.  A test checks that both provide
every method below with the same parameters.  Stacks are plain dicts as
Heat's API shows them (``id``, ``stack_name``, ``stack_status``,
``creation_time``, ``updated_time``, ``tags``).
"""

import abc


class Driver(abc.ABC):
    """What :class:`heatplan.store.machine.Store` and its rules call."""

    @abc.abstractmethod
    def create_stack(self, name, body, tags=None, timeout_mins=None, disable_rollback=True):
        """Create a stack; ``{'id': ..., ...}``; HeatRejected (409) if the name is taken."""

    @abc.abstractmethod
    def get_stack(self, name_or_id, resolve_outputs=False):
        """The stack (dict) or None."""

    @abc.abstractmethod
    def list_stacks(self, tags=None, show_hidden=False, **filters):
        """Stacks with every tag in ``tags`` and the exact ``filters`` (e.g. name)."""

    @abc.abstractmethod
    def update_tags(self, stack_id, tags):
        """Replace a stack's tags (nothing else changes)."""

    @abc.abstractmethod
    def update_stack(self, stack_id, body, tags=None, timeout_mins=None,
                     disable_rollback=True):
        """Replace a stack's template and files (one PUT)."""

    @abc.abstractmethod
    def patch_files(self, stack_id, files):
        """Add ``files`` to a stack's files map (PATCH, ``existing``: Heat merges them)."""

    @abc.abstractmethod
    def wait_for_stack(self, name_or_id, timeout=3600, poll=2.0, callback=None):
        """Poll until the stack's operation ends; its final status."""

    @abc.abstractmethod
    def get_files(self, stack):
        """The stack's files map."""

    @abc.abstractmethod
    def delete_stack(self, name_or_id, wait=False, timeout=3600, poll=2.0):
        """Delete a stack; with ``wait`` its final status."""

    @abc.abstractmethod
    def server_now(self):
        """Heat's clock (an aware datetime), which stamps ``creation_time``."""


def register_heat_driver():
    from heatplan.heat.adapter import HeatAdapter

    Driver.register(HeatAdapter)
    return HeatAdapter
