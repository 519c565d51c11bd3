"""Comparing two plans by their manifests (pure; no network)."""

import dataclasses
import difflib


@dataclasses.dataclass
class PlanChanges:
    added: list = dataclasses.field(default_factory=list)
    removed: list = dataclasses.field(default_factory=list)
    changed: list = dataclasses.field(default_factory=list)
    parameters: list = dataclasses.field(default_factory=list)  # names added/removed/changed
    #: hidden parameters whose value changed (by fingerprint; never the value)
    hidden_changed: list = dataclasses.field(default_factory=list)
    environments_changed: bool = False
    root_changed: bool = False
    new_plan: bool = False

    @property
    def empty(self):
        return not (self.added or self.removed or self.changed or self.parameters
                    or self.hidden_changed or self.environments_changed
                    or self.root_changed)

    def summary(self):
        if self.new_plan:
            return 'new plan: %d files' % len(self.added)
        if self.empty:
            return 'no changes'
        parts = []
        if self.added:
            parts.append('%d added' % len(self.added))
        if self.removed:
            parts.append('%d removed' % len(self.removed))
        if self.changed:
            parts.append('%d changed' % len(self.changed))
        text = 'files: ' + ', '.join(parts) if parts else 'files: unchanged'
        if self.parameters:
            text += '; parameters: %s' % ', '.join(self.parameters)
        if self.hidden_changed:
            text += '; hidden parameter%s %s changed' % (
                's' if len(self.hidden_changed) > 1 else '', ', '.join(self.hidden_changed))
        if self.environments_changed:
            text += '; environments changed'
        if self.root_changed:
            text += '; root template changed'
        return text

    def as_dict(self):
        return dataclasses.asdict(self)


def compare_manifests(old, new):
    """What changed from manifest ``old`` (may be None) to ``new``."""
    changes = PlanChanges(new_plan=old is None)
    old = old or {'files': {}, 'parameters': {}, 'environments': [], 'root': None}
    # Definition files (heatplan.yaml ...) are stored for exact export only.
    old_files = {k: e for k, e in old.get('files', {}).items() if not e.get('definition')}
    new_files = {k: e for k, e in new.get('files', {}).items() if not e.get('definition')}
    changes.added = sorted(set(new_files) - set(old_files))
    changes.removed = sorted(set(old_files) - set(new_files))
    changes.changed = sorted(k for k in set(old_files) & set(new_files)
                             if old_files[k].get('sha256') != new_files[k].get('sha256'))
    old_p = old.get('parameters', {})
    new_p = new.get('parameters', {})
    changes.parameters = sorted(k for k in set(old_p) | set(new_p)
                                if old_p.get(k, _MISSING) != new_p.get(k, _MISSING))
    # Hidden values are stored as ****** on both sides: their fingerprints tell
    # whether the value changed (a password rotation must not read "no changes").
    old_f = old.get('hidden_fingerprints', {}) or {}
    new_f = new.get('hidden_fingerprints', {}) or {}
    changes.hidden_changed = sorted(
        k for k in set(old_f) | set(new_f)
        if k not in changes.parameters and old_f.get(k) != new_f.get(k))
    changes.environments_changed = list(old.get('environments', [])) != list(
        new.get('environments', []))
    changes.root_changed = old.get('root') != new.get('root')
    return changes


_MISSING = object()


def unified_diff(old_files, new_files, old_label='a', new_label='b'):
    """Unified diff per file of original texts (``{key: bytes}``); a list of lines."""
    lines = []
    for key in sorted(set(old_files) | set(new_files)):
        a = old_files.get(key)
        b = new_files.get(key)
        if a == b:
            continue
        a_text = a.decode('utf-8', 'replace').splitlines(keepends=True) if a is not None else []
        b_text = b.decode('utf-8', 'replace').splitlines(keepends=True) if b is not None else []
        from_name = '%s/%s' % (old_label, key) if a is not None else '/dev/null'
        to_name = '%s/%s' % (new_label, key) if b is not None else '/dev/null'
        for line in difflib.unified_diff(a_text, b_text, from_name, to_name):
            if not line.endswith('\n'):
                line += '\n\\ No newline at end of file\n'
            lines.append(line)
    return lines
