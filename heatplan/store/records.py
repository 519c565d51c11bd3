"""Revision records: their names, tags and format (no network).

Heat keeps only a stack's current template (the previous one is deleted after
an update) and stack snapshots have side effects, so heatplan stores each
revision of a plan as its own stack with ``resources: {}`` (valid; it
completes in a fraction of a second).  The record's files map holds the
complete plan exactly as deployed (manifest included) plus
``heatplan://record.json``; its tags say which stack, which revision, what
status and which digest, so records are found by tag, never by listing every
stack.  See doc/source/history.rst for the format, and
:mod:`heatplan.store.machine` for the rules that use them (the lock).
"""

import dataclasses
import datetime
import getpass
import hashlib
import json
import re
import socket

import heatplan

RECORD_TAG = 'heatplan-record'
RECORD_FILE = 'heatplan://record.json'
RECORD_TEMPLATE = (
    'heat_template_version: 2021-04-16\n'
    'description: heatplan revision record (plan history; no resources)\n'
    'resources: {}\n')

PENDING = 'pending'
DEPLOYED = 'deployed'
FAILED = 'failed'
SUPERSEDED = 'superseded'
STATUSES = (PENDING, DEPLOYED, FAILED, SUPERSEDED)

#: Tags heatplan puts on the deployed stack itself.
STACK_REV_TAG = 'hp-rev='
STACK_DIGEST_TAG = 'hp-digest='
OWN_TAG_PREFIXES = ('hp-',)
MAX_TAG = 80
_TAG_SAFE = re.compile(r'[^A-Za-z0-9_.@:=#+-]')


def _hash(text, n=32):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:n]


def stack_tag(stack_name):
    tag = 'hp-stack=' + stack_name
    if len(tag) > MAX_TAG or _TAG_SAFE.search(stack_name):
        tag = 'hp-stack#' + _hash(stack_name, 40)
    return tag


def record_name(stack_name, revision):
    name = 'hp.%s.r%d' % (stack_name, revision)
    if len(name) > 255:
        name = 'hp.%s.r%d' % (_hash(stack_name), revision)
    return name


def digest_tag(digest):
    return STACK_DIGEST_TAG + digest.split(':', 1)[-1]


def who():
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover - no passwd entry
        user = 'unknown'
    return _TAG_SAFE.sub('_', '%s@%s' % (user, socket.gethostname()))[:60]


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def tags_of(stack):
    tags = stack.get('tags') or []
    if isinstance(tags, str):
        tags = [t for t in tags.split(',') if t]
    return list(tags)


def tag_value(tags, prefix):
    for tag in tags:
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return None


def held_revision(stack):
    """The revision a managed stack carries (its ``hp-rev=`` tag, a string), or None."""
    return tag_value(tags_of(stack), STACK_REV_TAG) if stack else None


def held_digest(stack):
    """The digest's hex a managed stack carries (its ``hp-digest=`` tag), or None."""
    return tag_value(tags_of(stack), STACK_DIGEST_TAG) if stack else None


def record_meta(stack_name, revision, digest, meta, by=None):
    """record.json's content: the caller's ``meta`` plus who, when and what."""
    out = dict(meta)
    out.update({
        'stack': stack_name, 'revision': revision, 'digest': digest,
        'created_at': now(), 'by': by or who(), 'heatplan_version': heatplan.__version__,
    })
    return out


def record_body(plan_body, meta):
    """A record stack's request: no resources; the plan's files plus record.json."""
    files = dict(plan_body['files'])
    files[RECORD_FILE] = json.dumps(meta, sort_keys=True, indent=1)
    return {'template': RECORD_TEMPLATE, 'files': files}


def record_tags(stack_name, revision, status, digest, by):
    return [RECORD_TAG, stack_tag(stack_name), STACK_REV_TAG + '%d' % revision,
            'hp-status=' + status, digest_tag(digest), 'hp-by=' + by]


@dataclasses.dataclass
class Record:
    name: str
    id: str
    revision: int
    status: str
    digest: str
    created: str
    by: str
    tags: list
    #: the record's record.json, when a read of its files already fetched it
    meta_text: str = None
    #: 'legacy' (a format-1 record stack), 'history' (a revision in the
    #: history stack) or 'lock' (the running deploy's pending revision)
    kind: str = 'legacy'
    #: the plan's files map (a lock taken by this process)
    plan_files: dict = None
    #: record.json's content (history revisions and locks)
    meta: dict = None
    #: the revision's document and the history read it came from
    doc: object = None
    snapshot: object = None

    @classmethod
    def from_stack(cls, stack):
        tags = tags_of(stack)
        rev = tag_value(tags, STACK_REV_TAG)
        digest = tag_value(tags, STACK_DIGEST_TAG)
        return cls(
            name=stack['stack_name'], id=stack['id'],
            revision=int(rev) if rev and rev.isdigit() else 0,
            status=tag_value(tags, 'hp-status=') or PENDING,
            digest=('sha256:' + digest) if digest else None,
            created=stack.get('creation_time') or '',
            by=tag_value(tags, 'hp-by=') or '',
            tags=tags)

    def age(self, now=None):
        """Seconds since the record was created (0 if unknown).

        ``now``: Heat's clock (:meth:`HeatAdapter.server_now`), which stamped
        the record's ``creation_time``; this machine's clock if ``None``.
        """
        try:
            created = datetime.datetime.strptime(self.created[:19], '%Y-%m-%dT%H:%M:%S')
        except (TypeError, ValueError):
            return 0.0
        created = created.replace(tzinfo=datetime.timezone.utc)
        now = now or datetime.datetime.now(datetime.timezone.utc)
        return (now - created).total_seconds()

    @property
    def ident(self):
        return '%s/%s' % (self.name, self.id)
