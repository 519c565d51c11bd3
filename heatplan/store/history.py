"""The history stack's format: one stack per managed stack holds every revision (no network).

Format 2 of heatplan's plan history (format 1 was a record stack per
revision, :mod:`heatplan.store.records`).  Stack ``hp.<stack>.history``
has no resources; its files map is the history, readable with plain
``openstack stack file list hp.<stack>.history``:

``heatplan://history/format``
    ``heatplan history 2`` and where the format is described.
``heatplan://history/rev/<N>.json``
    revision N: ``{"format": 2, "revision": N, "outcome": "deployed" |
    "failed", "stored": true|false, "meta": {...}, "files": {key:
    sha256-hex}}``; ``meta`` is the record.json of format 1 (stack,
    revision, digest, created_at, by, action, description, ...);
    ``files`` maps each key of the plan's files map (as Heat was sent it)
    to its blob; ``stored: false`` when the deploy died before the plan
    reached Heat (nothing to export).
``heatplan://history/blob/<sha256-hex>``
    one file's content, shared by every revision that has it.
``heatplan://history/pruned/<N>``
    revision N was pruned (its blobs go at the next compaction).

Every key is written once with one value, so two writers (a deploy
settling its revision and another process settling it for it) can only
write the same thing, and Heat's PATCH update (``existing``) merges a
write's files into the stored map server-side: a write sends only what
changed, and no write undoes another.  Only compaction (a full update
leaving out pruned revisions and unreferenced blobs) removes keys; it is
done by the deploy lock's holder alone.
"""

import hashlib
import json

from heatplan.store import records as rec_mod

HISTORY_TAG = 'heatplan-history'
LOCK_TAG = 'heatplan-lock'
PREFIX = 'heatplan://history/'
FORMAT_KEY = PREFIX + 'format'
FORMAT_TEXT = ('heatplan history 2: one file per revision (rev/N.json), file contents '
               'shared by sha256 (blob/HEX); see heatplan\'s doc/source/history.rst\n')
REV_PREFIX = PREFIX + 'rev/'
BLOB_PREFIX = PREFIX + 'blob/'
PRUNED_PREFIX = PREFIX + 'pruned/'
TEMPLATE = (
    'heat_template_version: 2021-04-16\n'
    'description: heatplan plan history (every revision; no resources)\n'
    'resources: {}\n')
LOCK_TEMPLATE = (
    'heat_template_version: 2021-04-16\n'
    'description: heatplan deploy lock (a deploy is running; no resources)\n'
    'resources: {}\n')
#: Bytes of files one history write carries at most (Heat's default
#: max_json_body_size is 1 MiB), unless Heat just took a bigger plan in one
#: request; a bigger write is split, blobs first.
CHUNK_BYTES = 900000


def files_bytes(files):
    """About the JSON size of a files map (keys and texts)."""
    return sum(len(k) + len(v) + 6 for k, v in files.items())


def _named(stack_name, suffix):
    name = 'hp.%s.%s' % (stack_name, suffix)
    if len(name) > 255:
        name = 'hp.%s.%s' % (rec_mod._hash(stack_name), suffix)
    return name


def history_name(stack_name):
    return _named(stack_name, 'history')


def lock_name(stack_name):
    return _named(stack_name, 'lock')


def sha(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def rev_key(revision):
    return '%s%d.json' % (REV_PREFIX, revision)


def blob_key(hexdigest):
    return BLOB_PREFIX + hexdigest


def pruned_key(revision):
    return '%s%d' % (PRUNED_PREFIX, revision)


def rev_doc(revision, outcome, meta, plan_files):
    """Revision ``revision``'s document; ``plan_files`` None: the plan never reached Heat."""
    doc = {'format': 2, 'revision': revision, 'outcome': outcome,
           'stored': plan_files is not None, 'meta': meta,
           'files': {k: sha(v) for k, v in sorted((plan_files or {}).items())}}
    return doc


def dump(doc):
    return json.dumps(doc, sort_keys=True, indent=1)


class Snapshot:
    """One read of a history stack's files map: revisions, blobs, pruned marks."""

    def __init__(self, stack, files):
        self.stack = stack
        self.files = files or {}
        self.docs = {}          # revision -> doc (parsed; damaged ones: the text)
        self.pruned = set()
        for key, value in self.files.items():
            if key.startswith(REV_PREFIX) and key.endswith('.json'):
                num = key[len(REV_PREFIX):-5]
                if num.isdigit():
                    self.docs[int(num)] = value
            elif key.startswith(PRUNED_PREFIX):
                num = key[len(PRUNED_PREFIX):]
                if num.isdigit():
                    self.pruned.add(int(num))

    @property
    def ident(self):
        return '%s/%s' % (self.stack['stack_name'], self.stack['id'])

    def live(self):
        """``{revision: doc}`` of the revisions not pruned; a damaged doc stays text."""
        out = {}
        for rev, raw in sorted(self.docs.items()):
            if rev in self.pruned:
                continue
            out[rev] = parse(raw)
        return out

    def has_blob(self, hexdigest):
        return blob_key(hexdigest) in self.files

    def add(self, files):
        """Note ``files`` (blobs, the format key) written since this read."""
        self.files.update(files)

    def plan_files(self, doc):
        """The revision's files map, byte for byte; KeyError names a missing blob."""
        out = {}
        for key, digest in doc['files'].items():
            out[key] = self.files[blob_key(digest)]
        return out


def parse(raw):
    """A revision document, checked for the shape heatplan relies on; the text if damaged."""
    try:
        doc = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return raw
    if not isinstance(doc, dict) or not isinstance(doc.get('meta'), dict) or \
            not isinstance(doc.get('files'), dict) or \
            doc.get('outcome') not in (rec_mod.DEPLOYED, rec_mod.FAILED) or \
            not all(isinstance(v, str) for v in doc['files'].values()):
        return raw
    return doc


def write_files(snapshot, docs_with_files):
    """The files one write adds: ``[(revision, doc, plan_files)]`` -> ``{key: text}``.

    Blobs the history already holds are not sent again.
    """
    out = {}
    for revision, doc, plan_files in docs_with_files:
        for key, value in (plan_files or {}).items():
            digest = doc['files'][key]
            if snapshot is None or not snapshot.has_blob(digest):
                out[blob_key(digest)] = value
        out[rev_key(revision)] = dump(doc)
    if snapshot is None or FORMAT_KEY not in snapshot.files:
        out[FORMAT_KEY] = FORMAT_TEXT
    return out


def chunks(files, limit=None):
    """Split a write into pieces of about ``limit`` bytes: blobs first, documents last."""
    limit = limit or CHUNK_BYTES
    blobs = [k for k in files if k.startswith(BLOB_PREFIX)]
    rest = [k for k in files if not k.startswith(BLOB_PREFIX)]
    pieces, piece, size = [], {}, 0
    for key in blobs:
        n = len(files[key]) + len(key) + 8
        if piece and size + n > limit:
            pieces.append(piece)
            piece, size = {}, 0
        piece[key] = files[key]
        size += n
    last = {k: files[k] for k in rest}
    if piece and size + sum(len(v) + len(k) for k, v in last.items()) <= limit:
        piece.update(last)
        pieces.append(piece)
    else:
        if piece:
            pieces.append(piece)
        pieces.append(last)
    return pieces


def compacted(snapshot, extra):
    """The whole files map without pruned revisions and unreferenced blobs.

    ``extra``: this write's new files (merged first).  Returns ``(files,
    garbage_bytes, live_bytes)``.
    """
    merged = dict(snapshot.files)
    merged.update(extra)
    view = Snapshot(snapshot.stack, merged)
    keep = {FORMAT_KEY: merged.get(FORMAT_KEY, FORMAT_TEXT)}
    for rev, doc in view.live().items():
        keep[rev_key(rev)] = merged[rev_key(rev)]
        if isinstance(doc, dict):
            for digest in doc['files'].values():
                key = blob_key(digest)
                if key in merged:
                    keep[key] = merged[key]
    live = sum(len(v) for v in keep.values())
    garbage = sum(len(v) for k, v in merged.items() if k not in keep)
    return keep, garbage, live
