"""``heatplan diff STACK A B``: two revisions compared file by file."""

import json

from heatplan.actions import export as export_mod
from heatplan.plan import compare


def diff_revisions(adapter, stack_name, old, new):
    """Unified diff lines between two loaded plans ``(files, manifest)``."""
    old_files, old_manifest = old
    new_files, new_manifest = new
    a = export_mod.original_files(old_files, old_manifest)
    b = export_mod.original_files(new_files, new_manifest)
    lines = compare.unified_diff(a, b)
    changes = compare.compare_manifests(old_manifest, new_manifest)
    for name in changes.parameters:
        lines.append('parameter %s: %s -> %s\n' % (
            name, json.dumps(old_manifest['parameters'].get(name)),
            json.dumps(new_manifest['parameters'].get(name))))
    for name in changes.hidden_changed:
        lines.append('hidden parameter %s changed (values are not shown)\n' % name)
    if changes.environments_changed:
        lines.append('environments: %s -> %s\n' % (
            json.dumps(old_manifest['environments']), json.dumps(new_manifest['environments'])))
    if changes.root_changed:
        lines.append('root template: %s -> %s\n' % (old_manifest['root'], new_manifest['root']))
    return lines
