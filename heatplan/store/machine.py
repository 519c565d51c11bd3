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

import json
import logging
import time

from heatplan import errors
from heatplan.store import history as hist_mod
from heatplan.store import records as rec_mod

LOG = logging.getLogger(__name__)

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
#: Seconds a waiting deploy takes at most to settle its revision once the
#: stack's operation ended (another deploy settles it only after that).
HOLDER_SETTLES_WITHIN = 10.0


def status_of(stack):
    return (stack or {}).get('stack_status') or ''


def in_progress(stack):
    return IN_PROGRESS in status_of(stack)


class Locked(errors.RefusedError):
    """Another deploy holds the stack (its pending record exists)."""


class Store:
    """The plan history of one project's stacks, over a driver.

    Format 2 (:mod:`heatplan.store.history`): one history stack per
    managed stack and, while a deploy runs, its lock stack.  Format 1
    record stacks (one per revision) are still read, settled and migrated
    into the history by the next deploy.  ``driver``: the Heat adapter
    (:class:`heatplan.heat.adapter.HeatAdapter`) or
    :class:`heatplan.store.memory.MemoryHeat`; ``sleep`` waits between
    looks at racing locks (the memory driver's tests pass their own).
    """

    def __init__(self, driver, sleep=time.sleep, clock=time.monotonic):
        self.driver = driver
        self.sleep = sleep
        self.clock = clock
        self.snapshots = {}     # stack name -> the last history read (Snapshot or None)
        self.leftovers = {}     # stack name -> format-1 records already in the history
        self.last_records = {}  # stack name -> what records() answered last
        self.write_limit = hist_mod.CHUNK_BYTES   # bytes of files one history write sends
        #: stack name -> True: this Store wrote the pending revision's blobs ahead
        self.prewritten = {}

    # -- reading ------------------------------------------------------------

    def records(self, stack_name, cached=False):
        """Every revision of ``stack_name`` (and the running deploy's), oldest first.

        One read of the history stack's files (one consistent snapshot),
        the lock stack if a deploy holds it, and format-1 records not yet
        migrated.  ``cached``: reuse this Store's last history read (valid
        while this process holds the lock: no one else writes then).
        """
        # the history and the lock stack by name, in one list call (Heat
        # filters a repeated name as a list: IN); by name, not by tag: Heat
        # stores a new stack's tags after its row
        rows = self._named(hist_mod.history_name(stack_name), hist_mod.lock_name(stack_name))
        if not (cached and stack_name in self.snapshots):
            self.snapshots[stack_name] = self._read_history(stack_name, rows)
        snap = self.snapshots[stack_name]
        records = self._history_records(snap) if snap is not None else []
        known = {r.revision for r in records}
        legacy = self._legacy(stack_name)
        self.leftovers[stack_name] = [r for r in legacy if r.revision in known]
        records += [r for r in legacy if r.revision not in known]
        lock = self._lock_record(stack_name, max([r.revision for r in records] or [0]),
                                 rows)
        if lock is not None:
            records.append(lock)
        records.sort(key=lambda r: (r.revision, r.kind == 'lock', r.created, r.id))
        _derive_superseded(records)
        self.last_records[stack_name] = records
        return records

    def _named(self, *names):
        """The live stacks named ``names`` (one list call)."""
        return [s for s in self.driver.list_stacks(
                show_hidden=True, name=names[0] if len(names) == 1 else list(names))
                if s.get('stack_name') in names and s.get('stack_status') not in GONE]

    def _of_name(self, name, rows=None):
        """The live stacks named ``name``: among ``rows`` (from :meth:`_named`), or asked."""
        return [s for s in (self._named(name) if rows is None else rows)
                if s.get('stack_name') == name]

    def _read_history(self, stack_name, rows=None):
        rows = self._of_name(hist_mod.history_name(stack_name), rows)
        if not rows:
            return None
        stack = min(rows, key=lambda s: (s.get('creation_time') or '', s['id']))
        ident = '%s/%s' % (stack['stack_name'], stack['id'])
        return hist_mod.Snapshot(stack, self.driver.get_files(ident))

    def _history_records(self, snap):
        out = []
        for rev, doc in snap.live().items():
            meta = doc['meta'] if isinstance(doc, dict) else {}
            digest = meta.get('digest') if isinstance(meta.get('digest'), str) else None
            rec = rec_mod.Record(
                snap.stack['stack_name'], snap.stack['id'], rev,
                doc['outcome'] if isinstance(doc, dict) else 'damaged', digest,
                meta.get('created_at') if isinstance(meta.get('created_at'), str) else '',
                meta.get('by') if isinstance(meta.get('by'), str) else '', [],
                kind='history')
            rec.doc, rec.snapshot = doc, snap
            out.append(rec)
        return out

    def _legacy(self, stack_name):
        stacks = self.driver.list_stacks(
            tags=[rec_mod.RECORD_TAG, rec_mod.stack_tag(stack_name)], show_hidden=True)
        return [rec_mod.Record.from_stack(s) for s in stacks
                if s.get('stack_status') not in GONE]

    def _lock_record(self, stack_name, last, rows=None):
        rows = self._of_name(hist_mod.lock_name(stack_name), rows)
        if not rows:
            return None
        stack = min(rows, key=lambda s: (s.get('creation_time') or '', s['id']))
        rec = rec_mod.Record.from_stack(stack)
        rec.kind, rec.status = 'lock', rec_mod.PENDING
        try:
            rec.meta = self.meta(rec)
        except (errors.HeatplanError, ValueError):
            rec.meta = {}
        num = rec.meta.get('revision')
        rec.revision = num if isinstance(num, int) and num > last else last + 1
        if isinstance(rec.meta.get('digest'), str):
            rec.digest = rec.meta['digest']
        rec.by = rec.meta.get('by') or rec.by
        return rec

    def get(self, stack_name, revision):
        for rec in self.records(stack_name):
            if rec.revision == revision:
                return rec
        raise errors.NotFound(
            'stack %s has no revision %s' % (stack_name, revision),
            hint='list the revisions with "heatplan history %s"' % stack_name)

    def files(self, record):
        """The revision's files map as deployed, with its record.json."""
        if record.kind == 'history':
            doc = record.doc
            if not isinstance(doc, dict):
                from heatplan.plan import manifest as manifest_mod

                raise manifest_mod.DamagedRecord(
                    '%s of %s is damaged (not a revision document heatplan wrote)'
                    % (hist_mod.rev_key(record.revision), record.name))
            if not doc.get('stored', True):
                raise errors.NotFound(
                    'revision %d of %s was never sent to Heat (the deploy stopped before '
                    'it did): its plan is not stored' % (record.revision, doc['meta'].get(
                        'stack', '?')), hint='pick another revision (heatplan history)')
            try:
                files = record.snapshot.plan_files(doc)
            except KeyError as exc:
                from heatplan.plan import manifest as manifest_mod

                raise manifest_mod.DamagedRecord(
                    'revision %d: file %s of the history stack %s is missing'
                    % (record.revision, exc.args[0], record.name))
            files[rec_mod.RECORD_FILE] = json.dumps(doc['meta'], sort_keys=True, indent=1)
            return files
        return self.driver.get_files(record.ident)

    def meta(self, record, files=None):
        from heatplan.plan import manifest as manifest_mod

        files = files if files is not None else self.files(record)
        return manifest_mod.load_meta(files.get(rec_mod.RECORD_FILE) or None,
                                      'record.json of %s' % record.name)

    # -- the lock -----------------------------------------------------------

    def create_pending(self, stack_name, revision, plan_body, digest, meta, wait=True):
        """Take the deploy lock for ``revision``: create the lock stack, win its contest.

        Raises :class:`Locked` when another deploy holds it (see the
        module's docstring for the rule), or recorded ``revision`` since
        this deploy read the history.  ``wait``: this deploy settles its
        revision itself (others leave the lock to it).
        """
        by = rec_mod.who()
        record_meta = rec_mod.record_meta(stack_name, revision, digest, meta, by)
        record_meta['settled_by_holder'] = bool(wait)
        name = hist_mod.lock_name(stack_name)
        tags = [hist_mod.LOCK_TAG, rec_mod.stack_tag(stack_name), 'hp-status=pending',
                rec_mod.digest_tag(digest), 'hp-by=' + by]
        body = {'template': hist_mod.LOCK_TEMPLATE,
                'files': {rec_mod.RECORD_FILE: json.dumps(record_meta, sort_keys=True,
                                                          indent=1)}}
        created = self._create_lock(stack_name, revision, name, body, tags)
        record = rec_mod.Record(name, created['id'], revision, rec_mod.PENDING, digest,
                                record_meta['created_at'], by, tags, kind='lock')
        record.meta, record.plan_files = record_meta, dict(plan_body['files'])
        winner = self._contest(record)
        if winner is not None:
            self._withdraw(record)
            raise self.locked_error(stack_name, revision, winner)
        # Numbered from a read before the lock: a deploy that finished in
        # between recorded this number (its preview was of another stack).
        taken = [r for r in self.records(stack_name)
                 if r.kind != 'lock' and r.revision >= revision]
        if taken:
            self._withdraw(record)
            raise self.locked_error(stack_name, revision, taken[0])
        return record

    def _create_lock(self, stack_name, revision, name, body, tags):
        deadline = self.clock() + CONTENDERS_GO_WITHIN
        while True:
            try:
                return self.driver.create_stack(name, body, tags=tags)
            except errors.HeatRejected as exc:
                if getattr(exc, 'status_code', None) != 409:
                    raise
                # a lock being deleted (its deploy just released it) still
                # holds the name for a moment
                if self._named(name) or self.clock() >= deadline:
                    raise self.locked_error(stack_name, revision)
                self.sleep(0.5)

    def _same_name(self, name):
        """Live stacks named ``name``, found by name (rows, tags stored or not)."""
        return [rec_mod.Record.from_stack(s) for s in self._named(name)]

    def _contest(self, record):
        """None when ``record`` holds the lock; else the record that does (or may)."""
        deadline = self.clock() + CONTENDERS_GO_WITHIN
        while True:
            live = self._same_name(record.name)
            seen = verdict(record.id, live)
            if seen == 'hold':
                return None
            if seen != 'wait':
                seen.revision = record.revision  # tags may not be stored yet
                return seen
            if self.clock() >= deadline:         # gave up: a younger one may hold it
                return next((r for r in live if r.id != record.id), record)
            self.sleep(0.5)

    def release(self, record):
        """Give up a lock this deploy holds, its revision unrecorded (nothing was sent)."""
        self._withdraw(record)

    def _withdraw(self, record):
        try:
            self.driver.delete_stack(record.ident)
        except errors.HeatplanError:
            pass  # a leftover lock: recover (or the next check) settles it

    def lock_held(self, stack_name):
        """True when a deploy holds ``stack_name``'s lock (one list call, by name)."""
        return bool(self._named(hist_mod.lock_name(stack_name)))

    def holder_alive(self, record):
        """True while a lock is still there (its holder has not settled it)."""
        stack = self.driver.get_stack(record.ident)
        return stack is not None and status_of(stack) not in GONE

    def locked_error(self, stack_name, revision, record=None):
        if record is None:
            for rec in self.records(stack_name):
                if rec.revision == revision or rec.kind == 'lock':
                    record = rec
        started = ''
        if record is not None:
            started = ', started at %s by %s' % (record.created or '?', record.by or '?')
        return Locked('another deploy of %s is in progress (revision %d%s)'
                      % (stack_name, revision, started),
                      hint='"heatplan wait %s" waits for it to finish; if it died, run '
                           '"heatplan recover %s"' % (stack_name, stack_name))

    # -- writing ------------------------------------------------------------

    def set_status(self, record, status):
        """A format-1 record's status tag (format 2 records its outcome in commit)."""
        if record.kind != 'legacy':
            if status == rec_mod.FAILED and record.status == rec_mod.PENDING:
                self.commit(record, rec_mod.FAILED, None)
            return
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

    def commit(self, record, outcome, stack, history_max=None):
        """Record a pending revision's outcome in the history, then release its lock.

        ``stack``: the managed stack as last read (None: not sent).  The
        plan comes from this deploy's memory, or (settling another deploy's
        revision) from the stack when it carries that revision.  Format-1
        records are migrated in the same write; the oldest revisions past
        ``history_max`` are pruned in it.
        """
        name = (record.meta or {}).get('stack') or _stack_of(record)
        plan_files = record.plan_files
        if plan_files is None and stack is not None and \
                rec_mod.held_revision(stack) == str(record.revision) and \
                record.digest and rec_mod.held_digest(stack) == record.digest.split(':')[-1]:
            plan_files = self.driver.get_files('%s/%s' % (stack['stack_name'], stack['id']))
        meta = dict(record.meta or {})
        meta.pop('settled_by_holder', None)
        docs = [(record.revision, hist_mod.rev_doc(record.revision, outcome, meta, plan_files),
                 plan_files)]
        # Heat took this plan in one request: a history write that size fits too
        self.write_limit = _write_limit(plan_files or {})
        records = self.last_records.get(name)
        if records is None:
            records = self.records(name, cached=True)
        migrating = [r for r in records if r.kind == 'legacy' and r.status != rec_mod.PENDING]
        docs += [self._migrated(r) for r in migrating]
        live = [r for r in records if r.kind == 'history'] + migrating
        applied = [r.revision for r in live if r.status in (rec_mod.DEPLOYED,
                                                            rec_mod.SUPERSEDED)]
        keep = {record.revision} if outcome == rec_mod.DEPLOYED else \
            {record.revision, max(applied or [0])}
        pruned = _to_prune(live + [record], history_max, keep)
        self._write(name, docs, pruned, record)
        self.last_records.pop(name, None)
        for old in migrating + self.leftovers.get(name, []):
            self._withdraw(old)
        record.status = outcome
        if record.kind == 'lock':
            self._release(record)
        return pruned

    def prewrite(self, record):
        """Send the revision's new file contents to the history while Heat applies the plan.

        Called by the lock holder once Heat accepted the plan, before it
        waits: the blobs are content-addressed and written once, and stay
        unreferenced until :meth:`commit` writes the revision's document, so
        the wait hides the write (the whole plan on a first revision) and
        the commit after it sends the document alone.  Below
        ``PREWRITE_MIN_BYTES`` of new blobs nothing is sent here (one write
        after the wait is cheaper).  Best effort: on a failure the commit
        sends everything, as without it.  True if something was written.
        """
        name = (record.meta or {}).get('stack') or _stack_of(record)
        files = record.plan_files
        if record.kind != 'lock' or not files or name in self.prewritten:
            return False
        snap = self.snapshots.get(name)
        blobs = {}
        for value in files.values():
            digest = hist_mod.sha(value)
            if snap is None or not snap.has_blob(digest):
                blobs[hist_mod.blob_key(digest)] = value
        if hist_mod.files_bytes(blobs) < PREWRITE_MIN_BYTES:
            return False
        limit = _write_limit(files)
        try:
            if snap is None:
                blobs[hist_mod.FORMAT_KEY] = hist_mod.FORMAT_TEXT
                snap = self._create_history(name, blobs, limit)
                self.snapshots[name] = snap
            else:
                for piece in hist_mod.chunks(blobs, limit):
                    self._patch(snap.ident, piece)
                snap.add(blobs)
        except errors.HeatplanError as exc:
            LOG.debug('writing revision %d\'s files to the history ahead failed (the '
                      'commit sends them): %s', record.revision, exc)
            return False
        except Exception:   # never fail a deploy Heat is applying over an optimisation
            LOG.warning('writing revision %d\'s files to the history ahead failed (the '
                        'commit sends them)', record.revision, exc_info=True)
            return False
        self.prewritten[name] = True
        return True

    def _migrated(self, rec):
        files = self.driver.get_files(rec.ident)
        raw = files.pop(rec_mod.RECORD_FILE, None)
        try:
            meta = json.loads(raw) if raw else {}
        except ValueError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        meta.setdefault('digest', rec.digest)
        meta.setdefault('revision', rec.revision)
        outcome = rec_mod.FAILED if rec.status == rec_mod.FAILED else rec_mod.DEPLOYED
        return rec.revision, hist_mod.rev_doc(rec.revision, outcome, meta, files), files

    def _write(self, stack_name, docs, pruned, record=None):
        snap = self.snapshots.get(stack_name)
        new = hist_mod.write_files(snap, docs)
        for rev in pruned:
            new[hist_mod.pruned_key(rev)] = ''
        if self.prewritten.pop(stack_name, None) and snap is not None:
            # this deploy's own write of the blobs may still be applying
            self.driver.wait_for_stack(snap.ident, timeout=120, poll=0.2)
        if snap is None:
            self._create_history(stack_name, new)
        elif not self._compact(stack_name, snap, new, record):
            for piece in hist_mod.chunks(new, self.write_limit):
                self._patch(snap.ident, piece)
        self.snapshots.pop(stack_name, None)

    def _create_history(self, stack_name, new, limit=None):
        """Create the history stack holding ``new``; its :class:`~history.Snapshot`."""
        pieces = hist_mod.chunks(new, limit or self.write_limit)
        tags = [hist_mod.HISTORY_TAG, rec_mod.stack_tag(stack_name)]
        name = hist_mod.history_name(stack_name)
        try:
            created = self.driver.create_stack(
                name, {'template': hist_mod.TEMPLATE, 'files': pieces[0]}, tags=tags)
        except errors.HeatRejected as exc:
            snap = self._read_history(stack_name) if getattr(
                exc, 'status_code', None) == 409 else None
            if snap is None:
                raise
            # another process settling this revision created it a moment
            # ago: add to it (the same keys, the same values)
            for piece in pieces:
                self._patch(snap.ident, piece)
            snap.add(new)
            return snap
        ident = '%s/%s' % (name, created['id'])
        for piece in pieces[1:]:
            self.driver.wait_for_stack(ident, timeout=120, poll=0.2)
            self._patch(ident, piece)
        return hist_mod.Snapshot({'stack_name': name, 'id': created['id']}, dict(new))

    def _patch(self, ident, piece):
        """One PATCH of ``piece``; halved (documents in the second half) if Heat says too big."""
        try:
            self.driver.patch_files(ident, piece)
        except errors.HeatRejected as exc:
            if getattr(exc, 'status_code', None) != 413 or len(piece) < 2:
                raise
            keys = sorted(piece, key=lambda k: not k.startswith(hist_mod.BLOB_PREFIX))
            half = len(keys) // 2
            self._patch(ident, {k: piece[k] for k in keys[:half]})
            self._patch(ident, {k: piece[k] for k in keys[half:]})

    def _compact(self, stack_name, snap, new, record=None):
        """One full update dropping pruned revisions and unused blobs, when worth it.

        The one write that removes keys, so only under a lock that still
        stands: a settle that comes late (its lock settled and released by
        another process, and maybe a newer deploy writing its blobs ahead)
        only adds keys.
        """
        keep, garbage, live = hist_mod.compacted(snap, new)
        if garbage < COMPACT_MIN_BYTES or garbage < live // 2:
            return False
        size = sum(len(k) + len(v) for k, v in keep.items())
        if size > self.write_limit:
            return False
        if record is not None and record.kind == 'lock' and not self._lock_stands(record):
            return False
        self.driver.update_stack(snap.ident, {'template': hist_mod.TEMPLATE, 'files': keep},
                                 tags=[hist_mod.HISTORY_TAG, rec_mod.stack_tag(stack_name)])
        return True

    def _lock_stands(self, record):
        """The lock stack ``record`` (by id) is still there, not being deleted."""
        try:
            stack = self.driver.get_stack(record.ident)
        except errors.HeatplanError:
            return False
        return stack is not None and stack.get('stack_status') not in GONE and \
            not str(stack.get('stack_status', '')).startswith('DELETE')

    def _release(self, record):
        """Delete the lock stack, by id (never a newer lock of the same name).

        Not waited for: a lock being deleted holds nothing (every read
        leaves DELETE_IN_PROGRESS stacks out), and the next deploy's create
        of the name, refused while Heat finishes the delete, is retried.
        """
        try:
            self.driver.delete_stack(record.ident)
        except errors.HeatplanError:
            pass  # recover removes a lock left behind

    def delete(self, record, wait=False):
        """Remove one revision (format 2: mark it pruned) or a lock / format-1 record."""
        if record.kind == 'history':
            self.driver.patch_files(record.snapshot.ident,
                                    {hist_mod.pruned_key(record.revision): ''})
            return None
        return self.driver.delete_stack(record.ident, wait=wait)

    def delete_history(self, stack_name, records, wait=True):
        """Delete every stack holding ``stack_name``'s history; the revisions removed."""
        idents = set()
        for rec in list(records) + self.leftovers.get(stack_name, []):
            idents.add(rec.ident)
        for ident in sorted(idents):
            self.driver.delete_stack(ident)
        if wait:
            for ident in sorted(idents):
                self.driver.wait_for_stack(ident, timeout=300, poll=1.0)
        return [r.revision for r in records]


#: New file contents of at least this many bytes are written to the history
#: while Heat applies the plan (:meth:`Store.prewrite`), not after.
PREWRITE_MIN_BYTES = 256 * 1024


def _write_limit(plan_files):
    """Bytes of files one history write sends: Heat took this plan in one request."""
    return max(hist_mod.CHUNK_BYTES, hist_mod.files_bytes(plan_files) + 100 * len(plan_files))


#: Compaction runs when unreferenced history bytes exceed both this and
#: half the live bytes (so its full write is amortised over many deploys).
COMPACT_MIN_BYTES = 64 * 1024


def _stack_of(record):
    name = record.name
    for suffix in ('.history', '.lock'):
        if name.startswith('hp.') and name.endswith(suffix):
            return name[3:-len(suffix)]
    return name[3:].rsplit('.r', 1)[0]


def _derive_superseded(records):
    """Deployed revisions older than the newest deployed one are superseded."""
    applied = [r for r in records if r.status == rec_mod.DEPLOYED]
    for rec in applied[:-1]:
        rec.status = rec_mod.SUPERSEDED


def _to_prune(records, history_max, keep):
    """Revisions to prune so that at most ``history_max`` stay; never one in ``keep``."""
    if not history_max or history_max < 1:
        return []
    revs = sorted({r.revision for r in records})
    excess = len(revs) - history_max
    out = []
    for rev in revs:
        if excess <= 0:
            break
        if rev in keep:
            continue
        out.append(rev)
        excess -= 1
    return out


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


def settle(st, records, record, stack, history_max=None):
    """Set a pending revision's outcome from the stack's real state."""
    applied = rec_mod.held_revision(stack) == str(record.revision) and \
        status_of(stack) in APPLIED
    outcome = rec_mod.DEPLOYED if applied else rec_mod.FAILED
    if record.kind != 'legacy':
        st.commit(record, outcome, stack, history_max=history_max)
        return record.status
    if applied:
        for other in records:
            if other.kind == 'legacy' and other.status == rec_mod.DEPLOYED and \
                    other.revision != record.revision:
                st.set_status(other, rec_mod.SUPERSEDED)
    st.set_status(record, outcome)
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
    if rec.kind == 'lock' and (rec.meta or {}).get('settled_by_holder', True):
        # Its deploy is waiting for the stack and settles it within seconds
        # of the end: leave it that long, settle it only if it did not.
        st.sleep(HOLDER_SETTLES_WITHIN)
        if not st.holder_alive(rec):
            if info is not None:
                info('revision %d of %s was settled by its deploy' % (rec.revision,
                                                                      stack_name))
            return stack
    settle(st, records, rec, stack)
    if info is not None:
        info('settled revision %d of %s as %s' % (rec.revision, stack_name, rec.status))
    return stack


def prune(st, stack_name, history_max):
    """Remove the oldest revisions past ``history_max``; never the deployed or a pending one."""
    if not history_max or history_max < 1:
        return []
    records = st.records(stack_name)
    settled = [r for r in records if r.status != rec_mod.PENDING]
    keep = {r.revision for r in records if r.status in (rec_mod.DEPLOYED, rec_mod.PENDING)}
    revs = _to_prune(records, history_max, keep)
    removed = []
    for rec in settled:
        if rec.revision in revs:
            st.delete(rec)
            removed.append(rec.revision)
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
