"""Plan history kept in Heat: one resource-less record stack per revision.

Heat keeps only a stack's current template (the previous one is deleted after
an update) and stack snapshots have side effects, so heatplan stores each
revision of a plan as its own stack with ``resources: {}`` (valid; it
completes in a fraction of a second).  The record's files map holds the
complete plan exactly as deployed (manifest included) plus
``heatplan://record.json``; its tags say which stack, which revision, what
status and which digest, so records are found by tag, never by listing every
stack.  See doc/source/history.rst for the format.

Creating the next revision's record, under a name unique to (stack,
revision), is the deploy lock: a second deploy computing the same revision
fails to create it (Heat answers 409) and is refused.
"""

import dataclasses
import datetime
import getpass
import hashlib
import json
import re
import socket
import time

import heatplan
from heatplan import errors

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

    @classmethod
    def from_stack(cls, stack):
        tags = tags_of(stack)
        rev = tag_value(tags, 'hp-rev=')
        digest = tag_value(tags, 'hp-digest=')
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


class Locked(errors.RefusedError):
    """Another deploy holds the stack (its pending record exists)."""


class Store:
    """Revision records of one project's stacks, through the Heat adapter."""

    def __init__(self, adapter):
        self.adapter = adapter

    def records(self, stack_name):
        """All records of ``stack_name``, oldest revision first."""
        stacks = self.adapter.list_stacks(tags=[RECORD_TAG, stack_tag(stack_name)],
                                          show_hidden=True)
        records = [Record.from_stack(s) for s in stacks
                   if s.get('stack_status') not in ('DELETE_COMPLETE', 'DELETE_IN_PROGRESS')]
        records.sort(key=lambda r: (r.revision, r.created, r.id))
        return records

    def get(self, stack_name, revision):
        for rec in self.records(stack_name):
            if rec.revision == revision:
                return rec
        raise errors.NotFound(
            'stack %s has no revision %s' % (stack_name, revision),
            hint='list the revisions with "heatplan history %s"' % stack_name)

    @staticmethod
    def _tags(stack_name, revision, status, digest, by):
        return [RECORD_TAG, stack_tag(stack_name), 'hp-rev=%d' % revision,
                'hp-status=' + status, digest_tag(digest), 'hp-by=' + by]

    def create_pending(self, stack_name, revision, plan_body, digest, meta):
        """Create the pending record for ``revision``: this takes the lock.

        Raises :class:`Locked` when another deploy created it first.
        """
        by = who()
        record_meta = dict(meta)
        record_meta.update({
            'stack': stack_name, 'revision': revision, 'digest': digest,
            'created_at': now(), 'by': by, 'heatplan_version': heatplan.__version__,
        })
        files = dict(plan_body['files'])
        files[RECORD_FILE] = json.dumps(record_meta, sort_keys=True, indent=1)
        body = {'template': RECORD_TEMPLATE, 'files': files}
        name = record_name(stack_name, revision)
        tags = self._tags(stack_name, revision, PENDING, digest, by)
        try:
            created = self.adapter.create_stack(name, body, tags=tags)
        except errors.HeatRejected as exc:
            if getattr(exc, 'status_code', None) == 409:
                raise self.locked_error(stack_name, revision)
            raise
        record = Record(name, created['id'], revision, PENDING, digest, record_meta['created_at'],
                        by, tags)
        # Stack-name uniqueness is checked, not enforced by a database
        # constraint: two creates racing to the same instant could both pass.
        # Hold the lock only once alone under the name (reliability.rst).
        holder = contest(self.adapter, record)
        if holder is not None:
            self.adapter.delete_stack(record.ident)
            raise self.locked_error(stack_name, revision, holder)
        return record

    def locked_error(self, stack_name, revision, record=None):
        if record is None:
            for rec in self.records(stack_name):
                if rec.revision == revision:
                    record = rec
        started = ''
        if record is not None:
            started = ', started at %s by %s' % (record.created or '?', record.by or '?')
        return Locked('another deploy of %s is in progress (revision %d%s)'
                      % (stack_name, revision, started),
                      hint='"heatplan wait %s" waits for it to finish; if it died, run '
                           '"heatplan recover %s"' % (stack_name, stack_name))

    def set_status(self, record, status):
        tags = [t for t in record.tags if not t.startswith('hp-status=')]
        tags.append('hp-status=' + status)
        self.adapter.update_tags(record.ident, tags)
        record.tags = tags
        record.status = status

    def files(self, record):
        return self.adapter.get_files(record.ident)

    def meta(self, record, files=None):
        files = files if files is not None else self.files(record)
        from heatplan.plan import manifest as manifest_mod

        return manifest_mod.load_meta(files.get(RECORD_FILE) or None,
                                      'record.json of %s' % record.name)

    def delete(self, record, wait=False):
        return self.adapter.delete_stack(record.ident, wait=wait)


# -- the after-create check of the deploy lock (doc/source/reliability.rst) ---------

#: Seconds the oldest of several same-name records waits for the others to go.
CONTEST_WAIT = 30.0
_GONE = ('DELETE_IN_PROGRESS', 'DELETE_COMPLETE')


def same_name(adapter, name):
    """Every live stack named ``name``, found by its name, tags or not.

    Heat stores a stack's tags in a transaction after its row's: a query by
    tag can miss a contender whose row is there; one by name cannot.
    """
    stacks = adapter.list_stacks(show_hidden=True, name=name)
    return [Record.from_stack(s) for s in stacks
            if s.get('stack_name') == name and s.get('stack_status') not in _GONE]


def verdict(mine, live):
    """What ``mine`` (a record id) does, seeing the records ``live``.

    ``'hold'``: it is alone under its name -- the only way to take the lock;
    ``'wait'``: it is the oldest (creation time, then id) of several: the
    younger ones withdraw when they see it; a :class:`Record`: an older one,
    to yield to.
    """
    others = [r for r in live if r.id != mine]
    if len(others) == len(live):       # not (yet) visible itself: look again
        return 'wait' if not others else min(others, key=_age_key)
    if not others:
        return 'hold'
    oldest = min(live, key=_age_key)
    return 'wait' if oldest.id == mine else oldest


def _age_key(record):
    return (record.created or '', record.id)


def contest(adapter, record, wait=CONTEST_WAIT, clock=time.monotonic, sleep=time.sleep):
    """``None`` if ``record`` (just created) holds the lock, else whom it yields to.

    Safe whatever Heat's delays: a record holds only after a listing showed
    it alone, and a holder never deletes its record, so of two holders the
    later listing would have shown the earlier holder.  The oldest waits (at
    most ``wait`` s) for the younger to withdraw, then yields too: a holder
    may have listed before it was visible.
    """
    deadline = clock() + wait
    delay = 0.2
    while True:
        live = same_name(adapter, record.name)
        decided = verdict(record.id, live)
        if decided == 'hold':
            return None
        if decided != 'wait':
            return decided
        if clock() >= deadline:
            others = [r for r in live if r.id != record.id]
            return min(others, key=_age_key) if others else record
        sleep(delay)
        delay = min(2.0, delay * 2)
