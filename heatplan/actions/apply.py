"""Deploy's send and wait: after the lock, one create or update, then its outcome.

What a failure in transit proves (:func:`after_fault`), the wait with
progress (:func:`wait`), and the failures reported at the end.
"""

import time

from heatplan import errors
from heatplan import store as store_mod
from heatplan.heat import faults
from heatplan.heat import waiting


def unchanged(name, stack, held_text):
    """'the stack is unchanged (...)', or that there is still no stack."""
    if stack is None:
        return 'there is still no stack %s' % name
    return 'the stack is unchanged (%s)' % held_text


def expected_resources(preview, plan):
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


def after_fault(adapter, st, record, opts, exc, held_text='its previous plan', before=None):
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
        if stack is not None and faults.heat_answered(exc):
            stack = store_mod.confirm_read(adapter, stack)   # a read Heat cannot have torn
    except errors.HeatplanError:
        return cls(
            '%s\nthe plan may or may not have been accepted: Heat cannot be reached to '
            'check' % exc.message,
            hint='when Heat is back, run "heatplan recover %s"' % opts.stack)
    held = store_mod.held_revision(stack)
    if held == str(record.revision):
        return cls(
            '%s\nHeat accepted the plan (the stack carries revision %d) and is applying it'
            % (exc.message, record.revision),
            hint='follow it with "heatplan wait %s"; once it is no longer '
                 'IN_PROGRESS run "heatplan recover %s"' % (opts.stack, opts.stack))
    if faults.never_sent(exc):
        st.set_status_quietly(record, store_mod.FAILED)
        return cls(
            '%s\nthe request was not sent: Heat did not take the plan and %s'
            % (exc.message, unchanged(opts.stack, before, held_text)),
            hint='deploy again when Heat is reachable')
    same_stack = (stack is None and before is None) or (
        stack is not None and before is not None and stack.get('id') == before.get('id'))
    if faults.heat_answered(exc) and same_stack and not store_mod.in_progress(stack):
        # Heat itself answered with an error and the stack, read after that
        # answer, neither carries the plan nor is being changed: nothing runs.
        st.set_status_quietly(record, store_mod.FAILED)
        return cls(
            '%s\nHeat answered with its own error and did not take the plan: %s; '
            'revision %d is recorded as failed and the stack is free to deploy'
            % (exc.message, unchanged(opts.stack, before, held_text), record.revision),
            hint='deploy again (see heat.log or the Heat API log for the cause)')
    now = 'there was no stack %s yet' % opts.stack if stack is None else \
        'the stack still had %s' % held_text
    return cls(
        '%s\nwhen heatplan checked, Heat had not started on the plan (%s); the request '
        'may or may not still reach it' % (exc.message, now),
        hint='run "heatplan recover %s" after %d s to settle revision %d, then deploy again'
        % (opts.stack, store_mod.STALE_AFTER, record.revision))


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
    from heatplan.actions import progress

    timeout = wait_timeout(opts)
    watcher = progress.EventWatcher(adapter, ident, reporter, started,
                                    expected=opts.expected_resources)
    watcher.prime()
    quiet = progress.QuietReport(adapter, ident, reporter, opts.quiet_report)
    events_due = [0.0]
    rollback_grace = []

    def on_read(stack):
        if time.monotonic() >= events_due[0]:
            # Listing the events of every nested stack costs Heat far more
            # than a stack GET (tens of ms on a 1,000-file plan, growing with
            # the plan): at most once per EVENTS_EVERY seconds, and at the end.
            if watcher.poll():
                quiet.heard()
            events_due[0] = time.monotonic() + max(opts.poll, EVENTS_EVERY)
        if not store_mod.status_of(stack).endswith(waiting.TERMINAL_SUFFIXES):
            quiet.check()

    def keep_waiting(status):
        # With rollback enabled, Heat goes on to ROLLBACK_*: wait for it (for
        # a short while, in case Heat does not roll back).
        if opts.disable_rollback or status not in ('CREATE_FAILED', 'UPDATE_FAILED'):
            return False
        if not rollback_grace:
            rollback_grace.append(time.monotonic() + 15)
        return time.monotonic() < rollback_grace[0]

    def too_long(status):
        return timed_out(opts.stack, status, timeout, 'the %s' % (
            'rollback' if opts.action == 'rollback' else 'deploy'
            if opts.action in ('deploy', 'apply') else 'operation'))

    status = waiting.until_over(lambda: adapter.get_stack(ident), timeout, too_long,
                                poll=opts.poll, sleep=watcher.sleep, on_read=on_read,
                                keep_waiting=keep_waiting)
    watcher.final()
    return status


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
