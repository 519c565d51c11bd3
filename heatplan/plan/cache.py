"""A content-hash cache of per-file analysis results (issue 18).

Analysing a plan file (composing its YAML, scanning it for references,
the per-file lint rules) is a pure function of a few inputs: the file's
bytes, its key in the plan, how it is read (template, environment, a
``get_file`` target that looks like a template), whether it is the root
template, and heatplan's own code (with PyYAML's and libyaml's versions).
The cache keeps that function's result under a key hashing all of them, so
an unchanged file is never composed twice.  Everything that depends on the
plan as a whole (following references, the whole-plan lint rules, the
team's lint policy, the digest, the request body) is recomputed on every
run from the cached per-file facts; the policy (``--strict``, ``--ignore``)
applies after the cache and is not part of its key.  The plan digest is
computed from the sha256 of the bytes read on this run, never from the
cache.

Where: ``$XDG_CACHE_HOME/heatplan/analysis`` (``~/.cache/heatplan/analysis``),
never inside the plan root (a cache directory there turns the cache off).
``--no-cache`` or ``HEATPLAN_NO_CACHE=1`` turns it off;
``HEATPLAN_CACHE_MAX_BYTES`` caps its size (default 256 MiB; the oldest
entries go first).

Safe against stale, corrupt and hostile entries:

* the key covers everything the result depends on (heatplan's version and
  a hash of the analysing modules' source, so a changed checkout misses);
* entries are stored one pack per plan source (see :class:`AnalysisCache`);
  every pack carries an HMAC-SHA256 of its name and content under a random
  per-user secret (``secret``, mode 0600, next to the packs): a truncated,
  corrupted, renamed or edited pack fails it and is ignored (its entries
  are recomputed and written again);
* the cache directory must be the user's own (owner, not group- or
  world-writable), or the cache is not used at all;
* an entry that passes the HMAC is still decoded strictly (types, rule
  codes and severities as the registry has them): anything else is ignored;
* packs are written to a temporary file and renamed into place (a reader
  sees a whole pack or none), and a run that could not write goes on
  without the cache.
"""

import hashlib
import hmac
import json
import os
import stat
import sys
import tempfile

from heatplan.lint import diagnostics as diag
from heatplan.lint import registry as reg
from heatplan.plan import yamlnodes as yn

FORMAT = 1
DISABLE_ENV = 'HEATPLAN_NO_CACHE'
MAX_BYTES_ENV = 'HEATPLAN_CACHE_MAX_BYTES'
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
_MAGIC = b'HPC1 '
_TRUE = ('1', 'true', 'yes', 'on')
#: Modules whose code decides a file's analysis: a change to any is a new key.
_CODE_MODULES = ('heatplan.plan.assemble', 'heatplan.plan.yamlnodes', 'heatplan.lint.diagnostics',
                 'heatplan.lint.registry', 'heatplan.lint.template', 'heatplan.lint.yaml',
                 'heatplan.plan.cache')
_KINDS = ('template', 'environment', 'file')
_REF_KINDS = ('get_file', 'type', 'chain', 'registry')


def disabled_by_environment():
    return os.environ.get(DISABLE_ENV, '').strip().lower() in _TRUE


def cache_home():
    base = os.environ.get('XDG_CACHE_HOME') or ''
    if not os.path.isabs(base):  # XDG: a relative value is to be ignored
        base = os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'heatplan')


def _max_bytes():
    try:
        return max(0, int(os.environ.get(MAX_BYTES_ENV, DEFAULT_MAX_BYTES)))
    except ValueError:
        return DEFAULT_MAX_BYTES


def _code_fingerprint():
    """sha256 over heatplan's version, the analysing code and the YAML library."""
    import yaml

    import heatplan

    h = hashlib.sha256()
    libyaml = yaml._yaml.get_version_string() if getattr(yaml, '__with_libyaml__', False) \
        else 'none'
    h.update(json.dumps([FORMAT, heatplan.__version__, sys.version_info[:2],
                         yaml.__version__, libyaml]).encode())
    for name in _CODE_MODULES:
        module = sys.modules.get(name)
        if module is None:
            __import__(name)
            module = sys.modules[name]
        with open(module.__file__, 'rb') as f:
            h.update(f.read())
    return h.digest()


def _own_dir(path):
    """Create ``path`` (0700) if missing; True if it is a directory only we can write."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and \
        not st.st_mode & 0o022


def _read_secret(path):
    """The per-user HMAC secret: created once (atomically), then only read."""
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        except FileNotFoundError:
            fd = None
        if fd is not None:
            try:
                st = os.fstat(fd)
                data = os.read(fd, 64)
            finally:
                os.close(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or \
                    st.st_mode & 0o077 or len(data) != 32:
                return None
            return data
        tmp_fd, tmp = tempfile.mkstemp(prefix='.secret-', dir=os.path.dirname(path))
        try:
            os.write(tmp_fd, os.urandom(32))
            os.close(tmp_fd)
            try:
                os.link(tmp, path)  # never replaces a secret another run made
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    return None


class AnalysisCache:
    """Per-file analysis results by content hash; see the module doc.

    Entries are stored one *pack* per plan source (its real path): one file
    read and one HMAC check per run instead of one per plan file (creating
    thousands of small files cost more than composing them).  Inside a pack
    every entry is still keyed by its own content hash; a run rewrites its
    plan's pack (atomically) only when it computed something, keeping just
    the entries it used, so a changed file's old entry goes with it.
    """

    def __init__(self, root, secret, salt, pack_id, max_bytes=DEFAULT_MAX_BYTES):
        self.root = root
        self._secret = secret
        self._salt = salt
        self.path = os.path.join(root, pack_id)
        self.max_bytes = max_bytes
        self._entries = None   # cache key -> (start, end) in the pack, loaded on first use
        self._data = b''
        self._used = {}
        #: what this run did: hits, misses, rejected (bad entries or pack), written
        self.stats = {'hits': 0, 'misses': 0, 'rejected': 0, 'written': 0}

    @classmethod
    def open(cls, plan_root=None, source_id='', home=None):
        """The user's cache for one plan source, or None when it cannot be used safely.

        None when the cache directory would be inside ``plan_root`` (the
        plan's real path), is not the user's own, or cannot be created.
        """
        home = home or cache_home()
        root = os.path.join(home, 'analysis')
        if plan_root:
            real = os.path.realpath(home)
            plan_root = os.path.realpath(plan_root)
            if real == plan_root or real.startswith(plan_root.rstrip(os.sep) + os.sep):
                return None
        if not _own_dir(home) or not _own_dir(root):
            return None
        try:
            secret = _read_secret(os.path.join(root, 'secret'))
            salt = _code_fingerprint()
        except OSError:
            return None
        if secret is None:
            return None
        pack_id = 'pack-' + hashlib.sha256(source_id.encode('utf-8', 'surrogateescape')
                                           ).hexdigest()[:40]
        return cls(root, secret, salt, pack_id, _max_bytes())

    # -- keys and packs -----------------------------------------------------
    def key(self, key, kind, only_get_file, is_root, sha256):
        h = hashlib.sha256(self._salt)
        h.update(json.dumps([key, kind, bool(only_get_file), bool(is_root), sha256]).encode())
        return h.hexdigest()

    def _mac(self, payload=None):
        """The pack's HMAC (hex, bytes) over ``payload``; without one, the hmac object."""
        mac = hmac.new(self._secret, self.path.encode('utf-8', 'surrogateescape') + b'\n',
                       hashlib.sha256)
        if payload is None:
            return mac
        mac.update(payload)
        return mac.hexdigest().encode()

    def _load_pack(self):
        """``{cache key: entry line}`` from this source's pack; {} if missing or not valid.

        A pack is the magic, the HMAC, then one line per entry: its cache key,
        a space and its JSON.  Entries stay bytes until used (a parsed pack
        would hold several times the plan's facts at once).
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        except OSError:
            return {}
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or \
                    st.st_size > max(self.max_bytes, 1 << 20):
                self.stats['rejected'] += 1
                return {}
            with os.fdopen(fd, 'rb', closefd=False) as f:
                data = f.read()
        finally:
            os.close(fd)
        head = len(_MAGIC) + 64
        if not data.startswith(_MAGIC) or data[head:head + 1] != b'\n' or \
                not hmac.compare_digest(data[len(_MAGIC):head],
                                        self._mac(memoryview(data)[head + 1:])):
            self.stats['rejected'] += 1
            return {}
        # offsets into the pack, not copies of its lines
        entries = {}
        pos, size = head + 1, len(data)
        while pos < size:
            end = data.find(b'\n', pos)
            if end < 0:
                end = size
            space = data.find(b' ', pos, end)
            if space > pos:
                entries[data[pos:space].decode('ascii', 'replace')] = (space + 1, end)
            pos = end + 1
        self._data = data
        return entries

    def _raw(self, ck, where):
        return self._data[where[0]:where[1]] if where.__class__ is tuple else where

    def load(self, ck):
        """The decoded entry for cache key ``ck``, or None (missing or not valid)."""
        if self._entries is None:
            self._entries = self._load_pack()
        where = self._entries.pop(ck, None)
        if where is None:
            return None
        try:
            entry = decode(json.loads(self._raw(ck, where)))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            self.stats['rejected'] += 1
            return None
        self._used[ck] = where
        return entry

    def store(self, ck, entry):
        self._used[ck] = json.dumps(entry, separators=(',', ':')).encode()

    def _write_pack(self):
        """Write the entries this run used, atomically; a failure only means misses later."""
        mac = self._mac()

        def write(f):
            f.write(_MAGIC + b'0' * 64 + b'\n')   # the HMAC, once known
            for ck, where in self._used.items():
                line = b'%s %s\n' % (ck.encode('ascii'), self._raw(ck, where))
                mac.update(line)
                f.write(line)
            f.seek(len(_MAGIC))
            f.write(mac.hexdigest().encode())

        return self._write_atomically(self.path, write)

    # -- plan summaries -------------------------------------------------------
    def summary_key(self, definition):
        """The key of a plan summary: the definition as resolved (flags included)."""
        import dataclasses

        h = hashlib.sha256(self._salt)
        h.update(b'plan\n' + json.dumps(dataclasses.asdict(definition), sort_keys=True,
                                        default=repr).encode())
        return h.hexdigest()

    @property
    def summary_path(self):
        return self.path.replace(os.sep + 'pack-', os.sep + 'summary-')

    def _read_signed(self, path):
        """The payload of a signed file (magic, HMAC of path and payload, payload), or None."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or \
                    st.st_size > max(self.max_bytes, 1 << 20):
                self.stats['rejected'] += 1
                return None
            with os.fdopen(fd, 'rb', closefd=False) as f:
                data = f.read()
        finally:
            os.close(fd)
        head = len(_MAGIC) + 64
        mac = hmac.new(self._secret, path.encode('utf-8', 'surrogateescape') + b'\n',
                       hashlib.sha256)
        mac.update(memoryview(data)[head + 1:])
        if not data.startswith(_MAGIC) or data[head:head + 1] != b'\n' or \
                not hmac.compare_digest(data[len(_MAGIC):head], mac.hexdigest().encode()):
            self.stats['rejected'] += 1
            return None
        return data[head + 1:]

    def store_summary(self, definition, files, digest, body_size, diagnostics):
        """Remember what a full assembly found for this definition and these files.

        ``files``: ``[(key, sha256)]`` of every file the assembly read.  Only
        for plans whose digest holds no hidden parameter value (its
        fingerprint depends on the operator key, and the summary key would
        hash the value).  One summary per plan source: the last definition's.
        """
        raw = json.dumps({'key': self.summary_key(definition),
                          'files': [[k, h] for k, h in files], 'digest': digest,
                          'body_size': body_size,
                          'diagnostics': [_diag(d) for d in diagnostics]},
                         separators=(',', ':')).encode()
        path = self.summary_path
        if self._read_signed(path) == raw:
            return False
        mac = hmac.new(self._secret, path.encode('utf-8', 'surrogateescape') + b'\n' + raw,
                       hashlib.sha256).hexdigest().encode()
        pieces = (_MAGIC + mac + b'\n', raw)
        return self._write_atomically(path, lambda f: f.writelines(pieces))

    def plan_summary(self, src, definition):
        """The summary stored for this definition, if every file it lists still has
        the same sha256 (read again, confined, from ``src``); else None."""
        raw = self._read_signed(self.summary_path)
        if raw is None:
            return None
        try:
            e = json.loads(raw)
            if e['key'] != self.summary_key(definition):
                return None
            files = [(_str(k), _str(h)) for k, h in _list(e['files'])]
            summary = {'digest': _str(e['digest']), 'body_size': _int(e['body_size']),
                       'diagnostics': [_undiag(d) for d in _list(e['diagnostics'])]}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            self.stats['rejected'] += 1
            return None
        from heatplan import errors

        try:
            for key, sha256 in files:
                if hashlib.sha256(src.read_bytes(key)).hexdigest() != sha256:
                    return None
        except errors.SourceError:
            return None   # the full assembly says what is wrong
        self.stats['hits'] += 1
        return summary

    def _write_atomically(self, path, write):
        """``write(f)`` into a temporary file beside ``path``, then rename it over ``path``."""
        try:
            fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=self.root)
        except OSError:
            return False
        try:
            with os.fdopen(fd, 'wb') as f:
                write(f)
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        self.stats['written'] += 1
        return True

    # -- the hook assembly calls -------------------------------------------
    def parse(self, pf, an, compute):
        """``compute(pf, an)`` (assembly's parse of one file), or its cached result."""
        ck = self.key(pf.key, pf.kind, pf.only_get_file, pf.key == an.definition.template,
                      pf.sha256)
        entry = self.load(ck)
        if entry is not None:
            self.stats['hits'] += 1
            apply(entry, pf, an)
            return pf
        self.stats['misses'] += 1
        first = len(an.diagnostics)
        compute(pf, an)
        self.store(ck, encode(pf, an.diagnostics[first:]))
        return pf

    def finish(self):
        """After the analysis: rewrite the pack if it changed (entries this run did
        not use are dropped); keep the cache under its cap; let the pack go."""
        if self._entries is None:
            self._entries = {}
        if self.stats['misses'] or self.stats['rejected'] or self._entries:
            if self._write_pack() and self.max_bytes:
                prune(self.root, self.max_bytes, keep_path=self.path)
        self._entries, self._used, self._data = {}, {}, b''


def prune(root, max_bytes, keep=0.8, keep_path=None):
    """Delete the oldest packs until the cache holds at most ``keep * max_bytes``.

    The pack just written (``keep_path``) stays.
    """
    packs = []
    total = 0
    try:
        for e in os.scandir(root):
            if e.name.startswith(('pack-', 'summary-', '.tmp-')) and \
                    e.is_file(follow_symlinks=False):
                st = e.stat(follow_symlinks=False)
                packs.append((st.st_mtime, st.st_size, e.path))
                total += st.st_size
    except OSError:
        return 0
    if total <= max_bytes:
        return 0
    removed = 0
    for _mtime, size, path in sorted(packs):
        if total <= keep * max_bytes:
            break
        if path == keep_path:
            continue
        try:
            os.unlink(path)
        except OSError:
            continue
        total -= size
        removed += 1
    return removed


# ---------------------------------------------------------------------------
# entries: a parsed file's facts as JSON, and back

def _spot(s):
    if s is None:
        return None
    a, b = s.start_mark, s.end_mark
    return [s.value, s.style, a.line, a.column, a.index, b.line, b.column, b.index]


def _diag(d):
    return [d.path, d.line, d.col, d.severity, d.message, d.code, d.rule]


def encode(pf, diagnostics):
    """The facts :func:`heatplan.plan.assemble._parse` left on ``pf``, and its diagnostics."""
    return {
        'kind': pf.kind, 'parsed': pf.parsed, 'only_get_file': pf.only_get_file,
        'version': pf.version,
        'sections': [[n, _spot(k)] for n, k in pf.sections],
        'params': sorted(pf.params), 'hidden': sorted(pf.hidden),
        'resources': sorted(pf.resources),
        'checks': [_diag(d) for d in pf.checks],
        'env_params': [[n, _spot(k), bool(null)] for n, k, null in pf.env_params],
        'env_defaults': [[n, _spot(k)] for n, k in pf.env_defaults],
        'empty_sections': [[n, _spot(k)] for n, k in pf.empty_sections],
        'registry': [[t, v] for t, v in pf.registry],
        'refs': [[r.kind, r.value, _spot(r.node), r.base] for r in pf.refs],
        'diagnostics': [_diag(d) for d in diagnostics],
    }


def _str(x, none=False):
    if x.__class__ is str or (none and x is None):
        return x
    raise TypeError('not a string')


def _int(x):
    if x.__class__ is int and x >= 0:
        return x
    raise TypeError('not a count')


def _bool(x):
    if x is True or x is False:
        return x
    raise TypeError('not a boolean')


_intern = sys.intern


def _list(x):
    if x.__class__ is list:
        return x
    raise TypeError('not a list')


def _unspot(x, none=True):
    if x is None and none:
        return None
    value, style, l1, c1, i1, l2, c2, i2 = x
    return yn.Spot(_str(value, none=True), _str(style, none=True),
                   yn.Mark(_int(l1), _int(c1), _int(i1)), yn.Mark(_int(l2), _int(c2), _int(i2)))


def _undiag(x):
    path, line, col, severity, message, code, rule = x
    r = reg.BY_NAME[rule]
    if r.code != code or r.severity != severity or severity not in (diag.ERROR, diag.WARNING):
        raise ValueError('not the registry\'s rule')
    return diag.Diagnostic(_str(path), _int(line), _int(col), severity, _str(message),
                           code, rule)


def decode(e):
    """A strict decode of an entry: raises on anything :func:`encode` does not write."""
    from heatplan.plan import assemble

    kind = e['kind']
    if kind not in _KINDS:
        raise ValueError('kind')
    refs = []
    for rkind, value, spot, base in _list(e['refs']):
        if rkind not in _REF_KINDS:
            raise ValueError('ref kind')
        refs.append((rkind, _str(value), _unspot(spot, none=False), _str(base, none=True)))
    out = {
        'kind': kind, 'parsed': _bool(e['parsed']), 'only_get_file': _bool(e['only_get_file']),
        'version': _str(e['version'], none=True),
        'sections': [(_intern(_str(n)), _unspot(k)) for n, k in _list(e['sections'])],
        'params': {_intern(_str(n)) for n in _list(e['params'])},
        'hidden': {_intern(_str(n)) for n in _list(e['hidden'])},
        'resources': {_intern(_str(n)) for n in _list(e['resources'])},
        'checks': [_undiag(d) for d in _list(e['checks'])],
        'env_params': [(_str(n), _unspot(k, none=False), _bool(null))
                       for n, k, null in _list(e['env_params'])],
        'env_defaults': [(_str(n), _unspot(k, none=False))
                         for n, k in _list(e['env_defaults'])],
        'empty_sections': [(_str(n), _unspot(k, none=False))
                           for n, k in _list(e['empty_sections'])],
        'registry': [(_str(t, none=True), _str(v)) for t, v in _list(e['registry'])],
        'refs': refs,
        'diagnostics': [_undiag(d) for d in _list(e['diagnostics'])],
    }
    out['_ref_class'] = assemble.Ref
    return out


def apply(entry, pf, an):
    """Set ``pf``'s facts (and ``an``'s diagnostics) from a decoded entry."""
    ref_class = entry['_ref_class']
    pf.kind = entry['kind']
    pf.parsed = entry['parsed']
    pf.only_get_file = entry['only_get_file']
    pf.version = entry['version']
    pf.node = None
    pf.sections = entry['sections']
    pf.params, pf.hidden, pf.resources = entry['params'], entry['hidden'], entry['resources']
    pf.checks = entry['checks']
    pf.env_params = entry['env_params']
    pf.env_defaults = entry['env_defaults']
    pf.empty_sections = entry['empty_sections']
    pf.registry = entry['registry']
    pf.refs = [ref_class(pf.key, kind, value, spot, base=base)
               for kind, value, spot, base in entry['refs']]
    an.diagnostics.extend(entry['diagnostics'])
