"""Writing outputs atomically: the named file appears whole or not at all."""

import os
import tempfile

from heatplan import errors


def atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` through a temporary file + rename."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise errors.OutputError('%s: directory %s does not exist' % (path, directory))
    if os.path.isdir(path):
        raise errors.OutputError('%s is a directory; name a file' % path)
    try:
        fd, tmp = tempfile.mkstemp(prefix='.heatplan-', dir=directory)
    except OSError as exc:
        raise errors.OutputError('%s: cannot write: %s' % (path, exc.strerror))
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise errors.OutputError('%s: cannot write: %s' % (path, exc.strerror))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
