"""The revision records' state machine: the deploy lock, settling, pruning, recovery.

Every rule works over a driver (:mod:`heatplan.store.driver`): Heat itself
in use, :class:`heatplan.store.memory.MemoryHeat` in the unit tests, which
can also produce the torn and late reads a real Heat produces under load.

A record's life: ``pending`` (created before the plan is sent: the lock) ->
``deployed`` (the stack carries its revision and is COMPLETE; the previous
deployed record becomes ``superseded``) or ``failed``.

The lock
========

Creating the next revision's record, under a name unique to (stack,
revision), is the deploy lock: a second deploy computing the same revision
fails to create it (Heat answers 409) and is refused.  Heat checks the name
before it inserts the row, without a database constraint, so on MariaDB two
creates racing to the same instant can both pass.  Every deploy therefore
looks after its create for records of the same name, by name (the stack
rows, never the tags, which Heat stores in a later transaction), and:

* it is alone: it holds the lock;
* an older one exists: it lost; it deletes its own record and is refused;
* it is the oldest: it holds the lock once every younger one is gone
  (each of those saw it and lost, or will), and lost if one stays.

"Older" is the order (creation time, id), the same for everyone.  Whatever
the delay before a row becomes visible, at most one deploy holds the lock:
a record invisible to a contender's check was committed after that check, so
its own check sees the contender, which either lost (it goes away) or holds
the lock (it stays, and the older one then gives up).  doc/source/reliability.rst
has the whole argument.
"""

import time

from heatplan import errors
from heatplan.store import records as rec_mod

IN_PROGRESS = '_IN_PROGRESS'
#: Stack statuses meaning the plan it carries was applied.  ROLLBACK_COMPLETE
#: is a failure: Heat went back to the old resources but kept the new tags.
APPLIED = ('CREATE_COMPLETE', 'UPDATE_COMPLETE')
#: A pending record younger than this may belong to a deploy still sending
#: its plan (between taking the lock and Heat accepting the update).
STALE_AFTER = 120.0
#: Seconds the oldest of several same-name records waits for the younger
#: ones to go away before it gives up the lock too.
CONTENDERS_GO_WITHIN = 30.0
GONE = ('DELETE_COMPLETE', 'DELETE_IN_PROGRESS')


def status_of(stack):
    return (stack or {}).get('stack_status') or ''


def in_progress(stack):
    return IN_PROGRESS in status_of(stack)


class Locked(errors.RefusedError):
    """Another deploy holds the stack (its pending record exists)."""


class Store:
    """Revision records of one project's stacks, over a driver.

    ``driver``: the Heat adapter (:class:`heatplan.heat.adapter.HeatAdapter`)
    or :class:`heatplan.store.memory.MemoryHeat`; ``sleep`` waits between
    looks at racing records (the memory driver's tests pass their own).
    """

    def __init__(self, driver, sleep=time.sleep, clock=time.monotonic):
        self.driver = driver
        self.sleep = sleep
        self.clock = clock

    def records(self, stack_name):
        """All records of ``stack_name``, oldest revision first."""
        stacks = self.driver.list_stacks(
            tags=[rec_mod.RECORD_TAG, rec_mod.stack_tag(stack_name)], show_hidden=True)
        records = [rec_mod.Record.from_stack(s) for s in stacks
                   if s.get('stack_status') not in GONE]
        records.sort(key=lambda r: (r.revision, r.created, r.id))
        return records

    def get(self, stack_name, revision):
        for rec in self.records(stack_name):
            if rec.revision == revision:
                return rec
        raise errors.NotFound(
            'stack %s has no revision %s' % (stack_name, revision),
            hint='list the revisions with "heatplan history %s"' % stack_name)

    def create_pending(self, stack_name, revision, plan_body, digest, meta):
        """Create the pending record for ``revision``: this takes the lock.

        Raises :class:`Locked` when another deploy holds it (see the module's
        docstring for the rule).
        """
        by = rec_mod.who()
        record_meta = rec_mod.record_meta(stack_name, revision, digest, meta, by)
        name = rec_mod.record_name(stack_name, revision)
        tags = rec_mod.record_tags(stack_name, revision, rec_mod.PENDING, digest, by)
        try:
            created = self.driver.create_stack(
                name, rec_mod.record_body(plan_body, record_meta), tags=tags)
        except errors.HeatRejected as exc:
            if getattr(exc, 'status_code', None) == 409:
                raise self.locked_error(stack_name, revision)
            raise
        record = rec_mod.Record(name, created['id'], revision, rec_mod.PENDING, digest,
                                record_meta['created_at'], by, tags)
        winner = self._contest(record)
        if winner is not None:
            self._withdraw(record)
            raise self.locked_error(stack_name, revision, winner)
        return record

    def _same_name(self, name):
        """Live records named ``name``, found by name (rows, tags stored or not)."""
        rows = [s for s in self.driver.list_stacks(show_hidden=True, name=name)
                if s.get('stack_name') == name and s.get('stack_status') not in GONE]
        return [rec_mod.Record.from_stack(s) for s in rows]

    def _contest(self, record):
        """None when ``record`` holds the lock; else the record that does (or may)."""
        deadline = self.clock() + CONTENDERS_GO_WITHIN
        while True:
            live = self._same_name(record.name)
            seen = verdict(record.id, live)
            if seen == 'hold':
                return None
            if seen != 'wait':
                seen.revision = record.revision  # tags may not be stored yet: the name says it
                return seen
            if self.clock() >= deadline:         # gave up: a younger one may hold it
                return next((r for r in live if r.id != record.id), record)
            self.sleep(0.5)

    def _withdraw(self, record):
        try:
            self.driver.delete_stack(record.ident)
        except errors.HeatplanError:
            pass  # a leftover pending record: recover (or the next check) settles it

    def locked_error(self, stack_name, revision, record=None):
        if record is None:
            for rec in self.records(stack_name):
                if rec.revision == revision:
                    record = rec
        started = ''
        if record is not None:
            started = ', started at %s by %s' % (record.created or '?', record.by or '?')
        return Locked('another deploy of %s is in progress (revision %d%s)'
                      % (stack_name, revision, started),
                      hint='"heatplan wait %s" waits for it to finish; if it died, run '
                           '"heatplan recover %s"' % (stack_name, stack_name))

    def set_status(self, record, status):
        tags = [t for t in record.tags if not t.startswith('hp-status=')]
        tags.append('hp-status=' + status)
        self.driver.update_tags(record.ident, tags)
        record.tags = tags
        record.status = status

    def set_status_quietly(self, record, status):
        try:
            self.set_status(record, status)
        except errors.HeatplanError:
            pass  # recover settles it later

    def files(self, record):
        return self.driver.get_files(record.ident)

    def meta(self, record, files=None):
        files = files if files is not None else self.files(record)
        from heatplan.plan import manifest as manifest_mod

        return manifest_mod.load_meta(files.get(rec_mod.RECORD_FILE) or None,
                                      'record.json of %s' % record.name)

    def delete(self, record, wait=False):
        return self.driver.delete_stack(record.ident, wait=wait)


def _age_key(record):
    return (record.created or '', record.id)


def verdict(mine, live):
    """What the record ``mine`` (an id) does, seeing the same-name records ``live``.

    ``'hold'``: it is alone under its name, the only way to take the lock;
    ``'wait'``: it is the oldest of several (the younger ones withdraw when
    they see it), or not listed itself yet (look again); a
    :class:`~heatplan.store.records.Record`: an older one, to yield to.
    """
    others = [r for r in live if r.id != mine]
    if len(others) == len(live):       # not (yet) visible itself: look again
        return 'wait' if not others else min(others, key=_age_key)
    if not others:
        return 'hold'
    oldest = min(live, key=_age_key)
    return 'wait' if oldest.id == mine else oldest


def confirm_read(driver, stack):
    """Read ``stack`` again, to act on a read saying its last update is over.

    Heat's stack GET reads the stack's row (its status) and then, separately,
    its tags; an update stores the row (IN_PROGRESS) and then the tags. A GET
    racing the start of an update can therefore show the old COMPLETE status
    with the update's new ``hp-rev`` tag: settling on that would mark a
    revision deployed while Heat is still applying it (and let a second
    deploy supersede it).  A GET started after such a read ended sees the
    update's IN_PROGRESS or its end, so its answer is certain.  ``None``: the
    stack is gone.
    """
    return driver.get_stack('%s/%s' % (stack['stack_name'], stack['id']))


def settle(st, records, record, stack):
    """Set a pending record's status from the stack's real state."""
    if rec_mod.held_revision(stack) == str(record.revision) and status_of(stack) in APPLIED:
        for other in records:
            if other.status == rec_mod.DEPLOYED and other.revision != record.revision:
                st.set_status(other, rec_mod.SUPERSEDED)
        st.set_status(record, rec_mod.DEPLOYED)
    else:
        st.set_status(record, rec_mod.FAILED)
    return record.status


def _busy(stack_name, stack):
    return errors.RefusedError(
        'stack %s is %s: an operation is running and Heat would silently '
        'supersede it' % (stack_name, status_of(stack)),
        hint='"heatplan wait %s" waits for it to finish; or pass --supersede to '
             'deploy anyway' % stack_name)


def check_locks(st, records, stack, stack_name, supersede=False, info=None):
    """Refuse while another deploy holds ``stack_name``; settle what is certain.

    ``stack`` was read before ``records``.  Returns the stack read to go on
    with.  ``info(message)`` hears of a revision settled on the way.
    """
    pending = [r for r in records if r.status == rec_mod.PENDING]
    if pending and not supersede:
        stack = _settle_pending(st, records, pending[-1], stack, stack_name, info)
    if in_progress(stack) and not supersede:
        if not pending:
            # The records, read after the stack, show no deploy holding it:
            # the update seen may have ended since (its deploy settled its
            # record in between).  Look again before refusing.
            fresh = confirm_read(st.driver, stack)
            if fresh is not None and not in_progress(fresh):
                return fresh
            stack = fresh or stack
        raise _busy(stack_name, stack)
    return stack


def _settle_pending(st, records, rec, stack, stack_name, info):
    """The newest pending record: refuse while it may run, settle it when certain."""
    if in_progress(stack):
        raise st.locked_error(stack_name, rec.revision, rec)
    held = rec_mod.held_revision(stack)
    if held != str(rec.revision) and rec.age(st.driver.server_now()) < STALE_AFTER:
        # Taken the lock moments ago; Heat may not have its plan yet.
        raise st.locked_error(stack_name, rec.revision, rec)
    if held != str(rec.revision):
        raise errors.RefusedError(
            'revision %d of %s is pending but the stack is not being updated '
            '(a deploy died before or while sending its plan)' % (rec.revision, stack_name),
            hint='run "heatplan recover %s" to settle it' % stack_name)
    # The stack carries this revision and is no longer in progress: its
    # outcome is certain once a second read agrees; settle it and go on.
    stack = confirm_read(st.driver, stack)
    if stack is None or in_progress(stack) or rec_mod.held_revision(stack) != held:
        raise st.locked_error(stack_name, rec.revision, rec)
    settle(st, records, rec, stack)
    if info is not None:
        info('settled revision %d of %s as %s' % (rec.revision, stack_name, rec.status))
    return stack


def prune(st, stack_name, history_max):
    """Delete the oldest records past ``history_max``; never the deployed one."""
    if not history_max or history_max < 1:
        return []
    records = st.records(stack_name)
    deployed = [r for r in records if r.status == rec_mod.DEPLOYED]
    keep_id = deployed[-1].id if deployed else None
    excess = len(records) - history_max
    removed = []
    for rec in records:
        if excess <= 0:
            break
        if rec.id == keep_id or rec.status == rec_mod.PENDING:
            continue
        st.delete(rec)
        removed.append(rec.revision)
        excess -= 1
    return removed


def _still_running(stack_name, stack):
    return errors.RefusedError(
        'stack %s is %s: the deploy is still running' % (stack_name, stack['stack_status']),
        hint='"heatplan wait %s" waits for it to finish; then run "heatplan recover %s" '
             'again' % (stack_name, stack_name))


def recover(st, stack_name, records, stack, force=False):
    """Settle every pending record from the stack's real state (releases the lock).

    ``stack``: the live stack read before ``records``, or None.  Returns
    ``[{'revision': N, 'status': S}]`` for the records settled.
    """
    pending = [r for r in records if r.status == rec_mod.PENDING]
    if in_progress(stack):
        raise _still_running(stack_name, stack)
    held = rec_mod.held_revision(stack)
    now = st.driver.server_now()  # records are stamped by Heat's clock
    young = [r for r in pending
             if str(r.revision) != held and r.age(now) < STALE_AFTER and not force]
    if young:
        raise errors.RefusedError(
            'revision %d of %s was started %d s ago and may still be sending its plan'
            % (young[0].revision, stack_name, young[0].age(now)),
            hint='run "heatplan recover %s" again after %d s, or "heatplan recover %s '
                 '--force" if that deploy is certainly dead'
            % (stack_name, STALE_AFTER, stack_name))
    if stack is not None and any(str(r.revision) == held for r in pending):
        # Settling a revision as deployed needs a read Heat cannot have torn.
        stack = confirm_read(st.driver, stack)
        if in_progress(stack):
            raise _still_running(stack_name, stack)
    settled = []
    for rec in pending:
        settle(st, records, rec, stack)
        settled.append({'revision': rec.revision, 'status': rec.status})
    return settled
