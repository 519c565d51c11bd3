"""``heatplan list``: the stacks heatplan manages in this project."""

from heatplan import store as store_mod


def run(adapter):
    """Rows ``{stack, revision, status, digest, updated}``, by name.

    A managed stack carries heatplan's ``hp-rev=`` tag; its revision
    records (tagged ``heatplan-record``) are not listed.
    """
    rows = []
    for stack in adapter.list_stacks(show_hidden=True):
        tags = store_mod.tags_of(stack)
        if store_mod.RECORD_TAG in tags:
            continue
        rev = store_mod.tag_value(tags, store_mod.STACK_REV_TAG)
        if rev is None:
            continue
        digest = store_mod.tag_value(tags, store_mod.STACK_DIGEST_TAG)
        rows.append({
            'stack': stack.get('stack_name'),
            'revision': int(rev) if rev.isdigit() else None,
            'status': stack.get('stack_status'),
            'digest': ('sha256:' + digest) if digest else None,
            'updated': stack.get('updated_time') or stack.get('creation_time'),
        })
    rows.sort(key=lambda r: r['stack'] or '')
    return rows
