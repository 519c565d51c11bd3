"""``heatplan history STACK``: every revision, oldest first."""



from heatplan import errors
from heatplan import store as store_mod
from heatplan.actions import revisions
from heatplan.actions._stack import LIST_HINT
from heatplan.plan import compare
from heatplan.plan import manifest as manifest_mod


def history(adapter, stack_name):
    """Rows of revision, status, digest, time, by, action, summary (oldest first)."""
    st = store_mod.Store(adapter)
    records = st.records(stack_name)
    if not records:
        if revisions.live_stack(adapter, stack_name) is None:
            raise errors.NotFound(
                'no stack %s and no heatplan history for it' % stack_name,
                hint=LIST_HINT)
        raise errors.NotFound(
            'stack %s has no heatplan history: heatplan never deployed it' % stack_name,
            hint='deploy it with "heatplan deploy SOURCE --stack %s" to start its history'
            % stack_name)
    rows = []
    previous = None
    for rec in records:
        if rec.kind == 'lock' or (isinstance(rec.doc, dict) and not rec.doc.get('stored')):
            # a deploy running, or one that stopped before its plan reached Heat
            meta = rec.meta or (rec.doc or {}).get('meta') or {}
            rows.append(_row(rec, meta, 'plan not stored (never sent to Heat)'
                             if rec.kind != 'lock' else ''))
            continue
        files = st.files(rec)
        try:
            meta = st.meta(rec, files)
            manifest = revisions.stored_manifest(files, 'revision %d' % rec.revision)
        except manifest_mod.DamagedRecord as exc:
            # one damaged record never hides the others
            rows.append({
                'revision': rec.revision, 'status': 'damaged', 'digest': rec.digest,
                'created': rec.created, 'by': rec.by, 'action': '',
                'changes': 'damaged record (%s): %s' % (rec.name, exc.message),
                'description': '', 'vcs_revision': ''})
            continue
        changes = compare.compare_manifests(previous, manifest) if manifest else None
        rows.append(_row(rec, meta, changes.summary() if changes else ''))
        previous = manifest
    return rows


def _row(rec, meta, changes):
    return {
        'revision': rec.revision,
        'status': rec.status,
        'digest': rec.digest,
        'created': meta.get('created_at') or rec.created,
        'by': meta.get('by') or rec.by,
        'action': meta.get('action', 'deploy'),
        'changes': changes,
        'description': meta.get('description') or '',
        'vcs_revision': meta.get('vcs_revision') or '',
    }
