"""Change sets: a dry run saved for review, then applied exactly (``deploy --save``, ``apply``).

CloudFormation's create / review / execute, for heatplan:

* ``heatplan deploy SOURCE --stack S --dry-run --save FILE`` writes what was
  previewed: the plan's digest, the full request (hidden values left out),
  the stack's revision, digest, status and update time at preview time, and
  the resource changes;
* ``heatplan changeset show FILE`` renders it for a reviewer;
* ``heatplan apply FILE`` sends exactly that plan, and only if the stack is
  still at the previewed revision and digest and the plan is unchanged (every
  file is checked against the manifest's sha256, the digest recomputed).  It
  skips the second preview only when nothing could have changed (same
  revision, digest, status and update time, and a complete preview);
  otherwise it previews again, as deploy does.  The destruction guard judges
  the changes either way (``--allow-replace``, ``--allow-delete``, ``--yes``).
"""

import datetime
import json

from heatplan import errors
from heatplan import output
from heatplan import secrets
from heatplan import store as store_mod
from heatplan.actions import rollback as rollback_action
from heatplan.plan import assemble
from heatplan.plan import manifest as manifest_mod

FORMAT = 1
KEY = 'heatplan_changeset'
#: record notes a change set carries from its dry run to its apply
NOTES = ('description', 'vcs_revision')


def document(plan, result, opts):
    """The change set of a dry run (a dict, JSON-ready, no hidden value)."""
    hidden = set(plan.manifest.get('hidden_parameters', []))
    request = dict(plan.body)
    request['parameters'] = {k: (secrets.MASK if k in hidden else v)
                             for k, v in plan.body['parameters'].items()}
    return {
        KEY: FORMAT,
        'stack': opts.stack,
        'created_at': datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%dT%H:%M:%SZ'),
        'by': store_mod.who(),
        'digest': plan.digest,
        'base': result.base,
        'preview': result.preview,
        'preview_complete': result.preview_complete,
        'messages': list(result.messages),
        'changes': result.changes.as_dict() if result.changes is not None else None,
        'hidden_parameters': sorted(hidden),
        # notes for the revision record: what deploy --description and the
        # source's VCS revision said at preview time
        'meta': {k: opts.meta[k] for k in NOTES if opts.meta.get(k)},
        'options': {'timeout_mins': opts.timeout_mins, 'tags': list(opts.tags),
                    'disable_rollback': opts.disable_rollback},
        'request': request,
    }


def save(path, plan, result, opts, stdout=None):
    doc = document(plan, result, opts)
    output.atomic_write(path, (json.dumps(doc, sort_keys=True, indent=1) + '\n').encode(),
                        stdout=stdout)
    return doc


def load(path):
    """Read and check a change set file; raise PlanError naming what is wrong."""
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError as exc:
        raise errors.PlanError('%s: cannot read the change set: %s' % (path, exc.strerror))
    try:
        doc = json.loads(raw.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.PlanError('%s is not a change set (not JSON: %s)' % (path, exc))
    if not isinstance(doc, dict) or doc.get(KEY) != FORMAT:
        raise errors.PlanError('%s is not a heatplan change set (format %d)' % (path, FORMAT),
                               hint='write one with "heatplan deploy ... --dry-run --save FILE"')
    request = doc.get('request')
    base = doc.get('base')
    if not isinstance(request, dict) or not isinstance(request.get('files'), dict) or \
            not isinstance(base, dict) or not isinstance(doc.get('stack'), str) or \
            not isinstance(doc.get('preview'), (dict, type(None))):
        raise errors.PlanError('%s: the change set is damaged (request, base, stack or '
                               'preview missing)' % path)
    raw_manifest = request['files'].get(assemble.MANIFEST_KEY)
    if raw_manifest is None:
        raise errors.PlanError('%s: the change set holds no heatplan manifest' % path)
    try:
        doc['manifest'] = manifest_mod.load_manifest(raw_manifest, '%s\'s manifest' % path)
    except manifest_mod.DamagedRecord as exc:
        raise errors.PlanError(exc.message)
    return doc


def show(path):
    """What a reviewer reads: the stack, the base, the changes, the plan."""
    doc = load(path)
    preview = doc.get('preview') or {}
    return {
        'stack': doc['stack'],
        'digest': doc['digest'],
        'previewed_at': doc.get('created_at'),
        'previewed_by': doc.get('by'),
        'base_revision': doc['base'].get('revision'),
        'base_digest': doc['base'].get('digest'),
        'plan_changes': doc.get('changes'),
        'added': preview.get('added', []),
        'updated': preview.get('updated', []),
        'replaced': preview.get('replaced', []),
        'deleted': preview.get('deleted', []),
        'preview_complete': doc.get('preview_complete', True),
        'notes': doc.get('messages', []),
        'hidden_parameters': doc.get('hidden_parameters', []),
        'files': len(doc['manifest']['files']),
        'environments': doc['manifest']['environments'],
        'description': notes(doc).get('description', ''),
        'vcs_revision': notes(doc).get('vcs_revision', ''),
    }


def notes(doc):
    """The record notes of a change set (description, vcs_revision): strings only."""
    meta = doc.get('meta')
    if not isinstance(meta, dict):
        return {}
    return {k: meta[k] for k in NOTES if isinstance(meta.get(k), str) and meta[k]}


def plan_of(doc, parameters=None):
    """The exact plan of a change set; hidden values from ``parameters``.

    Every file is checked against the manifest's sha256 and the digest is
    recomputed: an edited change set is refused, never sent.
    """
    manifest = doc['manifest']
    files = doc['request']['files']
    try:
        plan = rollback_action.plan_from_record(files, manifest, parameters)
    except errors.PlanError as exc:
        raise errors.RefusedError('the change set was changed after its preview: %s'
                                  % exc.message)
    if plan.digest != doc['digest'] or manifest['digest'] != doc['digest']:
        raise errors.RefusedError(
            'the change set\'s plan is not the one previewed (digest %s, previewed %s)'
            % (plan.digest, doc['digest']),
            hint='preview it again with "heatplan deploy ... --dry-run --save FILE"')
    request = doc['request']
    if request.get('environment_files') != manifest['environments'] or \
            request.get('template') != files.get(manifest['root']):
        raise errors.RefusedError('the change set\'s request was edited after its preview')
    return plan


def check_base(adapter, doc):
    """Refuse unless the stack is where the preview left it; True when unchanged.

    Returns whether nothing at all changed (same status and update time too):
    only then may the second preview be skipped.
    """
    base = doc['base']
    stack = adapter.get_stack(doc['stack'])
    if stack is not None and stack.get('stack_status') == 'DELETE_COMPLETE':
        stack = None
    name = doc['stack']
    if not base.get('exists'):
        if stack is not None:
            raise errors.RefusedError(
                'stack %s exists now; the change set was previewed as a create' % name,
                hint='preview it again with "heatplan deploy ... --dry-run --save FILE"')
        return True
    if stack is None:
        raise errors.RefusedError('stack %s is gone since the change set was previewed'
                                  % name)
    tags = store_mod.tags_of(stack)
    rev = store_mod.tag_value(tags, store_mod.STACK_REV_TAG)
    digest = store_mod.tag_value(tags, store_mod.STACK_DIGEST_TAG)
    digest = ('sha256:' + digest) if digest else None
    now_rev = int(rev) if rev and rev.isdigit() else 0
    if now_rev != base.get('revision') or digest != base.get('digest'):
        raise errors.RefusedError(
            'stack %s changed since the change set was previewed: it is at revision %s '
            '(%s), the preview was of revision %s (%s)'
            % (name, now_rev, digest, base.get('revision'), base.get('digest')),
            hint='review "heatplan history %s" and preview again' % name)
    updated = stack.get('updated_time') or stack.get('creation_time')
    return (stack.get('stack_status') == base.get('stack_status') and
            updated == base.get('updated_time') and
            bool(doc.get('preview_complete', True)))
