"""Writing outputs: the named file appears whole or not at all, and nothing else is replaced.

The rule for an output path (``build -o``, ``package -o``, ``export OUT.tar.gz``):

* ``-``: standard output;
* missing, or a regular file: written to a temporary file in the same
  directory, then renamed over it (atomic);
* a symlink: followed; its target gets the same rule (a regular target is
  replaced through the link, which stays); a dangling link is refused;
* a character device (``/dev/null``, a terminal) or a fifo: written through
  (opened and written, never renamed over: as root a rename would replace the
  device node with a regular file);
* a directory, a block device, a socket: refused.
"""

import os
import stat
import sys
import tempfile

from heatplan import errors


def describe(mode):
    """What kind of file ``mode`` (an ``st_mode``) is, in words."""
    for test, name in ((stat.S_ISDIR, 'a directory'), (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'), (stat.S_ISFIFO, 'a fifo'),
                       (stat.S_ISSOCK, 'a socket'), (stat.S_ISLNK, 'a symlink'),
                       (stat.S_ISREG, 'a regular file')):
        if test(mode):
            return name
    return 'a special file'


def _pieces(data):
    """``data`` as a sequence of bytes pieces: bytes, or an iterable of bytes."""
    return (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data


def atomic_write(path, data, stdout=None):
    """Write ``data`` (bytes, or an iterable of bytes pieces) to ``path``.

    Follows the module's rule; pieces are written as they come (a large
    output is never held whole).
    """
    if path == '-':
        stream = stdout or sys.stdout
        stream = getattr(stream, 'buffer', stream)
        for piece in _pieces(data):
            stream.write(piece)
        stream.flush()
        return
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return _replace(path, data)
    except OSError as exc:
        raise errors.OutputError('%s: cannot write: %s' % (path, exc.strerror))
    shown = path
    if stat.S_ISLNK(st.st_mode):
        target = os.path.realpath(path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise errors.OutputError(
                '%s is a symlink to %s, which does not exist; heatplan does not create '
                'files through a dangling link' % (path, target),
                hint='name the target itself, or remove the link')
        except OSError as exc:
            raise errors.OutputError('%s: cannot write: %s' % (path, exc.strerror))
        if stat.S_ISREG(st.st_mode):
            # Replace the target, keep the link.
            return _replace(target, data)
        shown = '%s (a symlink to %s)' % (path, target)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return _replace(path, data)
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return _write_through(path, data, shown)
    if stat.S_ISDIR(mode):
        raise errors.OutputError('%s is a directory; name a file' % shown)
    raise errors.OutputError(
        '%s is %s; heatplan writes only to a regular file, a character device, a fifo '
        'or - (standard output)' % (shown, describe(mode)),
        hint='name another output path')


def _write_through(path, data, shown):
    """Write into an existing device or fifo: open it, never rename over it."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, 'O_NOCTTY', 0))
    except OSError as exc:
        raise errors.OutputError('%s: cannot write: %s' % (shown, exc.strerror))
    try:
        for piece in _pieces(data):
            view = memoryview(piece)
            while view:
                n = os.write(fd, view)
                view = view[n:]
    except OSError as exc:
        raise errors.OutputError('%s: cannot write: %s' % (shown, exc.strerror))
    finally:
        os.close(fd)


def _replace(path, data):
    """Write ``data`` to a temporary file + rename: ``path`` appears whole or not at all."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise errors.OutputError('%s: directory %s does not exist' % (path, directory))
    try:
        fd, tmp = tempfile.mkstemp(prefix='.heatplan-', dir=directory)
    except OSError as exc:
        raise errors.OutputError('%s: cannot write: %s' % (path, exc.strerror))
    try:
        with os.fdopen(fd, 'wb') as f:
            for piece in _pieces(data):
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise errors.OutputError('%s: cannot write: %s' % (path, exc.strerror))
    except BaseException:  # a piece failed to come (or Ctrl-C): no half file left
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
