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
import re
import time

from heatplan import assemble
from heatplan import compare
from heatplan import errors
from heatplan import precedence
from heatplan import preview as preview_mod
from heatplan import store as store_mod


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

    def note(self, message):
        """A warning or note, as soon as it is known (also in ``result.messages``)."""


IN_PROGRESS = '_IN_PROGRESS'
#: Stack statuses meaning the plan it carries was applied.  ROLLBACK_COMPLETE
#: is a failure: Heat went back to the old resources but kept the new tags.
APPLIED = ('CREATE_COMPLETE', 'UPDATE_COMPLETE')
#: A pending record younger than this may belong to a deploy still sending
#: its plan (between taking the lock and Heat accepting the update).
STALE_AFTER = 120.0


def _status(stack):
    return (stack or {}).get('stack_status') or ''


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
    tags.append('hp-rev=%d' % revision)
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


def _describe_change(item):
    name = item.get('resource_name', '?')
    rtype = item.get('resource_type', '')
    parent = item.get('stack_name') or ''
    path = '%s/%s' % (parent, name) if parent else name
    return '%s (%s)' % (path, rtype) if rtype else path


def _flatten_preview(changes, existing=None):
    """Resource changes as readable names.

    With ``existing`` (``{(stack, resource): physical id}``), replaced and
    deleted resources known to have never been created (present, with no
    physical id: a failed create) are reported as ``added`` instead: nothing
    is destroyed.  Anything not positively found counts as destructive.
    """
    out = {}
    for kind in ('added', 'deleted', 'replaced', 'updated', 'unchanged'):
        out[kind] = []
    for kind in out:
        for item in (changes or {}).get(kind, []) or []:
            key = (_stack_key(item.get('stack_name')), item.get('resource_name'))
            if existing is not None and kind in ('replaced', 'deleted') and \
                    existing.get(key, 'unknown') == '':
                if kind == 'replaced':
                    out['added'].append(_describe_change(item))
                continue
            out[kind].append(_describe_change(item))
    return out


def _existing_resources(adapter, ident, changes):
    """Physical ids of the resources a preview would replace or delete."""
    if not (changes or {}).get('replaced') and not (changes or {}).get('deleted'):
        return None
    existing = {}
    for r in adapter.list_resources(ident, nested_depth=5):
        key = (_stack_key(r.get('stack_name')), r.get('resource_name'))
        if key in existing and existing[key] != (r.get('physical_resource_id') or ''):
            existing[key] = 'ambiguous'
        else:
            existing[key] = r.get('physical_resource_id') or ''
    return existing


_NESTED_SUFFIX = re.compile(r'-[a-z0-9]{12}(?=-|$)')


def _stack_key(name):
    """A nested stack's name without Heat's random suffixes.

    Heat names nested stacks ``<parent>-<resource>-<12 random chars>``; an
    update preview names the ones it previews ``<parent>-<resource>``.
    """
    return _NESTED_SUFFIX.sub('', name or '')


def check_locks(st, records, stack, opts, reporter):
    """Refuse while another deploy holds ``opts.stack``; settle what is certain.

    ``stack`` was read before ``records``.  Returns the stack read to go on with.
    """
    pending = [r for r in records if r.status == store_mod.PENDING]
    if pending and not opts.supersede:
        rec = pending[-1]
        if IN_PROGRESS in _status(stack):
            raise st.locked_error(opts.stack, rec.revision, rec)
        held = store_mod.tag_value(store_mod.tags_of(stack), 'hp-rev=') if stack else None
        if held != str(rec.revision) and rec.age(st.adapter.server_now()) < STALE_AFTER:
            # Taken the lock moments ago; Heat may not have its plan yet.
            raise st.locked_error(opts.stack, rec.revision, rec)
        if held == str(rec.revision):
            # The stack carries this revision and is no longer in progress:
            # its outcome is certain once a second read agrees; settle it and go on.
            stack = confirm_read(st.adapter, stack)
            if stack is None or IN_PROGRESS in _status(stack) or \
                    store_mod.tag_value(store_mod.tags_of(stack), 'hp-rev=') != held:
                raise st.locked_error(opts.stack, rec.revision, rec)
            settle(st, records, rec, stack)
            reporter.info('settled revision %d of %s as %s'
                          % (rec.revision, opts.stack, rec.status))
        else:
            raise errors.RefusedError(
                'revision %d of %s is pending but the stack is not being updated '
                '(a deploy died before or while sending its plan)'
                % (rec.revision, opts.stack),
                hint='run "heatplan recover %s" to settle it' % opts.stack)
    if IN_PROGRESS in _status(stack) and not opts.supersede:
        if not pending:
            # The records, read after the stack, show no deploy holding it:
            # the update seen may have ended since (its deploy settled its
            # record in between).  Look again before refusing.
            fresh = confirm_read(st.adapter, stack)
            if fresh is not None and IN_PROGRESS not in _status(fresh):
                return fresh
            stack = fresh or stack
        raise errors.RefusedError(
            'stack %s is %s: an operation is running and Heat would silently '
            'supersede it' % (opts.stack, _status(stack)),
            hint='"heatplan wait %s" waits for it to finish; or pass --supersede to '
                 'deploy anyway' % opts.stack)
    return stack


def confirm_read(adapter, stack):
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
    return adapter.get_stack('%s/%s' % (stack['stack_name'], stack['id']))


def settle(st, records, record, stack):
    """Set a pending record's status from the stack's real state."""
    held = store_mod.tag_value(store_mod.tags_of(stack), 'hp-rev=') if stack else None
    status = _status(stack)
    if held == str(record.revision) and status in APPLIED:
        for other in records:
            if other.status == store_mod.DEPLOYED and other.revision != record.revision:
                st.set_status(other, store_mod.SUPERSEDED)
        st.set_status(record, store_mod.DEPLOYED)
    else:
        st.set_status(record, store_mod.FAILED)
    return record.status


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
                     'then deploy again' % (recover, STALE_AFTER, recover))
        if self.phase == 'sending':
            return errors.Interrupted(
                'interrupted while sending revision %d to stack %s: Heat may or may not '
                'have taken it, and if it did it goes on with it' % (rev, name),
                hint='see "heatplan status %s"; "heatplan wait %s" follows it; once the '
                     'stack is no longer IN_PROGRESS (or after %d s), run "%s"'
                     % (name, name, STALE_AFTER, recover))
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


def _note(result, reporter, message):
    result.messages.append(message)
    reporter.note(message)


def _parameter_place(plan, opts, name):
    if name in (opts.cli_parameters or ()):
        return '--parameter %s' % name
    d = plan.definition
    if d is None:
        return 'the recorded parameter %s' % name
    if name in d.parameter_files:
        return 'parameter file %s (%s)' % (name, d.parameter_files[name])
    if 'heatplan.yaml' in (d.origin or ''):
        return 'heatplan.yaml parameter %s' % name
    return 'parameter %s' % name


def hidden_not_given(old_manifest, body):
    """Hidden parameters the deployed plan had a value for and ``body`` gives none."""
    if not old_manifest or not old_manifest.get('hidden_parameters'):
        return []
    given = set(body.get('parameters') or {}) | precedence.environment_values(body)
    declared = precedence.declared(body)
    return sorted(name for name in old_manifest.get('hidden_parameters', [])
                  if name not in given and (declared is None or name in declared))


def missing_hidden_error(names, what, reset_flag=False):
    """The refusal for hidden values heatplan cannot supply (deploy and rollback)."""
    hint = 'pass them again: %s' % ' '.join('--parameter %s=...' % k for k in names)
    if reset_flag:
        hint += '; or let Heat reset them to the template default: %s' % ' '.join(
            '--reset-hidden %s' % k for k in names)
    return errors.RefusedError(
        '%s needs the value of hidden parameter(s) %s, which heatplan does not store'
        % (what, ', '.join(names)), hint=hint)


def _check_hidden(old_manifest, plan, opts, reporter, result, current, flight):
    missing = [n for n in hidden_not_given(old_manifest, plan.body)
               if n not in (opts.reset_hidden or ())]
    if not missing:
        return
    rev = 'revision %d' % current.revision if current else 'the deployed plan'
    text = ('hidden parameter(s) %s had a value in %s and this plan gives none: Heat '
            'would reset them to the template default' % (', '.join(missing), rev))
    if opts.dry_run:
        _note(result, reporter, 'warning: %s (deploy will refuse unless %s)' % (
            text, ' '.join('--reset-hidden %s' % n for n in missing)))
        return
    flight.phase = 'asking'
    answer = reporter.confirm(text + '.\nReset them?')
    flight.phase = 'reading'
    if answer:
        _note(result, reporter, 'hidden parameter(s) %s reset to the template default '
              '(confirmed)' % ', '.join(missing))
        return
    if answer is not None:
        raise errors.Aborted('aborted, nothing changed')
    raise missing_hidden_error(missing, 'stack %s (%s)' % (opts.stack, rev), reset_flag=True)


def _report_shadowing(plan, opts, reporter, result, changes):
    shadowed = precedence.shadowed(plan.body)
    result.shadowed = shadowed
    for name, env in sorted(shadowed.items()):
        _note(result, reporter,
              'warning: %s is overridden by the parameters: section of environment file '
              '%s: Heat uses the environment\'s value' % (_parameter_place(plan, opts, name),
                                                         env))
    if shadowed:
        # A value Heat will not use is no change: do not report one.
        changes.parameters = [n for n in changes.parameters if n not in shadowed]


def _deploy(adapter, plan, opts, reporter, flight):
    started = time.monotonic()
    _validate_tags(opts.tags)
    st = store_mod.Store(adapter)
    stack = adapter.get_stack(opts.stack)
    if stack is not None and _status(stack) == 'DELETE_COMPLETE':
        stack = None
    records = st.records(opts.stack)
    # The next revision is numbered from the same read the lock check used:
    # a deploy that took the lock after that read made record N, and this
    # one then fails to create record N too (Heat: 409) instead of taking
    # N+1 and running alongside.
    next_rev = (records[-1].revision if records else 0) + 1
    stack = check_locks(st, records, stack, opts, reporter)
    records = st.records(opts.stack)
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
    held_digest = store_mod.tag_value(store_mod.tags_of(stack), store_mod.STACK_DIGEST_TAG) \
        if stack else None
    held_rev = store_mod.tag_value(store_mod.tags_of(stack), 'hp-rev=') if stack else None
    held_ok = not records or any(str(r.revision) == held_rev and r.status == store_mod.DEPLOYED
                                 for r in records)
    if stack is not None and not opts.force and not opts.dry_run and \
            held_digest == plan.digest.split(':', 1)[1] and \
            _status(stack) in APPLIED and held_ok:
        # Decided on the digest alone: no files map read, no request body
        # built (the digest covers the plan's content, so nothing changed).
        result = DeployResult('unchanged', opts.stack, plan.digest,
                              changes=compare.PlanChanges())
        result.revision = current.revision if current else None
        result.status = _status(stack)
        return result
    old_manifest = deployed_manifest(adapter, stack)
    changes = compare.compare_manifests(old_manifest, plan.manifest)
    result = DeployResult('unchanged', opts.stack, plan.digest, changes=changes)

    for message in opts.notes:
        _note(result, reporter, message)
    _report_shadowing(plan, opts, reporter, result, changes)
    if stack is not None:
        _check_hidden(old_manifest, plan, opts, reporter, result, current, flight)

    body = plan.body
    tags = stack_tags(store_mod.tags_of(stack) if stack else [], opts.tags, next_rev,
                      plan.digest)

    if opts.dry_run:
        result.base = {
            'exists': stack is not None,
            'revision': current.revision if current else 0,
            'digest': ('sha256:' + held_digest) if held_digest else None,
            'stack_status': _status(stack) if stack else None,
            'updated_time': (stack.get('updated_time') or stack.get('creation_time'))
            if stack else None,
        }
        adapter.validate(body)
        if stack is None:
            preview = adapter.preview_create(opts.stack, body,
                                             disable_rollback=opts.disable_rollback)
            resources = preview.get('resources', []) if isinstance(preview, dict) else []
            result.preview = {'added': [_describe_change(r) for r in _flat(resources)]}
        else:
            ident = '%s/%s' % (stack['stack_name'], stack['id'])
            seen = preview_mod.update_preview(adapter, ident, body, tags=tags,
                                              disable_rollback=opts.disable_rollback)
            _preview_notes(seen, result, reporter)
            result.preview = _flatten_preview(seen.changes)
        result.outcome = 'dry-run'
        return result

    if stack is not None:
        ident = '%s/%s' % (stack['stack_name'], stack['id'])
        if opts.reviewed_preview is not None:
            # A reviewed change set, and nothing changed since its preview:
            # the reviewed changes are what this update makes.
            _note(result, reporter, 'the stack is as it was when the change set was '
                  'previewed: using its reviewed preview')
            result.preview = opts.reviewed_preview
            flight.phase = 'asking'
            asked = time.monotonic()
            _destruction_guard(opts.reviewed_preview, opts, reporter)
            started += time.monotonic() - asked  # time at a prompt is not the deploy's
            flight.phase = 'reading'
        elif not (opts.allow_replace and opts.allow_delete):
            # (both allowed: the preview could not refuse anything; skip it)
            seen = preview_mod.update_preview(adapter, ident, body, tags=tags,
                                              disable_rollback=opts.disable_rollback)
            _preview_notes(seen, result, reporter)
            preview = _flatten_preview(seen.changes,
                                       _existing_resources(adapter, ident, seen.changes))
            result.preview = preview
            flight.phase = 'asking'
            asked = time.monotonic()
            _destruction_guard(preview, opts, reporter, seen)
            started += time.monotonic() - asked  # time at a prompt is not the deploy's
            flight.phase = 'reading'

    held_text = 'revision %s' % held_rev if held_rev else (
        'its previous plan' if stack is not None else 'no stack yet')
    flight.revision = next_rev
    flight.phase = 'locking'
    try:
        record = st.create_pending(opts.stack, next_rev, body, plan.digest,
                                   dict(opts.meta, action=opts.action,
                                        changes=changes.as_dict()))
    except store_mod.Locked:
        raise
    except (errors.ConnectionFailed, errors.HeatRejected) as exc:
        raise type(exc)(
            '%s\ntaking the deploy lock (revision %d) failed, so nothing was sent to the '
            'stack: %s' % (exc.message, next_rev, _unchanged(opts.stack, stack, held_text)),
            hint='a pending record may have been left behind: run "heatplan recover %s" '
                 '(after %d s), then deploy again' % (opts.stack, STALE_AFTER))
    result.revision = next_rev
    flight.created = stack is None
    flight.phase = 'sending'
    try:
        if stack is None:
            created = adapter.create_stack(opts.stack, body, tags=tags,
                                           timeout_mins=opts.timeout_mins,
                                           disable_rollback=opts.disable_rollback)
            ident = '%s/%s' % (opts.stack, created['id'])
            result.outcome = 'created'
        else:
            adapter.update_stack(ident, body, tags=tags, timeout_mins=opts.timeout_mins,
                                 disable_rollback=opts.disable_rollback)
            result.outcome = 'updated'
    except errors.HeatRejected as exc:
        code = getattr(exc, 'status_code', None)
        if code is not None and code < 500:
            # Heat refused the request itself: nothing was applied.
            _set_status_quietly(st, record, store_mod.FAILED)
            exc.message += '\nnothing was applied: %s; revision %d is recorded as failed' % (
                _unchanged(opts.stack, stack, held_text), next_rev)
            raise
        # A 5xx may come from a proxy, before or after Heat took the plan.
        raise _after_fault(adapter, st, record, opts, exc, held_text, stack)
    except errors.ConnectionFailed as exc:
        raise _after_fault(adapter, st, record, opts, exc, held_text, stack)
    flight.phase = 'applying'
    opts.expected_resources = _expected_resources(result.preview, plan)
    reporter.info('%s %s: revision %d, %s' % (
        'creating' if result.outcome == 'created' else 'updating', opts.stack, next_rev,
        plan.digest))
    if not opts.wait:
        result.status = _status(adapter.get_stack(ident))
        result.outcome = 'accepted'
        result.elapsed = time.monotonic() - started
        return result
    try:
        status = wait(adapter, ident, opts, reporter, started)
    except (errors.ConnectionFailed, errors.HeatRejected) as exc:
        raise type(exc)(
            '%s\nHeat accepted the plan (revision %d) and was applying it when heatplan '
            'lost contact while waiting' % (exc.message, next_rev),
            hint='follow the stack with "heatplan wait %s"; once it is no longer '
                 'IN_PROGRESS run "heatplan recover %s"' % (opts.stack, opts.stack))
    result.status = status
    result.elapsed = time.monotonic() - started
    flight.phase = 'settling'
    flight.status = status
    try:
        records = st.records(opts.stack)
        settle(st, records, record, adapter.get_stack(ident))
    except (errors.ConnectionFailed, errors.HeatRejected) as exc:
        what = 'the plan was applied' if status in APPLIED else \
            'the stack carries revision %d but ended %s' % (next_rev, status)
        raise type(exc)(
            '%s\n%s, but recording the outcome in the history failed' % (exc.message, what),
            hint='run "heatplan recover %s" to settle revision %d' % (opts.stack, next_rev))
    if record.status != store_mod.DEPLOYED:
        result.failures = failures(adapter, ident)
        result.outcome = 'failed'
        return result
    try:
        prune(st, opts.stack, opts.history_max)
    except errors.HeatplanError as exc:  # the deploy itself succeeded
        reporter.info('warning: pruning old revision records failed: %s'
                      % exc.message.splitlines()[0])
    return result


def _unchanged(name, stack, held_text):
    """'the stack is unchanged (...)', or that there is still no stack."""
    if stack is None:
        return 'there is still no stack %s' % name
    return 'the stack is unchanged (%s)' % held_text


def _expected_resources(preview, plan):
    """How many resources the operation touches, known before its first event.

    From the update preview (added, updated, replaced, deleted, nested ones
    included as far as Heat showed them); for a create, the resources of the
    root template and of each nested template it names (a group counted as
    one member: a lower bound the events may raise).
    """
    if preview:
        return sum(len(preview.get(k) or []) for k in ('added', 'updated', 'replaced',
                                                       'deleted'))
    try:
        import yaml

        loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
        files = plan.body.get('files') or {}

        def count(text, depth=0):
            tmpl = yaml.load(text, Loader=loader) if isinstance(text, str) else None
            resources = (tmpl or {}).get('resources') or {} if isinstance(tmpl, dict) else {}
            n = 0
            for rdef in resources.values():
                n += 1
                rtype = rdef.get('type') if isinstance(rdef, dict) else None
                if depth < 5 and isinstance(rtype, str) and rtype in files:
                    n += count(files[rtype], depth + 1)
            return n
        return count(plan.body.get('template'))
    except Exception:  # a count for the display only: never fail a deploy on it
        return 0


def _set_status_quietly(st, record, status):
    try:
        st.set_status(record, status)
    except errors.HeatplanError:
        pass  # recover settles it later


def _preview_notes(seen, result, reporter):
    result.preview_complete = seen.complete
    for note in seen.notes:
        _note(result, reporter, 'note: ' + note)


def _flat(resources):
    for item in resources or []:
        if isinstance(item, list):
            yield from _flat(item)
        else:
            yield item


def _destruction_guard(preview, opts, reporter, seen=None):
    """Refuse replacements, deletions and a partial preview unless allowed.

    ``seen`` (a :class:`preview.Preview`) not complete: heatplan cannot see
    every resource the update touches, which needs --allow-partial-preview
    (or both --allow-replace and --allow-delete, which skip the preview).
    """
    problems = []
    if preview['replaced'] and not opts.allow_replace:
        problems.append(('replaced', preview['replaced'], '--allow-replace'))
    if preview['deleted'] and not opts.allow_delete:
        problems.append(('deleted', preview['deleted'], '--allow-delete'))
    partial = seen is not None and not seen.complete and not opts.allow_partial_preview
    if not problems and not partial:
        return
    lines = []
    for kind, names, _flag in problems:
        lines.append('%d resource(s) would be %s:' % (len(names), kind))
        lines.extend('  %s' % n for n in names)
    if partial:
        lines.append('heatplan cannot see every resource this update touches, so more may '
                     'be replaced or deleted:')
        lines.extend('  %s' % n for n in seen.notes)
    text = '\n'.join(lines)
    if opts.yes and not partial:
        reporter.info(text + '\n(--yes given: going ahead)')
        return
    answer = reporter.confirm(text + '\nGo ahead?')
    if answer:
        return
    if answer is not None:
        raise errors.Aborted('aborted, nothing changed')
    flags = [f for _k, _n, f in problems]
    if partial:
        flags.append('--allow-partial-preview')
    what = 'the update would destroy resources' if problems else \
        'the update preview is incomplete'
    hint = 'pass %s if that is what you want' % ' and '.join(flags)
    if problems and not partial:
        hint = 'pass %s (or --yes) if that is what you want' % ' and '.join(flags)
    elif partial and not problems:
        hint += ' (--allow-replace and --allow-delete together accept any change)'
    raise errors.RefusedError('%s:\n%s' % (what, text), hint=hint)


def _never_sent(exc):
    """True when the request certainly never reached anyone (connection refused)."""
    text = exc.message.lower()
    return isinstance(exc, errors.ConnectionFailed) and (
        'connection refused' in text or 'errno 111' in text)


def _heat_answered(exc):
    """True for a 500 Heat's API itself answered (its JSON names the error type).

    A gateway's 502/503/504 (or its HTML page) may come before or after Heat
    took the request.  Heat answers an RPC timeout (``MessagingTimeout``)
    with a 500 too, but the engine may still take the request: that one
    proves nothing either.
    """
    kind = getattr(exc, 'heat_type', None) or ''
    return isinstance(exc, errors.HeatRejected) and \
        getattr(exc, 'status_code', None) == 500 and bool(kind) and \
        'timeout' not in kind.lower()


def _after_fault(adapter, st, record, opts, exc, held_text='its previous plan', before=None):
    """The create/update call failed in transit: find out whether Heat took it.

    Only a refused connection, or Heat's own error answer followed by a read
    showing the stack without the plan and not in progress, proves the plan
    was not taken; then the record is settled as failed (the lock is
    released).  After a timeout, a dropped connection or a proxy's 5xx the
    request may have reached Heat, or may still: the record stays pending for
    ``recover``.
    """
    cls = type(exc)
    try:
        stack = adapter.get_stack(opts.stack)
        if stack is not None and _heat_answered(exc):
            stack = confirm_read(adapter, stack)   # a read Heat cannot have torn
    except errors.HeatplanError:
        return cls(
            '%s\nthe plan may or may not have been accepted: Heat cannot be reached to '
            'check' % exc.message,
            hint='when Heat is back, run "heatplan recover %s"' % opts.stack)
    held = store_mod.tag_value(store_mod.tags_of(stack), 'hp-rev=') if stack else None
    if held == str(record.revision):
        return cls(
            '%s\nHeat accepted the plan (the stack carries revision %d) and is applying it'
            % (exc.message, record.revision),
            hint='follow it with "heatplan wait %s"; once it is no longer '
                 'IN_PROGRESS run "heatplan recover %s"' % (opts.stack, opts.stack))
    if _never_sent(exc):
        _set_status_quietly(st, record, store_mod.FAILED)
        return cls(
            '%s\nthe request was not sent: Heat did not take the plan and %s'
            % (exc.message, _unchanged(opts.stack, before, held_text)),
            hint='deploy again when Heat is reachable')
    same_stack = (stack is None and before is None) or (
        stack is not None and before is not None and stack.get('id') == before.get('id'))
    if _heat_answered(exc) and same_stack and IN_PROGRESS not in _status(stack):
        # Heat itself answered with an error and the stack, read after that
        # answer, neither carries the plan nor is being changed: nothing runs.
        _set_status_quietly(st, record, store_mod.FAILED)
        return cls(
            '%s\nHeat answered with its own error and did not take the plan: %s; '
            'revision %d is recorded as failed and the stack is free to deploy'
            % (exc.message, _unchanged(opts.stack, before, held_text), record.revision),
            hint='deploy again (see heat.log or the Heat API log for the cause)')
    now = 'there was no stack %s yet' % opts.stack if stack is None else \
        'the stack still had %s' % held_text
    return cls(
        '%s\nwhen heatplan checked, Heat had not started on the plan (%s); the request '
        'may or may not still reach it' % (exc.message, now),
        hint='run "heatplan recover %s" after %d s to settle revision %d, then deploy again'
        % (opts.stack, STALE_AFTER, record.revision))


#: Seconds between two polls of a deploy's events (progress lines).
EVENTS_EVERY = 1.0
#: Seconds waited beyond the stack timeout by default (Heat fails the stack
#: at its timeout; the margin lets that failure arrive).
WAIT_MARGIN = 60
#: The stack timeout Heat applies when none is given (minutes).
HEAT_TIMEOUT_MINS = 60


def wait_timeout(opts):
    """Seconds to wait: ``--wait-timeout``, else the stack timeout plus the margin."""
    if opts.wait_timeout is not None:
        return opts.wait_timeout
    return (opts.timeout_mins or HEAT_TIMEOUT_MINS) * 60 + WAIT_MARGIN


def timed_out(stack_name, status, seconds, what='the operation'):
    """The error for a wait that gave up: what goes on, and how to follow it."""
    return errors.DeployTimedOut(
        'stack %s still %s after %d s: heatplan stopped waiting, but %s goes on in Heat'
        % (stack_name, status, seconds, what),
        hint='follow it with "heatplan wait %s" (or "heatplan events %s --follow"); '
             'once it is no longer IN_PROGRESS, "heatplan recover %s" records the outcome'
             % (stack_name, stack_name, stack_name))


def wait(adapter, ident, opts, reporter, started):
    from heatplan import progress

    timeout = wait_timeout(opts)
    watcher = progress.EventWatcher(adapter, ident, reporter, started,
                                    expected=opts.expected_resources)
    watcher.prime()
    quiet = progress.QuietReport(adapter, ident, reporter, opts.quiet_report)
    deadline = time.monotonic() + timeout
    delay = 0.2
    rollback_grace = None
    events_due = 0.0
    while True:
        stack = adapter.get_stack(ident)
        if time.monotonic() >= events_due:
            # Listing the events of every nested stack costs Heat far more
            # than a stack GET (tens of ms on a 1,000-file plan, growing with
            # the plan): at most once per EVENTS_EVERY seconds, and at the end.
            if watcher.poll():
                quiet.heard()
            events_due = time.monotonic() + max(opts.poll, EVENTS_EVERY)
        status = _status(stack)
        if stack is None:
            return 'DELETE_COMPLETE'
        if status.endswith(('_COMPLETE', '_FAILED')):
            if not opts.disable_rollback and status in ('CREATE_FAILED', 'UPDATE_FAILED'):
                # With rollback enabled, Heat goes on to ROLLBACK_*: wait for it
                # (for a short while, in case Heat does not roll back).
                if rollback_grace is None:
                    rollback_grace = time.monotonic() + 15
                if time.monotonic() < rollback_grace:
                    watcher.sleep(delay)
                    continue
            watcher.poll()
            return status
        if time.monotonic() > deadline:
            raise timed_out(opts.stack, status, timeout, 'the %s' % (
                'rollback' if opts.action == 'rollback' else 'deploy'
                if opts.action in ('deploy', 'apply') else 'operation'))
        quiet.check()
        watcher.sleep(min(delay, max(0.0, deadline - time.monotonic()) + 0.01))
        delay = min(opts.poll, delay * 1.5)


def failures(adapter, ident):
    """Failed resources, deepest first, with their status reasons."""
    try:
        resources = adapter.list_resources(ident, nested_depth=5)
    except errors.HeatplanError:
        return []
    failed = [r for r in resources if (r.get('resource_status') or '').endswith('FAILED')]

    # A nested stack's name extends its parent's: longer name, deeper stack.
    failed.sort(key=lambda r: -len(r.get('stack_name') or ''))
    return [{'resource': r.get('resource_name'), 'type': r.get('resource_type'),
             'stack': r.get('stack_name', ''), 'status': r.get('resource_status'),
             'reason': r.get('resource_status_reason')} for r in failed]


def prune(st, stack_name, history_max):
    """Delete the oldest records past ``history_max``; never the deployed one."""
    if not history_max or history_max < 1:
        return []
    records = st.records(stack_name)
    deployed = [r for r in records if r.status == store_mod.DEPLOYED]
    keep_id = deployed[-1].id if deployed else None
    excess = len(records) - history_max
    removed = []
    for rec in records:
        if excess <= 0:
            break
        if rec.id == keep_id or rec.status == store_mod.PENDING:
            continue
        st.delete(rec)
        removed.append(rec.revision)
        excess -= 1
    return removed
