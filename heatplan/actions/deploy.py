"""Deploy: the whole plan in one create/update call, behind guards.

Order of work (see doc/source/deploy.rst):

1. the plan was assembled and linted by the caller (errors stop before any
   network call);
2. read the stack and its revision records; refuse while another deploy holds
   the stack, while the stack is IN_PROGRESS, or when ``expect_revision``
   does not match;
3. unchanged digest -> "unchanged", no call (unless ``force``);
4. ``dry_run`` -> Heat validate + preview, no change;
5. update: Heat's update preview; replaced/deleted resources are refused
   unless allowed;
6. create the pending revision record (the lock), then ONE create or full PUT
   update carrying template, files, environment files, parameters and tags;
7. wait, reporting progress from events; settle the record.
"""

import dataclasses
import threading
import time

from heatplan import errors
from heatplan import store as store_mod
from heatplan.actions import apply
from heatplan.actions import guard
from heatplan.actions import preview as preview_mod
from heatplan.plan import assemble
from heatplan.plan import compare


@dataclasses.dataclass
class DeployOptions:
    stack: str
    tags: list = dataclasses.field(default_factory=list)
    timeout_mins: int = None
    disable_rollback: bool = True
    force: bool = False
    dry_run: bool = False
    allow_replace: bool = False
    allow_delete: bool = False
    #: go ahead when Heat could not preview every nested stack (see preview.py)
    allow_partial_preview: bool = False
    #: hidden parameters the deployed revision had a value for that this
    #: deploy may let go back to the template's default
    reset_hidden: list = dataclasses.field(default_factory=list)
    #: names given with --parameter (for messages)
    cli_parameters: list = dataclasses.field(default_factory=list)
    #: notes the caller has about the plan (e.g. -e replaced the manifest's list)
    notes: list = dataclasses.field(default_factory=list)
    yes: bool = False
    supersede: bool = False
    expect_revision: int = None
    wait: bool = True
    #: seconds to wait for Heat; None: the stack timeout plus WAIT_MARGIN
    wait_timeout: float = None
    #: seconds without a new event before the resources in progress are listed
    #: (None or 0: never)
    quiet_report: float = 120.0
    poll: float = 2.0
    history_max: int = 10
    action: str = 'deploy'
    meta: dict = dataclasses.field(default_factory=dict)
    #: resources the operation touches, known before its first event (set by
    #: deploy from the preview or the plan: the progress total)
    expected_resources: int = 0
    #: a reviewed change set's flattened preview, used instead of a second
    #: preview (set only when the stack has not changed since; see
    #: actions/changeset.py); the destruction guard still judges it
    reviewed_preview: dict = None


@dataclasses.dataclass
class DeployResult:
    outcome: str               # created | updated | unchanged | dry-run | accepted | failed
    stack: str
    digest: str
    revision: int = None
    status: str = None
    changes: object = None     # compare.PlanChanges against the deployed plan
    preview: dict = None       # resource changes (dry run)
    failures: list = dataclasses.field(default_factory=list)
    elapsed: float = 0.0
    messages: list = dataclasses.field(default_factory=list)
    #: body parameters an environment file's ``parameters:`` overrides: {name: file}
    shadowed: dict = dataclasses.field(default_factory=dict)
    #: False when Heat could not preview every nested stack
    preview_complete: bool = True
    #: what the stack was when previewed (dry run): for a change set
    base: dict = None

    def as_dict(self):
        out = dataclasses.asdict(self)
        out['changes'] = self.changes.as_dict() if self.changes is not None else None
        return out


class Reporter:
    """Where deploy reports what it does; the CLI prints, tests collect."""

    def info(self, message):
        pass

    def event(self, event):
        pass

    def progress(self, done, total, elapsed):
        pass

    def confirm(self, question):
        """Ask the user; None when nobody can be asked (not a terminal)."""
        return None

    def can_ask(self):
        """True when :meth:`confirm` may put a question to a person."""
        return False

    def note(self, message):
        """A warning or note, as soon as it is known (also in ``result.messages``)."""




def _validate_tags(tags):
    for tag in tags:
        if ',' in tag or not tag or len(tag) > store_mod.MAX_TAG:
            raise errors.UsageError(
                'tag %r is not valid: Heat tags are 1-%d characters without commas'
                % (tag, store_mod.MAX_TAG))
        if tag.startswith(store_mod.OWN_TAG_PREFIXES) or tag == store_mod.RECORD_TAG:
            raise errors.UsageError('tag %r uses a prefix heatplan reserves (hp-)' % tag)


def stack_tags(existing, user_tags, revision, digest):
    """User tags (kept from the stack, plus new ones) and heatplan's own."""
    tags = [t for t in existing
            if not t.startswith(store_mod.OWN_TAG_PREFIXES) and t != store_mod.RECORD_TAG]
    for tag in user_tags:
        if tag not in tags:
            tags.append(tag)
    tags.append(store_mod.STACK_REV_TAG + '%d' % revision)
    tags.append(store_mod.digest_tag(digest))
    return tags


def deployed_manifest(adapter, stack):
    """The heatplan manifest stored with a live stack, or None."""
    if stack is None:
        return None
    files = adapter.get_files('%s/%s' % (stack['stack_name'], stack['id']))
    raw = files.get(assemble.MANIFEST_KEY)
    if raw is None:
        return None
    from heatplan.plan import manifest as manifest_mod

    return manifest_mod.load_manifest(raw, 'the heatplan manifest of stack %s'
                                      % stack['stack_name'])


class _Flight:
    """Where a deploy is, for the message a Ctrl-C gets."""

    def __init__(self, stack):
        self.stack = stack
        self.phase = 'reading'      # reading | asking | locking | sending | applying | settling
        self.revision = None
        self.created = False        # the deploy creates the stack
        self.status = None          # how the stack ended (settling)

    def interrupted(self):
        name, rev = self.stack, self.revision
        recover = 'heatplan recover %s' % name
        if self.phase in ('reading', 'asking'):
            return errors.Interrupted(
                'nothing was sent: stack %s is unchanged and no revision was recorded' % name)
        if self.phase == 'locking':
            return errors.Interrupted(
                'interrupted while taking the deploy lock (the pending record of revision '
                '%d of %s); the plan was not sent: the stack is unchanged' % (rev, name),
                hint='run "%s --force" to release the lock (or wait %d s and run "%s"), '
                     'then deploy again' % (recover, store_mod.STALE_AFTER, recover))
        if self.phase == 'sending':
            return errors.Interrupted(
                'interrupted while sending revision %d to stack %s: Heat may or may not '
                'have taken it, and if it did it goes on with it' % (rev, name),
                hint='see "heatplan status %s"; "heatplan wait %s" follows it; once the '
                     'stack is no longer IN_PROGRESS (or after %d s), run "%s"'
                     % (name, name, store_mod.STALE_AFTER, recover))
        if self.phase == 'settling':
            return errors.Interrupted(
                'stack %s ended %s; interrupted while recording the outcome of revision %d'
                % (name, self.status, rev),
                hint='run "%s" to record it' % recover)
        what = 'creating' if self.created else 'updating'
        return errors.Interrupted(
            'heatplan stopped watching, but Heat goes on %s stack %s with revision %d '
            '(recorded as pending)' % (what, name, rev),
            hint='follow it with "heatplan wait %s" (or "heatplan events %s --follow"); '
                 'once the stack is no longer IN_PROGRESS run "%s" to record the outcome'
                 % (name, name, recover))


def deploy(adapter, plan, opts, reporter=None):
    """Deploy ``plan`` to ``opts.stack``; see the module doc for the order of work.

    Ctrl-C raises :class:`errors.Interrupted` saying what is in flight.
    """
    flight = _Flight(opts.stack)
    try:
        return _deploy(adapter, plan, opts, reporter or Reporter(), flight)
    except KeyboardInterrupt:
        raise flight.interrupted() from None


@dataclasses.dataclass
class _Run:
    """What one deploy read and decided, passed from phase to phase."""
    st: object
    stack: dict
    records: list
    next_rev: int
    current: object
    old_manifest: dict
    changes: object
    result: DeployResult
    tags: list = None
    ident: str = None
    record: object = None
    started: float = 0.0

    @property
    def held_text(self):
        held = store_mod.held_revision(self.stack)
        return 'revision %s' % held if held else (
            'its previous plan' if self.stack is not None else 'no stack yet')


def _deploy(adapter, plan, opts, reporter, flight):
    run = _prepare(adapter, plan, opts, reporter)
    if _unchanged_answer(run, plan, opts):
        return run.result
    _compare(adapter, run, plan)
    for message in opts.notes:
        guard.note(run.result, reporter, message)
    guard.report_shadowing(plan, opts, reporter, run.result, run.changes)
    if run.stack is not None:
        guard.check_hidden(run.old_manifest, plan, opts, reporter, run.result, run.current,
                           flight)
    run.tags = stack_tags(store_mod.tags_of(run.stack) if run.stack else [], opts.tags,
                          run.next_rev, plan.digest)
    if opts.dry_run:
        return _dry_run(adapter, run, plan, opts, reporter)
    if run.stack is not None:
        run.ident = _ident(run.stack)
        if reporter.can_ask() and not opts.yes:
            # The guard may wait for a person: never hold the lock meanwhile
            # (past 120 s a pending lock looks dead to other deploys).
            run.started += _guard(adapter, run, plan, opts, reporter, flight)
            _lock(run, plan, opts, flight)
        else:
            _guard_beside_lock(adapter, run, plan, opts, reporter, flight)
    else:
        _lock(run, plan, opts, flight)
    _send(adapter, run, plan, opts, flight)
    flight.phase = 'applying'
    opts.expected_resources = apply.expected_resources(run.result.preview, plan)
    reporter.info('%s %s: revision %d, %s' % (
        'creating' if run.result.outcome == 'created' else 'updating', opts.stack,
        run.next_rev, plan.digest))
    if not opts.wait:
        run.result.status = store_mod.status_of(adapter.get_stack(run.ident))
        run.result.outcome = 'accepted'
        run.result.elapsed = time.monotonic() - run.started
        return run.result
    return _settle(adapter, run, opts, reporter, flight)


def _ident(stack):
    return '%s/%s' % (stack['stack_name'], stack['id'])


def _prepare(adapter, plan, opts, reporter):
    """Read the stack and its records; refuse while locked; compare with the deployed plan."""
    started = time.monotonic()
    _validate_tags(opts.tags)
    st = store_mod.Store(adapter)
    stack = adapter.get_stack(opts.stack)
    if stack is not None and store_mod.status_of(stack) == 'DELETE_COMPLETE':
        stack = None
    fast = _unchanged_fast(st, stack, plan, opts)
    if fast is not None:
        return fast
    records = st.records(opts.stack)
    # The next revision is numbered from the same read the lock check used:
    # a deploy that took the lock after that read made record N, and this
    # one then fails to create record N too (Heat: 409) instead of taking
    # N+1 and running alongside.
    next_rev = (records[-1].revision if records else 0) + 1
    stack = store_mod.check_locks(st, records, stack, opts.stack, opts.supersede,
                                  reporter.info)
    if any(r.status == store_mod.PENDING for r in records):
        records = st.records(opts.stack)     # what check_locks settled
    deployed = [r for r in records if r.status == store_mod.DEPLOYED]
    current = deployed[-1] if deployed else None
    if opts.expect_revision is not None:
        have = current.revision if current else 0
        if have != opts.expect_revision:
            raise errors.RefusedError(
                'stack %s is at revision %s, not %d as expected'
                % (opts.stack, have if current else 'none (never deployed)',
                   opts.expect_revision),
                hint='review "heatplan history %s" and deploy again' % opts.stack)
    # An unchanged plan is decided on the digest alone (_unchanged_answer):
    # no files map read, no request body built; _compare reads them after.
    result = DeployResult('unchanged', opts.stack, plan.digest, changes=compare.PlanChanges())
    return _Run(st, stack, records, next_rev, current, None, result.changes, result,
                started=started)


def _unchanged_fast(st, stack, plan, opts):
    """The run of an unchanged plan, decided on the stack's tags without the history.

    The stack carries this plan's digest, is COMPLETE and no deploy holds
    its lock (one list call): nothing to do, and the history (its whole
    files map) is not read.  None when that is not certain.
    """
    held = store_mod.held_revision(stack)
    if stack is None or opts.force or opts.dry_run or not held or not held.isdigit() or \
            store_mod.held_digest(stack) != plan.digest.split(':', 1)[1] or \
            store_mod.status_of(stack) not in store_mod.APPLIED or \
            (opts.expect_revision is not None and opts.expect_revision != int(held)) or \
            st.lock_held(opts.stack):
        return None
    result = DeployResult('unchanged', opts.stack, plan.digest, changes=compare.PlanChanges())
    result.revision = int(held)
    result.status = store_mod.status_of(stack)
    current = store_mod.Record(stack['stack_name'], stack['id'], int(held),
                               store_mod.DEPLOYED, plan.digest, '', '', [])
    return _Run(st, stack, [current], int(held) + 1, current, None, result.changes, result,
                started=time.monotonic())


def _compare(adapter, run, plan):
    """The deployed plan's manifest, and what this plan changes against it."""
    run.old_manifest = deployed_manifest(adapter, run.stack)
    run.changes = compare.compare_manifests(run.old_manifest, plan.manifest)
    run.result.changes = run.changes


def _unchanged_answer(run, plan, opts):
    """True when the stack already runs this plan: nothing to do (the answer is set)."""
    stack = run.stack
    held_ok = not run.records or any(
        str(r.revision) == store_mod.held_revision(stack) and r.status == store_mod.DEPLOYED
        for r in run.records)
    if stack is None or opts.force or opts.dry_run or not held_ok or \
            store_mod.held_digest(stack) != plan.digest.split(':', 1)[1] or \
            store_mod.status_of(stack) not in store_mod.APPLIED:
        return False
    run.result.revision = run.current.revision if run.current else None
    run.result.status = store_mod.status_of(stack)
    return True


def _dry_run(adapter, run, plan, opts, reporter):
    """Heat's validate and preview of the request; nothing changes."""
    stack, result, digest = run.stack, run.result, store_mod.held_digest(run.stack)
    result.base = {
        'exists': stack is not None,
        'revision': run.current.revision if run.current else 0,
        'digest': ('sha256:' + digest) if digest else None,
        'stack_status': store_mod.status_of(stack) if stack else None,
        'updated_time': (stack.get('updated_time') or stack.get('creation_time'))
        if stack else None,
    }
    adapter.validate(plan.body)
    if stack is None:
        preview = adapter.preview_create(opts.stack, plan.body,
                                         disable_rollback=opts.disable_rollback)
        resources = preview.get('resources', []) if isinstance(preview, dict) else []
        result.preview = {'added': [guard.describe_change(r) for r in guard.flat(resources)]}
    else:
        seen = preview_mod.update_preview(adapter, _ident(stack), plan.body, tags=run.tags,
                                          disable_rollback=opts.disable_rollback)
        guard.preview_notes(seen, result, reporter)
        result.preview = guard.flatten_preview(seen.changes)
    result.outcome = 'dry-run'
    return result


def _guard(adapter, run, plan, opts, reporter, flight):
    """The update's preview judged by the destruction guard; the seconds spent asking."""
    result = run.result
    if opts.reviewed_preview is not None:
        # A reviewed change set, and nothing changed since its preview:
        # the reviewed changes are what this update makes.
        guard.note(result, reporter, 'the stack is as it was when the change set was '
                   'previewed: using its reviewed preview')
        result.preview, seen = opts.reviewed_preview, None
    elif not (opts.allow_replace and opts.allow_delete):
        # (both allowed: the preview could not refuse anything; skip it)
        seen = preview_mod.update_preview(adapter, run.ident, plan.body, tags=run.tags,
                                          disable_rollback=opts.disable_rollback)
        guard.preview_notes(seen, result, reporter)
        result.preview = guard.flatten_preview(
            seen.changes, guard.existing_resources(adapter, run.ident, seen.changes))
    else:
        return 0.0
    flight.phase = 'asking'
    asked = time.monotonic()
    guard.destruction_guard(result.preview, opts, reporter, seen)
    flight.phase = 'reading'
    return time.monotonic() - asked  # time at a prompt is not the deploy's


def _guard_beside_lock(adapter, run, plan, opts, reporter, flight):
    """The guard's preview, with the lock taken at the same time beside it.

    Both are requests Heat answers in a second or so; taking the lock
    cannot change the stack, and a guard that refuses (or a Ctrl-C)
    releases the lock again, so nothing is left behind.  A deploy refused
    for the lock has only made its preview in vain.
    """
    box = {}
    _ = plan.body      # built here, once (a lazy plan builds it on first use)

    def take():
        try:
            _lock(run, plan, opts, flight)
        except BaseException as exc:   # handed to the main thread below
            box['error'] = exc

    taker = threading.Thread(target=take, name='heatplan-lock', daemon=True)
    taker.start()
    try:
        run.started += _guard(adapter, run, plan, opts, reporter, flight)
    except BaseException:
        taker.join()
        if run.record is not None:
            run.st.release(run.record)
            run.record = None
            run.result.revision = None
        flight.phase = 'reading'
        raise
    taker.join()
    if 'error' in box:
        raise box['error']


def _lock(run, plan, opts, flight):
    """Create the pending record of the next revision: the deploy lock."""
    flight.revision = run.next_rev
    flight.phase = 'locking'
    try:
        run.record = run.st.create_pending(
            opts.stack, run.next_rev, plan.body, plan.digest,
            dict(opts.meta, action=opts.action, changes=run.changes.as_dict()),
            wait=opts.wait)
    except store_mod.Locked:
        raise
    except (errors.ConnectionFailed, errors.HeatRejected) as exc:
        raise type(exc)(
            '%s\ntaking the deploy lock (revision %d) failed, so nothing was sent to the '
            'stack: %s' % (exc.message, run.next_rev,
                           apply.unchanged(opts.stack, run.stack, run.held_text)),
            hint='a pending record may have been left behind: run "heatplan recover %s" '
                 '(after %d s), then deploy again' % (opts.stack, store_mod.STALE_AFTER))
    run.result.revision = run.next_rev


def _send(adapter, run, plan, opts, flight):
    """ONE create or full update carrying the whole plan."""
    flight.created = run.stack is None
    flight.phase = 'sending'
    try:
        if run.stack is None:
            created = adapter.create_stack(opts.stack, plan.body, tags=run.tags,
                                           timeout_mins=opts.timeout_mins,
                                           disable_rollback=opts.disable_rollback)
            run.ident = '%s/%s' % (opts.stack, created['id'])
            run.result.outcome = 'created'
        else:
            adapter.update_stack(run.ident, plan.body, tags=run.tags,
                                 timeout_mins=opts.timeout_mins,
                                 disable_rollback=opts.disable_rollback)
            run.result.outcome = 'updated'
    except errors.HeatRejected as exc:
        code = getattr(exc, 'status_code', None)
        if code is not None and code < 500:
            # Heat refused the request itself: nothing was applied.
            run.st.set_status_quietly(run.record, store_mod.FAILED)
            exc.message += '\nnothing was applied: %s; revision %d is recorded as failed' % (
                apply.unchanged(opts.stack, run.stack, run.held_text), run.next_rev)
            raise
        # A 5xx may come from a proxy, before or after Heat took the plan.
        raise apply.after_fault(adapter, run.st, run.record, opts, exc, run.held_text,
                                run.stack)
    except errors.ConnectionFailed as exc:
        raise apply.after_fault(adapter, run.st, run.record, opts, exc, run.held_text,
                                run.stack)


def _settle(adapter, run, opts, reporter, flight):
    """Wait for Heat, record the outcome, prune old records."""
    result, rev = run.result, run.next_rev
    # the plan's new contents go to the history while Heat applies it
    run.st.prewrite(run.record)
    try:
        status = apply.wait(adapter, run.ident, opts, reporter, run.started)
    except (errors.ConnectionFailed, errors.HeatRejected) as exc:
        raise type(exc)(
            '%s\nHeat accepted the plan (revision %d) and was applying it when heatplan '
            'lost contact while waiting' % (exc.message, rev),
            hint='follow the stack with "heatplan wait %s"; once it is no longer '
                 'IN_PROGRESS run "heatplan recover %s"' % (opts.stack, opts.stack))
    result.status = status
    result.elapsed = time.monotonic() - run.started
    flight.phase = 'settling'
    flight.status = status
    try:
        store_mod.settle(run.st, run.st.last_records.get(opts.stack) or [], run.record,
                         adapter.get_stack(run.ident), history_max=opts.history_max)
    except (errors.ConnectionFailed, errors.HeatRejected) as exc:
        what = 'the plan was applied' if status in store_mod.APPLIED else \
            'the stack carries revision %d but ended %s' % (rev, status)
        raise type(exc)(
            '%s\n%s, but recording the outcome in the history failed' % (exc.message, what),
            hint='run "heatplan recover %s" to settle revision %d' % (opts.stack, rev))
    if run.record.status != store_mod.DEPLOYED:
        result.failures = apply.failures(adapter, run.ident)
        result.outcome = 'failed'
    return result
