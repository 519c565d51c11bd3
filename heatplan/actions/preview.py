"""What an update would do, as the destruction guard needs to see it.

Heat's update preview with ``show_nested`` lists the changes in every nested
stack.  Heat 27 fails it (HTTP 400; a TypeError in ``format_stack_resource``
in heat.log) whenever a nested stack would gain a resource that owns a nested
stack itself: an ``OS::Heat::ResourceGroup`` of template resources growing is
the common case.  The top-level preview still works but shows the group as
"updated" only, hiding what happens inside it.

Then heatplan previews the existing nested stacks one by one:

1. the top level with ``show_nested`` off (exact for the top level);
2. a *create* preview of the new plan under a throwaway name: Heat evaluates
   every resource's properties, at every nesting level, in the new plan;
3. for each existing nested stack below a top-level resource the preview
   marks as updated: an update preview of that stack (``PUT
   /stacks/NAME/ID/preview``) with a template holding its resources as the
   new plan defines them (their evaluated properties; a resource owning a
   nested stack of its own is kept as it is and previewed at its own level).

That view is **partial** (properties that depend on other resources'
attributes are not known before they exist, and group members are matched by
name), so :class:`Preview` says ``complete=False`` and the guard asks for an
explicit ``--allow-partial-preview``; what it sees is still refused as usual.
"""

import dataclasses
import re
import uuid

import yaml

from heatplan import errors

_Loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
KINDS = ('added', 'deleted', 'replaced', 'updated', 'unchanged')
#: Heat's default max_nested_stack_depth.
MAX_DEPTH = 5


@dataclasses.dataclass
class Preview:
    changes: dict
    complete: bool = True
    notes: list = dataclasses.field(default_factory=list)
    heat_message: str = None     # Heat's whole answer when the full preview failed


def _empty():
    return {kind: [] for kind in KINDS}


def _well_formed(changes):
    return isinstance(changes, dict) and all(
        isinstance(changes.get(kind, []), list) for kind in KINDS) and \
        all(isinstance(i, dict) for kind in KINDS for i in changes.get(kind, []) or [])


def _merge(into, changes):
    for kind in KINDS:
        into[kind].extend((changes or {}).get(kind, []) or [])


_OWN_DATA = re.compile(r'\bwith id (\S+) not found|could not be found', re.I)


def damaged_or(exc, ident):
    """``exc``, or the error saying Heat fails on the stack's own stored data.

    The stack was just read, so a 404 (or a 500 naming a missing record)
    from its update preview means Heat cannot find something it stored for
    the stack or a nested stack, whatever the plan says.  Nothing is
    guessed: the message is Heat's own, and the ways out are choices.
    """
    code = getattr(exc, 'status_code', None)
    heat_message = getattr(exc, 'heat_message', None) or exc.message
    if not (code == 404 or (code == 500 and _OWN_DATA.search(heat_message or ''))):
        return exc
    name = ident.split('/')[0]
    lost = ' (Heat\'s message lost the id: Heat formats NotFound messages twice and ' \
        'shows "{}"; the engine log of a production Heat may have it)' \
        if '{}' in (heat_message or '') else ''
    damaged = errors.StackDamaged(
        'Heat cannot preview the update of stack %s: it fails on the stack\'s own stored '
        'data, not on the plan (HTTP %s: %s)%s.  Nothing was changed and no revision was '
        'recorded.' % (name, code, heat_message, lost),
        hint='Heat would most likely fail the update on the same data.  The ways out, '
             'each your explicit choice: (1) "heatplan delete %s", then deploy again '
             '(destroys the stack\'s resources); (2) repair Heat\'s records of the stack '
             '(heat.log or the engine log names the nested stack that fails); (3) deploy '
             'without the preview with --allow-replace --allow-delete (then nothing '
             'refuses replacements or deletions, and Heat may fail the same way: '
             '"heatplan recover %s" then records the failed revision)' % (name, name))
    damaged.status_code = code
    damaged.heat_type = getattr(exc, 'heat_type', None)
    damaged.heat_message = heat_message
    return damaged


def update_preview(adapter, ident, body, tags=None, disable_rollback=True):
    """The update's resource changes, nested stacks included; see the module doc."""
    kwargs = {'tags': tags, 'disable_rollback': disable_rollback}
    try:
        changes = adapter.preview_update(ident, body, show_nested=True, **kwargs)
    except errors.HeatRejected as exc:
        if getattr(exc, 'status_code', None) != 400:
            raise damaged_or(exc, ident)
        return _level_by_level(adapter, ident, body, kwargs, exc.message)
    if not _well_formed(changes):
        top = adapter.preview_update(ident, body, show_nested=False, **kwargs)
        result = Preview(_empty(), complete=False,
                         heat_message='unreadable answer: %r' % (changes,))
        _merge(result.changes, top if _well_formed(top) else {})
        result.notes.append('Heat answered the nested preview with something heatplan '
                            'cannot read; only the top level was previewed')
        return result
    return Preview(changes)


def _nested_ident(resource):
    for link in resource.get('links') or ():
        if link.get('rel') == 'nested':
            parts = link.get('href', '').rstrip('/').split('/')
            if 'stacks' in parts and len(parts) >= parts.index('stacks') + 3:
                i = parts.index('stacks')
                return '%s/%s' % (parts[i + 1], parts[i + 2])
    return None


def _created_levels(resources, out):
    """``{preview stack name: {resource name: item}}`` of a create preview's leaves."""
    for item in resources or ():
        if isinstance(item, list):
            _created_levels(item, out)
        elif isinstance(item, dict):
            out.setdefault(item.get('stack_name') or '', {})[item.get('resource_name')] = item
    return out


def _level_exists(levels, key):
    return key in levels or any(k.startswith(key + '-') for k in levels)


def _without_parameters(body):
    """Files whose environment files have no ``parameters:`` section.

    Those belong to the root template; sent with a nested stack's template
    Heat rejects them (UnknownUserParameter).
    """
    files = dict(body.get('files') or {})
    for key in body.get('environment_files') or ():
        try:
            env = yaml.load(files.get(key, ''), Loader=_Loader)  # noqa: S506 - safe
        except yaml.YAMLError:
            continue
        if isinstance(env, dict) and 'parameters' in env:
            env.pop('parameters')
            files[key] = yaml.safe_dump(env, default_flow_style=False)
    return files


def _level_by_level(adapter, ident, body, kwargs, heat_message):
    result = Preview(_empty(), complete=False, heat_message=heat_message)
    result.notes.append('Heat could not preview the nested stacks: %s' % heat_message)
    top = adapter.preview_update(ident, body, show_nested=False, **kwargs)
    if not _well_formed(top):
        result.notes.append('the top-level preview was unreadable too: %r' % (top,))
        return result
    _merge(result.changes, top)
    owners = [i.get('resource_name') for i in top.get('updated') or []]
    if not owners:
        result.notes.append('previewed the top level only (no updated resource owns a '
                            'nested stack)')
        return result
    throwaway = 'hp-preview-%s' % uuid.uuid4().hex[:12]
    try:
        created = adapter.preview_create(throwaway, body,
                                         disable_rollback=kwargs['disable_rollback'])
    except errors.HeatRejected as exc:
        result.notes.append('previewed the top level only: a create preview of the plan, '
                            'to read its nested definitions, failed too: %s' % exc.message)
        return result
    levels = _created_levels((created or {}).get('resources'), {})
    body_files = _without_parameters(body)
    top_resources = {r.get('resource_name'): r for r in adapter.list_resources(ident)}
    previewed = []
    matched = set()
    for owner in owners:
        nested = _nested_ident(top_resources.get(owner) or {})
        if nested:
            _preview_nested(adapter, nested, [owner], throwaway, levels, body, body_files,
                            kwargs, result, (previewed, matched), 1)
    # Leaves of nested stacks the update creates (a group's new members): added.
    stack_name = ident.split('/', 1)[0]
    for level, items in sorted(levels.items()):
        if level in matched or not any(level.startswith('%s-%s' % (throwaway, o))
                                       for o in owners):
            continue
        for item in items.values():
            result.changes['added'].append(dict(
                item, stack_name=stack_name + level[len(throwaway):]))
    result.notes.append(
        'previewed the top level and %d existing nested stack(s) one by one (%s); '
        'that view is partial: values that depend on resources not created yet are '
        'unknown, and group members are matched by name'
        % (len(previewed), ', '.join(previewed) or 'none'))
    return result


def _preview_nested(adapter, nested, path, throwaway, levels, body, files, kwargs, result,
                    seen, depth):
    previewed, matched = seen
    level = '-'.join([throwaway] + path)
    matched.add(level)
    current = adapter.list_resources(nested)
    if not _level_exists(levels, level):
        result.notes.append('nested stack %s (%s) has no counterpart in the new plan; '
                            'not previewed' % ('/'.join(path), nested))
        return
    new = levels.get(level, {})
    template = adapter.get_template(nested) or {}
    old_defs = template.get('resources') or {}
    resources = {}
    owners = []
    for r in current:
        name = r.get('resource_name')
        child = _nested_ident(r)
        if name in new:
            item = new[name]
            resources[name] = {'type': item.get('resource_type'),
                               'properties': item.get('properties') or {}}
        elif child and name in old_defs and _level_exists(levels, level + '-' + name):
            # Owns a nested stack: kept as it is here, previewed at its own level.
            resources[name] = old_defs[name]
            owners.append((name, child))
    for name, item in new.items():
        if name not in resources:
            resources[name] = {'type': item.get('resource_type'),
                               'properties': item.get('properties') or {}}
    level_body = {
        'template': {'heat_template_version': template.get('heat_template_version',
                                                           '2021-04-16'),
                     'resources': resources},
        'files': files,
        'environment_files': list(body.get('environment_files') or []),
        'parameters': {},
    }
    try:
        changes = adapter.preview_update(nested, level_body, show_nested=False, **kwargs)
    except errors.HeatRejected as exc:
        result.notes.append('could not preview nested stack %s: %s'
                            % ('/'.join(path), exc.message))
        return
    if not _well_formed(changes):
        result.notes.append('unreadable preview of nested stack %s' % '/'.join(path))
        return
    previewed.append('/'.join(path))
    kept = {name for name, _child in owners}
    for kind in KINDS:
        for item in changes.get(kind) or []:
            if item.get('resource_name') in kept and kind in ('updated', 'unchanged'):
                continue
            result.changes[kind].append(item)
    if depth >= MAX_DEPTH:
        return
    for name, child in owners:
        _preview_nested(adapter, child, path + [name], throwaway, levels, body, files,
                        kwargs, result, seen, depth + 1)
