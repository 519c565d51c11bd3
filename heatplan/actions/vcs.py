"""The source's VCS revision, recorded with each deploy when available.

``heatplan deploy DIR`` from a plan directory inside a git checkout records
``git describe --always`` of the checked-out commit, with ``-dirty`` appended
when a file of the plan is not the commit's (see :func:`detect`).
``--vcs-revision TEXT`` sets the value instead, ``--no-vcs-revision`` skips
detection; an archive gets only an explicit value (its files are not the
checkout's).  Git absent, not a checkout, git failing or slow: nothing is
recorded, and ``-v`` says why.

heatplan promises never to read outside the plan root, and a checkout's
``.git`` is usually above it.  heatplan does not read it: it runs git, a
separate program the user installed, the way the user would, and takes from
it only one short validated token (the describe name) and the object ids of
the commit's files under the plan root (``git ls-tree``), which it compares
with the bytes it already read for the plan.  Nothing git prints is stored
or shown except that token; no file content comes back.

A checkout's own configuration is not trusted (a plan directory may come
with a ``.git`` someone else wrote).  Git runs programs named in it from
some commands: ``core.fsmonitor`` and clean filters (``filter.*.clean`` with
``.gitattributes``) when a command refreshes the index, which ``git describe
--dirty`` and ``git status`` do, and the ``post-index-change`` hook when it
writes the index back; ``core.sshCommand`` when a partial clone fetches a
missing object lazily.  So heatplan never asks git whether the
work tree is dirty.  It runs only ``rev-parse``, ``describe`` (without
``--dirty``) and ``ls-tree``, which read neither the index nor the work
tree, with ``-c core.fsmonitor=false -c core.hooksPath=/dev/null -c
protocol.allow=never`` (no transport at all: no lazy fetch, no ssh), no
shell, stdin closed, a timeout, and an environment without any inherited
``GIT_*`` variable (``GIT_DIR``, ``GIT_CONFIG_PARAMETERS``...).  The system
and global git configuration are the user's own and are kept: git's
``safe.directory`` ownership check lives there (a checkout owned by another
user, e.g. one root is asked to deploy from, is refused by git unless the
user said to trust it, and then no revision is recorded).
"""

import hashlib
import logging
import os
import re
import subprocess

from heatplan import errors
from heatplan.plan import source as source_mod

LOG = logging.getLogger(__name__)

#: seconds each git command may take
GIT_TIMEOUT = 5.0
#: longest VCS revision kept (a describe name; an explicit --vcs-revision)
MAX_LENGTH = 100
DIRTY = '-dirty'
#: what a describe name may look like (tag names are git ref names)
_TOKEN = re.compile(r'[0-9A-Za-z][0-9A-Za-z._+@/~^,=-]*\Z')
_OID = re.compile(r'[0-9a-f]{40}(?:[0-9a-f]{24})?\Z')
#: configuration given on git's command line: it wins over the checkout's
SAFE_CONFIG = ('-c', 'core.fsmonitor=false', '-c', 'core.hooksPath=/dev/null',
               '-c', 'protocol.allow=never', '-c', 'core.pager=cat')


class NoRevision(Exception):
    """Why no VCS revision could be found (said with -v, never an error)."""


def explicit(text):
    """Check an explicit ``--vcs-revision``: one printable line, not too long."""
    if not text or not text.strip():
        raise errors.UsageError('--vcs-revision is empty',
                                hint='give the revision, or --no-vcs-revision to record none')
    if len(text) > MAX_LENGTH or not text.isprintable():
        raise errors.UsageError(
            '--vcs-revision must be one printable line of at most %d characters' % MAX_LENGTH,
            hint='give a commit id, tag or describe name')
    return text


def revision(src, plan, given=None, enabled=True):
    """The VCS revision to record: ``given``, else detected, else None."""
    if given is not None:
        return explicit(given)
    if not enabled:
        return None
    if not isinstance(src, source_mod.DirectorySource):
        LOG.debug('no VCS revision recorded: %s is an archive (give --vcs-revision)',
                 getattr(src, 'label', 'the source'))
        return None
    try:
        found = detect(src, plan)
    except NoRevision as exc:
        LOG.debug('no VCS revision recorded: %s', exc)
        return None
    LOG.debug('VCS revision: %s', found)
    return found


def detect(src, plan):
    """``git describe --always`` of HEAD, ``-dirty`` if a plan file is not HEAD's.

    A plan file is HEAD's when HEAD's tree has a blob at its path (the path
    it resolves to, symlinks followed, inside the root) with its exact bytes.
    Raises :class:`NoRevision` saying why there is none.
    """
    root = src.root
    commit = _git(root, 'rev-parse', '--verify', '--quiet', 'HEAD^{commit}').strip()
    if not _OID.match(commit):
        raise NoRevision('git rev-parse HEAD gave no commit id')
    name = _git(root, 'describe', '--always', commit).strip()
    if not _TOKEN.match(name) or len(name) > MAX_LENGTH - len(DIRTY):
        raise NoRevision('git describe gave no usable name')
    tree = _tree(root, commit)
    return name + (DIRTY if _differs(src, plan, tree, len(commit)) else '')


def plan_keys(plan):
    """The plan's files to compare with the commit: those the digest and the
    definition come from, and parameter files whose values are not hidden
    (a hidden one is a secret, usually kept out of version control)."""
    manifest = plan.manifest
    hidden = set(manifest.get('hidden_parameters') or ())
    keys = set(manifest.get('files') or ())
    keys.update(k for n, k in (manifest.get('parameter_files') or {}).items()
                if n not in hidden)
    return sorted(keys)


def _differs(src, plan, tree, oid_length):
    algo = 'sha1' if oid_length == 40 else 'sha256'
    for key in plan_keys(plan):
        real = os.path.realpath(os.path.join(src.root, *key.split('/')))
        rel = os.path.relpath(real, src.root)
        entry = tree.get(os.fsencode(rel.replace(os.sep, '/')))
        if entry is None or rel.startswith('..'):
            LOG.debug('VCS revision: %s is not in the commit', key)
            return True
        data = src.read_bytes(key)  # already read for the plan: from memory
        blob = hashlib.new(algo, b'blob %d\0' % len(data))
        blob.update(data)
        if blob.hexdigest() != entry:
            LOG.debug('VCS revision: %s differs from the commit', key)
            return True
    return False


def _tree(root, commit):
    """``{path relative to root: blob id}`` of the commit's files under root."""
    out = _git(root, 'ls-tree', '-r', '-z', commit, raw=True)
    tree = {}
    for item in out.split(b'\0'):
        meta, sep, path = item.partition(b'\t')
        fields = meta.split()
        if sep and len(fields) == 3 and fields[1] == b'blob':
            tree[path] = fields[2].decode('ascii', 'replace')
    return tree


def _env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('GIT_') and k not in ('SSH_ASKPASS', 'PAGER')}
    env.update(LC_ALL='C', GIT_TERMINAL_PROMPT='0', GIT_OPTIONAL_LOCKS='0',
               GIT_NO_LAZY_FETCH='1', GIT_PAGER='cat', GIT_LITERAL_PATHSPECS='1')
    return env


def _git(root, *args, raw=False):
    """Run ``git ARGS`` in ``root``; its stdout, or :class:`NoRevision`."""
    cmd = ['git', '--no-pager', *SAFE_CONFIG, *args]
    try:
        done = subprocess.run(cmd, cwd=root, env=_env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise NoRevision('git is not installed')
    except subprocess.TimeoutExpired:
        raise NoRevision('git %s took more than %g s' % (args[0], GIT_TIMEOUT))
    except OSError as exc:
        raise NoRevision('git could not be run: %s' % exc.strerror)
    if done.returncode != 0:
        # git's first line says why (not a repository, dubious ownership...):
        # shown with -v only, cut short, printable characters only.
        first = done.stderr.decode('utf-8', 'replace').strip().splitlines()[:1]
        why = ''.join(c for c in (first[0] if first else '') if c.isprintable())[:200]
        raise NoRevision('git %s exited %d%s' % (args[0], done.returncode,
                                                 (': ' + why) if why else ''))
    return done.stdout if raw else done.stdout.decode('utf-8', 'replace')
