"""Plan sources: a directory or an archive, read confined to its root.

A source hands out file contents by *key*: a canonical, plan-root-relative
POSIX path (``deployment/nova/api.yaml``).  Keys never start with ``/``,
never contain ``.`` or ``..`` components or empty components.

Nothing is read outside the root: for a directory every path is resolved
(symlinks included) and must stay under the root's real path; an archive is
read in memory (never extracted) and every member is checked before any is
used.  Caps bound the work an input can cause (:class:`Limits`).
"""

import bz2
import dataclasses
import errno
import gzip
import io
import lzma
import os
import posixpath
import re
import stat
import tarfile
import urllib.parse
import zipfile
import zlib

from heatplan import errors

KiB = 1024
MiB = 1024 * KiB

ARCHIVE_SUFFIXES = ('.tar', '.tar.gz', '.tgz', '.tar.bz2', '.tbz2', '.tar.xz', '.txz', '.zip')


@dataclasses.dataclass
class Limits:
    """Caps on what one plan source may make heatplan read.

    Defaults are documented in doc/source/plans.rst; every one can be changed
    on the command line (``--max-files`` ...).
    """

    #: Files read from a directory, or members in an archive.
    max_files: int = 20000
    #: Size of any one file.
    max_file_bytes: int = 16 * MiB
    #: Sum of the files read (directory) or of the archive's contents.
    max_total_bytes: int = 512 * MiB
    #: Uncompressed / compressed size for archives, checked past 1 MiB.
    max_expansion_ratio: int = 100


def normalize_key(path):
    """Return the canonical key for a relative POSIX path, or None.

    None means the path is absolute, empty, or leaves the root through ``..``.
    """
    if not path or path.startswith('/') or '\\' in path or '\x00' in path:
        return None
    parts = []
    for part in path.split('/'):
        if part in ('', '.'):
            continue
        if part == '..':
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        return None
    return '/'.join(parts)


def join_key(base_key, ref):
    """Resolve ``ref`` relative to the directory of ``base_key``."""
    base_dir = posixpath.dirname(base_key) if base_key else ''
    return normalize_key(posixpath.join(base_dir, ref) if base_dir else ref)


def _line_col(data, offset):
    line = data.count(b'\n', 0, offset) + 1
    col = offset - (data.rfind(b'\n', 0, offset) + 1) + 1
    return line, col


class PlanSource:
    """Base class: files of a plan, by key, confined to the root."""

    #: What the user named (for messages).
    label = ''

    def __init__(self, limits=None):
        self.limits = limits or Limits()
        self._files_read = 0
        self._bytes_read = 0
        self._cache = {}

    # -- to implement ----------------------------------------------------
    def _read(self, key):
        raise NotImplementedError

    def exists(self, key):
        raise NotImplementedError

    def absolute_to_key(self, abs_path):
        """Map an absolute path inside the root to its key, else None."""
        return None

    # -- shared ----------------------------------------------------------
    def describe(self, key):
        return key

    def read_bytes(self, key):
        if normalize_key(key) != key:
            raise errors.ConfinementError(
                '%r is not a path inside the plan root' % key)
        cached = self._cache.get(key)
        if cached is not None:
            # Text is kept decoded (see read_text): its UTF-8 is the same bytes.
            return cached.encode('utf-8') if isinstance(cached, str) else cached
        data = self._read(key)
        self._cache[key] = data
        self._files_read += 1
        self._bytes_read += len(data)
        if self._files_read > self.limits.max_files:
            raise errors.LimitExceeded(
                'the plan needs more than %d files (reading %s)'
                % (self.limits.max_files, key),
                hint='raise the cap with --max-files if this is expected')
        if self._bytes_read > self.limits.max_total_bytes:
            raise errors.LimitExceeded(
                'the plan\'s files add up to more than %d bytes (reading %s)'
                % (self.limits.max_total_bytes, key),
                hint='raise the cap with --max-total-bytes if this is expected')
        return data

    def read_text(self, key):
        """Return ``(text, raw_bytes)``; the text must be UTF-8."""
        data = self.read_bytes(key)
        try:
            text = data.decode('utf-8')
        except UnicodeDecodeError as exc:
            line, col = _line_col(data, exc.start)
            raise errors.SourceError(
                '%s:%d:%d: not UTF-8 text (byte 0x%02x at offset %d)'
                % (key, line, col, data[exc.start], exc.start),
                hint='Heat files must be UTF-8 text; convert the file '
                     '(iconv -t UTF-8) or stop referencing it')
        # Later reads see the same content, and the plan's bytes are held
        # once (as text), not twice.
        self._cache[key] = text
        return text, data

    def _check_size(self, key, size):
        if size > self.limits.max_file_bytes:
            raise errors.LimitExceeded(
                '%s is %d bytes, over the per-file cap of %d bytes'
                % (key, size, self.limits.max_file_bytes),
                hint='raise the cap with --max-file-bytes if this is expected '
                     '(Heat itself refuses files over 512 KiB by default)')


class DirectorySource(PlanSource):
    """A plan in a local directory."""

    def __init__(self, path, limits=None):
        super().__init__(limits)
        self.label = path
        if not os.path.isdir(path):
            raise errors.SourceError('%s: not a directory' % path)
        self.given_root = os.path.abspath(path)
        self.root = os.path.realpath(path)
        self._reals = {}
        #: Directories held open by their real path under the root (see _open_in).
        self._dir_fds = {}

    def _resolve(self, key):
        """``os.path.realpath`` of the key's path, one lstat per new path.

        The realpath of a path is the realpath of its parent joined with its
        last name, unless that name is a symlink: parents are resolved once
        (cached) and only a symlink costs a full ``realpath``.  Iterative:
        a path of any depth costs no recursion.
        """
        real = self._reals.get(key)
        if real is not None:
            return real
        parts = key.split('/')
        # the longest resolved prefix, then one component at a time
        i = len(parts) - 1
        while i > 0 and '/'.join(parts[:i]) not in self._reals:
            i -= 1
        base = self._reals['/'.join(parts[:i])] if i > 0 else self.root
        for j in range(i, len(parts)):
            path = os.path.join(base, parts[j])
            try:
                is_link = stat.S_ISLNK(os.lstat(path).st_mode)
            except OSError:
                is_link = False
            base = os.path.realpath(path) if is_link else path
            self._reals['/'.join(parts[:j + 1])] = base
        return base

    def _real(self, key):
        real = self._resolve(key) if key else self.root
        if real != self.root and not real.startswith(self.root + os.sep):
            raise errors.ConfinementError(
                '%s resolves to %s, outside the plan root %s'
                % (key, real, self.root),
                hint='a symlink inside the plan points out of it; copy the '
                     'target into the plan instead')
        return real

    def exists(self, key):
        try:
            real = self._real(key)
        except errors.ConfinementError:
            return True  # exists, but reading it will refuse with the reason
        if os.path.exists(real):
            return True
        # a symlink loop or a dangling symlink: reading it says which
        path = os.path.join(self.given_root, *key.split('/'))
        return os.path.lexists(path)

    def _read(self, key):
        """The file's bytes: one lstat, then an open relative to its directory.

        The directory's own path was resolved and confined once (``_real``);
        a file that is a symlink takes the full resolution (:meth:`_read_linked`).
        """
        head, _, name = key.rpartition('/')
        try:
            parent = self._real(head) if head else self.root
        except errors.ConfinementError:
            return self._read_linked(key)   # refuses, naming the file
        try:
            lst = os.lstat(parent + os.sep + name)
        except OSError:
            return self._read_linked(key)   # says why (missing, a loop...)
        if stat.S_ISLNK(lst.st_mode):
            return self._read_linked(key)
        self._check_regular(key, lst)
        return self._read_open(key, self._open_in(key, parent, name), lst)

    def _read_linked(self, key):
        """Read a file whose own name is a symlink (or that is missing): resolved whole."""
        real = self._real(key)
        try:
            st = os.stat(real)
        except FileNotFoundError:
            if os.path.lexists(os.path.join(self.given_root, *key.split('/'))):
                raise errors.SourceError(
                    '%s is a symlink to %s, which does not exist' % (key, real),
                    hint='fix the link or stop referencing it')
            raise errors.SourceError('%s: no such file in the plan' % key)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise errors.SourceError(
                    '%s: a symlink loop (too many levels of symbolic links)' % key,
                    hint='fix the links or stop referencing the file')
            raise errors.SourceError('%s: cannot read: %s' % (key, exc.strerror))
        self._check_regular(key, st)
        head, _, name = real[len(self.root):].lstrip(os.sep).rpartition(os.sep)
        parent = self.root + os.sep + head if head else self.root
        return self._read_open(key, self._open_in(key, parent, name), st)

    def _check_regular(self, key, st):
        if not stat.S_ISREG(st.st_mode):
            kind = ('a directory' if stat.S_ISDIR(st.st_mode)
                    else 'a fifo' if stat.S_ISFIFO(st.st_mode)
                    else 'a device' if (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode))
                    else 'a socket' if stat.S_ISSOCK(st.st_mode) else 'not a regular file')
            raise errors.SourceError(
                '%s is %s, not a regular file; refusing to read it' % (key, kind))
        self._check_size(key, st.st_size)

    def _read_open(self, key, fd, checked):
        """Read the open file ``fd`` (then close it); ``checked``: its stat before the open."""
        try:
            fst = os.fstat(fd)
            if not stat.S_ISREG(fst.st_mode) or (fst.st_ino, fst.st_dev) != (
                    checked.st_ino, checked.st_dev):  # replaced since it was checked
                raise errors.SourceError('%s changed while being read' % key,
                                         hint='read the plan again once it is written')
            # one read of the file's size and one byte more (to see it grow),
            # not of the cap: a read allocates what it asks for
            cap = self.limits.max_file_bytes + 1
            data = os.read(fd, min(fst.st_size + 1, cap))
            if len(data) != fst.st_size:   # a short read, or it grew: on to EOF or the cap
                parts, size = [data], len(data)
                while size < cap:
                    more = os.read(fd, min(cap - size, MiB))
                    if not more:
                        break
                    parts.append(more)
                    size += len(more)
                data = b''.join(parts)
        except OSError as exc:
            raise errors.SourceError('%s: cannot read: %s' % (key, exc.strerror))
        finally:
            os.close(fd)
        self._check_size(key, len(data))
        return data

    #: Directories held open (as ``dir_fd``) at most; one more closes them all first.
    MAX_OPEN_DIRS = 128

    def _open_in(self, key, parent, name):
        """Open ``name`` in the directory ``parent`` (real, inside the root).

        Directories are opened one component at a time from the root with
        O_NOFOLLOW and held open for the next files in them, so a directory
        swapped for a symlink after its path was checked cannot lead out of
        the root: opening it fails instead.  A directory held open is read as
        it was found (moved away meanwhile, it is still the directory that
        was inside the root); nothing is opened by a path that could leave it.
        """
        nofollow = getattr(os, 'O_NOFOLLOW', 0)
        try:
            dir_fd = self._dir_fd(parent[len(self.root) + 1:])
            return os.open(name, os.O_RDONLY | os.O_NONBLOCK | nofollow, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise errors.ConfinementError(
                    '%s changed while being read (a directory became a symlink); '
                    'refusing to follow it' % key)
            raise errors.SourceError('%s: cannot read: %s' % (key, exc.strerror))

    def _dir_fd(self, rel):
        """The open directory ``rel`` (``os.sep``-separated, real, '' for the root)."""
        fds = self._dir_fds
        fd = fds.get(rel)
        if fd is not None:
            return fd
        if len(fds) >= self.MAX_OPEN_DIRS:
            self.close()
            fds = self._dir_fds
        parts = rel.split(os.sep) if rel else []
        # the longest prefix held open, then one component at a time
        i = len(parts)
        while i > 0 and os.sep.join(parts[:i]) not in fds:
            i -= 1
        prefix = os.sep.join(parts[:i])
        fd = fds.get(prefix)
        if fd is None:
            fd = fds[''] = os.open(self.root, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
        flags = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) | getattr(os, 'O_NOFOLLOW', 0)
        for j in range(i, len(parts)):
            fd = fds[os.sep.join(parts[:j + 1])] = os.open(parts[j], flags, dir_fd=fd)
        return fd

    def close(self):
        """Close the directories held open (reading again reopens them)."""
        fds, self._dir_fds = getattr(self, '_dir_fds', {}), {}
        for fd in fds.values():
            try:
                os.close(fd)
            except OSError:
                pass

    def __del__(self):
        self.close()

    def absolute_to_key(self, abs_path):
        abs_path = os.path.normpath(abs_path)
        for root in (self.given_root, self.root):
            if abs_path.startswith(root + os.sep):
                rel = os.path.relpath(abs_path, root).replace(os.sep, '/')
                return normalize_key(rel)
        return None


class _Member:
    __slots__ = ('name', 'kind', 'data', 'target')

    def __init__(self, name, kind, data=None, target=None):
        self.name = name
        self.kind = kind        # 'file', 'dir', 'symlink', 'bad' (data: the reason)
        self.data = data
        self.target = target    # normalized key for symlinks


class ArchiveSource(PlanSource):
    """A plan in a tar (optionally gz/bz2/xz) or zip archive, read in memory.

    Every member is checked before any is used, and behaves as the same tree
    would as a directory: a member that cannot be part of the plan (a symlink
    or hard link leading out of the root or to nothing, a device, fifo or
    other special file, a name that is absolute or leaves the root) is
    *skipped*: never read, reported once as a warning (HP209) when no plan
    file needs it, and an error (HP203) naming the reason when the plan
    reads a file through it.  A name given twice refuses the archive (it is
    ambiguous).  When every member lies under one top-level directory, that
    directory is the root.
    """

    def __init__(self, path, limits=None, data=None):
        super().__init__(limits)
        self.label = path
        if data is None:
            try:
                size = os.path.getsize(path)
                if size > self.limits.max_total_bytes:
                    raise errors.LimitExceeded(
                        '%s is %d bytes, over the total cap of %d bytes'
                        % (path, size, self.limits.max_total_bytes))
                with open(path, 'rb') as f:
                    data = f.read()
            except OSError as exc:
                raise errors.SourceError('%s: cannot read: %s' % (path, exc.strerror))
        self._members = {}
        #: skipped members no read has gone through yet: name -> reason
        self._skipped = {}
        self._archive_bytes = len(data)
        if path.endswith('.zip') or data[:4] == b'PK\x03\x04':
            self._load_zip(data)
        else:
            self._load_tar(self._decompress(data))
        self._strip_single_top()

    # -- loading ---------------------------------------------------------
    def _decompress(self, data):
        if data[:2] == b'\x1f\x8b':
            stream = gzip.GzipFile(fileobj=io.BytesIO(data))
        elif data[:3] == b'BZh':
            stream = bz2.BZ2File(io.BytesIO(data))
        elif data[:6] == b'\xfd7zXZ\x00':
            stream = lzma.LZMAFile(io.BytesIO(data))
        else:
            return data
        cap = self.limits.max_total_bytes + self.limits.max_files * 1536 + 10 * KiB
        out = io.BytesIO()
        total = 0
        try:
            while True:
                chunk = stream.read(MiB)
                if not chunk:
                    break
                total += len(chunk)
                out.write(chunk)
                if total > cap:
                    raise errors.LimitExceeded(
                        '%s expands to more than %d bytes' % (self.label, cap),
                        hint='raise --max-total-bytes if this archive is genuine')
                if total > MiB and total > self.limits.max_expansion_ratio * len(data):
                    raise errors.LimitExceeded(
                        '%s expands more than %d times its size (an archive bomb?)'
                        % (self.label, self.limits.max_expansion_ratio),
                        hint='raise --max-expansion-ratio if this archive is genuine')
        except (OSError, EOFError, lzma.LZMAError, ValueError, zlib.error) as exc:
            raise errors.SourceError(
                '%s: truncated or corrupt compressed archive: %s' % (self.label, exc))
        return out.getvalue()

    @property
    def skipped(self):
        """Skipped members that no plan read went through: ``{name: reason}``."""
        return dict(self._skipped)

    def _skip(self, raw_name, reason):
        """A member with a name outside the root: never addressable, noted once."""
        self._skipped[raw_name] = reason

    def _bad(self, key, reason):
        """A member the plan may not read through; kept to say why if it does."""
        self._members[key] = _Member(key, 'bad', data=reason)
        self._skipped[key] = reason

    def _add(self, raw_name, kind, data=None, target=None):
        name = raw_name
        while name.startswith('./'):
            name = name[2:]
        if kind == 'dir':
            name = name.rstrip('/')
            if name in ('', '.'):
                return
        if '\x00' in name:
            return self._skip(raw_name.replace('\x00', '\\x00'),
                              'its name holds a NUL character')
        if name.startswith('/') or re.match(r'^[A-Za-z]:[/\\]', name):
            return self._skip(raw_name, 'its name is absolute, outside the plan root')
        key = normalize_key(name)
        if key is None or '..' in name.split('/'):
            return self._skip(raw_name, 'its name leaves the plan root (".." in it)')
        if key in self._members:
            old = self._members[key]
            if kind == 'dir' and old.kind == 'dir':
                return
            raise errors.SourceError(
                '%s: member %r appears more than once; refusing the ambiguous archive'
                % (self.label, raw_name))
        if len(self._members) >= self.limits.max_files:
            raise errors.LimitExceeded(
                '%s has more than %d members' % (self.label, self.limits.max_files),
                hint='raise the cap with --max-files if this is expected')
        if kind == 'bad':
            return self._bad(key, data)
        if kind == 'symlink':
            if target.startswith('/'):
                return self._bad(key, 'a symlink to the absolute path %r, outside the '
                                 'plan root' % target)
            resolved = join_key(key, target)
            if resolved is None:
                return self._bad(key, 'a symlink to %r, which leaves the plan root'
                                 % target)
            target = resolved
        self._members[key] = _Member(key, kind, data, target)

    def _load_tar(self, raw):
        try:
            tar = tarfile.open(fileobj=io.BytesIO(raw), mode='r:')
        except (tarfile.TarError, EOFError) as exc:
            raise errors.SourceError(
                '%s: not a readable tar or zip archive: %s' % (self.label, exc))
        total = 0
        count = 0
        try:
            while True:
                info = tar.next()
                if info is None:
                    # tarfile takes a short or garbled header for the end of
                    # the archive; a whole tar ends in zero blocks.
                    tail = raw[tar.offset:]
                    if len(tail) < 512 or tail.strip(b'\0'):
                        raise errors.SourceError(
                            '%s: truncated or corrupt tar archive (no end-of-archive '
                            'marker after %d members)' % (self.label, count),
                            hint='the archive was cut short; create it again')
                    break
                count += 1
                if count > self.limits.max_files:
                    raise errors.LimitExceeded(
                        '%s has more than %d members' % (self.label, self.limits.max_files),
                        hint='raise the cap with --max-files if this is expected')
                total = self._tar_member(tar, info, total)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise errors.SourceError(
                '%s: truncated or corrupt archive: %s' % (self.label, exc))

    def _tar_member(self, tar, info, total):
        """Add one tar member (every cap checked before it is read); the new total."""
        if info.isdir():
            self._add(info.name, 'dir')
        elif info.isreg():
            # info.size is the expanded size (a sparse member's too):
            # every cap is checked before the member is read
            self._check_size(info.name, info.size)
            total += info.size
            if total > self.limits.max_total_bytes:
                raise errors.LimitExceeded(
                    '%s: contents add up to more than %d bytes'
                    % (self.label, self.limits.max_total_bytes))
            if total > MiB and total > self.limits.max_expansion_ratio * self._archive_bytes:
                raise errors.LimitExceeded(
                    '%s expands more than %d times its size (an archive bomb%s?)'
                    % (self.label, self.limits.max_expansion_ratio,
                       ', sparse members' if info.issparse() else ''),
                    hint='raise --max-expansion-ratio if this archive is genuine')
            data = tar.extractfile(info).read()
            if len(data) != info.size:
                raise errors.SourceError('%s: member %r is truncated' % (self.label, info.name))
            self._add(info.name, 'file', data=data)
        elif info.issym():
            self._add(info.name, 'symlink', target=info.linkname)
        elif info.islnk():
            self._add_hard_link(info.name, info.linkname)
        elif info.ischr() or info.isblk() or info.isfifo():
            self._add(info.name, 'bad', data='a %s, not a regular file' % (
                'fifo' if info.isfifo() else 'device file'))
        else:
            self._add(info.name, 'bad', data='a member of unsupported tar type %r' % info.type)
        return total

    def _add_hard_link(self, name, linkname):
        """A tar hard link: the same checks as any member, then a copy of its target."""
        link = linkname
        while link.startswith('./'):
            link = link[2:]
        key = normalize_key(link) if not link.startswith('/') else None
        target = self._members.get(key) if key is not None else None
        if target is None:
            return self._add(name, 'bad', data='a hard link to %r, which is outside the '
                             'plan root or no earlier member' % linkname)
        if target.kind == 'file':
            return self._add(name, 'file', data=target.data)
        if target.kind == 'symlink':
            # a second name for the same symlink: its target, relative to the link's
            # directory, was resolved when the symlink was added
            depth = (normalize_key(re.sub(r'^(\./)+', '', name)) or '').count('/')
            return self._add(name, 'symlink', target='/'.join(['..'] * depth + [target.target]))
        if target.kind == 'bad':
            return self._add(name, 'bad', data='a hard link to %r, which is %s'
                             % (linkname, target.data))
        return self._add(name, 'bad', data='a hard link to the directory %r' % linkname)

    def _load_zip(self, data):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            infos = zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, IndexError, KeyError,
                zlib.error) as exc:
            raise errors.SourceError('%s: not a readable zip archive: %s' % (self.label, exc))
        except (NotImplementedError, RuntimeError) as exc:
            raise errors.SourceError(
                '%s: a zip format heatplan cannot read (%s)' % (self.label, exc),
                hint='re-create the archive with plain deflate (zip -r), or use a .tar.gz')
        if len(infos) > self.limits.max_files:
            raise errors.LimitExceeded(
                '%s has %d members, more than %d' % (self.label, len(infos),
                                                      self.limits.max_files),
                hint='raise the cap with --max-files if this is expected')
        declared = sum(i.file_size for i in infos)
        if declared > self.limits.max_total_bytes:
            raise errors.LimitExceeded(
                '%s: contents add up to more than %d bytes'
                % (self.label, self.limits.max_total_bytes))
        if declared > MiB and declared > self.limits.max_expansion_ratio * len(data):
            raise errors.LimitExceeded(
                '%s expands more than %d times its size (an archive bomb?)'
                % (self.label, self.limits.max_expansion_ratio),
                hint='raise --max-expansion-ratio if this archive is genuine')
        total = 0
        try:
            for info in infos:
                total = self._zip_member(zf, info, total, len(data))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error,
                IndexError, KeyError) as exc:
            raise errors.SourceError(
                '%s: truncated or corrupt zip archive: %s' % (self.label, exc))
        except NotImplementedError as exc:
            raise errors.SourceError(
                '%s: a zip member uses a compression or format heatplan cannot read (%s)'
                % (self.label, exc),
                hint='re-create the archive with plain deflate (zip -r), or use a .tar.gz')
        except RuntimeError as exc:
            raise errors.SourceError(
                '%s: an encrypted (password-protected) zip member: %s' % (self.label, exc),
                hint='plans are read from unencrypted archives')

    def _zip_member(self, zf, info, total, archive_bytes):
        """Add one zip member, read within its caps; the new total."""
        mode = info.external_attr >> 16
        if info.is_dir():
            self._add(info.filename, 'dir')
            return total
        self._check_size(info.filename, info.file_size)
        with zf.open(info) as f:
            content = f.read(self.limits.max_file_bytes + 1)
        self._check_size(info.filename, len(content))
        total += len(content)
        if total > self.limits.max_total_bytes or (
                total > MiB and total > self.limits.max_expansion_ratio * archive_bytes):
            raise errors.LimitExceeded(
                '%s expands beyond its caps (an archive bomb?)' % self.label)
        if stat.S_ISLNK(mode):
            self._add(info.filename, 'symlink', target=content.decode('utf-8', 'replace'))
        elif mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)
                       or stat.S_ISSOCK(mode)):
            self._add(info.filename, 'bad', data='a device, fifo or socket, not a '
                      'regular file')
        else:
            self._add(info.filename, 'file', data=content)
        return total

    def _strip_single_top(self):
        tops = {k.split('/', 1)[0] for k in self._members}
        if len(tops) != 1:
            return
        top = tops.pop()
        if self._members.get(top, _Member(top, 'dir')).kind != 'dir':
            return
        prefix = top + '/'
        stripped = {}
        skipped = {k: v for k, v in self._skipped.items() if k not in self._members}
        for key, member in self._members.items():
            if key == top:
                continue
            new = key[len(prefix):]
            member.name = new
            if member.target is not None and not member.target.startswith(prefix):
                member = _Member(new, 'bad', data='a symlink that leads out of the plan '
                                 'root %r' % top)
            if member.kind == 'bad':
                skipped[new] = member.data
            elif member.target is not None:
                member.target = member.target[len(prefix):]
            stripped[new] = member
        self._members = stripped
        self._skipped = skipped

    # -- reading ---------------------------------------------------------
    def _resolve(self, key, mark=True):
        """Follow symlinks (of the file and its directories) inside the archive.

        A skipped member on the way raises; with ``mark`` it is no longer
        reported as unused (the read's error names it).
        """
        seen = 0
        parts = key.split('/')
        i = 0
        while i < len(parts):
            prefix = '/'.join(parts[:i + 1])
            member = self._members.get(prefix)
            if member is not None and member.kind == 'bad':
                if mark:
                    self._skipped.pop(prefix, None)  # reported as an error instead
                raise errors.ConfinementError(
                    '%s: read through the archive member %s, which was skipped: it is %s'
                    % (key, prefix, member.data),
                    hint='put the file itself in the archive, or stop referencing it')
            if member is not None and member.kind == 'symlink':
                seen += 1
                if seen > 40:
                    raise errors.SourceError('%s: too many levels of symlinks' % key)
                target = member.target
                if target is None:
                    raise errors.ConfinementError('%s: symlink leaves the plan root' % key)
                parts = target.split('/') + parts[i + 1:]
                i = 0
                continue
            i += 1
        return '/'.join(parts)

    def exists(self, key):
        try:
            member = self._members.get(self._resolve(key, mark=False))
        except errors.SourceError:
            return True  # reading it says why
        return member is not None and member.kind == 'file'

    def _read(self, key):
        resolved = self._resolve(key)
        member = self._members.get(resolved)
        if member is None:
            raise errors.SourceError('%s: no such file in the archive %s' % (key, self.label))
        if member.kind != 'file':
            raise errors.SourceError('%s is a directory, not a file' % key)
        return member.data

    def keys(self):
        return sorted(k for k, m in self._members.items() if m.kind == 'file')


def open_source(path, limits=None):
    """Open a plan source: a directory or an archive file."""
    if os.path.isdir(path):
        return DirectorySource(path, limits)
    if os.path.isfile(path):
        return ArchiveSource(path, limits)
    if not os.path.exists(path):
        raise errors.SourceError(
            '%s: no such plan directory or archive' % path,
            hint='give a directory or a .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz or .zip file')
    raise errors.SourceError('%s: not a directory or a regular file' % path)


def url_to_path(ref):
    """Return the local path of a ``file://`` URL."""
    parsed = urllib.parse.urlparse(ref)
    if parsed.netloc not in ('', 'localhost'):
        return None
    return urllib.parse.unquote(parsed.path)
