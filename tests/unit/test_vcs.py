"""The source's VCS revision (heatplan/actions/vcs.py), with the real git binary.

Each test makes its own repositories in tmp_path; HOME points at an empty
directory so the machine's global git configuration plays no part.
"""

import logging
import os
import shutil
import subprocess

import pytest

from heatplan import errors
from heatplan.actions import plan as actions
from heatplan.actions import vcs
from tests.unit.conftest import template
from tests.unit.conftest import write_files

pytestmark = pytest.mark.skipif(shutil.which('git') is None, reason='needs git')

PLAN = {
    'heatplan.yaml': 'template: root.yaml\nenvironments: [env.yaml]\n',
    'root.yaml': template(parameters='  name: {type: string, default: x}\n',
                          resources='  n:\n    type: OS::Heat::None\n'),
    'env.yaml': 'parameter_defaults:\n  name: env\n',
}


@pytest.fixture(autouse=True)
def _own_home(tmp_path, monkeypatch):
    home = tmp_path / 'home'
    home.mkdir()
    monkeypatch.setenv('HOME', str(home))
    monkeypatch.setenv('XDG_CONFIG_HOME', str(home / '.config'))
    monkeypatch.setenv('GIT_CONFIG_NOSYSTEM', '1')  # (vcs drops GIT_*: for git() here)
    return home


def git(cwd, *args, check=True, **kw):
    """Git as a test sets a repository up (not heatplan's way of running it)."""
    env = dict(os.environ, GIT_AUTHOR_NAME='t', GIT_AUTHOR_EMAIL='t@example.com',
               GIT_COMMITTER_NAME='t', GIT_COMMITTER_EMAIL='t@example.com')
    done = subprocess.run(['git', *args], cwd=str(cwd), env=env, capture_output=True,
                          check=False, **kw)
    if check:
        assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip()


def checkout(tmp_path, files=PLAN, sub='deploy/plan', init=()):
    """A git checkout with the plan at ``sub``, committed; returns (top, plan dir)."""
    top = tmp_path / 'repo'
    top.mkdir()
    git(top, 'init', '-q', *init)
    write_files(top, {'README': 'top\n'})
    plan = write_files(top / sub, files)
    git(top, 'add', '-A')
    git(top, 'commit', '-qm', 'one')
    return top, plan


def detect(plan_dir, **opts):
    src, plan = actions.build_plan(actions.PlanOptions(source=plan_dir, **opts))
    return vcs.revision(src, plan)


def test_a_clean_checkout_records_git_describe(tmp_path):
    top, plan = checkout(tmp_path)
    assert detect(plan) == git(top, 'describe', '--always')
    git(top, 'tag', '-a', '-m', 'release', 'v1.0')  # (describe names annotated tags)
    assert detect(plan) == 'v1.0'
    write_files(top, {'other': 'x\n'})
    git(top, 'add', 'other')
    git(top, 'commit', '-qm', 'two')
    assert detect(plan) == git(top, 'describe', '--always')
    assert detect(plan).startswith('v1.0-1-g')


def test_an_edited_plan_file_is_dirty(tmp_path):
    top, plan = checkout(tmp_path)
    clean = detect(plan)
    write_files(plan, {'env.yaml': 'parameter_defaults:\n  name: edited\n'})
    assert detect(plan) == clean + '-dirty'
    git(top, 'commit', '-qam', 'edit')
    assert detect(plan) == git(top, 'describe', '--always')


def test_changes_outside_the_plan_are_not_dirty(tmp_path):
    # git describe --dirty would say -dirty here: the plan is the commit's.
    top, plan = checkout(tmp_path)
    write_files(top, {'README': 'changed\n', 'untracked': 'x\n'})
    write_files(plan, {'notes.txt': 'not part of the plan\n'})
    assert not detect(plan).endswith('-dirty')
    assert git(top, 'describe', '--always', '--dirty').endswith('-dirty')


def test_an_untracked_or_staged_plan_file_is_dirty(tmp_path):
    # git describe --dirty would not see an untracked file the plan reads.
    top, plan = checkout(tmp_path)
    write_files(plan, {'heatplan.yaml': PLAN['heatplan.yaml'].replace(
        '[env.yaml]', '[env.yaml, more.yaml]'), 'more.yaml': 'parameters: {}\n'})
    assert detect(plan).endswith('-dirty')
    git(top, 'add', '-A')
    assert detect(plan).endswith('-dirty')  # staged, not committed
    git(top, 'commit', '-qm', 'more')
    assert not detect(plan).endswith('-dirty')


def test_a_touched_but_unchanged_file_is_clean(tmp_path):
    top, plan = checkout(tmp_path)
    os.utime(os.path.join(plan, 'root.yaml'), (1, 1))
    assert not detect(plan).endswith('-dirty')
    assert git(top, 'status', '--porcelain') == ''


def test_a_hidden_parameter_file_is_not_compared(tmp_path):
    files = dict(PLAN, **{'root.yaml': template(
        parameters='  pw: {type: string, hidden: true}\n  ca: {type: string}\n',
        resources='  n:\n    type: OS::Heat::None\n')})
    top, plan = checkout(tmp_path, files)
    write_files(plan, {'pw.txt': 'secret, kept out of git\n', 'ca.pem': 'ca\n'})
    got = detect(plan, parameter_files=['pw=pw.txt'])
    assert got and not got.endswith('-dirty')
    # a visible parameter's file is plan content
    assert detect(plan, parameter_files=['pw=pw.txt', 'ca=ca.pem']).endswith('-dirty')


def test_a_symlinked_file_is_compared_by_its_target(tmp_path):
    top, plan = checkout(tmp_path)
    os.rename(os.path.join(plan, 'env.yaml'), os.path.join(plan, 'real-env.yaml'))
    os.symlink('real-env.yaml', os.path.join(plan, 'env.yaml'))
    git(top, 'add', '-A')
    git(top, 'commit', '-qm', 'link')
    assert not detect(plan).endswith('-dirty')
    write_files(plan, {'real-env.yaml': 'parameter_defaults:\n  name: other\n'})
    assert detect(plan).endswith('-dirty')


def test_a_sha256_repository(tmp_path):
    top, plan = checkout(tmp_path, init=('--object-format=sha256',))
    got = detect(plan)
    assert got == git(top, 'describe', '--always')
    write_files(plan, {'env.yaml': 'parameter_defaults:\n  name: edited\n'})
    assert detect(plan) == got + '-dirty'


def test_not_a_checkout_records_nothing_and_says_why_with_v(tmp_path, caplog):
    plan = write_files(tmp_path / 'plain', PLAN)
    with caplog.at_level(logging.DEBUG, logger='heatplan.actions.vcs'):
        assert detect(plan) is None
    assert 'no VCS revision recorded: git rev-parse exited 128: fatal: not a git ' \
           'repository' in caplog.text


def test_a_checkout_without_commits_records_nothing(tmp_path, caplog):
    git(tmp_path, 'init', '-q')
    plan = write_files(tmp_path / 'plan', PLAN)
    with caplog.at_level(logging.DEBUG, logger='heatplan.actions.vcs'):
        assert detect(plan) is None
    assert 'git rev-parse exited 1' in caplog.text


def test_git_not_installed(tmp_path, monkeypatch, caplog):
    _top, plan = checkout(tmp_path)
    monkeypatch.setenv('PATH', str(tmp_path / 'nowhere'))
    with caplog.at_level(logging.DEBUG, logger='heatplan.actions.vcs'):
        assert detect(plan) is None
    assert 'git is not installed' in caplog.text


def test_a_slow_git_is_given_up(tmp_path, monkeypatch, caplog):
    _top, plan = checkout(tmp_path)
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake = bin_dir / 'git'
    fake.write_text('#!/bin/sh\nexec %s 30\n' % shutil.which('sleep'))
    fake.chmod(0o755)
    monkeypatch.setenv('PATH', str(bin_dir))
    monkeypatch.setattr(vcs, 'GIT_TIMEOUT', 0.5)
    with caplog.at_level(logging.DEBUG, logger='heatplan.actions.vcs'):
        assert detect(plan) is None
    assert 'took more than 0.5 s' in caplog.text


def test_git_output_that_is_no_safe_token_is_dropped(tmp_path, monkeypatch, caplog):
    _top, plan = checkout(tmp_path)
    real = shutil.which('git')
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake = bin_dir / 'git'
    # describe answers with text that is not a describe name (a file's content)
    fake.write_text('#!/bin/sh\nfor a; do [ "$a" = describe ] && '
                    '{ printf "root:x:0:0:root:/root:/bin/sh\\nline2\\n"; exit 0; }; done\n'
                    'exec %s "$@"\n' % real)
    fake.chmod(0o755)
    monkeypatch.setenv('PATH', str(bin_dir))
    with caplog.at_level(logging.DEBUG, logger='heatplan.actions.vcs'):
        assert detect(plan) is None
    assert 'git describe gave no usable name' in caplog.text
    assert 'root:x' not in caplog.text


def test_inherited_git_variables_are_ignored(tmp_path, monkeypatch):
    top, plan = checkout(tmp_path)
    other = tmp_path / 'other'
    other.mkdir()
    git(other, 'init', '-q')
    write_files(other, {'x': 'x\n'})
    git(other, 'add', 'x')
    git(other, 'commit', '-qm', 'other')
    monkeypatch.setenv('GIT_DIR', str(other / '.git'))
    monkeypatch.setenv('GIT_WORK_TREE', str(other))
    monkeypatch.setenv('GIT_CONFIG_PARAMETERS', "'core.fsmonitor'='touch %s'"
                       % (tmp_path / 'PWNED'))
    got = detect(plan)
    for var in ('GIT_DIR', 'GIT_WORK_TREE', 'GIT_CONFIG_PARAMETERS'):
        monkeypatch.delenv(var)
    assert got == git(top, 'describe', '--always')
    assert not (tmp_path / 'PWNED').exists()


def test_an_archive_gets_only_an_explicit_value(tmp_path):
    top, plan = checkout(tmp_path)
    archive = str(top / 'deploy' / 'plan.tar.gz')  # inside the checkout, all the same
    actions.package(actions.PlanOptions(source=plan), archive)
    src, built = actions.build_plan(actions.PlanOptions(source=archive))
    assert vcs.revision(src, built) is None
    assert vcs.revision(src, built, 'v2.0-3-gabc') == 'v2.0-3-gabc'


def test_explicit_and_disabled(tmp_path):
    _top, plan = checkout(tmp_path)
    src, built = actions.build_plan(actions.PlanOptions(source=plan))
    assert vcs.revision(src, built, enabled=False) is None
    assert vcs.revision(src, built, 'release 7 (hotfix)') == 'release 7 (hotfix)'
    for bad in ('', '  ', 'a\nb', 'tab\there', 'x' * 101, '\x1b[31mred'):
        with pytest.raises(errors.UsageError) as info:
            vcs.revision(src, built, bad)
        assert info.value.exit_code == errors.ExitCode.USAGE
        assert '--vcs-revision' in info.value.message


# ---------------------------------------------------------------------------
# a checkout whose own configuration tries to run a program

def _marker_cmd(marker):
    return 'touch %s; false' % marker


def test_fsmonitor_clean_filters_and_hooks_do_not_run(tmp_path):
    top, plan = checkout(tmp_path, dict(PLAN, **{'.gitattributes': '* filter=evil\n'}))
    fsmonitor = tmp_path / 'PWNED-fsmonitor'
    clean = tmp_path / 'PWNED-clean'
    hook = tmp_path / 'PWNED-hook'
    hooks = tmp_path / 'hooks'
    hooks.mkdir()
    (hooks / 'post-index-change').write_text('#!/bin/sh\ntouch %s\n' % hook)
    (hooks / 'post-index-change').chmod(0o755)
    git(top, 'config', 'core.fsmonitor', _marker_cmd(fsmonitor))
    git(top, 'config', 'filter.evil.clean', 'touch %s; cat' % clean)
    git(top, 'config', 'core.hooksPath', str(hooks))
    os.utime(os.path.join(plan, 'root.yaml'), (1, 1))  # stat-dirty: a refresh reads it
    got = detect(plan)
    assert got and not got.endswith('-dirty')
    assert not fsmonitor.exists() and not clean.exists() and not hook.exists()
    # what heatplan does not do: "git describe --dirty" runs all three (its
    # refresh reads the file through the filter and rewrites the index)
    git(top, 'describe', '--always', '--dirty')
    assert fsmonitor.exists() and clean.exists() and hook.exists()


def test_a_lazy_fetch_cannot_start_ssh(tmp_path, caplog):
    top, plan = checkout(tmp_path)
    tree = git(top, 'rev-parse', 'HEAD:deploy/plan')
    os.unlink(top / '.git' / 'objects' / tree[:2] / tree[2:])  # a partial clone's hole
    marker = tmp_path / 'PWNED-ssh'
    for key, value in (('core.repositoryformatversion', '1'),
                       ('extensions.partialClone', 'origin'),
                       ('remote.origin.url', 'ssh://example.invalid/repo'),
                       ('remote.origin.promisor', 'true'),
                       ('core.sshCommand', _marker_cmd(marker))):
        git(top, 'config', key, value)
    with caplog.at_level(logging.DEBUG, logger='heatplan.actions.vcs'):
        assert detect(plan) is None
    assert not marker.exists()
    assert 'git ls-tree exited' in caplog.text
    # what heatplan does not do: a plain "git ls-tree" fetches, through ssh
    git(plan, 'ls-tree', '-r', 'HEAD', check=False)
    assert marker.exists()


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() != 0,
                    reason='needs root, to own a checkout as another user')
def test_a_checkout_owned_by_someone_else_is_refused_by_git(tmp_path, caplog):
    top, plan = checkout(tmp_path)
    marker = tmp_path / 'PWNED-fsmonitor'
    git(top, 'config', 'core.fsmonitor', _marker_cmd(marker))
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
            os.lchown(name, 65534, 65534)
    with caplog.at_level(logging.DEBUG, logger='heatplan.actions.vcs'):
        assert detect(plan) is None
    assert 'dubious ownership' in caplog.text
    assert not marker.exists()
    # the user's own global configuration may trust it
    git(tmp_path, 'config', '--global', '--add', 'safe.directory', str(top))
    assert detect(plan) == git(top, 'describe', '--always')


def test_the_options_exclude_each_other(tmp_path, capsys):
    from heatplan.cli import app

    with pytest.raises(SystemExit) as info:
        app.main(['deploy', str(tmp_path), '--stack', 's', '--vcs-revision', 'x',
                  '--no-vcs-revision', '--heat-url', 'http://127.0.0.1:9/v1/x'])
    assert info.value.code == errors.ExitCode.USAGE
    assert 'not allowed with argument' in capsys.readouterr().err
