"""Hostile input: archives, YAML and references made to break out or break down.

Every test tries many cases, counts them (``FIGURE`` lines, and
``$HEATPLAN_FIGURES`` when set, feed doc/source/reliability.rst) and checks
each one is refused:

* with one of heatplan's own errors (never a traceback, never a hang: every
  case is timed);
* without reading anything outside the plan root: an audit hook
  (:func:`sys.addaudithook`) records every file opened, and no path under the
  test's ``outside`` directory, ``/etc``, ``/proc``, ``/dev`` or ``/sys`` may
  be opened;
* without writing partial output: ``heatplan build -o`` and ``heatplan
  package -o`` leave no file (and no temporary file) behind.
"""

import bz2
import collections
import contextlib
import copy
import gzip
import io
import json
import lzma
import os
import stat
import struct
import sys
import tarfile
import time
import warnings
import zipfile

import pytest

from heatplan import errors
from heatplan.actions import export as export_action
from heatplan.actions import plan as plan_actions
from heatplan.cli import app
from heatplan.plan import source
from tests.figures import figure

HOT = 'heat_template_version: 2021-04-16\n'
SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT'
#: Seconds any one hostile case may take.
CASE_SECONDS = 10.0
CASES = collections.Counter()




# -- watching what is opened ----------------------------------------------------------

_AUDIT = {'on': False, 'opened': []}


def _audit_hook(event, args):
    if _AUDIT['on'] and event == 'open' and args and isinstance(args[0], (str, bytes)):
        _AUDIT['opened'].append(os.fsdecode(args[0]))


sys.addaudithook(_audit_hook)  # cannot be removed; costs nothing while off
ALWAYS_FORBIDDEN = ('/etc', '/proc', '/dev', '/sys')


def _under(path, roots):
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip('/') + '/')
               for r in roots for r in (r, os.path.realpath(r)))


@contextlib.contextmanager
def watch_opens(*forbidden):
    """Yield a list; on exit it holds the forbidden paths that were opened."""
    roots = [str(f) for f in forbidden] + list(ALWAYS_FORBIDDEN)
    bad = []
    _AUDIT['opened'] = []
    _AUDIT['on'] = True
    try:
        yield bad
    finally:
        _AUDIT['on'] = False
        bad.extend(p for p in _AUDIT['opened'] if _under(p, roots))


def test_the_open_watch_sees_a_read_outside(tmp_path):
    """Control: the audit hook does catch a file opened outside (else the rest proves nothing)."""
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'secret.txt').write_text(SECRET)
    os.symlink(str(outside / 'secret.txt'), str(tmp_path / 'link'))
    with watch_opens(outside) as bad:
        with open(str(tmp_path / 'link')) as f:
            f.read()
        fd = os.open(str(outside / 'secret.txt'), os.O_RDONLY)
        os.close(fd)
    assert len(bad) == 2, bad
    with watch_opens(outside) as bad:
        with open(str(tmp_path / 'other.txt'), 'w') as f:
            f.write('inside')
    assert bad == []


# -- running a case -----------------------------------------------------------------------

def write_tree(root, files):
    root = str(root)
    os.makedirs(root, exist_ok=True)
    for rel, content in files.items():
        path = os.path.join(root, *rel.split('/'))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(content.encode('utf-8') if isinstance(content, str) else content)
    return root


def refused(src, forbidden=(), expect=errors.HeatplanError, **kwargs):
    """Build ``src``; it must be refused with ``expect``, quickly, reading nothing forbidden.

    Returns the error.
    """
    started = time.monotonic()
    with watch_opens(*forbidden) as bad:
        try:
            plan_actions.build_plan(plan_actions.PlanOptions(source=str(src), **kwargs))
        except errors.HeatplanError as exc:
            error = exc
        else:
            error = None
    elapsed = time.monotonic() - started
    assert error is not None, 'accepted: %s %s' % (src, kwargs)
    assert isinstance(error, expect), repr(error)
    assert str(error).strip()
    assert bad == [], 'read outside the plan root: %s' % bad
    assert elapsed < CASE_SECONDS, '%.1f s' % elapsed
    return error


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = app.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def no_output(tmp_path, src, *args):
    """``build -o`` and ``package -o`` of ``src`` fail with exit 2/3 and write nothing."""
    outdir = tmp_path / ('out-%d' % time.monotonic_ns())
    outdir.mkdir()
    for verb, name in (('build', 'plan.json'), ('package', 'plan.tar.gz')):
        out = outdir / name
        code, stdout, stderr = cli(verb, src, '-o', out, *args)
        assert code in (errors.ExitCode.USAGE, errors.ExitCode.PLAN_INVALID), (code, stderr)
        assert stderr.startswith('heatplan: error: '), stderr
        assert 'Traceback' not in stderr
        assert stdout == ''
    assert os.listdir(str(outdir)) == [], 'partial output: %s' % os.listdir(str(outdir))


# -- archives ------------------------------------------------------------------------------

PLAN = {
    'heatplan.yaml': 'template: main.yaml\n',
    'main.yaml': HOT + 'resources:\n  v:\n    type: OS::Heat::Value\n'
                       '    properties: {value: {get_file: files/a.txt}}\n',
    'files/a.txt': 'a file of the plan\n',
}
TAR_MODES = {'.tar': 'w', '.tar.gz': 'w:gz', '.tar.bz2': 'w:bz2', '.tar.xz': 'w:xz'}
FORMATS = list(TAR_MODES) + ['.zip']


def t_file(name, data=b'x'):
    data = data.encode() if isinstance(data, str) else data
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return info, data


def t_special(name, type_, linkname=''):
    info = tarfile.TarInfo(name)
    info.type = type_
    info.linkname = linkname
    info.mode = 0o755 if type_ == tarfile.DIRTYPE else 0o644
    return info, None


def tar_of(members, mode='w'):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def z_entry(name, data=b'x', mode=None):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((mode if mode is not None else
                           (stat.S_IFDIR | 0o755 if name.endswith('/') else
                            stat.S_IFREG | 0o644)) << 16)
    return info, data.encode() if isinstance(data, str) else data


def zip_of(entries):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "Duplicate name" is the point of some cases
        with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as zf:
            for info, data in entries:
                zf.writestr(info, data)
    return buf.getvalue()


def plan_members(fmt):
    if fmt == '.zip':
        return [z_entry(k, v) for k, v in PLAN.items()]
    return [t_file(k, v) for k, v in PLAN.items()]


def archive(fmt, members):
    return zip_of(members) if fmt == '.zip' else tar_of(members, TAR_MODES[fmt])


def hostile_member(fmt, name, kind, target='main.yaml'):
    """One member ``name`` of ``kind`` (file, dir, symlink, hardlink, chr, blk, fifo)."""
    if fmt == '.zip':
        if kind == 'file':
            return z_entry(name, 'hostile')
        if kind == 'dir':
            return z_entry(name.rstrip('/') + '/', b'')
        if kind == 'symlink':
            return z_entry(name, target, stat.S_IFLNK | 0o777)
        modes = {'chr': stat.S_IFCHR, 'blk': stat.S_IFBLK, 'fifo': stat.S_IFIFO}
        return z_entry(name, b'', modes[kind] | 0o644)
    if kind == 'file':
        return t_file(name, 'hostile')
    types = {'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE, 'hardlink': tarfile.LNKTYPE,
             'chr': tarfile.CHRTYPE, 'blk': tarfile.BLKTYPE, 'fifo': tarfile.FIFOTYPE}
    return t_special(name, types[kind], target if kind in ('symlink', 'hardlink') else '')


def write_archive(tmp_path, fmt, members, label):
    path = str(tmp_path / ('%s%s' % (label, fmt)))
    with open(path, 'wb') as f:
        f.write(archive(fmt, members))
    return path


def member_names(fmt, data):
    if fmt == '.zip':
        return [i.filename for i in zipfile.ZipFile(io.BytesIO(data)).infolist()]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()


def accepted(src, forbidden=()):
    """Build ``src``; it must succeed, quickly, reading nothing forbidden.  Returns the plan."""
    started = time.monotonic()
    with watch_opens(*forbidden) as bad:
        _src, plan = plan_actions.build_plan(plan_actions.PlanOptions(source=str(src)))
    assert bad == [], 'read outside the plan root: %s' % bad
    assert time.monotonic() - started < CASE_SECONDS
    return plan


def _reading(members, ref):
    """``members`` with main.yaml reading ``ref`` (get_file) instead of files/a.txt."""
    text = PLAN['main.yaml'].replace('files/a.txt', json.dumps(ref))
    out = []
    for info, data in members:
        name = getattr(info, 'name', None) or info.filename
        if name.endswith('main.yaml') and data is not None and b'get_file' in data:
            info = copy.copy(info)
            data = text.encode()
            if isinstance(info, tarfile.TarInfo):
                info.size = len(data)
        out.append((info, data))
    return out


def check_archive_cases(tmp_path, category, cases, expect, message_has, skip=False):
    """Count the ``(fmt, members, label[, ref])`` cases after checking each.

    Without ``skip``: refused with ``expect``, the message holding one of
    ``message_has``.  With ``skip`` (a member no plan file needs): the archive
    builds to exactly the files of the good plan, nothing outside read, with a
    skipped-member warning (HP209) holding one of ``message_has``; and when
    the case names ``ref``, the same archive whose main.yaml reads ``ref``
    through the member is refused.
    """
    outside = tmp_path / 'outside'
    outside.mkdir(exist_ok=True)
    cli_checked = set()
    good = None
    for case in cases:
        fmt, members, label = case[:3]
        ref = case[3] if len(case) > 3 else None
        data = archive(fmt, members)
        path = str(tmp_path / ('case-%d%s' % (CASES[category], fmt)))
        with open(path, 'wb') as f:
            f.write(data)
        CASES[category] += 1
        if not skip:
            error = refused(path, forbidden=[outside], expect=expect)
            assert any(m in str(error) for m in message_has), (label, str(error))
            if fmt not in cli_checked:  # the command line too, once per format
                no_output(tmp_path, path)
                cli_checked.add(fmt)
            continue
        plan = accepted(path, forbidden=[outside])
        if good is None:
            good = accepted(write_archive(tmp_path, fmt, plan_members(fmt), 'good'))
        assert plan.body == good.body, label
        notes = [d.message for d in plan.diagnostics if d.code == 'HP209']
        assert any(m in n for n in notes for m in message_has), (label, notes)
        if ref is not None:
            path = str(tmp_path / ('case-%d-read%s' % (CASES[category], fmt)))
            with open(path, 'wb') as f:
                f.write(archive(fmt, _reading(members, ref)))
            refused(path, forbidden=[outside])
            CASES[category] += 1
            if fmt not in cli_checked:
                no_output(tmp_path, path)
                cli_checked.add(fmt)
    return CASES[category]


DOTDOT_NAMES = ['../evil.txt', '../../etc/passwd', 'a/../../evil.txt', './../evil.txt',
                'a/b/../../../evil.txt', '..', 'a/..', '../', '..\\evil.txt',
                'a\\..\\..\\evil.txt', '../' * 20 + 'tmp/evil.txt', 'files/../../evil.txt']
MEMBER_KINDS = {'.zip': ['file', 'dir', 'symlink']}
TAR_KINDS = ['file', 'dir', 'symlink', 'hardlink']


def _placed(fmt, hostile):
    """The hostile member first, then last, among a good plan's members."""
    good = plan_members(fmt)
    return [('first', [hostile] + good), ('last', good + [hostile])]


def test_archive_members_with_dotdot_are_refused(tmp_path):
    cases = []
    for fmt in FORMATS:
        for name in DOTDOT_NAMES:
            for kind in MEMBER_KINDS.get(fmt, TAR_KINDS):
                for where, members in _placed(fmt, hostile_member(fmt, name, kind)):
                    cases.append((fmt, members, '%s %s %r %s' % (fmt, kind, name, where),
                                  name))
    n = check_archive_cases(tmp_path, 'archive: ".." members', cases, errors.SourceError,
                            ('leaves the plan root', 'absolute', 'outside'), skip=True)
    figure('archive cases: ".." member names', n)
    assert n >= 400


ABSOLUTE_NAMES = ['/etc/passwd', '/evil.txt', '//evil.txt', '///etc/shadow', '/./etc/passwd',
                  '/../etc/passwd', 'C:/evil.txt', 'C:\\evil.txt',
                  '\\\\server\\share\\evil.txt', '/tmp/evil.txt', '/dev/null']


def test_archive_members_with_absolute_names_are_refused(tmp_path):
    cases = []
    for fmt in FORMATS:
        for name in ABSOLUTE_NAMES:
            for kind in MEMBER_KINDS.get(fmt, TAR_KINDS):
                hostile = hostile_member(fmt, name, kind)
                for where, members in _placed(fmt, hostile):
                    if where == 'first':
                        data = archive(fmt, members)
                        wanted = name.rstrip('/') + ('/' if fmt == '.zip' and kind == 'dir'
                                                     else '')
                        # the archive really carries the hostile name
                        assert wanted in member_names(fmt, data) or \
                            name in member_names(fmt, data), (fmt, name)
                    cases.append((fmt, members, '%s %s %r %s' % (fmt, kind, name, where),
                                  name))
    n = check_archive_cases(tmp_path, 'archive: absolute members', cases,
                            errors.SourceError,
                            ('is absolute', 'leaves the plan root', 'outside'), skip=True)
    figure('archive cases: absolute member names', n)
    assert n >= 400


def _leaves(link, target):
    """Reference answer: does symlink ``link`` -> ``target`` leave the archive root?"""
    if target.startswith('/'):
        return True
    parts = link.split('/')[:-1]
    for part in target.split('/'):
        if part in ('', '.'):
            continue
        if part == '..':
            if not parts:
                return True
            parts.pop()
        else:
            parts.append(part)
    return not parts


SYMLINK_NAMES = ['l', 'a/l', 'a/b/l', 'files/l']
SYMLINK_TARGETS = ['/etc', '/etc/passwd', '/', '//etc', '..', '../evil.txt', '../../etc/passwd',
                   'a/../../evil', '../' * 8 + 'etc/passwd', '../..', '../../..', '.',
                   './..', '../outside/secret.txt', '/tmp', '../a/../..']


def test_archive_symlinks_out_of_the_root_are_refused(tmp_path):
    cases = []
    inside = 0
    for fmt in ['.tar', '.tar.gz', '.zip']:
        for name in SYMLINK_NAMES:
            for target in SYMLINK_TARGETS:
                if not _leaves(name, target):
                    inside += 1
                    continue
                for where, members in _placed(fmt, hostile_member(fmt, name, 'symlink',
                                                                  target)):
                    cases.append((fmt, members, '%s %r -> %r %s' % (fmt, name, target, where),
                                  name + '/x' if target in ('/', '/etc', '/tmp', '//etc', '..')
                                  else name))
    # single top directory: a link may not leave it either
    for fmt in ['.tar', '.zip']:
        for target in ['../x', '../top2/x', '..', '../../x']:
            good = [t_file('top/' + k, v) if fmt != '.zip' else z_entry('top/' + k, v)
                    for k, v in PLAN.items()]
            cases.append((fmt, good + [hostile_member(fmt, 'top/l', 'symlink', target)],
                          'top/l -> %r' % target, 'l'))
    n = check_archive_cases(tmp_path, 'archive: symlinks out', cases, errors.ConfinementError,
                            ('leaves the plan root', 'out of the plan root',
                             'absolute path'), skip=True)
    figure('archive cases: symlinks out of the root', n)
    assert n >= 200 and inside >= 5


def test_archive_symlinks_inside_the_root_work(tmp_path):
    """Control: links that stay inside are followed (dir links included)."""
    members = plan_members('.tar') + [
        t_special('lnk', tarfile.SYMTYPE, 'files'),
        t_special('deep/a/b/up', tarfile.SYMTYPE, '../../../files/a.txt'),
        t_special('hard.txt', tarfile.LNKTYPE, 'files/a.txt'),
    ]
    src = source.ArchiveSource('x.tar', data=tar_of(members))
    for key in ('lnk/a.txt', 'deep/a/b/up', 'hard.txt'):
        assert src.read_bytes(key) == b'a file of the plan\n'
    CASES['archive: controls'] += 3


HARDLINK_TARGETS = ['/etc/passwd', '../evil.txt', '../../etc/passwd', 'nonexistent.txt',
                    'later.txt', './../evil.txt', 'a/../../evil.txt', '/main.yaml', '..',
                    'files/../../evil.txt']


def test_archive_hard_links_out_of_the_root_are_refused(tmp_path):
    cases = []
    for fmt in TAR_MODES:
        for name in ['h.txt', 'files/h.txt', 'a/b/h.txt']:
            for target in HARDLINK_TARGETS:
                members = plan_members(fmt) + [
                    hostile_member(fmt, name, 'hardlink', target), t_file('later.txt', 'l')]
                cases.append((fmt, members, '%s %r => %r' % (fmt, name, target), name))
    n = check_archive_cases(tmp_path, 'archive: hard links out', cases,
                            errors.ConfinementError, ('hard link',), skip=True)
    figure('archive cases: hard links out of the root', n)
    assert n >= 100


def test_archive_device_files_are_refused(tmp_path):
    cases = []
    for fmt in FORMATS:
        kinds = ['chr', 'blk', 'fifo']
        for name in ['dev', 'files/null', 'main.yaml.dev', 'a/b/c/zero']:
            for kind in kinds:
                for where, members in _placed(fmt, hostile_member(fmt, name, kind)):
                    cases.append((fmt, members, '%s %s %r %s' % (fmt, kind, name, where),
                                  name))
        if fmt != '.zip':
            for type_ in (b'V', b'N', b'Z', b'9'):  # volume, unknown...
                cases.append((fmt, plan_members(fmt) + [t_special('odd', type_)],
                              '%s type %r' % (fmt, type_), 'odd'))
    n = check_archive_cases(tmp_path, 'archive: devices', cases, errors.SourceError,
                            ('device', 'fifo', 'unsupported', 'not a regular file'), skip=True)
    figure('archive cases: device files and odd member types', n)
    assert n >= 120


DUPLICATE_NAMES = [('a.txt', 'a.txt'), ('a.txt', './a.txt'), ('d/a.txt', 'd//a.txt'),
                   ('d/a.txt', 'd/./a.txt'), ('d/a.txt', './d/a.txt'),
                   ('main.yaml', 'main.yaml'), ('heatplan.yaml', './heatplan.yaml'),
                   ('files/a.txt', 'files//a.txt'), ('x', 'x/')]
DUPLICATE_KINDS = [('file', 'file'), ('file', 'symlink'), ('symlink', 'file'),
                   ('file', 'dir'), ('dir', 'file'), ('file', 'hardlink')]


def test_archive_duplicate_member_names_are_refused(tmp_path):
    cases = []
    for fmt in FORMATS:
        for first, second in DUPLICATE_NAMES:
            for kind1, kind2 in DUPLICATE_KINDS:
                if fmt == '.zip' and 'hardlink' in (kind1, kind2):
                    continue
                if first.endswith('/') or second.endswith('/'):
                    # 'x/' is a directory by its name alone in a zip
                    if 'dir' not in (kind1, kind2) or fmt == '.zip':
                        continue
                members = plan_members(fmt)
                if first in PLAN:
                    members = [m for m in members
                               if (m[0].name if fmt != '.zip' else m[0].filename) != first]
                members += [hostile_member(fmt, first, kind1, 'files/a.txt'),
                            hostile_member(fmt, second, kind2, 'files/a.txt')]
                if first in PLAN and kind1 == 'file':
                    members[-2] = (t_file(first, PLAN[first]) if fmt != '.zip'
                                   else z_entry(first, PLAN[first]))
                cases.append((fmt, members, '%s %s %r + %s %r' % (fmt, kind1, first, kind2,
                                                                 second)))
    n = check_archive_cases(tmp_path, 'archive: duplicates', cases, errors.SourceError,
                            ('more than once',))
    figure('archive cases: duplicate member names', n)
    assert n >= 200


ZEROS = b'\0' * (8 * 1024 * 1024)


def _zip_declaring(size_fields, data=ZEROS, name='bomb.txt'):
    """A zip whose one member's uncompressed size fields are set to ``size_fields``."""
    raw = bytearray(zip_of([z_entry(name, data)]))
    struct.pack_into('<I', raw, 22, size_fields)                  # local header
    central = raw.rindex(b'PK\x01\x02')
    struct.pack_into('<I', raw, central + 24, size_fields)        # central directory
    return bytes(raw)


def _zip_overlapping(copies=2000):
    """Many central-directory entries, all pointing at one 8 MiB deflated member."""
    raw = zip_of([z_entry('bomb.txt', ZEROS)])
    central = raw.rindex(b'PK\x01\x02')
    end = raw.rindex(b'PK\x05\x06')
    entry = raw[central:end]
    entries = []
    for i in range(copies):
        name = b'b%05d.txt' % i
        e = bytearray(entry[:46]) + name
        struct.pack_into('<H', e, 28, len(name))
        entries.append(bytes(e))
    cd = b''.join(entries)
    eocd = bytearray(raw[end:end + 22])
    struct.pack_into('<HHII', eocd, 8, copies, copies, len(cd), central)
    return raw[:central] + cd + bytes(eocd)


def test_archive_bombs_are_refused_quickly(tmp_path):
    cases = []
    for fmt in ('.tar.gz', '.tar.bz2', '.tar.xz'):
        mode = TAR_MODES[fmt]
        cases.append((fmt, tar_of(plan_members(fmt) + [t_file('bomb.txt', ZEROS)], mode)))
        cases.append((fmt, tar_of(plan_members(fmt) + [t_file('b%d' % i, ZEROS[:1 << 20])
                                                       for i in range(12)], mode)))
    compressed = {'.tar.gz': gzip.compress, '.tar.bz2': bz2.compress, '.tar.xz': lzma.compress}
    for fmt, compress in compressed.items():
        # a stream of zeros that is not even a tar: refused before it is parsed
        cases.append((fmt, compress(b'\0' * (64 * 1024 * 1024))))
    cases.append(('.zip', zip_of(plan_members('.zip') + [z_entry('bomb.txt', ZEROS)])))
    cases.append(('.zip', zip_of([z_entry('b%d' % i, ZEROS[:1 << 20]) for i in range(40)])))
    cases.append(('.zip', _zip_declaring(1)))          # lies: small size, 8 MiB inside
    cases.append(('.zip', _zip_declaring(0xFFFFFFF0)))  # lies the other way
    cases.append(('.zip', _zip_overlapping()))
    outside = tmp_path / 'outside'
    outside.mkdir()
    for i, (fmt, data) in enumerate(cases):
        path = str(tmp_path / ('bomb-%d%s' % (i, fmt)))
        with open(path, 'wb') as f:
            f.write(data)
        refused(path, forbidden=[outside])
        CASES['archive: bombs'] += 1
    no_output(tmp_path, str(tmp_path / 'bomb-0.tar.gz'))
    figure('archive cases: zip/tar bombs', len(cases))
    assert len(cases) >= 14


def _zip_patched(version=None, encrypted=False, method=None):
    """The plan as a zip whose headers claim a feature zipfile cannot read."""
    raw = bytearray(zip_of(plan_members('.zip')))
    for sig, flags, meth, ver in ((b'PK\x03\x04', 6, 8, None), (b'PK\x01\x02', 8, 10, 6)):
        at = raw.find(sig)
        while at >= 0:
            if encrypted:
                raw[at + flags] |= 1
            if method is not None:
                struct.pack_into('<H', raw, at + meth, method)
            if version is not None and ver is not None:
                struct.pack_into('<H', raw, at + ver, version)
            at = raw.find(sig, at + 4)
    return bytes(raw)


def test_zip_features_heatplan_cannot_read_are_refused_cleanly(tmp_path):
    cases = {'encrypted': _zip_patched(encrypted=True), 'deflate64': _zip_patched(method=9),
             'aes': _zip_patched(method=99), 'version 6.4': _zip_patched(version=64),
             'empty name': zip_of(plan_members('.zip') + [z_entry('', b'x')])}
    for label, data in cases.items():
        CASES['archive: unreadable zip features'] += 1
        path = str(tmp_path / ('%s.zip' % label.replace(' ', '-')))
        with open(path, 'wb') as f:
            f.write(data)
        try:
            refused(path, expect=errors.SourceError)
        except (NotImplementedError, RuntimeError, IndexError) as exc:
            raise AssertionError('%s: %r escaped' % (label, exc))


def _fast_tgz(n, prefix='m/'):
    """A .tar.gz of ``n`` one-byte members, written without tarfile's per-member cost."""
    name0 = ('%s%07d' % (prefix, 0)).encode()
    info = tarfile.TarInfo(name0.decode())
    info.size = 1
    info.mode = 0o644
    header = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    base = sum(header[:148]) + 8 * 32 + sum(header[156:]) - sum(name0)
    body = bytearray()
    for i in range(n):
        name = ('%s%07d' % (prefix, i)).encode()
        header[:len(name)] = name
        header[148:156] = b'%06o\0 ' % (base + sum(name))
        body += header
        body += b'x' + b'\0' * 511
    body += b'\0' * 1024
    return gzip.compress(bytes(body), compresslevel=1)


def test_archives_with_100000_tiny_members(tmp_path):
    tgz = _fast_tgz(100000)
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:  # a genuine archive
        assert [m.name for m in [tar.next(), tar.next()]] == ['m/0000000', 'm/0000001']
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as zf:
        for i in range(100000):
            zf.writestr('m/%07d' % i, b'x')
    archives = {'.tar.gz': tgz, '.zip': buf.getvalue()}
    for fmt, data in archives.items():
        path = str(tmp_path / ('many%s' % fmt))
        with open(path, 'wb') as f:
            f.write(data)
        # default caps: refused, quickly, as too many files (or too much expansion)
        error = refused(path, expect=errors.LimitExceeded)
        assert 'members' in str(error) or 'expands' in str(error)
        error = refused(path, expect=errors.LimitExceeded,
                        limits=source.Limits(max_expansion_ratio=10 ** 6))
        assert 'more than 20000' in str(error)
        # caps raised: read, all of them, in bounded time
        started = time.monotonic()
        src = source.ArchiveSource(path, limits=source.Limits(
            max_files=200000, max_expansion_ratio=10 ** 6))
        assert len(src.keys()) == 100000
        assert time.monotonic() - started < 30
        CASES['archive: 100,000 members'] += 3
    no_output(tmp_path, str(tmp_path / 'many.zip'))
    figure('archive cases: 100,000 tiny members', CASES['archive: 100,000 members'])


def _truncations(fmt, data, stride=1):
    """(cut, error or None, members or None) for every cut of ``data``."""
    original = source.ArchiveSource('x' + fmt, data=data)
    want = {k: original.read_bytes(k) for k in original.keys()}
    silent = []
    count = 0
    for cut in range(0, len(data), stride):
        count += 1
        try:
            src = source.ArchiveSource('x' + fmt, data=data[:cut])
        except errors.HeatplanError:
            continue
        got = {k: src.read_bytes(k) for k in src.keys()}
        if got != want:  # accepted, with members missing or short
            silent.append((cut, sorted(set(want) - set(got))))
    return count, silent


def test_truncated_compressed_and_zip_archives_are_refused():
    members = plan_members('.tar') + [t_file('z.txt', 'the last member\n')]
    total = 0
    for fmt in ('.tar.gz', '.tar.bz2', '.tar.xz', '.zip'):
        data = archive(fmt, members if fmt != '.zip' else
                       plan_members('.zip') + [z_entry('z.txt', 'the last member\n')])
        count, silent = _truncations(fmt, data)
        assert silent == [], '%s: truncated archive accepted: %s' % (fmt, silent[:5])
        total += count
    CASES['archive: truncated'] += total
    figure('archive cases: truncated compressed/zip archives (every cut)', total)
    assert total >= 1000


def test_truncated_plain_tar_is_refused():
    members = plan_members('.tar') + [t_file('z.txt', 'the last member\n')]
    data = archive('.tar', members)
    count, silent = _truncations('.tar', data)
    CASES['archive: truncated'] += count
    figure('archive cases: truncated plain tar (every cut)', count)
    assert silent == [], '%d of %d cuts accepted silently, e.g. %s' % (
        len(silent), count, silent[:3])


# -- YAML -----------------------------------------------------------------------------------

def sent_as_text(src, text):
    """A get_file target that does not parse: sent byte for byte, with HP208 (as heatclient)."""
    plan = accepted(src)
    assert plan.body['files']['files/data.yaml'] == text
    assert [d.code for d in plan.diagnostics if d.path == 'files/data.yaml'] == ['HP208']
    return plan


def plan_with(tmp_path, role, text, label):
    """A plan directory whose file of ``role`` holds ``text``; (path, build kwargs)."""
    root = str(tmp_path / label)
    files = {'main.yaml': HOT + 'parameters:\n  x: {type: json, default: {}}\n'
                          'resources:\n  n:\n    type: nested.yaml\n'
                          '  v:\n    type: OS::Heat::Value\n'
                          '    properties: {value: {get_file: files/data.yaml}}\n',
             'nested.yaml': HOT, 'files/data.yaml': HOT, 'env.yaml': 'parameters: {}\n',
             'heatplan.yaml': 'template: main.yaml\nenvironments: [env.yaml]\n'}
    if role == 'root':
        files['main.yaml'] = text
        files['heatplan.yaml'] = 'template: main.yaml\n'
    elif role == 'plan-environment.yaml':
        del files['heatplan.yaml']
        files['plan-environment.yaml'] = text
    else:
        files[{'environment': 'env.yaml', 'nested': 'nested.yaml',
               'get_file': 'files/data.yaml', 'heatplan.yaml': 'heatplan.yaml'}[role]] = text
    write_tree(root, files)
    return root


def _bomb_lines(width, depth, indent):
    pad = ' ' * indent
    lines = [pad + 'l0: &l0 [%s]\n' % ', '.join(['lol'] * width)]
    for i in range(1, depth):
        lines.append(pad + 'l%d: &l%d [%s]\n' % (i, i, ', '.join(['*l%d' % (i - 1)] * width)))
    return ''.join(lines)


BOMBS = [(2, 22), (3, 14), (4, 11), (5, 10), (9, 8), (10, 7), (30, 5), (1000, 3)]


def bomb_texts(width, depth):
    body = _bomb_lines(width, depth, 6)
    return {
        'root': HOT + 'resources:\n  v:\n    type: OS::Heat::Value\n    properties:\n'
                      '      value:\n' + body,
        'nested': HOT + 'outputs:\n  o:\n    value:\n' + body,
        'get_file': HOT + 'description: a template read with get_file\noutputs:\n  o:\n'
                          '    value:\n' + body,
        'environment': 'parameter_defaults:\n  x:\n' + _bomb_lines(width, depth, 4),
        'heatplan.yaml': 'template: main.yaml\nparameters:\n  x:\n' +
                         _bomb_lines(width, depth, 4),
        'plan-environment.yaml': 'template: main.yaml\nparameter_defaults:\n  x:\n' +
                                 _bomb_lines(width, depth, 4),
    }


RECURSIVE = {
    'root': HOT + 'resources: &r\n  v: {type: OS::Heat::Value, properties: {value: *r}}\n',
    'nested': HOT + 'outputs: &o\n  o: {value: *o}\n',
    'environment': 'parameter_defaults: &p\n  x: [*p]\n',
    'heatplan.yaml': 'template: main.yaml\nparameters: &p\n  x: [*p]\n',
    'plan-environment.yaml': 'template: main.yaml\nparameter_defaults: &p\n  x: [*p]\n',
}
GUARDED_ROLES = ['root', 'nested', 'get_file', 'environment', 'heatplan.yaml']


def test_yaml_alias_bombs_are_refused(tmp_path):
    n = 0
    for width, depth in BOMBS:
        for role in GUARDED_ROLES:
            text = bomb_texts(width, depth)[role]
            error = refused(plan_with(tmp_path, role, text, 'bomb%d' % n))
            assert 'alias' in str(error), (role, width, depth, str(error))
            n += 1
    for role, text in RECURSIVE.items():
        if role == 'plan-environment.yaml':
            continue
        error = refused(plan_with(tmp_path, role, text, 'rec%d' % n))
        assert 'alias' in str(error), (role, str(error))
        n += 1
    CASES['yaml: alias bombs'] += n
    figure('YAML cases: alias bombs and recursive aliases', n)
    assert n >= 40


def test_yaml_alias_bomb_in_a_plan_environment_is_refused(tmp_path):
    for i, (width, depth) in enumerate(BOMBS[:3]):
        text = bomb_texts(width, depth)['plan-environment.yaml']
        CASES['yaml: alias bombs'] += 1
        error = refused(plan_with(tmp_path, 'plan-environment.yaml', text, 'pe%d' % i))
        assert 'alias' in str(error)


def deep_values(depth):
    return {
        'flow sequence': '[' * depth + ']' * depth,
        'flow mapping': '{a: ' * depth + '1' + '}' * depth,
        'mixed flow': '[{a: ' * depth + '1' + '}]' * depth,
        'block sequence': '- ' * depth + 'leaf',
    }


def deep_texts(value):
    v = value if not value.startswith('- ') else '\n        ' + value
    return {
        'root': HOT + 'resources:\n  v:\n    type: OS::Heat::Value\n    properties:\n'
                      '      value: %s\n' % v,
        'nested': HOT + 'outputs:\n  o:\n    value: %s\n' % v,
        'get_file': HOT + 'description: read with get_file\noutputs:\n  o:\n'
                          '    value: %s\n' % v,
        'environment': 'parameter_defaults:\n  x: %s\n' % v,
        'heatplan.yaml': 'template: main.yaml\nparameters:\n  x: %s\n' % v,
        'plan-environment.yaml': 'template: main.yaml\nparameter_defaults:\n  x: %s\n' % v,
    }


def test_yaml_nested_10000_deep_is_refused_without_a_crash(tmp_path):
    n = 0
    for depth in (10000, 100000):
        for style, value in deep_values(depth).items():
            for role, text in deep_texts(value).items():
                src = plan_with(tmp_path, role, text, 'deep%d' % n)
                n += 1
                if role == 'get_file' and len(text) <= 512 * 1024:
                    sent_as_text(src, text)
                    continue
                error = refused(src)
                assert 'nest' in str(error) or 'depth' in str(error) or (
                    role == 'get_file' and 'HP601' in str(error)), (role, style, error)
    CASES['yaml: deep nesting'] += n
    figure('YAML cases: nesting 10,000 and 100,000 deep', n)
    assert n >= 48


def test_yaml_nested_just_under_the_parser_limit_never_crashes(tmp_path):
    """999 levels: built or refused with heatplan's error, never RecursionError."""
    n = 0
    for style, value in deep_values(999).items():
        for role, text in deep_texts(value).items():
            src = plan_with(tmp_path, role, text, 'edge%d' % n)
            started = time.monotonic()
            try:
                plan_actions.build_plan(plan_actions.PlanOptions(source=src))
            except errors.HeatplanError:
                pass
            assert time.monotonic() - started < CASE_SECONDS, (style, role)
            n += 1
    CASES['yaml: deep nesting'] += n


HUNDRED_MB = 100 * 1024 * 1024


def test_a_100_mb_scalar_is_refused_unread(tmp_path):
    big = tmp_path / 'big'
    big.mkdir()
    scalar = HOT + 'description: "' + 'x' * (HUNDRED_MB - 50) + '"\n'
    n = 0
    for role in ['root', 'nested', 'get_file', 'environment', 'heatplan.yaml',
                 'plan-environment.yaml']:
        src = plan_with(tmp_path, role, scalar, 'big%d' % n)
        path = {'root': 'main.yaml', 'nested': 'nested.yaml', 'get_file': 'files/data.yaml',
                'environment': 'env.yaml', 'heatplan.yaml': 'heatplan.yaml',
                'plan-environment.yaml': 'plan-environment.yaml'}[role]
        # too big: refused on its size, never opened
        error = refused(src, forbidden=[os.path.join(src, path)],
                        expect=errors.LimitExceeded)
        assert 'per-file cap' in str(error), str(error)
        n += 1
    # as a --parameter-file value
    src = plan_with(tmp_path, 'get_file', HOT, 'bigparam')
    with open(os.path.join(src, 'value.txt'), 'w') as f:
        f.write('x' * HUNDRED_MB)
    refused(src, expect=errors.LimitExceeded, parameter_files=['x=value.txt'])
    no_output(tmp_path, src, '--parameter-file', 'x=value.txt')
    n += 1
    # in archives: refused by the per-file cap or as a bomb
    member = scalar.encode()
    for fmt in ('.tar.gz', '.zip'):
        path = str(tmp_path / ('big%s' % fmt))
        entries = (plan_members(fmt) + [z_entry('files/big.yaml', member)] if fmt == '.zip'
                   else plan_members(fmt) + [t_file('files/big.yaml', member)])
        with open(path, 'wb') as f:
            f.write(archive(fmt, entries))
        refused(path, expect=errors.LimitExceeded)
        n += 1
    CASES['yaml: 100 MB scalar'] += n
    figure('YAML cases: a 100 MB scalar', n)


INVALID_UTF8 = [b'\xff', b'\xfe', b'\xc3\x28', b'\xa0\xa1', b'\xe2\x28\xa1', b'\xe2\x82\x28',
                b'\xf0\x28\x8c\xbc', b'\xf0\x90\x28\xbc', b'\xed\xa0\x80', b'\xc0\xaf',
                b'\xf8\x88\x80\x80\x80', b'\x80', b'\xf4\x90\x80\x80', b'\xe0\x80\xaf']


def utf8_texts(bad):
    return {
        'root': HOT.encode() + b'description: caf' + bad + b'\n',
        'root (comment)': HOT.encode() + b'# ' + bad + b'\n',
        'root (key)': HOT.encode() + b'parameters:\n  k' + bad + b': {type: string}\n',
        'root (at the end)': HOT.encode() + b'description: x\n' + bad,
        'root (first byte)': bad + HOT.encode(),
        'nested': HOT.encode() + b'description: "' + bad + b'"\n',
        'get_file': HOT.encode() + b'description: ' + bad + b'\n',
        'environment': b'parameter_defaults:\n  x: ' + bad + b'\n',
        'heatplan.yaml': b'template: main.yaml\nparameters:\n  x: ' + bad + b'\n',
        'plan-environment.yaml': b'template: main.yaml\nparameter_defaults:\n  x: ' + bad + b'\n',
    }


def test_invalid_utf8_is_refused_with_its_position(tmp_path):
    n = 0
    for bad in INVALID_UTF8:
        for role, data in utf8_texts(bad).items():
            src = plan_with(tmp_path, role.split(' ')[0], data, 'utf%d' % n)
            error = refused(src)
            assert 'not UTF-8' in str(error), (role, bad, str(error))
            assert 'offset' in str(error)
            n += 1
    # a plain (get_file) text file and a parameter file
    for bad in INVALID_UTF8:
        src = plan_with(tmp_path, 'get_file', HOT, 'utf%d' % n)
        with open(os.path.join(src, 'files', 'data.yaml'), 'wb') as f:
            f.write(b'#!/bin/sh\necho ' + bad + b'\n')
        assert 'not UTF-8' in str(refused(src))
        with open(os.path.join(src, 'files', 'data.yaml'), 'wb') as f:
            f.write(HOT.encode())
        with open(os.path.join(src, 'value.txt'), 'wb') as f:
            f.write(b'value ' + bad)
        assert 'not UTF-8' in str(refused(src, parameter_files=['x=value.txt']))
        n += 2
    CASES['yaml: invalid UTF-8'] += n
    figure('YAML cases: invalid UTF-8', n)
    assert n >= 150


TAB_TEXTS = [
    HOT + '\tresources: {}\n',
    HOT + 'resources:\n\ta: {type: OS::Heat::None}\n',
    HOT + 'resources:\n  a:\n\t  type: OS::Heat::None\n',
    HOT + 'resources:\n  a:\n  \ttype: OS::Heat::None\n',
    HOT + 'outputs:\n  o:\n    value:\n      -\tx\n',
    HOT + 'description: |\n\tx\n',
    HOT + 'description: |\n  a\n\tb\n',
    HOT + 'parameters:\n  p:\n    type: string\n\t\n\tdefault: x\n',
    HOT + 'resources:\n    a:\n\t    type: OS::Heat::None\n',
]


def test_tab_indentation_is_refused_with_a_hint(tmp_path):
    n = 0
    for text in TAB_TEXTS:
        for role in ('root', 'nested', 'get_file', 'environment', 'heatplan.yaml',
                     'plan-environment.yaml'):
            if role in ('environment', 'heatplan.yaml', 'plan-environment.yaml'):
                body = text[len(HOT):].replace('resources', 'parameter_defaults')
                if role != 'environment':
                    body = 'template: main.yaml\n' + body
            else:
                body = text
            src = plan_with(tmp_path, role, body, 'tab%d' % n)
            n += 1
            if role == 'get_file':
                sent_as_text(src, body)
                continue
            error = refused(src)
            assert 'tab' in str(error), (role, text, str(error))
    CASES['yaml: tabs'] += n
    figure('YAML cases: tabs used for indentation', n)
    assert n >= 50


# A template whose every mapping level is known: duplicate a key at each one.
DOC = [
    ('heat_template_version', '2021-04-16'),
    ('description', 'many levels'),
    ('parameters', [
        ('p', [('type', 'string'), ('default', 'x'),
               ('constraints', None)]),
        ('q', [('type', 'json'), ('default', [('a', [('b', [('c', [('d', '1')])])])])]),
    ]),
    ('resources', [
        ('r', [('type', 'OS::Heat::Value'),
               ('properties', [('value', [('l1', [('l2', [('l3', [('l4', [('l5', [
                   ('l6', [('l7', [('l8', 'leaf')])])])])])])])]),
                               ('type', 'json')]),
               ('metadata', [('m', 'x')])]),
        ('s', [('type', 'OS::Heat::None')]),
    ]),
    ('outputs', [('o', [('value', 'x'), ('description', 'y')])]),
]


def _emit(pairs, indent=0, dup=None, path=()):
    out = []
    for i, (key, value) in enumerate(pairs):
        lines = _emit_pair(key, value, indent, dup, path)
        out.extend(lines)
        if dup == path and i == 0:
            out.extend(lines)  # the same key again, at this level
    return out


def _emit_pair(key, value, indent, dup, path):
    pad = ' ' * indent
    if value is None:
        return ['%s%s: []' % (pad, key)]
    if isinstance(value, str):
        return ['%s%s: %s' % (pad, key, value)]
    return ['%s%s:' % (pad, key)] + _emit(value, indent + 2, dup, path + (key,))


def _mapping_paths(pairs, path=()):
    yield path
    for key, value in pairs:
        if isinstance(value, list):
            yield from _mapping_paths(value, path + (key,))


def _duplicate_reported(src, path):
    """Heat (PyYAML) keeps the last duplicate: a warning naming it; the build goes on."""
    plan = accepted(src)
    dups = [d for d in plan.diagnostics if d.code == 'HP104']
    assert dups and all(d.path == path and d.severity == 'warning' for d in dups), dups
    assert all('last occurrence' in d.message for d in dups)
    return plan


def test_duplicate_keys_at_every_level_are_reported(tmp_path):
    n = 0
    paths = list(_mapping_paths(DOC))
    assert len(paths) >= 20
    files = {'root': 'main.yaml', 'nested': 'nested.yaml', 'get_file': 'files/data.yaml',
             'environment': 'env.yaml'}
    for dup in paths:
        text = '\n'.join(_emit(DOC, dup=dup)) + '\n'
        for role in ('root', 'nested', 'get_file'):
            _duplicate_reported(plan_with(tmp_path, role, text, 'dup%d' % n), files[role])
            n += 1
    for text in ['parameter_defaults:\n  x: 1\n  x: 2\n',
                 'parameter_defaults: {x: 1, x: 2}\n',
                 'parameter_defaults:\n  x: 1\n  "x": 2\n',
                 'parameter_defaults:\n  x: 1\nparameter_defaults:\n  y: 2\n',
                 'resource_registry:\n  "A::B": nested.yaml\n  "A::B": nested.yaml\n',
                 'parameter_defaults:\n  x: {a: {b: 1, b: 2}}\n']:
        _duplicate_reported(plan_with(tmp_path, 'environment', text, 'dup%d' % n), 'env.yaml')
        n += 1
    CASES['yaml: duplicate keys'] += n
    figure('YAML cases: duplicate keys (every mapping level)', n)
    assert n >= 60


def test_duplicate_keys_in_definition_files(tmp_path):
    # heatplan.yaml is heatplan's own: refused; a TripleO plan-environment.yaml
    # is read as tripleoclient reads it (the last wins), with a warning.
    for i, text in enumerate(['template: main.yaml\ntemplate: nested.yaml\n',
                              'template: main.yaml\nparameters:\n  x: 1\n  x: 2\n',
                              'template: main.yaml\nenvironments: [env.yaml]\n'
                              'environments: []\n']):
        CASES['yaml: duplicate keys'] += 1
        error = refused(plan_with(tmp_path, 'heatplan.yaml', text, 'ddup-%d' % i))
        assert 'duplicate' in str(error)
    for i, text in enumerate(['template: main.yaml\nparameter_defaults:\n  x: 1\n  x: 2\n',
                              'template: nested.yaml\ntemplate: main.yaml\n']):
        CASES['yaml: duplicate keys'] += 1
        _duplicate_reported(plan_with(tmp_path, 'plan-environment.yaml', text, 'pdup-%d' % i),
                            'plan-environment.yaml')


NON_MAPPINGS = ['- a\n- b\n', 'just a string\n', '42\n', '~\n', '', '# only a comment\n',
                '---\n', '[]\n', '"heat_template_version: 2021-04-16"\n', '!!binary aGk=\n',
                '--- a\n--- b\n', '[heat_template_version, 2021-04-16]\n', '!foo {a: 1}\n',
                HOT + '---\n' + HOT, 'true\n']


def test_non_mapping_documents_are_refused(tmp_path):
    n = 0
    for text in NON_MAPPINGS:
        for role in ('root', 'nested', 'environment', 'heatplan.yaml',
                     'plan-environment.yaml'):
            src = plan_with(tmp_path, role, text, 'nm%d' % n)
            n += 1
            if role == 'environment' and text in ('', '# only a comment\n', '---\n', '~\n'):
                # Heat reads an empty (or null) environment as no content
                plan = accepted(src)
                assert [d.code for d in plan.diagnostics] == ['HP106'], text
                continue
            if role == 'nested' and text.startswith('!foo {'):
                # a mapping with no version, in a nested template: Heat's validate
                # judges it where a resource uses it (HP302, and HP303 for 'a')
                plan = accepted(src)
                assert [d.code for d in plan.diagnostics] == ['HP302', 'HP303'], text
                continue
            error = refused(src)
            assert str(error)
    CASES['yaml: non-mapping documents'] += n
    figure('YAML cases: non-mapping documents', n)
    assert n >= 70


# -- references --------------------------------------------------------------------------

@pytest.fixture
def hostile_root(tmp_path):
    """A plan root with symlinks pointing out, next to an ``outside`` directory."""
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'secret.txt').write_text(SECRET)
    (outside / 'evil.yaml').write_text(HOT + 'description: %s\n' % SECRET)
    root = tmp_path / 'plan'
    write_tree(root, {'main.yaml': HOT, 'files/ok.txt': 'ok', 'inner/keep.txt': 'k'})
    os.symlink('/etc', str(root / 'link_etc'))
    os.symlink('../outside', str(root / 'link_out'))
    os.symlink('../outside/secret.txt', str(root / 'link_file'))
    os.symlink('../outside/evil.yaml', str(root / 'link_evil.yaml'))
    os.symlink('../..', str(root / 'inner' / 'up'))
    os.symlink('/dev/zero', str(root / 'link_dev'))
    os.symlink(str(outside), str(root / 'abs_out'))
    os.symlink('link_out', str(root / 'chain_out'))  # a link to a link that leaves
    return root, outside


def ref_values(root, outside, suffix):
    """References that leave ``root``; ``suffix`` is '' (get_file) or '.yaml'."""
    r, o, t = str(root), str(outside), os.path.dirname(str(root))
    name = 'secret.txt' if not suffix else 'evil.yaml'
    values = [
        '/etc/passwd' + suffix, 'file:///etc/passwd' + suffix,
        'file://localhost/etc/passwd' + suffix, '//etc/passwd' + suffix,
        '../../x' + suffix, '../outside/' + name, 'files/../../outside/' + name,
        '%s/../outside/%s' % (r, name), 'file://%s/../outside/%s' % (r, name),
        'file://%s/%%2e%%2e/outside/%s' % (r, name), 'file://%s/%s' % (o, name),
        '%s/%s' % (o, name), 'file://localhost%s/%s' % (o, name),
        'link_out/' + name, 'abs_out/' + name, 'chain_out/' + name,
        'inner/up/outside/' + name, 'inner/up/plan/../outside/' + name,
        '/proc/self/environ' + suffix, 'file:///proc/self/environ' + suffix,
        '/dev/zero' + suffix, '\\..\\outside\\' + name, 'ftp://127.0.0.1/x' + suffix,
        'file:///etc/../etc/passwd' + suffix, '%s/x%s' % (t, suffix),
    ]
    if suffix:
        values += ['link_evil.yaml', 'link_etc/evil.yaml']
    else:
        values += ['link_file', 'link_etc/passwd', 'link_dev', 'inner/up/outside']
    return values


def ref_plans(value):
    """{label: {file: text}} placing ``value`` as each kind of reference."""
    q = "'" + value.replace("'", "''") + "'"
    plans = {
        'get_file': {'main.yaml': HOT + 'resources:\n  v:\n    type: OS::Heat::Value\n'
                                        '    properties: {value: {get_file: %s}}\n' % q},
        'get_file in a nested template': {
            'main.yaml': HOT + 'resources:\n  n: {type: inner/n.yaml}\n',
            'inner/n.yaml': HOT + 'outputs:\n  o: {value: {get_file: %s}}\n' % q},
    }
    if value.endswith('.yaml'):
        plans.update({
            'type': {'main.yaml': HOT + 'resources:\n  n: {type: %s}\n' % q},
            'registry': {'main.yaml': HOT + 'resources:\n  n: {type: "My::T"}\n',
                         'env.yaml': 'resource_registry:\n  "My::T": %s\n' % q},
            'registry of one resource': {
                'main.yaml': HOT + 'resources:\n  n: {type: "My::T"}\n',
                'env.yaml': 'resource_registry:\n  resources:\n    n:\n'
                            '      "My::T": %s\n' % q},
            'resource chain': {'main.yaml': HOT + 'resources:\n  c:\n'
                                                  '    type: OS::Heat::ResourceChain\n'
                                                  '    properties: {resources: [%s]}\n' % q},
        })
    return plans


def test_references_out_of_the_root_are_refused(hostile_root, tmp_path):
    root, outside = hostile_root
    n = 0
    for suffix in ('', '.yaml'):
        for value in ref_values(root, outside, suffix):
            for _kind, files in ref_plans(value).items():
                write_tree(root, files)
                envs = ['env.yaml'] if 'env.yaml' in files else None
                error = refused(root, forbidden=[outside], template='main.yaml',
                                environments=envs)
                assert SECRET not in str(error)
                for f in files:
                    if f != 'main.yaml':
                        os.unlink(os.path.join(str(root), *f.split('/')))
                n += 1
                CASES['references'] += 1
    # base_url in a registry
    for base in ['/etc', 'file:///etc', '../outside', str(outside), 'file://%s' % outside,
                 'link_out', 'inner/up/outside']:
        write_tree(root, {'main.yaml': HOT + 'resources:\n  n: {type: "My::T"}\n',
                          'env.yaml': 'resource_registry:\n  base_url: %s\n'
                                      '  "My::T": evil.yaml\n' % base})
        refused(root, forbidden=[outside], template='main.yaml', environments=['env.yaml'])
        n += 1
    write_tree(root, {'main.yaml': HOT + 'resources:\n  v:\n    type: OS::Heat::Value\n'
                                         '    properties: {value: {get_file: link_file}}\n'})
    no_output(tmp_path, str(root), '-t', 'main.yaml')
    CASES['references'] += 7
    figure('reference cases: get_file/type/registry/chain/base_url out of the root', n)
    assert n >= 150


def test_definition_paths_out_of_the_root_are_refused(hostile_root, tmp_path):
    """heatplan.yaml and command-line paths: template, environments, parameter files."""
    root, outside = hostile_root
    values = ['/etc/passwd', 'file:///etc/passwd', '../outside/secret.txt',
              str(outside / 'secret.txt'), 'link_file', 'link_out/secret.txt',
              'inner/up/outside/secret.txt', 'link_etc/passwd', 'abs_out/evil.yaml',
              'link_evil.yaml', '%s/../outside/evil.yaml' % root, '/dev/zero', 'link_dev']
    n = 0
    manifest = os.path.join(str(root), 'heatplan.yaml')
    for value in values:
        q = "'" + value + "'"
        for text in ('template: %s\n' % q,
                     'template: main.yaml\nenvironments: [%s]\n' % q,
                     'template: main.yaml\nparameter_files: {p: %s}\n' % q):
            with open(manifest, 'w') as f:
                f.write(text)
            refused(root, forbidden=[outside])
            n += 1
        os.unlink(manifest)
        for kwargs in ({'template': value}, {'template': 'main.yaml', 'environments': [value]},
                       {'template': 'main.yaml', 'parameter_files': ['p=' + value]}):
            refused(root, forbidden=[outside], **kwargs)
            n += 1
    no_output(tmp_path, str(root), '-t', 'link_evil.yaml')
    no_output(tmp_path, str(root), '-t', 'main.yaml', '--parameter-file', 'p=/etc/passwd')
    CASES['references'] += n
    figure('reference cases: definition paths out of the root', n)
    assert n >= 70


def test_references_out_of_an_archive_root_are_refused(tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'secret.txt').write_text(SECRET)
    (outside / 'evil.yaml').write_text(HOT)
    n = 0
    for suffix in ('', '.yaml'):
        for value in ref_values(tmp_path / 'plan', outside, suffix):
            for _kind, files in ref_plans(value).items():
                for fmt in ('.tar.gz', '.zip'):
                    entries = dict(files)
                    entries['heatplan.yaml'] = 'template: main.yaml\n' + (
                        'environments: [env.yaml]\n' if 'env.yaml' in files else '')
                    members = ([z_entry(k, v) for k, v in entries.items()] if fmt == '.zip'
                               else [t_file(k, v) for k, v in entries.items()])
                    path = write_archive(tmp_path, fmt, members, 'ref%d' % n)
                    refused(path, forbidden=[outside])
                    n += 1
    CASES['references'] += n
    figure('reference cases: references out of an archive', n)
    assert n >= 200


def test_a_directory_swapped_for_a_symlink_while_reading_is_not_followed(tmp_path,
                                                                         monkeypatch):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'data.txt').write_text(SECRET)
    root = tmp_path / 'plan'
    write_tree(root, {'heatplan.yaml': 'template: main.yaml\n',
                      'main.yaml': HOT + 'resources:\n  v:\n    type: OS::Heat::Value\n'
                                         '    properties: {value: {get_file: d/data.txt}}\n',
                      'd/data.txt': 'inside'})
    real_lstat = os.lstat
    swapped = []

    def stat_then_swap(path, *args, **kwargs):
        # the moment heatplan checks d/data.txt, before it opens it: d becomes a link out
        result = real_lstat(path, *args, **kwargs)
        if not swapped and str(path) == str(root / 'd' / 'data.txt') and \
                sys._getframe(1).f_code.co_name == '_read':
            os.rename(str(root / 'd'), str(root / 'd.old'))
            os.symlink(str(outside), str(root / 'd'))
            swapped.append(path)
        return result

    monkeypatch.setattr(source.os, 'lstat', stat_then_swap)
    try:
        _src, plan = plan_actions.build_plan(plan_actions.PlanOptions(source=str(root)))
    except errors.HeatplanError:
        plan = None
    monkeypatch.undo()
    CASES['references'] += 1
    assert swapped, 'the race was not reproduced'
    assert plan is None or SECRET not in json.dumps(plan.body)


# -- writing: export never writes outside OUT -------------------------------------------------

HOSTILE_KEYS = ['../evil', '/abs/evil', 'a/../../evil', 'a//b', './a', 'a/./b', '', 'a\\b',
                'x\x00y', '..', 'a/..', '../' * 10 + 'tmp/evil', 'a/b/../../../evil']


def test_export_refuses_hostile_keys_and_writes_nothing(tmp_path):
    n = 0
    for key in HOSTILE_KEYS:
        for out in ('dir', 'plan.tar.gz'):
            target = tmp_path / ('w%d' % n)
            target.mkdir()
            with pytest.raises(errors.HeatplanError):
                export_action.write_tree({'ok.yaml': b'fine', key: b'evil'}, str(target / out))
            assert os.listdir(str(target)) == []
            n += 1
    assert not (tmp_path / 'evil').exists() and not os.path.exists('/abs/evil')
    CASES['export: hostile keys'] += n
    figure('export cases: hostile keys in a stored plan', n)


def test_deep_paths_are_refused_with_a_clear_error_never_a_crash(tmp_path):
    # issue 12: a get_file of ~1000 components ended in RecursionError (exit 1)
    n = 0
    root = tmp_path / 'deep'
    for parts in (300, 1000, 5000):
        for value in ('/'.join(['a'] * parts) + '/x.txt', '../a' * parts,
                      './' * parts + 'x.txt', 'a/' * parts):
            write_tree(root, {'main.yaml': HOT + 'resources:\n  v:\n    type: OS::Heat::Value\n'
                                           '    properties: {value: {get_file: %s}}\n'
                                           % json.dumps(value)})
            error = refused(root, template='main.yaml')
            assert 'RecursionError' not in str(error) and 'recursion' not in str(error)
            n += 1
    code, _out, err = cli('validate', root, '-t', 'main.yaml')
    assert code == errors.ExitCode.PLAN_INVALID and 'longer than 4096 characters' in err + _out
    CASES['references: deep paths'] += n


def test_a_deep_directory_tree_is_read_without_recursion(tmp_path):
    # the directory source resolves a path one component at a time, iteratively
    depth = sys.getrecursionlimit() + 200
    key = '/'.join(['d'] * depth) + '/x.txt'
    path = tmp_path / 'tree'
    path.mkdir()
    fd = os.open(str(path), os.O_RDONLY)
    try:  # relative to a directory fd: the whole path is over PATH_MAX
        for _ in range(depth):
            os.mkdir('d', dir_fd=fd)
            nxt = os.open('d', os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        wfd = os.open('x.txt', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(wfd, b'deep\n')
        os.close(wfd)
    finally:
        os.close(fd)
    try:
        src = source.DirectorySource(str(path))
        try:
            data = src.read_bytes(key)
        except errors.SourceError as exc:  # the OS refusing the path is fine ...
            assert 'Recursion' not in str(exc)
        else:
            assert data == b'deep\n'  # ... and so is reading it
    finally:
        _remove_deep(str(path), depth)
    CASES['references: deep paths'] += 1


def _remove_deep(path, depth):
    """Remove the chain made above bottom-up (shutil.rmtree would recurse past the limit)."""
    fds = [os.open(path, os.O_RDONLY)]
    for _ in range(depth):
        fds.append(os.open('d', os.O_RDONLY, dir_fd=fds[-1]))
    os.unlink('x.txt', dir_fd=fds[-1])
    os.close(fds.pop())
    while len(fds) > 0:
        os.rmdir('d', dir_fd=fds[-1])
        os.close(fds.pop())


def test_sparse_tar_members_count_their_expanded_size(tmp_path):
    # issue 12: a tiny .tar.gz of GNU sparse members grew to ~540 MB in memory
    import shutil
    import subprocess

    if shutil.which('tar') is None:
        pytest.skip('GNU tar is needed to make sparse members')
    tree = tmp_path / 'sparse'
    tree.mkdir()
    (tree / 'main.yaml').write_text(HOT)
    with open(tree / 'hole.bin', 'wb') as f:
        f.truncate(12 * 1024 * 1024)
    arc = tmp_path / 'sparse.tar.gz'
    subprocess.run(['tar', '-C', str(tree), '--sparse', '-czf', str(arc), '.'], check=True)
    assert os.path.getsize(arc) < 64 * 1024
    with tarfile.open(str(arc)) as tar:
        assert any(m.issparse() for m in tar.getmembers())
    with pytest.raises(errors.LimitExceeded) as exc:
        source.open_source(str(arc), source.Limits(max_expansion_ratio=2))
    assert 'expands more than 2 times' in str(exc.value) and 'sparse' in str(exc.value)
    CASES['archive: bombs'] += 1


def test_definition_paths_outside_never_tell_whether_they_exist(tmp_path):
    # issue 12: /etc/shadow was checked for existence before being refused
    root = write_tree(tmp_path / 'plan', {'main.yaml': HOT})
    messages = []
    for value in ('/etc/shadow', '/etc/no-such-file-%d' % os.getpid()):
        with watch_opens() as bad:
            error = refused(root, template=value)
        assert bad == []
        messages.append(str(error).replace(value, 'PATH'))
    assert messages[0] == messages[1]
    assert 'outside the plan root' in messages[0]
    CASES['references'] += 2


def test_symlink_loops_and_dangling_links_say_so(tmp_path):
    root = write_tree(tmp_path / 'plan', {
        'main.yaml': HOT + 'resources:\n  v:\n    type: OS::Heat::Value\n'
                           '    properties: {value: {get_file: loop}}\n'})
    os.symlink('loop', os.path.join(root, 'loop'))
    error = refused(root, template='main.yaml')
    assert 'symlink loop' in str(error), str(error)
    os.unlink(os.path.join(root, 'loop'))
    os.symlink('gone.txt', os.path.join(root, 'loop'))
    error = refused(root, template='main.yaml')
    assert 'a symlink to' in str(error) and 'does not exist' in str(error), str(error)
    CASES['references'] += 2


def test_tar_hard_links_go_through_every_member_check(tmp_path):
    # issue 12: a hard link to a symlink skipped every check: a second name
    # replaced a file, and names /etc/x and ../../x were accepted
    cases = 0
    for name in ('files/a.txt', './files/a.txt', 'files//a.txt'):
        data = tar_of(plan_members('.tar') + [
            t_special('l', tarfile.SYMTYPE, 'main.yaml'),
            t_special(name, tarfile.LNKTYPE, 'l')])
        path = write_archive(tmp_path, '.tar', [], 'dup%d' % cases)
        with open(path, 'wb') as f:
            f.write(data)
        error = refused(path, expect=errors.SourceError)
        assert 'more than once' in str(error)
        cases += 1
    for name in ('/etc/x', '../../x', 'a/../../x'):
        members = plan_members('.tar') + [t_special('l', tarfile.SYMTYPE, 'main.yaml'),
                                          t_special(name, tarfile.LNKTYPE, 'l')]
        src = source.ArchiveSource('x.tar', data=tar_of(members))
        assert name in src.skipped, src.skipped
        assert sorted(src.keys()) == sorted(PLAN)
        cases += 1
    CASES['archive: hard links out'] += cases


@pytest.fixture(scope='module', autouse=True)
def _report_case_counts():
    """After the module's tests (whichever ran, in any order): the cases counted."""
    yield
    for name, value in sorted(CASES.items()):
        figure('hostile cases: %s' % name, value)
    figure('hostile input cases (test_hostile.py)', sum(CASES.values()))


def test_a_pax_name_holding_a_nul_is_named_for_what_it_is(tmp_path):
    # issue 12: it was refused with "'..' in its name"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for name, data in PLAN.items():
            info = tarfile.TarInfo(name)
            info.size = len(data.encode())
            tar.addfile(info, io.BytesIO(data.encode()))
        info = tarfile.TarInfo('files/\u00e9vil\x00.txt')  # non-ASCII: a PAX path
        info.size = 1
        tar.addfile(info, io.BytesIO(b'x'))
    src = source.ArchiveSource('nul.tar', data=buf.getvalue())
    reasons = [r for r in src.skipped.values()]
    assert reasons == ['its name holds a NUL character'], src.skipped
    assert "'..'" not in ' '.join(reasons)
    assert sorted(src.keys()) == sorted(PLAN)
    CASES['archive: odd names'] += 1
