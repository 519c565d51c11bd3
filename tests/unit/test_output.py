"""Output paths (build -o, package -o, export OUT): written through, refused, or '-';
never replaced (issue 11, point 4).

Device nodes are made with mknod (the tests run as root, as CI does; they are
skipped otherwise).  Before the fix every one of the device, fifo and symlink
cases replaced the node with a regular file.
"""

import io
import os
import socket
import stat
import threading

import pytest

from heatplan import errors
from heatplan import output
from heatplan.actions import export as export_action
from heatplan.cli import app
from tests.unit.conftest import HOT

root_only = pytest.mark.skipif(os.geteuid() != 0, reason='mknod needs root')

PLAN = {'main.yaml': HOT + 'resources: {}\n', 'heatplan.yaml': 'template: main.yaml\n'}


@pytest.fixture
def plan(plan_dir):
    return plan_dir(PLAN)


def null_device(tmp_path, name='null'):
    """A character device like /dev/null (1, 3), made in tmp_path."""
    path = str(tmp_path / name)
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path


def run(*args):
    return app.main([str(a) for a in args])


def assert_char_device(path):
    assert stat.S_ISCHR(os.lstat(path).st_mode), 'the device node was replaced'


@root_only
@pytest.mark.parametrize('verb', ['build', 'package'])
def test_a_device_is_written_through_not_replaced(verb, plan, tmp_path, capsys):
    dev = null_device(tmp_path)
    assert run(verb, plan, '-o', dev) == 0
    assert_char_device(dev)
    assert os.listdir(str(tmp_path)).count('null') == 1
    assert not [n for n in os.listdir(str(tmp_path)) if n.startswith('.heatplan-')]


@root_only
def test_export_archive_onto_a_device_is_written_through(tmp_path):
    dev = null_device(tmp_path, 'null.tar.gz')
    export_action.write_tree({'a.yaml': b'x'}, dev)
    assert_char_device(dev)


@root_only
def test_a_block_device_is_refused(plan, tmp_path, capsys):
    path = str(tmp_path / 'disk')
    os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(7, 200))
    assert run('build', plan, '-o', path) == errors.ExitCode.OUTPUT
    assert 'is a block device' in capsys.readouterr().err
    assert stat.S_ISBLK(os.lstat(path).st_mode)


def test_a_fifo_is_written_through(plan, tmp_path):
    fifo = str(tmp_path / 'fifo')
    os.mkfifo(fifo)
    got = []

    def reader():
        with open(fifo, 'rb') as f:
            got.append(f.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    assert run('build', plan, '-o', fifo) == 0
    thread.join(10)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert got and got[0].startswith(b'{"body"')


def test_a_socket_is_refused(plan, tmp_path, capsys):
    path = str(tmp_path / 'sock')
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(path)
        assert run('build', plan, '-o', path) == errors.ExitCode.OUTPUT
        assert 'is a socket' in capsys.readouterr().err
        assert stat.S_ISSOCK(os.lstat(path).st_mode)


@pytest.mark.parametrize('verb', ['build', 'package'])
def test_a_directory_is_refused(verb, plan, tmp_path, capsys):
    out = tmp_path / 'out'
    out.mkdir()
    assert run(verb, plan, '-o', out) == errors.ExitCode.OUTPUT
    assert 'is a directory' in capsys.readouterr().err
    assert out.is_dir() and os.listdir(str(out)) == []


def test_a_symlink_to_a_file_elsewhere_replaces_the_target_and_keeps_the_link(plan,
                                                                               tmp_path):
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    target = elsewhere / 'plan.json'
    target.write_text('old')
    link = tmp_path / 'link.json'
    link.symlink_to(target)
    assert run('build', plan, '-o', link) == 0
    assert link.is_symlink() and os.readlink(str(link)) == str(target)
    assert target.read_text().startswith('{"body"')


@root_only
def test_a_symlink_to_a_device_is_written_through(plan, tmp_path):
    dev = null_device(tmp_path)
    link = tmp_path / 'link'
    link.symlink_to(dev)
    assert run('package', plan, '-o', link) == 0
    assert link.is_symlink()
    assert_char_device(dev)


def test_a_dangling_symlink_is_refused(plan, tmp_path, capsys):
    link = tmp_path / 'link.json'
    link.symlink_to(tmp_path / 'missing' / 'plan.json')
    assert run('build', plan, '-o', link) == errors.ExitCode.OUTPUT
    assert 'which does not exist' in capsys.readouterr().err
    assert link.is_symlink()


def test_dash_is_stdout(plan, capsysbinary):
    assert run('build', plan, '-o', '-') == 0
    assert capsysbinary.readouterr().out.startswith(b'{"body"')
    assert not os.path.exists('-')


def test_package_to_dash_writes_the_archive_to_stdout():
    buf = io.BytesIO()
    output.atomic_write('-', b'\x1f\x8bdata', stdout=buf)
    assert buf.getvalue() == b'\x1f\x8bdata'


def test_a_regular_file_is_still_replaced_atomically(plan, tmp_path):
    out = tmp_path / 'plan.json'
    out.write_text('old')
    assert run('build', plan, '-o', out) == 0
    assert out.read_text().startswith('{"body"')


def test_export_into_a_symlinked_directory_keeps_the_link(tmp_path):
    real = tmp_path / 'real'
    real.mkdir()
    link = tmp_path / 'link'
    link.symlink_to(real)
    export_action.write_tree({'a.yaml': b'x'}, str(link))
    assert link.is_symlink()
    assert (real / 'a.yaml').read_bytes() == b'x'


@root_only
def test_export_to_a_device_as_a_directory_is_refused(tmp_path):
    dev = null_device(tmp_path)
    with pytest.raises(errors.OutputError) as exc:
        export_action.write_tree({'a.yaml': b'x'}, dev)
    assert 'is a character device, not a directory' in str(exc.value)
    assert_char_device(dev)


def test_export_to_dash_is_refused():
    with pytest.raises(errors.OutputError):
        export_action.write_tree({'a.yaml': b'x'}, '-')


def test_package_dash_writes_the_archive_on_stdout_and_the_summary_on_stderr(plan,
                                                                            capsysbinary):
    assert run('package', plan, '-o', '-') == 0
    out, err = capsysbinary.readouterr()
    assert out.startswith(b'\x1f\x8b')  # gzip
    assert err.startswith(b'-: 2 files, sha256:')  # main.yaml, heatplan.yaml
    assert not os.path.exists('-')
