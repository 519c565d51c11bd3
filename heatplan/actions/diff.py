"""``heatplan diff STACK A B``: two revisions compared file by file."""

import json

from heatplan.actions import export as export_mod
from heatplan.plan import compare

#: The fields of :func:`compare_revisions` (``diff``'s columns).
COLUMNS = ('identical', 'files_added', 'files_removed', 'files_changed', 'parameters',
           'hidden_changed', 'environments_changed', 'root_changed', 'diff')


def compare_revisions(old, new):
    """What differs between two loaded plans ``(files, manifest)``.

    A dict of :data:`COLUMNS` plus ``lines``, the unified diff lines (``diff``
    is their text).  ``identical`` is true when there is no line; the files
    are the plans' original files (as exported), so a file the diff shows is
    one of ``files_added``, ``files_removed``, ``files_changed``.
    """
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
    return {
        'identical': not lines,
        'files_added': sorted(set(b) - set(a)),
        'files_removed': sorted(set(a) - set(b)),
        'files_changed': sorted(k for k in set(a) & set(b) if a[k] != b[k]),
        'parameters': list(changes.parameters),
        'hidden_changed': list(changes.hidden_changed),
        'environments_changed': changes.environments_changed,
        'root_changed': changes.root_changed,
        'diff': ''.join(lines),
        'lines': lines,
    }
