"""Reading stored revisions: the live stack's plan or a record's, with its manifest."""



from heatplan import errors
from heatplan import store as store_mod
from heatplan.actions._stack import LIST_HINT
from heatplan.plan import assemble
from heatplan.plan import manifest as manifest_mod


def live_stack(adapter, stack_name):
    stack = adapter.get_stack(stack_name)
    if stack is None or stack.get('stack_status') == 'DELETE_COMPLETE':
        return None
    return stack


def stored_manifest(files, where='the stack'):
    raw = files.get(assemble.MANIFEST_KEY)
    if raw is None:
        return None
    try:
        return manifest_mod.load_manifest(raw, 'the heatplan manifest of %s' % where)
    except manifest_mod.DamagedRecord as exc:
        raise manifest_mod.DamagedRecord(
            exc.message, hint='the stored plan was changed outside heatplan; use another '
            'revision (see "heatplan history"), or delete the damaged record stack')


def load_revision(adapter, stack_name, revision=None):
    """(files map, manifest, record or None) of a revision; None = what the stack runs.

    Reads one stored record: one consistent snapshot.
    """
    st = store_mod.Store(adapter)
    if revision is None:
        stack = live_stack(adapter, stack_name)
        if stack is None:
            raise errors.NotFound(
                'no stack %s' % stack_name,
                hint='name a revision with --revision (see "heatplan history %s"); %s'
                % (stack_name, LIST_HINT))
        files = adapter.get_files('%s/%s' % (stack['stack_name'], stack['id']))
        held = store_mod.held_revision(stack)
        rec = None
        if held and held.isdigit():
            rec = next((r for r in st.records(stack_name) if r.revision == int(held)), None)
        return files, stored_manifest(files, 'stack %s' % stack_name), rec
    rec = st.get(stack_name, revision)
    files = st.files(rec)
    rec.meta_text = files.pop(store_mod.RECORD_FILE, None)
    return files, stored_manifest(files, 'revision %d of %s' % (revision, stack_name)), rec


def need_manifest(manifest, stack_name):
    if manifest is None:
        raise errors.NotFound(
            'stack %s was not deployed by heatplan (no %s in its files)'
            % (stack_name, assemble.MANIFEST_KEY),
            hint='deploy it once with "heatplan deploy" to start its history')
    return manifest


def record_notes(adapter, rec, digest):
    """``description`` and ``vcs_revision`` of a revision's record ('' if none).

    Only from the record of the plan shown (same digest), and never an error:
    a damaged record leaves them empty.
    """
    meta = {}
    if rec is not None and rec.digest == digest:
        st = store_mod.Store(adapter)
        try:
            meta = st.meta(rec, {store_mod.RECORD_FILE: rec.meta_text}
                           if rec.meta_text is not None else None)
        except manifest_mod.DamagedRecord:
            pass
    return {'description': meta.get('description') or '',
            'vcs_revision': meta.get('vcs_revision') or ''}
