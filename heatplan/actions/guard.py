"""Deploy's guards: what the update would change, judged before anything is sent.

The destruction guard (replaced or deleted resources, a partial preview),
hidden values the plan would reset, parameters an environment file
shadows; and the preview's changes as readable names.  See
doc/source/deploy.rst.
"""


from heatplan import errors
from heatplan.heat import events as events_mod
from heatplan.plan import precedence


def describe_change(item):
    name = item.get('resource_name', '?')
    rtype = item.get('resource_type', '')
    parent = item.get('stack_name') or ''
    path = '%s/%s' % (parent, name) if parent else name
    return '%s (%s)' % (path, rtype) if rtype else path


def flatten_preview(changes, existing=None):
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
            key = (events_mod.stack_key(item.get('stack_name')), item.get('resource_name'))
            if existing is not None and kind in ('replaced', 'deleted') and \
                    existing.get(key, 'unknown') == '':
                if kind == 'replaced':
                    out['added'].append(describe_change(item))
                continue
            out[kind].append(describe_change(item))
    return out


def existing_resources(adapter, ident, changes):
    """Physical ids of the resources a preview would replace or delete."""
    if not (changes or {}).get('replaced') and not (changes or {}).get('deleted'):
        return None
    existing = {}
    for r in adapter.list_resources(ident, nested_depth=5):
        key = (events_mod.stack_key(r.get('stack_name')), r.get('resource_name'))
        if key in existing and existing[key] != (r.get('physical_resource_id') or ''):
            existing[key] = 'ambiguous'
        else:
            existing[key] = r.get('physical_resource_id') or ''
    return existing




def note(result, reporter, message):
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


def check_hidden(old_manifest, plan, opts, reporter, result, current, flight):
    missing = [n for n in hidden_not_given(old_manifest, plan.body)
               if n not in (opts.reset_hidden or ())]
    if not missing:
        return
    rev = 'revision %d' % current.revision if current else 'the deployed plan'
    text = ('hidden parameter(s) %s had a value in %s and this plan gives none: Heat '
            'would reset them to the template default' % (', '.join(missing), rev))
    if opts.dry_run:
        note(result, reporter, 'warning: %s (deploy will refuse unless %s)' % (
            text, ' '.join('--reset-hidden %s' % n for n in missing)))
        return
    flight.phase = 'asking'
    answer = reporter.confirm(text + '.\nReset them?')
    flight.phase = 'reading'
    if answer:
        note(result, reporter, 'hidden parameter(s) %s reset to the template default '
              '(confirmed)' % ', '.join(missing))
        return
    if answer is not None:
        raise errors.Aborted('aborted, nothing changed')
    raise missing_hidden_error(missing, 'stack %s (%s)' % (opts.stack, rev), reset_flag=True)


def report_shadowing(plan, opts, reporter, result, changes):
    shadowed = precedence.shadowed(plan.body)
    result.shadowed = shadowed
    for name, env in sorted(shadowed.items()):
        note(result, reporter,
              'warning: %s is overridden by the parameters: section of environment file '
              '%s: Heat uses the environment\'s value' % (_parameter_place(plan, opts, name),
                                                         env))
    if shadowed:
        # A value Heat will not use is no change: do not report one.
        changes.parameters = [n for n in changes.parameters if n not in shadowed]


def preview_notes(seen, result, reporter):
    result.preview_complete = seen.complete
    for text in seen.notes:
        note(result, reporter, 'note: ' + text)


def flat(resources):
    for item in resources or []:
        if isinstance(item, list):
            yield from flat(item)
        else:
            yield item


def destruction_guard(preview, opts, reporter, seen=None):
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
