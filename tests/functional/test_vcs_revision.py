"""The source's VCS revision, recorded per deploy and shown, against a real Heat."""

import json
import logging
import os
import shutil
import subprocess

import pytest

from heatplan.actions import plan as actions
from heatplan.cli import app
from tests.functional import plans

pytestmark = pytest.mark.skipif(shutil.which('git') is None, reason='needs git')


@pytest.fixture(autouse=True)
def _restore_root_logging():
    """cliff adds a console handler per run (-v: at DEBUG, on this test's
    captured stderr); drop them so later tests do not get its output."""
    root = logging.getLogger('')
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@example.com',
               GIT_COMMITTER_NAME='t', GIT_COMMITTER_EMAIL='t@example.com')
    return subprocess.run(['git', *args], cwd=str(cwd), env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def rows(cli, name):
    code, out, err = cli('history', name, '-f', 'json')
    assert code == 0, err
    return json.loads(out)


def test_deploys_record_the_checkouts_revision(tmp_path, cli, name, capsys):
    top = tmp_path / 'checkout'
    source = plans.make_plan(top, 'plan')
    git(top, 'init', '-q')
    git(top, 'add', '-A')
    git(top, 'commit', '-qm', 'plan one')
    git(top, 'tag', '-a', '-m', 'first release', 'v1.0')
    # a deploy from the clean checkout records its describe name
    code, _out, err = cli('deploy', source, '--stack', name, '-v')
    assert code == 0, err
    assert 'VCS revision: v1.0' in err
    assert [r['vcs_revision'] for r in rows(cli, name)] == ['v1.0']
    code, out, err = cli('show', name, '-f', 'json')
    assert code == 0, err
    assert json.loads(out)['vcs_revision'] == 'v1.0'
    code, out, err = cli('history', name, '-f', 'value', '-c', 'vcs_revision')
    assert (code, out) == (0, 'v1.0\n'), err
    # an edited plan file: -dirty; a commit: the new describe name
    plans.write_plan(source, plans.plan_files(label='two'))
    code, _out, err = cli('deploy', source, '--stack', name)
    assert code == 0, err
    assert rows(cli, name)[-1]['vcs_revision'] == 'v1.0-dirty'
    git(top, 'commit', '-qam', 'plan two')
    described = git(top, 'describe', '--always')
    assert described.startswith('v1.0-1-g')
    # set explicitly, or not at all
    code, _out, err = cli('deploy', source, '--stack', name, '--force',
                          '--vcs-revision', 'build 1234')
    assert code == 0, err
    code, _out, err = cli('deploy', source, '--stack', name, '--force', '--no-vcs-revision')
    assert code == 0, err
    assert [r['vcs_revision'] for r in rows(cli, name)] == [
        'v1.0', 'v1.0-dirty', 'build 1234', '']
    code, out, _err = cli('show', name, '--revision', '3', '-f', 'json')
    assert json.loads(out)['vcs_revision'] == 'build 1234'
    # carried into a change set, shown to the reviewer, recorded by apply
    plans.write_plan(source, plans.plan_files(label='three'))
    git(top, 'commit', '-qam', 'plan three')
    described = git(top, 'describe', '--always')
    cs = tmp_path / 'cs.json'
    code, _out, err = cli('deploy', source, '--stack', name, '--dry-run', '--save', cs,
                          '--description', 'reviewed by ops')
    assert code == 0, err
    capsys.readouterr()
    assert app.main(['changeset', 'show', str(cs), '-f', 'json']) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown['vcs_revision'], shown['description']) == (described, 'reviewed by ops')
    code, _out, err = cli('apply', cs)
    assert code == 0, err
    last = rows(cli, name)[-1]
    assert (last['revision'], last['action'], last['vcs_revision'], last['description']) == (
        5, 'apply', described, 'reviewed by ops')
    # a rollback redeploys revision 1's plan: its source revision with it
    code, _out, err = cli('rollback', name, '1')
    assert code == 0, err
    last = rows(cli, name)[-1]
    assert (last['revision'], last['action'], last['vcs_revision']) == (6, 'rollback', 'v1.0')
    code, out, _err = cli('show', name, '-f', 'json')
    assert json.loads(out)['vcs_revision'] == 'v1.0'


def test_an_archive_and_a_bad_value(tmp_path, cli, name):
    top = tmp_path / 'checkout'
    source = plans.make_plan(top, 'plan')
    git(top, 'init', '-q')
    git(top, 'add', '-A')
    git(top, 'commit', '-qm', 'plan')
    archive = top / 'plan.tar.gz'
    actions.package(actions.PlanOptions(source=source), str(archive))
    code, _out, err = cli('deploy', archive, '--stack', name, '-v')
    assert code == 0, err
    assert 'is an archive (give --vcs-revision)' in err
    assert rows(cli, name)[-1]['vcs_revision'] == ''
    code, _out, err = cli('deploy', source, '--stack', name, '--vcs-revision', 'a\nb')
    assert code == 2 and '--vcs-revision must be one printable line' in err
    assert len(rows(cli, name)) == 1
