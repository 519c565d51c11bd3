"""Plan history against a real Heat: records, export, diff, rollback, recover.

Every test uses its own stack (the local Heat is shared by the session);
the read-only tests share one stack deployed three times.
"""

import datetime
import filecmp
import json
import os
import types

import pytest

from heatplan import errors
from heatplan import store as store_mod
from heatplan.actions import deploy
from heatplan.actions import history as history_action
from heatplan.store import machine as store_machine
from heatplan.store import records as store_records
from tests.functional import plans

ExitCode = errors.ExitCode

# What each revision of the shared stack deploys.
VERSIONS = (
    {},
    {'data': 'second version\nof the data\n'},
    {'data': 'second version\nof the data\n', 'label': 'three'},
)


def opts(name, **kwargs):
    kwargs.setdefault('poll', 0.5)
    return deploy.DeployOptions(stack=name, **kwargs)


def digest_hex(plan):
    return plan.digest.split(':', 1)[1]


@pytest.fixture(scope='module')
def three(local_heat, tmp_path_factory):
    """A stack deployed three times; its sources and plans, by revision."""
    root = tmp_path_factory.mktemp('three')
    stack = 'ft-history-three'
    sources = {}
    built = {}
    for revision, kwargs in enumerate(VERSIONS, 1):
        sources[revision] = plans.make_plan(root, 'r%d' % revision, **kwargs)
        built[revision] = plans.build(sources[revision])
        result = deploy.deploy(local_heat.adapter, built[revision], opts(stack))
        assert (result.outcome, result.revision) == (
            'created' if revision == 1 else 'updated', revision)
    return types.SimpleNamespace(stack=stack, sources=sources, plans=built)


def assert_same_tree(exported, source):
    """``exported`` holds exactly the files of ``source``, byte for byte."""
    assert plans.tree_bytes(exported) == plans.tree_bytes(source)

    def walk(cmp):
        assert cmp.left_only == [] and cmp.right_only == [], (cmp.left, cmp.right)
        assert cmp.funny_files == []
        match, mismatch, errs = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files,
                                                 shallow=False)
        assert (mismatch, errs) == ([], []), cmp.left
        for sub in cmp.subdirs.values():
            walk(sub)

    walk(filecmp.dircmp(exported, source))


# -- history and show ----------------------------------------------------------

def test_history_lists_three_revisions(cli, three):
    code, out, err = cli('history', three.stack, '-f', 'json')
    assert code == 0, err
    rows = json.loads(out)
    assert [(r['revision'], r['status'], r['digest'], r['action']) for r in rows] == [
        (1, 'superseded', three.plans[1].digest, 'deploy'),
        (2, 'superseded', three.plans[2].digest, 'deploy'),
        (3, 'deployed', three.plans[3].digest, 'deploy'),
    ]
    assert [r['changes'] for r in rows] == [
        'new plan: 5 files', 'files: 1 changed', 'files: unchanged; parameters: label']
    assert all(r['created'] and r['by'] for r in rows)


def test_show_a_revision_and_the_current_plan(cli, three):
    code, out, err = cli('show', three.stack, '--revision', '2', '-f', 'json')
    assert code == 0, err
    shown = json.loads(out)
    assert (shown['revision'], shown['status'], shown['digest']) == (
        2, 'superseded', three.plans[2].digest)
    assert shown['root'] == 'main.yaml'
    assert shown['environments'] == ['env/base.yaml']
    assert shown['parameters'] == {'label': 'one'}
    assert set(shown['files']) == set(plans.tree_bytes(three.sources[2]))

    code, out, err = cli('show', three.stack, '-f', 'json')
    assert code == 0, err
    shown = json.loads(out)
    assert (shown['revision'], shown['status'], shown['digest']) == (
        3, 'deployed', three.plans[3].digest)
    assert shown['parameters'] == {'label': 'three'}


# -- export --------------------------------------------------------------------

@pytest.mark.parametrize('revision', [1, 2, 3])
def test_export_is_byte_identical_to_the_deployed_source(cli, three, tmp_path, revision):
    out_dir = tmp_path / 'export'
    code, out, err = cli('export', three.stack, out_dir, '--revision', revision, '-f', 'json')
    assert code == 0, err
    info = json.loads(out)
    assert (info['revision'], info['digest'], info['hidden_parameters']) == (
        revision, three.plans[revision].digest, [])
    assert info['files'] == len(plans.tree_bytes(three.sources[revision]))
    assert_same_tree(str(out_dir), three.sources[revision])
    # comments, layout, CRLF and a missing final newline all came back
    with open(out_dir / 'files' / 'crlf.txt', 'rb') as f:
        assert f.read() == plans.CRLF.encode('utf-8')
    with open(out_dir / 'env' / 'base.yaml', 'rb') as f:
        assert b'"My::Nested":   ../templates/nested.yaml\n' in f.read()
    # and deploying the export would deploy the very same plan
    assert plans.build(out_dir).digest == three.plans[revision].digest


def test_export_without_revision_is_what_the_stack_runs(cli, three, tmp_path):
    code, out, err = cli('export', three.stack, tmp_path / 'now', '-f', 'json')
    assert code == 0, err
    assert json.loads(out)['revision'] == 3
    assert_same_tree(str(tmp_path / 'now'), three.sources[3])


def test_export_to_a_tar_gz(cli, three, tmp_path):
    archive = tmp_path / 'r1.tar.gz'
    code, _out, err = cli('export', three.stack, archive, '--revision', 1)
    assert code == 0, err
    assert plans.tar_bytes(archive) == plans.tree_bytes(three.sources[1])
    assert plans.build(archive).digest == three.plans[1].digest
    first = archive.read_bytes()

    code, _out, err = cli('export', three.stack, archive, '--revision', 1)
    assert code == ExitCode.OUTPUT, err
    assert 'exists' in err and '--force' in err
    assert archive.read_bytes() == first

    code, _out, err = cli('export', three.stack, archive, '--revision', 1, '--force')
    assert code == 0, err
    assert archive.read_bytes() == first  # deterministic


def test_export_refuses_a_non_empty_directory(cli, three, tmp_path):
    out_dir = tmp_path / 'busy'
    out_dir.mkdir()
    (out_dir / 'stray.txt').write_text('not part of any plan')

    code, _out, err = cli('export', three.stack, out_dir, '--revision', 2)
    assert code == ExitCode.OUTPUT, err
    assert 'is not empty' in err and '--force' in err
    assert os.listdir(out_dir) == ['stray.txt']

    code, _out, err = cli('export', three.stack, out_dir, '--revision', 2, '--force')
    assert code == 0, err
    assert_same_tree(str(out_dir), three.sources[2])

    # an empty directory is fine without --force
    (tmp_path / 'empty').mkdir()
    code, _out, err = cli('export', three.stack, tmp_path / 'empty', '--revision', 2)
    assert code == 0, err
    assert_same_tree(str(tmp_path / 'empty'), three.sources[2])


def test_export_of_a_missing_revision_fails_cleanly(cli, three, tmp_path):
    code, _out, err = cli('export', three.stack, tmp_path / 'x', '--revision', 9)
    assert code != 0
    assert 'has no revision 9' in err
    assert not (tmp_path / 'x').exists()


# -- diff ----------------------------------------------------------------------

def test_diff_between_revisions(cli, three):
    code, out, err = cli('diff', three.stack, '--from-revision', 1, '--to-revision', 2)
    assert code == ExitCode.DIFFERENT, err
    assert '--- a/files/data.txt\n+++ b/files/data.txt\n' in out
    assert '-' + plans.DATA + '\n\\ No newline at end of file\n' in out
    assert '+second version\n+of the data\n' in out
    assert 'main.yaml' not in out
    assert 'parameter' not in out

    code, out, err = cli('diff', three.stack, '--from-revision', 2, '--to-revision', 3)
    assert code == ExitCode.DIFFERENT, err
    assert '--- a/heatplan.yaml\n+++ b/heatplan.yaml\n' in out
    assert '-  label: one\n+  label: three\n' in out
    assert 'parameter label: "one" -> "three"\n' in out
    assert 'data.txt' not in out

    code, out, err = cli('diff', three.stack, '--from-revision', 3, '--to-revision', 1)
    assert code == ExitCode.DIFFERENT, err
    assert '--- a/files/data.txt' in out and '--- a/heatplan.yaml' in out


def test_diff_of_identical_plans_is_empty(cli, three):
    code, out, err = cli('diff', three.stack, '--from-revision', 2, '--to-revision', 2)
    assert (code, out) == (0, ''), err
    # revision 3 against what the stack runs (revision 3)
    code, out, err = cli('diff', three.stack, '--revision', 3)
    assert (code, out) == (0, ''), err
    # the deployed plan against its own source, and against an older one
    code, out, err = cli('diff', three.stack, three.sources[3])
    assert (code, out) == (0, ''), err
    code, out, err = cli('diff', three.stack, three.sources[1])
    assert code == ExitCode.DIFFERENT, err
    assert '--- a/files/data.txt' in out


def test_diff_against_a_source_takes_the_plan_definition_flags(cli, three):
    # the same source with a parameter overridden: that parameter differs, and
    # (as a deploy with flags stores its definition in the manifest, not the
    # overridden heatplan.yaml) heatplan.yaml would leave the stored plan
    code, out, err = cli('diff', three.stack, three.sources[3], '--parameter', 'label=other')
    assert code == ExitCode.DIFFERENT, err
    assert out.endswith('parameter label: "three" -> "other"\n'), out
    assert '--- a/heatplan.yaml\n+++ /dev/null\n' in out
    assert '+++ b/' not in out  # no other file differs
    # definition flags need a SOURCE to apply to
    code, out, err = cli('diff', three.stack, '--revision', 2, '--parameter', 'label=x')
    assert code == ExitCode.USAGE
    assert '--parameter only apply to a SOURCE plan' in err and out == ''


# -- rollback ------------------------------------------------------------------

def test_rollback_redeploys_an_earlier_revision(cli, adapter, name, tmp_path):
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    second = plans.build(plans.make_plan(tmp_path, 'v2', data='two', replace='b'))
    deploy.deploy(adapter, first, opts(name))
    deploy.deploy(adapter, second, opts(name, allow_replace=True))

    # a rollback has the guards of a deploy
    code, out, err = cli('rollback', name, '1')
    assert code == ExitCode.REFUSED, err
    assert '/keeper (OS::Heat::TestResource)' in err and '--allow-replace' in err
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'deployed')]

    code, out, err = cli('rollback', name, '1', '--allow-replace')
    assert code == 0, err
    assert 'rolled back to revision 1' in out
    assert 'updated revision 3' in out
    assert plans.tag(adapter, name, 'hp-digest=') == digest_hex(first)
    assert plans.tag(adapter, name, 'hp-rev=') == '3'
    assert adapter.get_files(name) == first.body['files']
    rows = history_action.history(adapter, name)
    assert [(r['revision'], r['status'], r['digest'], r['action']) for r in rows] == [
        (1, 'superseded', first.digest, 'deploy'),
        (2, 'superseded', second.digest, 'deploy'),
        (3, 'deployed', first.digest, 'rollback'),
    ]
    record = store_mod.Store(adapter).get(name, 3)
    assert store_mod.Store(adapter).meta(record)['rollback_to'] == 1

    # without a revision: the last good one before the current one
    code, out, err = cli('rollback', name, '--allow-replace')
    assert code == 0, err
    assert 'rolled back to revision 2' in out
    assert plans.tag(adapter, name, 'hp-digest=') == digest_hex(second)
    assert plans.revisions(adapter, name)[-1] == (4, 'deployed')


def test_rollback_to_a_missing_revision_is_an_error(cli, adapter, name, tmp_path):
    deploy.deploy(adapter, plans.build(plans.make_plan(tmp_path)), opts(name))
    code, _out, err = cli('rollback', name, '7')
    assert code != 0
    assert 'has no revision 7' in err
    code, _out, err = cli('rollback', name)
    assert code == ExitCode.REFUSED, err
    assert 'no earlier successfully deployed revision' in err
    assert plans.revisions(adapter, name) == [(1, 'deployed')]


def test_rollback_after_a_failed_deploy_returns_to_the_last_good_revision(
        cli, adapter, name, tmp_path):
    good = plans.build(plans.make_plan(tmp_path, 'good'))
    deploy.deploy(adapter, good, opts(name))
    broken = plans.build(plans.make_plan(tmp_path, 'broken', data='new', broken=True))
    assert deploy.deploy(adapter, broken, opts(name)).outcome == 'failed'
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'failed')]

    # the stack runs the failed revision 2; roll back to what worked
    code, out, err = cli('rollback', name, '--allow-delete')
    assert code == 0, err
    assert 'rolled back to revision 1' in out
    assert plans.tag(adapter, name, 'hp-digest=') == digest_hex(good)
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'failed'),
                                              (3, 'deployed')]


# -- a deploy that died --------------------------------------------------------

def test_killed_deploy_leaves_a_pending_record_that_recover_settles(
        cli, adapter, name, tmp_path, monkeypatch):
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    deploy.deploy(adapter, first, opts(name))
    second = plans.build(plans.make_plan(tmp_path, 'v2', data='two'))
    # a deploy that took the lock and died before sending its plan
    store_mod.Store(adapter).create_pending(name, 2, second.body, second.digest,
                                            {'action': 'deploy'})
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'pending')]

    # while the record is young, its deploy may still be sending: locked
    v3 = plans.make_plan(tmp_path, 'v3', data='three')
    code, _out, err = cli('deploy', v3, '--stack', name)
    assert code == ExitCode.REFUSED, err
    assert 'another deploy of %s is in progress (revision 2' % name in err
    code, _out, err = cli('recover', name)
    assert code == ExitCode.REFUSED, err
    assert 'may still be sending its plan' in err
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'pending')]

    # past the grace period it is stale (no need to wait 120 s in a test)
    monkeypatch.setattr(store_machine, 'STALE_AFTER', 0.0)
    code, _out, err = cli('deploy', v3, '--stack', name)
    assert code == ExitCode.REFUSED, err
    assert 'revision 2 of %s is pending' % name in err
    assert 'heatplan recover %s' % name in err
    assert plans.tag(adapter, name, 'hp-rev=') == '1'

    code, out, err = cli('recover', name, '-f', 'json')
    assert code == 0, err
    assert json.loads(out) == [{'revision': 2, 'status': 'failed'}]
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'failed')]

    code, out, err = cli('recover', name, '-f', 'json')
    assert (code, json.loads(out)) == (0, []), err

    code, out, err = cli('deploy', v3, '--stack', name)
    assert code == 0, err
    assert 'updated revision 3' in out
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'failed'), (3, 'deployed')]
    rows = history_action.history(adapter, name)
    assert len({r['revision'] for r in rows}) == len(rows) == 3


class ClockAhead(datetime.datetime):
    """This machine's clock, an hour ahead of Heat's."""

    @classmethod
    def now(cls, tz=None):
        return datetime.datetime.now(tz) + datetime.timedelta(hours=1)


def test_grace_period_is_measured_on_heats_clock(cli, adapter, name, tmp_path, monkeypatch):
    """A young pending record stays young when this machine's clock runs ahead."""
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    deploy.deploy(adapter, first, opts(name))
    second = plans.build(plans.make_plan(tmp_path, 'v2', data='two'))
    store_mod.Store(adapter).create_pending(name, 2, second.body, second.digest,
                                            {'action': 'deploy'})
    monkeypatch.setattr(store_records, 'datetime',
                        types.SimpleNamespace(datetime=ClockAhead,
                                              timezone=datetime.timezone))
    just_now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    assert store_mod.Record.from_stack(
        {'stack_name': 'x', 'id': 'y', 'creation_time': just_now}).age() > 3000
    # On this machine's clock the record is an hour old (stale); on Heat's,
    # seconds: its deploy may still be sending its plan.
    v3 = plans.make_plan(tmp_path, 'v3', data='three')
    code, _out, err = cli('deploy', v3, '--stack', name)
    assert code == ExitCode.REFUSED, err
    assert 'another deploy of %s is in progress (revision 2' % name in err
    code, _out, err = cli('recover', name)
    assert code == ExitCode.REFUSED, err
    assert 'may still be sending its plan' in err
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'pending')]
    assert adapter.server_now() is not None
    assert abs((adapter.server_now() - datetime.datetime.now(datetime.timezone.utc))
               .total_seconds()) < 5


def test_unsettled_deploy_is_settled_by_recover(cli, adapter, name, tmp_path):
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    deploy.deploy(adapter, first, opts(name))
    slow = plans.build(plans.make_plan(tmp_path, 'slow', label='slow', update_wait=5))
    # the deploying process goes away once Heat accepted the plan
    result = deploy.deploy(adapter, slow, opts(name, wait=False))
    assert (result.outcome, result.revision) == ('accepted', 2)

    code, _out, err = cli('recover', name)
    assert code == ExitCode.REFUSED, err
    assert 'the deploy is still running' in err
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'pending')]

    assert adapter.wait_for_stack(name, timeout=60, poll=0.5) == 'UPDATE_COMPLETE'
    code, out, err = cli('recover', name, '-f', 'json')
    assert code == 0, err
    assert json.loads(out) == [{'revision': 2, 'status': 'deployed'}]
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'deployed')]

    # the next deploy needs nothing more
    v3 = plans.build(plans.make_plan(tmp_path, 'v3', data='three'))
    assert deploy.deploy(adapter, slow, opts(name)).outcome == 'unchanged'
    assert deploy.deploy(adapter, v3, opts(name)).revision == 3
    assert plans.revisions(adapter, name) == [
        (1, 'superseded'), (2, 'superseded'), (3, 'deployed')]


def test_recover_a_failed_unsettled_deploy(cli, adapter, name, tmp_path):
    deploy.deploy(adapter, plans.build(plans.make_plan(tmp_path, 'v1')), opts(name))
    broken = plans.build(plans.make_plan(tmp_path, 'broken', broken=True))
    assert deploy.deploy(adapter, broken, opts(name, wait=False)).outcome == 'accepted'
    assert adapter.wait_for_stack(name, timeout=60, poll=0.5) == 'UPDATE_FAILED'
    code, out, err = cli('recover', name, '-f', 'json')
    assert code == 0, err
    assert json.loads(out) == [{'revision': 2, 'status': 'failed'}]
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'failed')]


# -- pruning -------------------------------------------------------------------

def test_history_max_prunes_the_oldest_records(cli, adapter, name, tmp_path):
    sources = [plans.make_plan(tmp_path, 'v%d' % i, data='version %d' % i) for i in range(4)]
    for source in sources:
        code, _out, err = cli('deploy', source, '--stack', name, '--history-max', '2')
        assert code == 0, err
    # pruned records are deleted without waiting (see the xfail test below)
    assert plans.eventually(lambda: plans.revisions(adapter, name),
                            [(3, 'superseded'), (4, 'deployed')]) == [
        (3, 'superseded'), (4, 'deployed')]
    code, out, err = cli('history', name, '-f', 'json')
    assert code == 0, err
    assert [(r['revision'], r['status']) for r in json.loads(out)] == [
        (3, 'superseded'), (4, 'deployed')]
    # the kept records still export exactly
    code, _out, err = cli('export', name, tmp_path / 'r3', '--revision', 3)
    assert code == 0, err
    assert_same_tree(str(tmp_path / 'r3'), sources[2])


def test_pruning_keeps_the_deployed_record(adapter, name, tmp_path):
    deploy.deploy(adapter, plans.build(plans.make_plan(tmp_path, 'v0')), opts(name))
    broken = plans.build(plans.make_plan(tmp_path, 'broken', broken=True))
    assert deploy.deploy(adapter, broken, opts(name)).outcome == 'failed'
    # fixing it means dropping a failed resource (a "deletion" for the guard)
    fixed = plans.build(plans.make_plan(tmp_path, 'fixed', data='fixed'))
    result = deploy.deploy(adapter, fixed, opts(name, history_max=1, allow_delete=True))
    assert (result.outcome, result.revision) == ('updated', 3)
    assert plans.eventually(lambda: plans.revisions(adapter, name), [(3, 'deployed')]) == [
        (3, 'deployed')]


def test_heat_lists_the_stacks_of_a_repeated_name_filter(adapter, name, tmp_path):
    # the store reads the history and the lock stack in one list call
    # (?name=A&name=B): Heat takes a repeated filter as a list (SQL IN)
    deploy.deploy(adapter, plans.build(plans.make_plan(tmp_path)), opts(name))
    history = store_mod.history_name(name)
    for names in ([history, 'hp.nothing.lock'], ['hp.nothing.lock', history]):
        found = adapter.list_stacks(show_hidden=True, name=names)
        assert [s['stack_name'] for s in found] == [history]
    both = adapter.list_stacks(show_hidden=True, name=[history, name])
    assert sorted(s['stack_name'] for s in both) == sorted([history, name])


def test_records_being_deleted_are_not_listed(adapter, name, tmp_path):
    plan = plans.build(plans.make_plan(tmp_path))
    deploy.deploy(adapter, plan, opts(name))
    # A record of revision 2 whose deletion takes a few seconds, as any
    # record's may on a busy Heat.
    slow_delete = (
        'heat_template_version: 2021-04-16\n'
        'resources:\n'
        '  lingering:\n'
        '    type: OS::Heat::TestResource\n'
        '    properties: {action_wait_secs: {delete: 5}}\n')
    record = store_mod.record_name(name, 2)
    adapter.create_stack(record, {'template': slow_delete}, tags=[
        store_mod.RECORD_TAG, store_mod.stack_tag(name), 'hp-rev=2', 'hp-status=superseded',
        store_mod.digest_tag(plan.digest), 'hp-by=test'])
    assert adapter.wait_for_stack(record, timeout=60, poll=0.3) == 'CREATE_COMPLETE'
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'superseded')]
    adapter.delete_stack(record)
    try:
        assert adapter.get_stack(record)['stack_status'] == 'DELETE_IN_PROGRESS'
        assert plans.revisions(adapter, name) == [(1, 'deployed')]
    finally:
        adapter.wait_for_stack(record, timeout=60, poll=0.3)


# -- delete --------------------------------------------------------------------

def test_delete_removes_the_stack_and_its_records(cli, adapter, name, tmp_path):
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    deploy.deploy(adapter, first, opts(name))
    deploy.deploy(adapter, plans.build(plans.make_plan(tmp_path, 'v2', data='2')), opts(name))

    # not on a terminal, nobody can be asked: refused, nothing deleted
    code, _out, err = cli('delete', name)
    assert code == ExitCode.REFUSED and '--yes' in err
    assert adapter.get_stack(name) is not None
    code, out, err = cli('delete', name, '--yes', '-f', 'json')
    assert code == 0, err
    info = json.loads(out)
    assert (info['status'], info['records_deleted']) == ('DELETE_COMPLETE', [1, 2])
    # Heat reports DELETE_COMPLETE before it hides the row: on MariaDB with
    # several engines a GET right after can still see it (DELETE_COMPLETE).
    assert plans.eventually(lambda: adapter.get_stack(name), None) is None
    assert plans.eventually(lambda: plans.records(adapter, name), []) == []
    code, _out, err = cli('history', name)
    assert code != 0
    assert 'no stack %s and no heatplan history' % name in err


def test_delete_keep_history(cli, adapter, name, tmp_path):
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    deploy.deploy(adapter, first, opts(name))

    code, out, err = cli('delete', name, '--keep-history', '--yes', '-f', 'json')
    assert code == 0, err
    assert json.loads(out)['records_deleted'] == []
    # Heat reports DELETE_COMPLETE before it hides the row: on MariaDB with
    # several engines a GET right after can still see it (DELETE_COMPLETE).
    assert plans.eventually(lambda: adapter.get_stack(name), None) is None
    assert plans.revisions(adapter, name) == [(1, 'deployed')]

    # the history of the deleted stack is still there, and exports
    code, out, err = cli('history', name, '-f', 'json')
    assert code == 0, err
    assert [r['revision'] for r in json.loads(out)] == [1]
    code, _out, err = cli('export', name, tmp_path / 'r1', '--revision', 1)
    assert code == 0, err
    assert_same_tree(str(tmp_path / 'r1'), str(tmp_path / 'v1'))

    # deploying again continues the history
    result = deploy.deploy(adapter, first, opts(name))
    assert (result.outcome, result.revision) == ('created', 2)
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'deployed')]

    # deleting without --keep-history now removes everything
    code, _out, err = cli('delete', name, '-y')
    assert code == 0, err
    assert plans.eventually(lambda: plans.records(adapter, name), []) == []


def _heatclient_create(adapter, name, template_path, env_paths, parameters):
    """Create a stack the way "openstack stack create -t ... -e ..." does."""
    from heatclient.common import template_utils

    tpl_files, template = template_utils.process_template_path(template_path)
    env_list = []
    env_files, _env = template_utils.process_multiple_environments_and_files(
        env_paths=env_paths, env_list_tracker=env_list)
    files = dict(tpl_files)
    files.update(env_files)
    adapter.client.stacks.create(stack_name=name, template=template, files=files,
                                 environment_files=env_list, parameters=parameters)
    assert adapter.wait_for_stack(name, poll=0.5) == 'CREATE_COMPLETE'
    return files


def test_export_of_a_stack_created_by_heatclient_redeploys_without_replacement(
        cli, adapter, name, tmp_path):
    demo = os.path.abspath(plans.DEMO)
    files = _heatclient_create(
        adapter, name, os.path.join(demo, 'overcloud.yaml'),
        [os.path.join(demo, 'environments', e) for e in ('base.yaml', 'scale.yaml')],
        {'cluster_name': 'hc'})
    # heatclient's own processing: absolute file:/// keys of this machine
    assert all(k.startswith('file://' + demo) for k in files)

    out = tmp_path / 'exported'
    code, _out, err = cli('export', name, out)
    assert code == 0, err
    exported = {str(p.relative_to(out)) for p in out.rglob('*') if p.is_file()}
    assert {'heatplan.yaml', 'template.yaml', 'environment.yaml', 'scripts/boot.sh',
            'templates/server/node.yaml', 'templates/server/setup.yaml'} <= exported
    text = (out / 'templates' / 'server' / 'node.yaml').read_text()
    assert 'file://' not in text and '../../scripts/boot.sh' in text
    # the scripts come back byte for byte
    for script in ('boot.sh', 'common.sh'):
        assert (out / 'scripts' / script).read_bytes() == \
            open(os.path.join(demo, 'scripts', script), 'rb').read()

    # the export is a valid plan, and deploys back onto the stack replacing nothing
    code, dry, err = cli('deploy', out, '--stack', name, '--dry-run')
    assert code == 0, err
    assert 'resource replaced' not in dry and 'resource deleted' not in dry
    code, result, err = cli('deploy', out, '--stack', name, '-f', 'json')
    assert code == 0, err
    outcome = json.loads(result)
    assert (outcome['outcome'], outcome['status']) == ('updated', 'UPDATE_COMPLETE')
    stored = adapter.get_files(name)
    assert not [k for k in stored if k.startswith('file://')]
    assert plans.revisions(adapter, name) == [(1, 'deployed')]


@pytest.mark.parametrize('damage', [
    'not json at all', '42', '{"digest": 1}',
    '{"digest": "sha256:x", "root": "a.yaml", "environments": [], "parameters": {},'
    ' "files": {"a.yaml": {"sha256": "x", "edits": [[0, 1, 2]]}}}'])
def test_a_damaged_record_is_shown_as_damaged_and_the_others_still_work(
        local_heat, tmp_path, cli, name, damage):
    # issue 12: one record with a malformed manifest made history, show and
    # export exit 1 with a bare Python message, for the whole stack
    adapter = local_heat.adapter
    for revision, kwargs in enumerate(VERSIONS[:2], 1):
        plan = plans.build(plans.make_plan(tmp_path, 'r%d' % revision, **kwargs))
        deploy.deploy(adapter, plan, opts(name))
    first = store_mod.Store(adapter).get(name, 1)
    # anyone in the project can do this to the history stack (a PATCH of one
    # file): revision 1's manifest (its blob) replaced
    blob = 'heatplan://history/blob/' + first.doc['files']['heatplan://manifest.json']
    adapter.client.stacks.update(first.snapshot.ident, existing=True, files={blob: damage})
    plans.eventually(lambda: adapter.get_files(first.snapshot.ident)[blob], damage)
    code, out, err = cli('history', name, '-f', 'json')
    assert code == 0, err
    rows = {r['revision']: r for r in json.loads(out)}
    assert rows[1]['status'] == 'damaged' and 'damaged record' in rows[1]['changes']
    assert rows[2]['status'] == 'deployed'
    code, _out, err = cli('show', name, '--revision', '1')
    assert code == ExitCode.PLAN_INVALID
    assert 'revision 1 of %s' % name in err and 'Traceback' not in err
    code, _out, err = cli('export', name, tmp_path / 'out', '--revision', '2')
    assert code == 0, err


# -- format 1 -> format 2 ------------------------------------------------------

def _format_1_deploy(adapter, name, plan, revision, status_of_previous=None):
    """What heatplan before format 2 did for one revision: its record stack
    ``hp.NAME.rN`` holding the whole plan, then the stack create/update."""
    meta = store_records.record_meta(name, revision, plan.digest,
                                     {'action': 'deploy', 'description': 'old r%d' % revision})
    rec = store_records.record_name(name, revision)
    adapter.create_stack(rec, store_records.record_body(plan.body, meta),
                         tags=store_records.record_tags(name, revision, 'deployed',
                                                        plan.digest, meta['by']))
    tags = ['hp-rev=%d' % revision, store_records.digest_tag(plan.digest)]
    if revision == 1:
        adapter.create_stack(name, plan.body, tags=tags)
    else:
        adapter.update_stack(name, plan.body, tags=tags)
        old = store_records.record_name(name, revision - 1)
        adapter.update_tags(old, store_records.record_tags(
            name, revision - 1, status_of_previous, plan.digest, 'old@host'))
    assert adapter.wait_for_stack(name, timeout=120, poll=0.5).endswith('_COMPLETE')
    assert adapter.wait_for_stack(rec, timeout=60, poll=0.3).endswith('_COMPLETE')


def test_format_1_records_are_read_then_migrated_byte_for_byte(cli, adapter, name,
                                                                 tmp_path):
    sources = {r: plans.make_plan(tmp_path, 'r%d' % r, **kw)
               for r, kw in enumerate(VERSIONS[:2], 1)}
    built = {r: plans.build(src) for r, src in sources.items()}
    _format_1_deploy(adapter, name, built[1], 1)
    _format_1_deploy(adapter, name, built[2], 2, status_of_previous='superseded')
    old_records = adapter.list_stacks(tags=[store_mod.RECORD_TAG, store_mod.stack_tag(name)],
                                      show_hidden=True)
    assert len(old_records) == 2

    # read as they are, before any migration
    code, out, err = cli('history', name, '-f', 'json')
    assert code == 0, err
    assert [(r['revision'], r['status']) for r in json.loads(out)] == [
        (1, 'superseded'), (2, 'deployed')]
    code, _out, err = cli('export', name, tmp_path / 'before', '--revision', '1')
    assert code == 0, err
    assert_same_tree(str(tmp_path / 'before'), sources[1])

    # the next deploy migrates them into the history stack, then deletes them
    v3 = plans.make_plan(tmp_path, 'r3', **VERSIONS[2])
    code, out, err = cli('deploy', v3, '--stack', name)
    assert code == 0, err
    assert 'updated revision 3' in out
    assert plans.eventually(lambda: [s['stack_name'] for s in adapter.list_stacks(
        tags=[store_mod.RECORD_TAG, store_mod.stack_tag(name)], show_hidden=True)
        if s['stack_status'] != 'DELETE_COMPLETE'], []) == []
    mine = [s['stack_name'] for s in adapter.list_stacks(
        tags=[store_mod.stack_tag(name)], show_hidden=True)
        if s['stack_status'] not in ('DELETE_COMPLETE', 'DELETE_IN_PROGRESS')]
    assert mine == [store_mod.history_name(name)]
    code, out, err = cli('history', name, '-f', 'json')
    assert code == 0, err
    rows = json.loads(out)
    assert [(r['revision'], r['status']) for r in rows] == [
        (1, 'superseded'), (2, 'superseded'), (3, 'deployed')]
    assert rows[0]['description'] == 'old r1'
    # every old revision still exports byte for byte, from the history stack
    for revision in (1, 2):
        out_dir = tmp_path / ('after%d' % revision)
        code, _out, err = cli('export', name, out_dir, '--revision', revision)
        assert code == 0, err
        assert_same_tree(str(out_dir), sources[revision])
    code, _out, err = cli('diff', name, '--from-revision', '1', '--to-revision', '3')
    assert code == 1, err
    # and a rollback to a migrated revision deploys its very plan
    code, out, err = cli('rollback', name, '1', '-f', 'json')
    assert code == 0, err
    assert json.loads(out)['digest'] == built[1].digest
