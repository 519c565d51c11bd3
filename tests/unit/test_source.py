"""Plan sources: directories and archives, confinement, caps."""

import contextlib
import gzip
import io
import os
import signal
import stat
import tarfile
import time
import zipfile

import pytest

from heatplan import errors
from heatplan.plan import assemble
from heatplan.plan import definition
from heatplan.plan import source
from tests.unit.conftest import HOT
from tests.unit.conftest import ZIP_CHR
from tests.unit.conftest import ZIP_FIFO
from tests.unit.conftest import ZIP_SYMLINK
from tests.unit.conftest import analyze
from tests.unit.conftest import build
from tests.unit.conftest import file_member
from tests.unit.conftest import find
from tests.unit.conftest import special_member
from tests.unit.conftest import tar_bytes
from tests.unit.conftest import template
from tests.unit.conftest import write_bytes
from tests.unit.conftest import zip_bytes
from tests.unit.conftest import zip_special

ROOT = template(resources=(
    '  nested:\n'
    '    type: templates/nested.yaml\n'
    '  script:\n'
    '    type: OS::Heat::Value\n'
    '    properties:\n'
    '      value: {get_file: scripts/run.sh}\n'))
NESTED = template(resources='  none:\n    type: OS::Heat::None\n')
PLAN = {
    'heatplan.yaml': 'template: root.yaml\n',
    'root.yaml': ROOT,
    'templates/nested.yaml': NESTED,
    'scripts/run.sh': '#!/bin/sh\necho run\n',
}
PLAN_KEYS = ['root.yaml', 'scripts/run.sh', 'templates/nested.yaml']

TAR_MODES = [
    ('.tar', 'w'),
    ('.tar.gz', 'w:gz'),
    ('.tgz', 'w:gz'),
    ('.tar.bz2', 'w:bz2'),
    ('.tar.xz', 'w:xz'),
]


def _get_file_template(ref):
    return template(resources=(
        '  v:\n'
        '    type: OS::Heat::Value\n'
        '    properties:\n'
        '      value: {get_file: %s}\n' % ref))


@contextlib.contextmanager
def no_hang(seconds=10):
    """Fail (instead of hanging the suite) if the block takes too long."""
    def _alarm(signum, frame):
        raise AssertionError('timed out after %d s (blocked on a read?)' % seconds)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _plan_files_in_body(plan):
    return sorted(k for k in plan.body['files'] if not k.startswith('heatplan://'))


# ---------------------------------------------------------------------------
# directories and archives that are fine

def test_directory_plan(plan_dir):
    root = plan_dir(PLAN)
    plan = build(root)
    # every file the plan needs, and nothing else (the manifest may be stored too)
    assert set(PLAN_KEYS) <= set(_plan_files_in_body(plan)) <= set(PLAN)
    assert plan.body['template'] == ROOT
    assert plan.body['files']['scripts/run.sh'] == PLAN['scripts/run.sh']


def test_open_source_picks_directory_or_archive(plan_dir, tmp_path):
    root = plan_dir(PLAN)
    assert isinstance(source.open_source(root), source.DirectorySource)
    arc = write_bytes(tmp_path / 'p.tar', tar_bytes(PLAN))
    assert isinstance(source.open_source(arc), source.ArchiveSource)


@pytest.mark.parametrize('suffix,mode', TAR_MODES, ids=[s for s, _m in TAR_MODES])
@pytest.mark.parametrize('top', ['', 'plan/', './plan/'], ids=['flat', 'topdir', 'dot-topdir'])
def test_tar_archives(plan_dir, tmp_path, suffix, mode, top):
    expected = build(plan_dir(PLAN))
    members = {top + k: v for k, v in PLAN.items()}
    arc = write_bytes(tmp_path / ('plan' + suffix), tar_bytes(members, mode))
    src = source.open_source(arc)
    assert src.keys() == sorted(PLAN)
    plan = build(arc)
    assert plan.digest == expected.digest
    assert plan.body == expected.body


@pytest.mark.parametrize('top', ['', 'plan/'], ids=['flat', 'topdir'])
def test_zip_archive(plan_dir, tmp_path, top):
    expected = build(plan_dir(PLAN))
    members = {top + k: v for k, v in PLAN.items()}
    arc = write_bytes(tmp_path / 'plan.zip', zip_bytes(members))
    assert source.open_source(arc).keys() == sorted(PLAN)
    plan = build(arc)
    assert plan.digest == expected.digest
    assert plan.body == expected.body


def test_tar_with_explicit_directory_members_is_stripped(tmp_path):
    members = [special_member('plan', tarfile.DIRTYPE),
               special_member('plan/scripts', tarfile.DIRTYPE),
               file_member('plan/scripts/run.sh', 'echo\n'),
               file_member('plan/root.yaml', HOT)]
    src = source.ArchiveSource(write_bytes(tmp_path / 'p.tar', tar_bytes(members)))
    assert src.keys() == ['root.yaml', 'scripts/run.sh']
    assert src.read_bytes('scripts/run.sh') == b'echo\n'
    assert not src.exists('plan/root.yaml')


def test_two_top_level_entries_are_not_stripped(tmp_path):
    members = {'a/root.yaml': HOT, 'b/other.yaml': HOT}
    src = source.ArchiveSource(write_bytes(tmp_path / 'p.tar', tar_bytes(members)))
    assert src.keys() == ['a/root.yaml', 'b/other.yaml']


def test_single_top_level_file_is_not_a_directory(tmp_path):
    src = source.ArchiveSource(write_bytes(tmp_path / 'p.tar', tar_bytes({'root.yaml': HOT})))
    assert src.keys() == ['root.yaml']


def test_archive_symlink_inside_root_is_followed(tmp_path):
    members = [file_member('plan/scripts/real.sh', 'echo real\n'),
               special_member('plan/run.sh', tarfile.SYMTYPE, 'scripts/real.sh'),
               special_member('plan/s', tarfile.SYMTYPE, 'scripts')]
    src = source.ArchiveSource(write_bytes(tmp_path / 'p.tgz', tar_bytes(members, 'w:gz')))
    assert src.read_bytes('run.sh') == b'echo real\n'
    assert src.read_bytes('s/real.sh') == b'echo real\n'


def test_archive_hard_link_inside_root_is_followed(tmp_path):
    members = [file_member('plan/real.sh', 'echo real\n'),
               special_member('plan/copy.sh', tarfile.LNKTYPE, 'plan/real.sh')]
    src = source.ArchiveSource(write_bytes(tmp_path / 'p.tar', tar_bytes(members)))
    assert src.read_bytes('copy.sh') == b'echo real\n'


def test_directory_symlink_inside_root_is_allowed(plan_dir):
    root = plan_dir({'root.yaml': _get_file_template('link.sh'), 'real.sh': 'echo\n'})
    os.symlink('real.sh', os.path.join(root, 'link.sh'))
    plan = build(root, template='root.yaml')
    # the key is the name the template used, not the symlink's target
    assert plan.body['files']['link.sh'] == 'echo\n'


# ---------------------------------------------------------------------------
# confinement: directory plans

def test_reference_leaving_the_root(plan_dir):
    root = plan_dir({'templates/root.yaml': _get_file_template('../../x.sh')})
    an = analyze(root, template='templates/root.yaml')
    d = find(an.diagnostics, 'confinement')[0]
    assert d.severity == 'error'
    assert d.path == 'templates/root.yaml'
    assert '../../x.sh' in d.message
    with pytest.raises(errors.LintFailed) as exc:
        build(root, template='templates/root.yaml')
    assert '../../x.sh' in str(exc.value)


def test_symlink_to_a_file_outside_the_root(plan_dir, tmp_path):
    outside = write_bytes(tmp_path / 'secret.txt', b'secret\n')
    root = plan_dir({'root.yaml': _get_file_template('link.sh')})
    os.symlink(outside, os.path.join(root, 'link.sh'))
    src = source.DirectorySource(root)
    with pytest.raises(errors.ConfinementError) as exc:
        src.read_bytes('link.sh')
    assert 'link.sh' in str(exc.value)
    with pytest.raises(errors.HeatplanError) as exc:
        build(root, template='root.yaml')
    assert 'link.sh' in str(exc.value)
    assert 'outside the plan root' in str(exc.value)
    assert 'secret' not in str(exc.value).replace(outside, '')


def test_symlink_to_etc(plan_dir):
    root = plan_dir({'root.yaml': _get_file_template('passwd')})
    os.symlink('/etc/passwd', os.path.join(root, 'passwd'))
    with pytest.raises(errors.ConfinementError) as exc:
        source.DirectorySource(root).read_bytes('passwd')
    assert "passwd resolves to" in str(exc.value)
    with pytest.raises(errors.HeatplanError) as exc:
        build(root, template='root.yaml')
    assert 'passwd' in str(exc.value) and 'outside the plan root' in str(exc.value)


def test_symlinked_root_template_outside(plan_dir, tmp_path):
    outside = write_bytes(tmp_path / 'evil.yaml', HOT.encode())
    root = plan_dir({'heatplan.yaml': 'template: root.yaml\n'})
    os.symlink(outside, os.path.join(root, 'root.yaml'))
    with pytest.raises(errors.HeatplanError) as exc:
        build(root)
    assert 'root.yaml' in str(exc.value) and 'outside the plan root' in str(exc.value)


def test_reference_through_symlinked_directory_leaving_the_root(plan_dir, tmp_path):
    outside_dir = tmp_path / 'elsewhere'
    outside_dir.mkdir()
    write_bytes(outside_dir / 'secret.sh', b'echo secret\n')
    root = plan_dir({'root.yaml': _get_file_template('ext/secret.sh')})
    os.symlink(str(outside_dir), os.path.join(root, 'ext'))
    with pytest.raises(errors.ConfinementError) as exc:
        source.DirectorySource(root).read_bytes('ext/secret.sh')
    assert 'ext/secret.sh' in str(exc.value)
    with pytest.raises(errors.HeatplanError) as exc:
        build(root, template='root.yaml')
    assert 'ext/secret.sh' in str(exc.value)


@pytest.mark.parametrize('ref', ['/etc/passwd', 'file:///etc/passwd'])
def test_absolute_reference_outside_the_root(plan_dir, ref):
    root = plan_dir({'root.yaml': _get_file_template(ref)})
    an = analyze(root, template='root.yaml')
    d = find(an.diagnostics, 'confinement')[0]
    assert d.severity == 'error'
    assert ref in d.message
    assert (d.path, d.line) == ('root.yaml', 6)
    with pytest.raises(errors.LintFailed) as exc:
        build(root, template='root.yaml')
    assert ref in str(exc.value)
    assert 'root.yaml:6:' in str(exc.value)


@pytest.mark.parametrize('scheme', ['', 'file://'])
def test_absolute_reference_inside_the_root_is_mapped_to_its_key(plan_dir, tmp_path, scheme):
    root = os.path.join(str(tmp_path), 'plan')
    ref = scheme + os.path.join(root, 'scripts', 'run.sh')
    plan_dir({'templates/root.yaml': _get_file_template(ref), 'scripts/run.sh': 'echo\n'})
    plan = build(root, template='templates/root.yaml')
    assert plan.body['files']['scripts/run.sh'] == 'echo\n'
    assert '{get_file: scripts/run.sh}' in plan.body['template']
    assert _plan_files_in_body(plan) == ['scripts/run.sh', 'templates/root.yaml']


def test_unsupported_url_scheme(plan_dir):
    root = plan_dir({'root.yaml': _get_file_template('ftp://example.com/x.sh')})
    d = find(analyze(root, template='root.yaml').diagnostics, 'confinement')[0]
    assert 'ftp://example.com/x.sh' in d.message


def test_read_bytes_refuses_non_canonical_keys(plan_dir):
    src = source.DirectorySource(plan_dir({'a.sh': 'x'}))
    for key in ('../a.sh', '/etc/passwd', './a.sh', 'a//a.sh', ''):
        with pytest.raises(errors.ConfinementError):
            src.read_bytes(key)


def test_fifo_in_directory_plan_is_refused_without_blocking(plan_dir):
    root = plan_dir({'root.yaml': _get_file_template('pipe')})
    os.mkfifo(os.path.join(root, 'pipe'))
    src = source.DirectorySource(root)
    with no_hang():
        with pytest.raises(errors.SourceError) as exc:
            src.read_bytes('pipe')
        assert 'pipe is a fifo' in str(exc.value)
        with pytest.raises(errors.LintFailed) as exc:
            build(root, template='root.yaml')
    assert 'pipe is a fifo' in str(exc.value)


def test_fifo_as_root_template_is_refused_without_blocking(plan_dir):
    root = plan_dir({'heatplan.yaml': 'template: root.yaml\n'})
    os.mkfifo(os.path.join(root, 'root.yaml'))
    with no_hang():
        with pytest.raises(errors.HeatplanError) as exc:
            build(root)
    assert 'root.yaml is a fifo' in str(exc.value)


def test_directory_referenced_as_file(plan_dir):
    root = plan_dir({'root.yaml': _get_file_template('scripts'), 'scripts/a.sh': 'x'})
    with pytest.raises(errors.LintFailed) as exc:
        build(root, template='root.yaml')
    assert 'scripts is a directory' in str(exc.value)


def test_missing_source():
    with pytest.raises(errors.SourceError) as exc:
        source.open_source('/nonexistent/heatplan/plan')
    assert '/nonexistent/heatplan/plan' in str(exc.value)


# ---------------------------------------------------------------------------
# confinement: archive members

def _tar(tmp_path, members, mode='w', name='p.tar'):
    return write_bytes(tmp_path / name, tar_bytes(members, mode))


# Archives behave like directories: a member no plan file needs is skipped
# with one warning (HP209) naming it, whatever it is; reading a file through
# it is an error (HP203) that says why.  A plan builds to the same bytes from
# its directory and from an archive holding such members.

ROOT_TEXT = _get_file_template('data.txt')
DIR_PLAN = {'root.yaml': ROOT_TEXT, 'data.txt': 'data\n'}


def _tar_plan(tmp_path, extra, root_text=ROOT_TEXT, name='p.tar'):
    return _tar(tmp_path, [file_member('plan/root.yaml', root_text),
                           file_member('plan/data.txt', 'data\n')] + list(extra), name=name)


def _zip_plan(tmp_path, extra, root_text=ROOT_TEXT, name='p.zip'):
    return write_bytes(tmp_path / name, zip_bytes(
        [('plan/root.yaml', root_text), ('plan/data.txt', 'data\n')] + list(extra)))


def _assert_skipped_when_unused(plan_dir, arc, member, reason):
    diags = [d for d in analyze(arc, template='root.yaml').diagnostics]
    assert [(d.path, d.code, d.severity) for d in diags] == [(member, 'HP209', 'warning')]
    assert reason in diags[0].message
    assert build(arc, template='root.yaml').digest == \
        build(plan_dir(DIR_PLAN, name='same'), template='root.yaml').digest


def _assert_refused_when_read(arc, ref, reason):
    with pytest.raises(errors.LintFailed) as exc:
        build(arc, template='root.yaml')
    errs = [d for d in exc.value.diagnostics if d.severity == 'error']
    assert [(d.path, d.code) for d in errs] == [('root.yaml', 'HP203')], errs
    assert reason in errs[0].message and ref in errs[0].message
    # ... and no skip warning for it: the error names it
    assert not [d for d in exc.value.diagnostics if d.code == 'HP209']


@pytest.mark.parametrize('name,reason', [
    ('../evil.yaml', '".." in it'), ('plan/../../evil.yaml', '".." in it'),
    ('a/../b.yaml', '".." in it'), ('/etc/evil.yaml', 'absolute'),
    ('/root.yaml', 'absolute')])
def test_tar_member_named_outside_the_root_is_skipped(tmp_path, plan_dir, name, reason):
    arc = _tar_plan(tmp_path, [file_member(name, 'x')])
    _assert_skipped_when_unused(plan_dir, arc, name, reason)
    assert source.open_source(arc).keys() == ['data.txt', 'root.yaml']


@pytest.mark.parametrize('name', ['../evil.yaml', '/etc/evil.yaml'])
def test_zip_member_named_outside_the_root_is_skipped(tmp_path, plan_dir, name):
    arc = _zip_plan(tmp_path, [(name, 'x')])
    _assert_skipped_when_unused(plan_dir, arc, name, 'outside the plan root'
                                if name.startswith('/') else '".." in it')


@pytest.mark.parametrize('target,reason', [
    ('/etc/passwd', "a symlink to the absolute path '/etc/passwd'"),
    ('../../etc/passwd', "a symlink to '../../etc/passwd', which leaves the plan root"),
    ('../outside.sh', 'a symlink that leads out of the plan root'),
    ('../plan2/x', 'a symlink that leads out of the plan root')])
def test_tar_symlink_leaving_the_root(tmp_path, plan_dir, target, reason):
    arc = _tar_plan(tmp_path, [special_member('plan/link.sh', tarfile.SYMTYPE, target)])
    _assert_skipped_when_unused(plan_dir, arc, 'link.sh', reason)
    arc = _tar_plan(tmp_path, [special_member('plan/link.sh', tarfile.SYMTYPE, target)],
                    root_text=_get_file_template('link.sh'), name='read.tar')
    _assert_refused_when_read(arc, 'link.sh', reason)


def test_tar_symlinked_directory_leaving_the_root_refuses_reads_through_it(tmp_path):
    arc = _tar_plan(tmp_path, [special_member('plan/lib', tarfile.SYMTYPE, '/usr/lib')],
                    root_text=_get_file_template('lib/x.sh'))
    _assert_refused_when_read(arc, 'lib/x.sh', "absolute path '/usr/lib'")


@pytest.mark.parametrize('target', ['/etc/passwd', '../../etc/passwd'])
def test_zip_symlink_leaving_the_root(tmp_path, plan_dir, target):
    arc = _zip_plan(tmp_path, [zip_special('plan/link.sh', ZIP_SYMLINK, target)])
    _assert_skipped_when_unused(plan_dir, arc, 'link.sh', 'a symlink')
    arc = _zip_plan(tmp_path, [zip_special('plan/link.sh', ZIP_SYMLINK, target)],
                    root_text=_get_file_template('link.sh'), name='read.zip')
    _assert_refused_when_read(arc, 'link.sh', 'a symlink')


@pytest.mark.parametrize('target', ['/etc/passwd', '../../etc/passwd', 'plan/later.sh',
                                    'nothing.sh'])
def test_tar_hard_link_to_outside_or_nothing(tmp_path, plan_dir, target):
    members = [special_member('plan/hard.sh', tarfile.LNKTYPE, target),
               file_member('plan/later.sh', 'x')]
    arc = _tar_plan(tmp_path, members)
    diags = analyze(arc, template='root.yaml').diagnostics
    assert [(d.path, d.code) for d in diags] == [('hard.sh', 'HP209')]
    assert repr(target) in diags[0].message
    arc = _tar_plan(tmp_path, members, root_text=_get_file_template('hard.sh'), name='r.tar')
    _assert_refused_when_read(arc, 'hard.sh', repr(target))


def test_tar_hard_link_to_a_symlink_is_that_symlink(tmp_path):
    arc = _tar(tmp_path, [file_member('plan/real.sh', 'echo real\n'),
                          special_member('plan/link.sh', tarfile.SYMTYPE, 'real.sh'),
                          special_member('plan/sub/hard.sh', tarfile.LNKTYPE, 'plan/link.sh')])
    assert source.open_source(arc).read_bytes('sub/hard.sh') == b'echo real\n'


def test_tar_hard_link_to_a_skipped_symlink_is_skipped_too(tmp_path):
    # the hard link goes through the same checks as the member it names
    arc = _tar(tmp_path, [file_member('plan/root.yaml', HOT),
                          special_member('plan/link.sh', tarfile.SYMTYPE, '/etc/passwd'),
                          special_member('plan/hard.sh', tarfile.LNKTYPE, 'plan/link.sh')])
    src = source.open_source(arc)
    assert sorted(src.skipped) == ['hard.sh', 'link.sh']
    with pytest.raises(errors.ConfinementError) as exc:
        src.read_bytes('hard.sh')
    assert '/etc/passwd' in str(exc.value)


def test_tar_hard_link_to_a_directory_is_skipped(tmp_path):
    arc = _tar(tmp_path, [file_member('plan/root.yaml', HOT),
                          special_member('plan/dir', tarfile.DIRTYPE),
                          special_member('plan/hard', tarfile.LNKTYPE, 'plan/dir')])
    assert source.open_source(arc).skipped == {'hard': "a hard link to the directory 'plan/dir'"}


@pytest.mark.parametrize('type_,word', [(tarfile.CHRTYPE, 'device'),
                                        (tarfile.BLKTYPE, 'device'),
                                        (tarfile.FIFOTYPE, 'fifo')],
                         ids=['chr', 'blk', 'fifo'])
def test_tar_device_or_fifo_member(tmp_path, plan_dir, type_, word):
    arc = _tar_plan(tmp_path, [special_member('plan/dev', type_)])
    _assert_skipped_when_unused(plan_dir, arc, 'dev', word)
    arc = _tar_plan(tmp_path, [special_member('plan/dev', type_)],
                    root_text=_get_file_template('dev'), name='read.tar')
    _assert_refused_when_read(arc, 'dev', word)


@pytest.mark.parametrize('mode', [ZIP_FIFO, ZIP_CHR], ids=['fifo', 'chr'])
def test_zip_device_or_fifo_member(tmp_path, plan_dir, mode):
    arc = _zip_plan(tmp_path, [zip_special('plan/dev', mode)])
    _assert_skipped_when_unused(plan_dir, arc, 'dev', 'not a regular file')
    arc = _zip_plan(tmp_path, [zip_special('plan/dev', mode)],
                    root_text=_get_file_template('dev'), name='read.zip')
    _assert_refused_when_read(arc, 'dev', 'not a regular file')


@pytest.mark.parametrize('fmt', ['tar', 'tar.gz', 'zip'])
def test_archive_with_unused_links_builds_the_same_bytes_as_the_directory(tmp_path, fmt):
    # A tree with links no plan file needs: the directory source never looks at
    # them; the archive skips them; the request is the same, byte for byte.
    root = tmp_path / 'tree'
    os.makedirs(root / 'docs')
    for rel, text in DIR_PLAN.items():
        (root / rel).write_text(text)
    os.symlink('/etc/passwd', root / 'docs' / 'outside')
    os.symlink('../../../elsewhere', root / 'docs' / 'up')
    os.symlink('../data.txt', root / 'docs' / 'inside')
    os.link(root / 'data.txt', root / 'docs' / 'hard.txt')
    os.mkfifo(root / 'docs' / 'fifo')
    arc = str(tmp_path / ('tree.' + fmt))
    if fmt == 'zip':
        with zipfile.ZipFile(arc, 'w') as zf:
            for dirpath, _dirs, names in os.walk(root):
                for n in sorted(names):
                    full = os.path.join(dirpath, n)
                    rel = os.path.relpath(full, tmp_path)
                    st = os.lstat(full)
                    info = zipfile.ZipInfo(rel)
                    info.create_system = 3
                    info.external_attr = st.st_mode << 16
                    data = os.readlink(full).encode() if stat.S_ISLNK(st.st_mode) else (
                        b'' if stat.S_ISFIFO(st.st_mode) else open(full, 'rb').read())
                    zf.writestr(info, data)
    else:
        with tarfile.open(arc, 'w:gz' if fmt == 'tar.gz' else 'w') as tar:
            tar.add(root, arcname='tree')
    from heatplan.actions import plan as actions

    want = actions.document(build(str(root), template='root.yaml'))
    assert actions.document(build(arc, template='root.yaml')) == want
    skipped = sorted(d.path for d in analyze(arc, template='root.yaml').diagnostics
                     if d.code == 'HP209')
    assert 'docs/outside' in skipped and 'docs/up' in skipped and 'docs/fifo' in skipped
    assert 'docs/inside' not in skipped


@pytest.mark.parametrize('names', [('plan/a.yaml', 'plan/a.yaml'),
                                   ('plan/a.yaml', './plan/a.yaml'),
                                   ('plan/a.yaml', 'plan//a.yaml')],
                         ids=['same', 'dot-slash', 'double-slash'])
def test_tar_duplicate_member_names(tmp_path, names):
    arc = _tar(tmp_path, [file_member(names[0], 'one'), file_member(names[1], 'two')])
    with pytest.raises(errors.SourceError) as exc:
        source.open_source(arc)
    assert repr(names[1]) in str(exc.value)
    assert 'more than once' in str(exc.value)


def test_tar_file_and_directory_with_the_same_name(tmp_path):
    arc = _tar(tmp_path, [file_member('plan/a', 'one'), special_member('plan/a', tarfile.DIRTYPE)])
    with pytest.raises(errors.SourceError) as exc:
        source.open_source(arc)
    assert "'plan/a'" in str(exc.value)


def test_zip_duplicate_member_names(tmp_path):
    with pytest.warns(UserWarning):
        data = zip_bytes([('a.yaml', 'one'), ('a.yaml', 'two')])
    arc = write_bytes(tmp_path / 'p.zip', data)
    with pytest.raises(errors.SourceError) as exc:
        source.open_source(arc)
    assert "'a.yaml'" in str(exc.value)


# ---------------------------------------------------------------------------
# caps

NO_MANIFEST = {k: v for k, v in PLAN.items() if k != 'heatplan.yaml'}


def test_max_files_directory(plan_dir):
    root = plan_dir(NO_MANIFEST)
    assert build(root, template='root.yaml', limits=source.Limits(max_files=3))
    with pytest.raises(errors.LimitExceeded) as exc:
        build(root, template='root.yaml', limits=source.Limits(max_files=2))
    assert 'more than 2 files' in str(exc.value)


SHARED_SCRIPT = {
    'root.yaml': template(resources=(
        '  a:\n'
        '    type: OS::Heat::Value\n'
        '    properties:\n'
        '      value: {get_file: run.sh}\n'
        '  b:\n'
        '    type: OS::Heat::Value\n'
        '    properties:\n'
        '      value: {get_file: run.sh}\n')),
    'run.sh': 'echo\n',
}


@pytest.mark.parametrize('case', ['manifest', 'get_file-twice'])
def test_caps_count_each_file_once(plan_dir, case):
    if case == 'manifest':
        files, kw = PLAN, {}
    else:
        files, kw = SHARED_SCRIPT, {'template': 'root.yaml'}
    root = plan_dir(files)
    n_files = len(files)
    n_bytes = sum(len(v.encode()) for v in files.values())
    build(root, limits=source.Limits(max_files=n_files), **kw)
    build(root, limits=source.Limits(max_total_bytes=n_bytes), **kw)


@pytest.mark.parametrize('kind', ['tar', 'zip'])
def test_max_files_archive(tmp_path, kind):
    members = {'f%d.sh' % i: 'x' for i in range(6)}
    data = tar_bytes(members) if kind == 'tar' else zip_bytes(members)
    arc = write_bytes(tmp_path / ('p.' + kind), data)
    assert len(source.ArchiveSource(arc, source.Limits(max_files=6)).keys()) == 6
    with pytest.raises(errors.LimitExceeded) as exc:
        source.ArchiveSource(arc, source.Limits(max_files=5))
    assert arc in str(exc.value)
    assert '5' in str(exc.value)


def _fast_tar_of_empty_members(n):
    """A tar of ``n`` empty members named f0000000 ... (built without tarfile)."""
    base = bytearray(tarfile.TarInfo('f0000000').tobuf(tarfile.USTAR_FORMAT))
    base[148:156] = b' ' * 8
    base_sum = sum(base) - sum(b'0000000')
    out = bytearray(512 * n + 1024)
    for i in range(n):
        digits = b'%07d' % i
        header = bytearray(base)
        header[1:8] = digits
        header[148:156] = b'%06o\x00 ' % (base_sum + sum(digits))
        out[512 * i:512 * (i + 1)] = header
    return bytes(out)


def test_tar_with_100000_members_is_refused_quickly(tmp_path):
    data = _fast_tar_of_empty_members(100000)
    # sanity: the hand-made archive is a valid tar
    with tarfile.open(fileobj=io.BytesIO(data[:512 * 3] + b'\0' * 1024)) as t:
        assert t.getnames() == ['f0000000', 'f0000001', 'f0000002']
    arc = write_bytes(tmp_path / 'many.tar', data)
    start = time.monotonic()
    with pytest.raises(errors.LimitExceeded) as exc:
        source.open_source(arc)
    assert time.monotonic() - start < 10
    assert 'more than 20000 members' in str(exc.value)
    assert arc in str(exc.value)


def test_max_file_bytes_directory(plan_dir):
    root = plan_dir(dict(PLAN, **{'scripts/run.sh': 'x' * 2000}))
    with pytest.raises(errors.LimitExceeded) as exc:
        build(root, limits=source.Limits(max_file_bytes=1500))
    assert 'scripts/run.sh is 2000 bytes' in str(exc.value)


@pytest.mark.parametrize('kind', ['tar', 'tar.gz', 'zip'])
def test_max_file_bytes_archive(tmp_path, kind):
    members = {'plan/small.sh': 'x', 'plan/big.sh': 'y' * 5000}
    data = zip_bytes(members) if kind == 'zip' else tar_bytes(
        members, 'w:gz' if kind == 'tar.gz' else 'w')
    arc = write_bytes(tmp_path / ('p.' + kind), data)
    with pytest.raises(errors.LimitExceeded) as exc:
        source.ArchiveSource(arc, source.Limits(max_file_bytes=4000))
    assert 'plan/big.sh is 5000 bytes' in str(exc.value)


def test_max_total_bytes_directory(plan_dir):
    files = dict(NO_MANIFEST, **{'scripts/run.sh': 'x' * 3000})
    root = plan_dir(files)
    total = sum(len(v) for v in files.values())
    assert build(root, template='root.yaml', limits=source.Limits(max_total_bytes=total))
    with pytest.raises(errors.LimitExceeded) as exc:
        build(root, template='root.yaml', limits=source.Limits(max_total_bytes=total - 1))
    assert 'more than %d bytes' % (total - 1) in str(exc.value)


@pytest.mark.parametrize('kind', ['tar.gz', 'zip'])
def test_max_total_bytes_archive(tmp_path, kind):
    members = {'plan/a.sh': 'a' * 50000, 'plan/b.sh': 'b' * 50000}
    data = zip_bytes(members) if kind == 'zip' else tar_bytes(members, 'w:gz')
    arc = write_bytes(tmp_path / ('p.' + kind), data)
    assert len(data) < 60000
    with pytest.raises(errors.LimitExceeded) as exc:
        source.ArchiveSource(arc, source.Limits(max_total_bytes=60000))
    assert arc in str(exc.value)


def test_archive_file_larger_than_total_cap(tmp_path):
    arc = write_bytes(tmp_path / 'p.tar', tar_bytes({'a.sh': 'x' * 100}))
    with pytest.raises(errors.LimitExceeded) as exc:
        source.ArchiveSource(arc, source.Limits(max_total_bytes=1000))
    assert arc in str(exc.value)


@pytest.mark.parametrize('mode,suffix', [('w:gz', '.tar.gz'), ('w:bz2', '.tar.bz2'),
                                         ('w:xz', '.tar.xz')])
def test_expansion_ratio_bomb_tar(tmp_path, mode, suffix):
    data = tar_bytes({'plan/zeros.bin': b'\0' * (12 * 1024 * 1024)}, mode)
    assert len(data) < 200 * 1024
    arc = write_bytes(tmp_path / ('bomb' + suffix), data)
    with pytest.raises(errors.LimitExceeded) as exc:
        source.open_source(arc)
    assert arc in str(exc.value)
    assert 'expands more than 100 times' in str(exc.value)
    # raising the ratio lets the same archive through
    src = source.open_source(arc, source.Limits(max_expansion_ratio=1000000))
    assert src.keys() == ['zeros.bin']


def test_expansion_ratio_bomb_zip(tmp_path):
    arc = write_bytes(tmp_path / 'bomb.zip', zip_bytes({'zeros.bin': b'\0' * (20 * 1024 * 1024)}))
    with pytest.raises(errors.LimitExceeded) as exc:
        source.open_source(arc)
    assert arc in str(exc.value)


@pytest.mark.parametrize('suffix,mode', TAR_MODES + [('.zip', None)],
                         ids=[s for s, _m in TAR_MODES] + ['.zip'])
def test_truncated_archive(tmp_path, suffix, mode):
    members = {'plan/%d.bin' % i: os.urandom(4000) for i in range(4)}
    data = zip_bytes(members) if mode is None else tar_bytes(members, mode)
    arc = write_bytes(tmp_path / ('cut' + suffix), data[:len(data) // 2])
    with pytest.raises(errors.SourceError) as exc:
        source.open_source(arc)
    assert arc in str(exc.value)


def test_not_an_archive(tmp_path):
    arc = write_bytes(tmp_path / 'p.tar', b'this is not a tar file at all' * 30)
    with pytest.raises(errors.SourceError) as exc:
        source.open_source(arc)
    assert arc in str(exc.value)


def test_empty_archive_file(tmp_path):
    arc = write_bytes(tmp_path / 'p.tar.gz', b'')
    with pytest.raises(errors.SourceError):
        source.open_source(arc)


def test_corrupt_gzip_stream(tmp_path):
    # a gzip header followed by a deflate block of the reserved type 11
    data = b'\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff' + b'\xff' * 64
    arc = write_bytes(tmp_path / 'bad.tar.gz', data)
    with pytest.raises(errors.SourceError) as exc:
        source.open_source(arc)
    assert arc in str(exc.value)


def test_corrupt_zip_member_data(tmp_path):
    data = bytearray(zip_bytes({'a.txt': 'hello world ' * 100}))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode())
    data[start:start + info.compress_size] = b'\xff' * info.compress_size
    arc = write_bytes(tmp_path / 'bad.zip', bytes(data))
    with pytest.raises(errors.SourceError) as exc:
        source.open_source(arc)
    assert arc in str(exc.value)


def test_gzip_that_is_not_a_tar(tmp_path):
    arc = write_bytes(tmp_path / 'p.tar.gz', gzip.compress(b'plain text, not a tar' * 40))
    with pytest.raises(errors.SourceError) as exc:
        source.open_source(arc)
    assert arc in str(exc.value)


# ---------------------------------------------------------------------------
# text encoding

def test_non_utf8_file_names_file_line_col(plan_dir):
    root = plan_dir({'root.yaml': _get_file_template('scripts/bad.sh'),
                     'scripts/bad.sh': b'#!/bin/sh\necho \xff\n'})
    src = source.DirectorySource(root)
    with pytest.raises(errors.SourceError) as exc:
        src.read_text('scripts/bad.sh')
    assert str(exc.value).startswith('scripts/bad.sh:2:6: not UTF-8 text')
    assert '0xff' in str(exc.value)
    with pytest.raises(errors.LintFailed) as exc:
        build(root, template='root.yaml')
    assert 'scripts/bad.sh:2:6: not UTF-8' in str(exc.value)


def test_non_utf8_root_template(plan_dir):
    root = plan_dir({'root.yaml': HOT.encode() + b'description: caf\xe9\n'})
    an = analyze(root, template='root.yaml')
    d = find(an.diagnostics, 'unreadable')[0]
    assert 'root.yaml:2:17: not UTF-8 text' in d.message


def test_non_utf8_in_archive(tmp_path):
    arc = write_bytes(tmp_path / 'p.zip', zip_bytes({
        'plan/root.yaml': _get_file_template('bad.sh'), 'plan/bad.sh': b'ok\n\x80'}))
    with pytest.raises(errors.LintFailed) as exc:
        build(arc, template='root.yaml')
    assert 'bad.sh:2:1: not UTF-8 text' in str(exc.value)


# ---------------------------------------------------------------------------
# keys

@pytest.mark.parametrize('path,key', [
    ('a/b.yaml', 'a/b.yaml'), ('./a/./b.yaml', 'a/b.yaml'), ('a//b.yaml', 'a/b.yaml'),
    ('a/../b.yaml', 'b.yaml'), ('../b.yaml', None), ('/a.yaml', None), ('', None),
    ('.', None), ('a/..', None), ('a\\b.yaml', None), ('a\x00b', None),
])
def test_normalize_key(path, key):
    assert source.normalize_key(path) == key


@pytest.mark.parametrize('base,ref,key', [
    ('t/a.yaml', 'b.yaml', 't/b.yaml'), ('t/a.yaml', '../b.yaml', 'b.yaml'),
    ('t/a.yaml', '../../b.yaml', None), ('a.yaml', './x/b.yaml', 'x/b.yaml'),
    ('a.yaml', '../b.yaml', None),
])
def test_join_key(base, ref, key):
    assert source.join_key(base, ref) == key


def test_directory_absolute_to_key(plan_dir, tmp_path):
    root = plan_dir({'a/b.yaml': HOT})
    src = source.DirectorySource(root)
    assert src.absolute_to_key(os.path.join(root, 'a', 'b.yaml')) == 'a/b.yaml'
    assert src.absolute_to_key(os.path.join(root, 'a', '..', 'a', 'b.yaml')) == 'a/b.yaml'
    assert src.absolute_to_key(root + '2/a/b.yaml') is None
    assert src.absolute_to_key('/etc/passwd') is None


def test_directory_given_through_a_symlink(plan_dir, tmp_path):
    real = plan_dir(PLAN)
    link = os.path.join(str(tmp_path), 'link-to-plan')
    os.symlink(real, link)
    assert build(link).digest == build(real).digest


def test_analyze_unknown_template_key_is_missing(plan_dir):
    src = source.DirectorySource(plan_dir({'a.yaml': HOT}))
    an = assemble.analyze(src, definition.Definition(template='nope.yaml'))
    assert [d.rule for d in an.errors] == ['missing']
    assert an.errors[0].path == 'nope.yaml'


def test_socket_in_directory_plan_is_refused(plan_dir):
    import socket

    root = plan_dir({'root.yaml': _get_file_template('sock')})
    path = os.path.join(root, 'sock')
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(path)
    except OSError:  # path too long for AF_UNIX
        pytest.skip('cannot bind a unix socket here')
    try:
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        with pytest.raises(errors.SourceError) as exc:
            source.DirectorySource(root).read_bytes('sock')
        assert 'sock is a socket' in str(exc.value)
    finally:
        s.close()


def test_archive_symlink_loop_is_refused(tmp_path):
    members = [file_member('plan/root.yaml', _get_file_template('loop/x.sh')),
               special_member('plan/loop', tarfile.SYMTYPE, 'other'),
               special_member('plan/other', tarfile.SYMTYPE, 'loop')]
    arc = _tar(tmp_path, members)
    src = source.open_source(arc)
    with pytest.raises(errors.SourceError) as exc:
        src.read_bytes('loop/x.sh')
    assert 'loop/x.sh' in str(exc.value) and 'symlinks' in str(exc.value)
    with pytest.raises(errors.LintFailed) as exc:
        build(arc, template='root.yaml')
    assert 'loop/x.sh' in str(exc.value)


# -- the read path: directories held open ------------------------------------------------


def _open_fds():
    return len(os.listdir('/proc/self/fd'))


def test_a_directory_held_open_and_then_swapped_for_a_link_out_never_reads_outside(
        plan_dir, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    write_bytes(outside / 'b.txt', b'SECRET')
    root = plan_dir({'root.yaml': HOT, 'd/a.txt': 'first', 'd/b.txt': 'inside'})
    src = source.DirectorySource(root)
    assert src.read_bytes('d/a.txt') == b'first'    # d is now held open
    os.rename(os.path.join(root, 'd'), os.path.join(root, 'd.old'))
    os.symlink(str(outside), os.path.join(root, 'd'))
    try:
        data = src.read_bytes('d/b.txt')
    except errors.HeatplanError as exc:
        assert 'd/b.txt' in str(exc)
    else:
        assert data != b'SECRET'


def test_a_file_replaced_between_its_check_and_its_open_is_refused(plan_dir, monkeypatch):
    root = plan_dir({'root.yaml': HOT, 'a.txt': 'old'})
    src = source.DirectorySource(root)
    real_lstat = os.lstat

    def lstat_then_replace(path, *args, **kwargs):
        result = real_lstat(path, *args, **kwargs)
        if str(path).endswith(os.sep + 'a.txt'):
            write_bytes(os.path.join(root, 'a.new'), b'new')
            os.replace(os.path.join(root, 'a.new'), os.path.join(root, 'a.txt'))
        return result

    monkeypatch.setattr(source.os, 'lstat', lstat_then_replace)
    with pytest.raises(errors.SourceError) as exc:
        src.read_bytes('a.txt')
    assert 'a.txt changed while being read' in str(exc.value)


def test_reads_hold_at_most_max_open_dirs_and_close_releases_them(plan_dir, monkeypatch):
    monkeypatch.setattr(source.DirectorySource, 'MAX_OPEN_DIRS', 8)
    files = {'root.yaml': HOT}
    files.update(('d%02d/e/f%d.txt' % (i, j), 'x%d-%d' % (i, j))
                 for i in range(20) for j in range(3))
    root = plan_dir(files)
    before = _open_fds()
    src = source.DirectorySource(root)
    for key in sorted(files):
        if key != 'root.yaml':
            assert src.read_bytes(key) == files[key].encode()
            assert _open_fds() - before <= 8 + 2
    assert _open_fds() > before
    src.close()
    assert _open_fds() == before
    assert src.read_bytes('d03/e/f1.txt') == b'x3-1'   # reopened on demand
    del src
    assert _open_fds() == before


def test_a_file_growing_or_read_short_is_read_to_its_end(plan_dir, monkeypatch):
    root = plan_dir({'root.yaml': HOT, 'a.txt': 'abcdef' * 1000})
    real_read = os.read

    def short_read(fd, n):
        return real_read(fd, min(n, 100))

    monkeypatch.setattr(source.os, 'read', short_read)
    assert source.DirectorySource(root).read_bytes('a.txt') == b'abcdef' * 1000
    monkeypatch.undo()
    lim = source.Limits(max_file_bytes=5000)
    with pytest.raises(errors.LimitExceeded) as exc:
        source.DirectorySource(root, limits=lim).read_bytes('a.txt')
    assert 'a.txt is 6000 bytes, over the per-file cap of 5000' in str(exc.value)


def test_a_symlinked_file_and_a_file_in_a_symlinked_directory_inside_the_root_are_read(
        plan_dir):
    root = plan_dir({'root.yaml': HOT, 'real/x.txt': 'x', 'real/sub/y.txt': 'y'})
    os.symlink('real', os.path.join(root, 'alias'))
    os.symlink('../x.txt', os.path.join(root, 'real', 'sub', 'link.txt'))
    src = source.DirectorySource(root)
    assert src.read_bytes('alias/sub/y.txt') == b'y'
    assert src.read_bytes('real/sub/link.txt') == b'x'
    assert src.read_bytes('alias/sub/link.txt') == b'x'
