"""Shared helpers for the unit tests: small plans written to tmp_path.

Plans are given as ``{relative path: text or bytes}``; archives are built in
memory with :mod:`tarfile` / :mod:`zipfile` so every test controls exactly
which members (names, types, links) the archive holds.
"""

import io
import os
import stat
import tarfile
import zipfile

import pytest

from heatplan import lint
from heatplan.actions import plan as plan_actions
from heatplan.plan import assemble
from heatplan.plan import definition
from heatplan.plan import source

HOT = 'heat_template_version: 2021-04-16\n'


def write_files(root, files):
    """Write ``{relpath: str|bytes}`` under ``root``; return ``str(root)``."""
    root = str(root)
    os.makedirs(root, exist_ok=True)
    for rel, content in files.items():
        path = os.path.join(root, *rel.split('/'))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = content.encode('utf-8') if isinstance(content, str) else content
        with open(path, 'wb') as f:
            f.write(data)
    return root


def make_plan(tmp_path, files, name='plan'):
    """Write a plan directory ``tmp_path/name``; return its path (str)."""
    return write_files(os.path.join(str(tmp_path), name), files)


def file_member(name, data):
    data = data.encode('utf-8') if isinstance(data, str) else data
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return info, data


def special_member(name, type_, linkname=''):
    info = tarfile.TarInfo(name)
    info.type = type_
    info.linkname = linkname
    if type_ == tarfile.DIRTYPE:
        info.mode = 0o755
    return info, None


def tar_bytes(members, mode='w'):
    """A tar archive (``mode`` 'w', 'w:gz', 'w:bz2', 'w:xz') of members.

    ``members`` is a dict ``{name: text}`` or a list of ``(TarInfo, data)``.
    """
    if isinstance(members, dict):
        members = [file_member(n, d) for n, d in members.items()]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def zip_bytes(members):
    """A zip archive; ``members`` is ``{name: text}`` or ``[(ZipInfo|name, data)]``."""
    if isinstance(members, dict):
        members = list(members.items())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data)
    return buf.getvalue()


def zip_special(name, mode, data=b''):
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    info.create_system = 3  # unix
    return info, data


ZIP_SYMLINK = stat.S_IFLNK | 0o777
ZIP_FIFO = stat.S_IFIFO | 0o644
ZIP_CHR = stat.S_IFCHR | 0o644


def write_bytes(path, data):
    path = str(path)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def opts(src, **kw):
    return plan_actions.PlanOptions(source=str(src), **kw)


def build(src, **kw):
    """Build a plan (lint included); returns the Plan."""
    _src, plan = plan_actions.build_plan(opts(src, **kw))
    return plan


def validate(src, **kw):
    return plan_actions.validate(opts(src, **kw))


def analyze(src, limits=None, **kw):
    """analyze + lint without raising on errors; returns the Analysis."""
    s = source.open_source(str(src), limits)
    d = definition.load_definition(s, **kw)
    an = assemble.analyze(s, d)
    lint.lint(an)
    return an


def codes(diagnostics, severity=None):
    return sorted(d.rule for d in diagnostics
                  if severity is None or d.severity == severity)


def find(diagnostics, code):
    """The diagnostics with ``code``; fails when there is none."""
    found = [d for d in diagnostics if code in (d.code, d.rule)]
    assert found, 'no %r diagnostic in %s' % (code, [d.format() for d in diagnostics])
    return found


def line_col(text, needle, occurrence=1):
    """1-based (line, col) of the ``occurrence``-th ``needle`` in ``text``."""
    pos = -1
    for _ in range(occurrence):
        pos = text.index(needle, pos + 1)
    line = text.count('\n', 0, pos) + 1
    col = pos - (text.rfind('\n', 0, pos) + 1) + 1
    return line, col


@pytest.fixture
def plan_dir(tmp_path):
    """``plan_dir({relpath: text}, name='plan')`` -> path of a new plan directory."""
    def _make(files, name='plan'):
        return make_plan(tmp_path, files, name)
    return _make


def template(resources=None, parameters=None, outputs=None, extra=''):
    """A small HOT template text, built from already-indented YAML snippets."""
    text = HOT
    if parameters:
        text += 'parameters:\n' + parameters
    if resources:
        text += 'resources:\n' + resources
    if outputs:
        text += 'outputs:\n' + outputs
    return text + extra


@pytest.fixture(autouse=True)
def _restore_root_logging():
    """cliff adds a console handler per run (bound to that test's captured
    stderr); drop them after every test so no later log record is written to
    a closed stream ("--- Logging error ---")."""
    import logging

    root = logging.getLogger('')
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _own_cache_home(tmp_path_factory, monkeypatch):
    """The CLI's analysis cache (heatplan.plan.cache) in a directory of the test's own."""
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path_factory.mktemp('xdg-cache')))
    monkeypatch.delenv('HEATPLAN_NO_CACHE', raising=False)


@pytest.fixture()
def clean_os_env(monkeypatch, tmp_path):
    """No OS_* or HEATPLAN_* variables and no clouds.yaml of the machine leak in."""
    import os

    for key in list(os.environ):
        if key.startswith('OS_') or key.startswith('HEATPLAN_'):
            monkeypatch.delenv(key)
    monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(tmp_path / 'no-clouds.yaml'))


def closed_port():
    """A loopback port nothing listens on (a refused connection)."""
    import socket

    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_cli(argv, capsys):
    """Run the ``heatplan`` app; ``(exit code, stdout, stderr)``; never a traceback."""
    from heatplan.cli import app

    try:
        rc = app.main(argv)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    assert 'Traceback' not in err + out
    return rc, out, err
