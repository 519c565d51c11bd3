"""An in-memory Heat, good enough for revision records: the store's memory driver.

It keeps stacks as Heat's API shows them (dicts) and answers the calls of
:class:`heatplan.store.driver.Driver`, plus ``update_stack`` for the managed
stack.  What a real Heat does under load can be produced on demand, so the
state machine's rules are pinned by fast, deterministic unit tests:

* ``duplicate_names``: Heat's name check passes for a name that exists (on
  MariaDB the check is not atomic: two creates racing both pass);
* ``before_insert(name)``: a hook run after the name check and before the
  new row is visible (a slow commit: other deploys run in between);
* ``late_tags = N``: a write's tags stay invisible for the next N reads of
  that stack (Heat stores tags in a later transaction than the row);
* :meth:`tear`: the next read of a stack shows its status from before its
  last update with the update's tags (a GET racing the start of an update);
* managed stacks stay ``*_IN_PROGRESS`` until :meth:`finish`; record stacks
  (no resources) complete at once, as in Heat.
"""

import datetime
import functools
import itertools
import threading

from heatplan import errors
from heatplan.store import driver as driver_mod
from heatplan.store import history as hist_mod
from heatplan.store import records as rec_mod

#: Heat's stack-list filter names -> the stack's keys
_FILTER_KEYS = {'name': 'stack_name', 'status': 'stack_status'}
_EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def _locked(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return wrapper


def _rejected(code, message):
    exc = errors.HeatRejected('Heat rejected the request (HTTP %d): %s' % (code, message))
    exc.status_code = code
    exc.heat_message = message
    return exc


class MemoryHeat(driver_mod.Driver):
    """One project's stacks, in memory."""

    def __init__(self):
        self.stacks = {}           # id -> stack dict (what reads show, before tags)
        self.files = {}            # id -> files map
        self._tags = {}            # id -> (visible tags, pending tags or None, reads left)
        self._torn = {}            # id -> status the next read shows
        self._ids = itertools.count(1)
        self.now = _EPOCH
        self.duplicate_names = False
        self.late_tags = 0
        self.before_insert = None
        self.slow_deletes = False
        self.calls = []
        self._lock = threading.RLock()

    # -- the clock --------------------------------------------------------

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)

    def server_now(self):
        return self.now

    def _stamp(self):
        return self.now.strftime('%Y-%m-%dT%H:%M:%SZ')

    # -- lookups ----------------------------------------------------------

    def _live(self):
        return [s for s in self.stacks.values() if s['stack_status'] != 'DELETE_COMPLETE']

    def _find(self, name_or_id):
        key = str(name_or_id)
        if '/' in key:
            key = key.rsplit('/', 1)[1]
        if key in self.stacks:
            return self.stacks[key]
        named = [s for s in self._live() if s['stack_name'] == key]
        return named[-1] if named else None

    def _visible_tags(self, stack_id):
        visible, pending, left = self._tags[stack_id]
        if pending is not None:
            if left <= 0:
                self._tags[stack_id] = (pending, None, 0)
                return list(pending)
            self._tags[stack_id] = (visible, pending, left - 1)
        return list(visible)

    def _show(self, stack):
        out = dict(stack)
        out['tags'] = self._visible_tags(stack['id'])
        torn = self._torn.pop(stack['id'], None)
        if torn is not None:
            out['stack_status'] = torn
        return out

    def _set_tags(self, stack_id, tags, initial=()):
        tags = list(tags or ())
        if self.late_tags:
            visible = self._tags.get(stack_id, (list(initial), None, 0))[0]
            self._tags[stack_id] = (visible, tags, self.late_tags)
        else:
            self._tags[stack_id] = (tags, None, 0)

    # -- the driver interface ---------------------------------------------

    def create_stack(self, name, body, tags=None, timeout_mins=None, disable_rollback=True):
        with self._lock:
            self.calls.append(('create_stack', name))
            if not self.duplicate_names and any(s['stack_name'] == name for s in self._live()):
                raise _rejected(409, 'The Stack (%s) already exists.' % name)
            stack_id = 'id-%04d' % next(self._ids)
            stamp = self._stamp()
        if self.before_insert is not None:
            # the id and creation time are taken; the row is not visible yet
            self.before_insert(name)
        record = body.get('template') in (rec_mod.RECORD_TEMPLATE, hist_mod.TEMPLATE,
                                          hist_mod.LOCK_TEMPLATE)
        with self._lock:
            self.stacks[stack_id] = {
                'id': stack_id, 'stack_name': name,
                'stack_status': 'CREATE_COMPLETE' if record else 'CREATE_IN_PROGRESS',
                'creation_time': stamp, 'updated_time': None,
            }
            self.files[stack_id] = dict(body.get('files') or {})
            self._set_tags(stack_id, tags)
        return {'id': stack_id, 'stack_name': name}

    @_locked
    def update_stack(self, stack_id, body, tags=None, timeout_mins=None,
                     disable_rollback=True):
        self.calls.append(('update_stack', stack_id))
        stack = self._need(stack_id)
        record = body.get('template') == hist_mod.TEMPLATE
        stack['stack_status'] = 'UPDATE_COMPLETE' if record else 'UPDATE_IN_PROGRESS'
        stack['updated_time'] = self._stamp()
        self.files[stack['id']] = dict(body.get('files') or {})
        self._set_tags(stack['id'], tags)

    @_locked
    def patch_files(self, stack_id, files):
        self.calls.append(('patch_files', stack_id))
        stack = self._need(stack_id)
        stack['updated_time'] = self._stamp()
        self.files[stack['id']].update(files)

    def wait_for_stack(self, name_or_id, timeout=3600, poll=2.0, callback=None):
        stack = self.get_stack(name_or_id)
        return stack['stack_status'] if stack else 'DELETE_COMPLETE'

    @_locked
    def update_tags(self, stack_id, tags):
        self.calls.append(('update_tags', stack_id))
        stack = self._need(stack_id)
        stack['stack_status'] = 'UPDATE_COMPLETE'
        stack['updated_time'] = self._stamp()
        self._set_tags(stack['id'], tags)

    @_locked
    def get_stack(self, name_or_id, resolve_outputs=False):
        self.calls.append(('get_stack', name_or_id))
        stack = self._find(name_or_id)
        if stack is None or stack['stack_status'] == 'DELETE_COMPLETE' and \
                '/' not in str(name_or_id):
            return None
        return self._show(stack)

    @_locked
    def list_stacks(self, tags=None, show_hidden=False, **filters):
        self.calls.append(('list_stacks', tuple(tags or ()), tuple(sorted(
            (k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in filters.items()))))
        out = []
        for stack in self._live():
            shown = self._show(stack)
            if all(t in shown['tags'] for t in tags or ()) and all(
                    shown.get(_FILTER_KEYS.get(k, k)) in v if isinstance(v, (list, tuple))
                    else shown.get(_FILTER_KEYS.get(k, k)) == v   # Heat: a list is IN
                    for k, v in filters.items()):
                out.append(shown)
        return out

    @_locked
    def get_files(self, stack):
        self.calls.append(('get_files', stack))
        return dict(self.files[self._need(stack)['id']])

    @_locked
    def delete_stack(self, name_or_id, wait=False, timeout=3600, poll=2.0):
        self.calls.append(('delete_stack', name_or_id))
        stack = self._need(name_or_id)
        stack['stack_status'] = 'DELETE_IN_PROGRESS' if self.slow_deletes else \
            'DELETE_COMPLETE'
        return stack['stack_status'] if wait else None

    # -- what a test does to Heat -----------------------------------------

    def _need(self, name_or_id):
        stack = self._find(name_or_id)
        if stack is None or stack['stack_status'] == 'DELETE_COMPLETE':
            raise _rejected(404, 'The Stack (%s) could not be found.' % name_or_id)
        return stack

    @_locked
    def finish(self, name_or_id, outcome='COMPLETE'):
        """End a managed stack's operation: ``COMPLETE``, ``FAILED`` or a whole status
        (``ROLLBACK_COMPLETE``)."""
        stack = self._need(name_or_id)
        action = stack['stack_status'].split('_', 1)[0]
        stack['stack_status'] = outcome if '_' in outcome else '%s_%s' % (action, outcome)

    @_locked
    def finish_deletes(self):
        for stack in self.stacks.values():
            if stack['stack_status'] == 'DELETE_IN_PROGRESS':
                stack['stack_status'] = 'DELETE_COMPLETE'

    @_locked
    def tear(self, name_or_id, status):
        """The next read of the stack shows ``status`` (its tags are current)."""
        self._torn[self._need(name_or_id)['id']] = status

    def count(self, method):
        return sum(1 for c in self.calls if c[0] == method)
