"""``heatplan status STACK``: what Heat says, what heatplan deployed, and whether they agree."""

import json

import yaml

from heatplan import errors
from heatplan import store as store_mod
from heatplan.plan import assemble
from heatplan.plan import manifest as manifest_mod


def _plan_matches(adapter, ident, deployed_digest):
    """``(True|False|None, why)``: does the stack still run the deployed record's plan?

    A change made outside heatplan (``openstack stack update``, a PATCH of
    the files map) shows as a manifest whose digest is not the stack's tag,
    a file whose bytes are not the manifest's, or a template that is not
    the root file heatplan sent.
    """
    files = adapter.get_files(ident)
    raw = files.get(assemble.MANIFEST_KEY)
    if raw is None:
        return False, 'the stack holds no heatplan manifest: it was not deployed by heatplan'
    try:
        manifest = manifest_mod.load_manifest(raw, 'the stack\'s heatplan manifest')
    except manifest_mod.DamagedRecord as exc:
        return False, exc.message
    if deployed_digest and manifest['digest'] != deployed_digest:
        return False, ('the stack\'s files map holds plan %s, its tag says %s'
                       % (manifest['digest'], deployed_digest))
    try:
        assemble.restore_files(files, manifest)
    except errors.PlanError as exc:
        return False, exc.message
    root_text = files.get(manifest['root'])
    if root_text is not None:
        try:
            sent = yaml.load(root_text, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader))
        except yaml.YAMLError:
            sent = None
        stored = adapter.get_template(ident)
        if sent is not None and json.loads(json.dumps(sent, default=str)) != \
                json.loads(json.dumps(stored, default=str)):
            return False, ('the stack\'s template is not the root template of the '
                           'deployed plan (changed with "openstack stack update"?)')
    return True, 'the stack runs the deployed plan, byte for byte'


def run(adapter, stack_name):
    """A dict describing the stack and its plan (``status`` command)."""
    stack = adapter.get_stack(stack_name)
    st = store_mod.Store(adapter)
    records = st.records(stack_name)
    if stack is None and not records:
        raise errors.NotFound(
            'no stack %s and no heatplan history for it' % stack_name,
            hint='list the stacks heatplan manages with "heatplan list"')
    pending = [r for r in records if r.status == store_mod.PENDING]
    info = {
        'stack': stack_name,
        'stack_status': stack.get('stack_status') if stack else 'DOES_NOT_EXIST',
        'status_reason': (stack or {}).get('stack_status_reason') or '',
        'updated': (stack or {}).get('updated_time') or (stack or {}).get('creation_time'),
        'revision': None,
        'digest': None,
        'plan_matches': None,
        'plan_check': '',
        'pending': None,
        'revisions': len(records),
        'outputs': {},
    }
    if pending:
        rec = pending[-1]
        info['pending'] = {'revision': rec.revision, 'by': rec.by, 'since': rec.created,
                           'digest': rec.digest}
    if stack is None:
        info['plan_check'] = 'the stack does not exist (its history does)'
        return info
    tags = store_mod.tags_of(stack)
    rev = store_mod.tag_value(tags, 'hp-rev=')
    digest = store_mod.tag_value(tags, 'hp-digest=')
    info['revision'] = int(rev) if rev and rev.isdigit() else None
    info['digest'] = ('sha256:' + digest) if digest else None
    ident = '%s/%s' % (stack['stack_name'], stack['id'])
    info['plan_matches'], info['plan_check'] = _plan_matches(
        adapter, ident, info['digest'])
    if not (stack.get('stack_status') or '').endswith('_IN_PROGRESS'):
        info['outputs'] = adapter.get_outputs(ident)
    return info
