"""Reading stored manifests and record metadata, which anyone with write access may damage.

A record stack's files map is data heatplan wrote, but Heat lets any project
member change it.  Everything read back is checked for the shape heatplan
relies on before it is used: a damaged record is reported as damaged, with
the reason, never a Python traceback, and one damaged revision never hides
the others.
"""

import json

from heatplan import errors


class DamagedRecord(errors.HeatplanError):
    """A stored manifest or record.json is not what heatplan wrote."""

    exit_code = errors.ExitCode.PLAN_INVALID


def _json_object(raw, what):
    if not isinstance(raw, str):
        raise DamagedRecord('%s is not text (%s)' % (what, type(raw).__name__))
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise DamagedRecord('%s is not valid JSON: %s' % (what, exc))
    if not isinstance(data, dict):
        raise DamagedRecord('%s is not a JSON object' % what)
    return data


def _need(data, key, types, what):
    value = data.get(key)
    if not isinstance(value, types):
        names = ' or '.join(t.__name__ for t in (types if isinstance(types, tuple)
                                                 else (types,)))
        raise DamagedRecord('%s: %r must be %s, not %s'
                            % (what, key, names, type(value).__name__))
    return value


def load_manifest(raw, what='the heatplan manifest'):
    """Parse and check a stored manifest; raise :class:`DamagedRecord`."""
    m = _json_object(raw, what)
    _need(m, 'digest', str, what)
    _need(m, 'root', str, what)
    envs = _need(m, 'environments', list, what)
    if not all(isinstance(e, str) for e in envs):
        raise DamagedRecord('%s: environments must be a list of names' % what)
    _need(m, 'parameters', dict, what)
    for key in ('hidden_parameters',):
        if key in m and not (isinstance(m[key], list)
                             and all(isinstance(x, str) for x in m[key])):
            raise DamagedRecord('%s: %r must be a list of names' % (what, key))
    for key in ('hidden_fingerprints', 'parameter_files', 'generated'):
        if key in m and not isinstance(m[key], dict):
            raise DamagedRecord('%s: %r must be an object' % (what, key))
    files = _need(m, 'files', dict, what)
    for key, entry in files.items():
        if not isinstance(entry, dict) or not isinstance(entry.get('sha256'), str):
            raise DamagedRecord('%s: the entry of file %r has no sha256' % (what, key))
        edits = entry.get('edits', [])
        if not isinstance(edits, list) or not all(
                isinstance(e, list) and len(e) == 3 and isinstance(e[0], int)
                and isinstance(e[1], int) and isinstance(e[2], str) for e in edits):
            raise DamagedRecord('%s: the edits of file %r are malformed' % (what, key))
    return m


def load_meta(raw, what='record.json'):
    """Parse and check a record's metadata; ``{}`` when there is none."""
    if raw is None:
        return {}
    meta = _json_object(raw, what)
    for key in ('created_at', 'by', 'action', 'description'):
        if key in meta and not isinstance(meta[key], str):
            raise DamagedRecord('%s: %r must be a string' % (what, key))
    return meta
