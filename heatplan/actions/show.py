"""``heatplan show STACK [--revision N]``: one revision's plan, described."""




from heatplan.actions import revisions


def show(adapter, stack_name, revision=None):
    files, manifest, rec = revisions.load_revision(adapter, stack_name, revision)
    manifest = revisions.need_manifest(manifest, stack_name)
    return {
        'stack': stack_name,
        'revision': rec.revision if rec else None,
        'status': rec.status if rec else None,
        'digest': manifest['digest'],
        'root': manifest['root'],
        'environments': manifest['environments'],
        'parameters': manifest['parameters'],
        'hidden_parameters': manifest.get('hidden_parameters', []),
        'files': sorted(manifest['files']),
        'file_count': len(manifest['files']),
        **revisions.record_notes(adapter, rec, manifest['digest']),
    }
