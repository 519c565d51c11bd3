"""Deploy against a real Heat: one create/update call behind its guards.

Every test uses its own stack (the local Heat is shared by the session) and
small plans from :mod:`tests.functional.plans` that deploy in a few seconds.
"""

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from heatplan import errors
from heatplan import store as store_mod
from heatplan.actions import deploy
from heatplan.cli import app
from heatplan.heat.adapter import HeatAdapter
from tests.functional import plans

ExitCode = errors.ExitCode


@pytest.fixture
def heat(local_heat):
    return local_heat


def opts(name, **kwargs):
    kwargs.setdefault('poll', 0.5)
    return deploy.DeployOptions(stack=name, **kwargs)


def resources(adapter, name):
    """``{resource name: physical id}`` of the stack's top-level resources."""
    return {r['resource_name']: r['physical_resource_id']
            for r in adapter.list_resources(name)}


def stack_updates(adapter, name):
    """How many updates of the stack itself completed (its own events)."""
    return sum(1 for e in adapter.list_events(name)
               if e.get('resource_name') == name and
               e.get('resource_status') == 'UPDATE_COMPLETE')


def digest_hex(plan):
    return plan.digest.split(':', 1)[1]


def assert_deployed(adapter, name, plan, revision):
    """The stack runs ``plan`` as ``revision``: tags, stored files, record."""
    stack = adapter.get_stack(name)
    assert stack['stack_status'].endswith('_COMPLETE'), stack['stack_status']
    tags = store_mod.tags_of(stack)
    assert 'hp-rev=%d' % revision in tags
    assert 'hp-digest=' + digest_hex(plan) in tags
    assert adapter.get_files(name) == plan.body['files']
    current = [r for r in plans.records(adapter, name) if r.status == store_mod.DEPLOYED]
    assert [(r.revision, r.digest) for r in current] == [(revision, plan.digest)]


# -- create, update, unchanged, force ------------------------------------------

def test_create_update_unchanged_force(adapter, name, tmp_path):
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    second = plans.build(plans.make_plan(tmp_path, 'v2', data='second version\n'))
    assert first.digest != second.digest

    result = deploy.deploy(adapter, first, opts(name))
    assert (result.outcome, result.revision, result.status) == (
        'created', 1, 'CREATE_COMPLETE')
    assert result.digest == first.digest
    assert result.changes.new_plan
    assert_deployed(adapter, name, first, 1)
    assert plans.revisions(adapter, name) == [(1, 'deployed')]

    result = deploy.deploy(adapter, second, opts(name))
    assert (result.outcome, result.revision, result.status) == (
        'updated', 2, 'UPDATE_COMPLETE')
    assert result.changes.changed == ['files/data.txt']
    assert not (result.changes.added or result.changes.removed or result.changes.parameters)
    assert_deployed(adapter, name, second, 2)
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'deployed')]

    before = adapter.get_stack(name)
    updates = stack_updates(adapter, name)
    assert updates == 1
    result = deploy.deploy(adapter, plans.build(plans.make_plan(
        tmp_path, 'v2-again', data='second version\n')), opts(name))
    assert (result.outcome, result.revision) == ('unchanged', 2)
    assert result.changes.empty
    after = adapter.get_stack(name)
    assert after['updated_time'] == before['updated_time']
    assert stack_updates(adapter, name) == updates
    assert after['stack_status'] == before['stack_status']
    assert store_mod.tags_of(after) == store_mod.tags_of(before)
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'deployed')]

    result = deploy.deploy(adapter, second, opts(name, force=True))
    assert (result.outcome, result.revision, result.status) == (
        'updated', 3, 'UPDATE_COMPLETE')
    # (updated_time has one-second resolution: a fast update may keep it)
    assert stack_updates(adapter, name) == updates + 1
    assert_deployed(adapter, name, second, 3)
    assert plans.revisions(adapter, name) == [
        (1, 'superseded'), (2, 'superseded'), (3, 'deployed')]


def test_unchanged_is_decided_on_the_digest_without_the_files_map_or_a_body(
        adapter, name, tmp_path, monkeypatch):
    # issue 18: the deploy of an unchanged plan reads the stack and its records
    # (the deployed digest) and nothing more; with the plan summary cached,
    # the request body is never built
    from heatplan.actions import plan as actions
    from heatplan.plan import lazy

    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    plan_dir = plans.make_plan(tmp_path, 'v1')
    popts = actions.PlanOptions(plan_dir, cache=True)
    _src, first = actions.prepare_plan(popts)
    assert not isinstance(first, lazy.LazyPlan)     # nothing cached yet
    assert deploy.deploy(adapter, first, opts(name)).outcome == 'created'
    _src, again = actions.prepare_plan(popts)
    assert isinstance(again, lazy.LazyPlan) and again.digest == first.digest
    calls = []
    for method in ('get_files', 'preview_update', 'update_stack', 'create_stack'):
        real = getattr(adapter, method)
        monkeypatch.setattr(adapter, method, lambda *a, _m=method, _r=real, **kw: (
            calls.append(_m), _r(*a, **kw))[1])
    result = deploy.deploy(adapter, again, opts(name))
    assert (result.outcome, result.revision) == ('unchanged', 1)
    assert result.changes.empty
    assert calls == [] and not again.built
    # a changed plan builds its body and deploys it
    with open(os.path.join(plan_dir, 'files', 'data.txt'), 'a') as f:
        f.write('more\n')
    _src, changed = actions.prepare_plan(popts)
    assert deploy.deploy(adapter, changed, opts(name)).outcome == 'updated'
    assert 'get_files' in calls and 'update_stack' in calls


_UNCHANGED_PROBE = """
import json, sys
from heatplan.cli import app
code = app.main(sys.argv[1:])
print(json.dumps({'code': code, 'heatclient': sorted(
    m for m in sys.modules if m.split('.')[0] == 'heatclient')}))
"""


def test_an_unchanged_deploy_is_answered_without_importing_heatclient(
        local_heat, adapter, name, tmp_path):
    # issue 18: the two reads before "unchanged" go over the keystoneauth
    # session; python-heatclient (and oslo.utils, which it imports) is left
    # out of the process: 0.04-0.05 s of CPU
    plan_dir = plans.make_plan(tmp_path, 'v1')
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / 'xdg'),
               PYTHONPATH=os.pathsep.join(sys.path))

    def probe():
        out = subprocess.run(
            [sys.executable, '-c', _UNCHANGED_PROBE, 'deploy', plan_dir, '--stack', name,
             '-f', 'json', '--noindent'] + local_heat.cli_args,
            capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.strip().splitlines()
        return json.loads(lines[0]), json.loads(lines[-1])

    result, first = probe()
    assert result['outcome'] == 'created' and first['code'] == 0
    assert first['heatclient']     # a create needs it
    result, again = probe()
    assert result['outcome'] == 'unchanged' and result['revision'] == 1
    assert again == {'code': 0, 'heatclient': []}


def test_cli_create_update_unchanged_force(cli, adapter, name, tmp_path):
    v1 = plans.make_plan(tmp_path, 'v1')
    v2 = plans.make_plan(tmp_path, 'v2', data='second version\n')
    digest1, digest2 = plans.build(v1).digest, plans.build(v2).digest

    code, out, err = cli('deploy', v1, '--stack', name, '--tag', 'team=blue')
    assert code == 0, err
    assert '%s: created revision 1, CREATE_COMPLETE, %s' % (name, digest1) in out
    assert 'creating %s: revision 1' % name in err

    code, out, err = cli('deploy', v2, '--stack', name)
    assert code == 0, err
    assert '%s: updated revision 2, UPDATE_COMPLETE, %s' % (name, digest2) in out
    assert 'plan changes: files: 1 changed' in out
    # user tags are kept; heatplan's own tags follow the revision
    assert plans.tags(adapter, name) == [
        'team=blue', 'hp-rev=2', 'hp-digest=' + digest2.split(':', 1)[1]]
    code, _out, err = cli('deploy', v2, '--stack', name, '--tag', 'hp-mine')
    assert code == ExitCode.USAGE, err
    assert 'reserves' in err

    updated = adapter.get_stack(name)['updated_time']
    updates = stack_updates(adapter, name)
    code, out, err = cli('deploy', v2, '--stack', name)
    assert code == 0, err
    assert out == '%s: unchanged (%s revision 2)\n' % (name, digest2)
    assert adapter.get_stack(name)['updated_time'] == updated
    assert stack_updates(adapter, name) == updates
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'deployed')]

    code, out, err = cli('deploy', v2, '--stack', name, '--force', '-f', 'json')
    assert code == 0, err
    result = json.loads(out)
    assert (result['outcome'], result['revision'], result['status'], result['digest']) == (
        'updated', 3, 'UPDATE_COMPLETE', digest2)
    assert result['changes']['changed'] == []
    assert plans.revisions(adapter, name)[-1] == (3, 'deployed')


# -- dry run --------------------------------------------------------------------

def test_dry_run_reports_changes_and_changes_nothing(cli, adapter, name, tmp_path):
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    deploy.deploy(adapter, first, opts(name))
    before = adapter.get_stack(name)
    ids = resources(adapter, name)
    changed = plans.make_plan(tmp_path, 'v2', data='changed', label='two')

    code, out, err = cli('deploy', changed, '--stack', name, '--dry-run')
    assert code == 0, err
    digest = plans.build(changed).digest
    assert '%s: dry run, nothing changed (%s)' % (name, digest) in out
    assert 'plan changes against the deployed plan: files: 1 changed; parameters: label' in out
    assert '  file changed: files/data.txt\n' in out
    assert 'main.yaml' not in out
    assert '  parameter changed: label\n' in out
    assert '  resource updated: %s/keeper (OS::Heat::TestResource)\n' % name in out
    assert 'resource replaced' not in out

    # a replacement is reported by a dry run, never refused
    replacing = plans.make_plan(tmp_path, 'v3', replace='b')
    code, out, err = cli('deploy', replacing, '--stack', name, '--dry-run')
    assert code == 0, err
    assert '  file changed: main.yaml\n' in out
    assert '  resource replaced: %s/keeper (OS::Heat::TestResource)\n' % name in out

    after = adapter.get_stack(name)
    assert after['stack_status'] == 'CREATE_COMPLETE'
    assert after['updated_time'] == before['updated_time']
    assert stack_updates(adapter, name) == 0
    assert store_mod.tags_of(after) == store_mod.tags_of(before)
    assert plans.tag(adapter, name, 'hp-digest=') == digest_hex(first)
    assert plans.tag(adapter, name, 'hp-rev=') == '1'
    assert plans.revisions(adapter, name) == [(1, 'deployed')]
    assert resources(adapter, name) == ids
    assert adapter.get_files(name) == first.body['files']


def test_dry_run_of_a_new_stack_creates_nothing(cli, adapter, name, tmp_path):
    source = plans.make_plan(tmp_path)
    code, out, err = cli('deploy', source, '--stack', name, '--dry-run', '-f', 'json')
    assert code == 0, err
    result = json.loads(out)
    assert result['outcome'] == 'dry-run'
    assert result['changes']['new_plan']
    assert result['preview']['added'] == ['%s/keeper (OS::Heat::TestResource)' % name]
    assert adapter.get_stack(name) is None
    assert plans.records(adapter, name) == []


# -- destruction guards ------------------------------------------------------

def test_replacement_refused_then_allowed(cli, adapter, name, tmp_path):
    deploy.deploy(adapter, plans.build(plans.make_plan(tmp_path, 'v1')), opts(name))
    ids = resources(adapter, name)
    replacing = plans.make_plan(tmp_path, 'v2', replace='b')

    code, out, err = cli('deploy', replacing, '--stack', name)
    assert code == ExitCode.REFUSED, err
    assert 'the update would destroy resources' in err
    assert '1 resource(s) would be replaced:\n  %s/keeper (OS::Heat::TestResource)' % name in err
    assert 'would be deleted' not in err
    assert '--allow-replace' in err
    assert out == ''
    assert resources(adapter, name) == ids
    assert plans.revisions(adapter, name) == [(1, 'deployed')]
    assert plans.tag(adapter, name, 'hp-rev=') == '1'

    # --allow-delete does not allow a replacement
    code, _out, err = cli('deploy', replacing, '--stack', name, '--allow-delete')
    assert code == ExitCode.REFUSED, err

    code, out, err = cli('deploy', replacing, '--stack', name, '--allow-replace')
    assert code == 0, err
    assert 'updated revision 2' in out
    assert resources(adapter, name)['keeper'] != ids['keeper']
    assert_deployed(adapter, name, plans.build(replacing), 2)


def test_deletion_refused_then_allowed(cli, adapter, name, tmp_path):
    deploy.deploy(adapter, plans.build(plans.make_plan(tmp_path, 'v1', doomed=True)),
                  opts(name))
    removing = plans.make_plan(tmp_path, 'v2', doomed=False)

    code, out, err = cli('deploy', removing, '--stack', name)
    assert code == ExitCode.REFUSED, err
    assert '1 resource(s) would be deleted:\n  %s/doomed (OS::Heat::TestResource)' % name in err
    assert 'would be replaced' not in err
    assert '--allow-delete' in err
    assert 'doomed' in resources(adapter, name)
    assert plans.revisions(adapter, name) == [(1, 'deployed')]

    code, _out, err = cli('deploy', removing, '--stack', name, '--allow-replace')
    assert code == ExitCode.REFUSED, err

    code, out, err = cli('deploy', removing, '--stack', name, '--allow-delete')
    assert code == 0, err
    assert 'doomed' not in resources(adapter, name)
    assert_deployed(adapter, name, plans.build(removing), 2)


def test_yes_allows_replacement_and_deletion_together(cli, adapter, name, tmp_path):
    deploy.deploy(adapter, plans.build(plans.make_plan(tmp_path, 'v1', doomed=True)),
                  opts(name))
    both = plans.make_plan(tmp_path, 'v2', replace='b', doomed=False)

    code, _out, err = cli('deploy', both, '--stack', name)
    assert code == ExitCode.REFUSED
    assert 'would be replaced' in err and 'would be deleted' in err
    assert '--allow-replace and --allow-delete' in err

    code, _out, err = cli('deploy', both, '--stack', name, '--yes')
    assert code == 0, err
    assert '(--yes given: going ahead)' in err
    assert 'doomed' not in resources(adapter, name)


# -- concurrency guards ------------------------------------------------------

def test_deploy_while_in_progress_is_refused(cli, adapter, name, tmp_path):
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    deploy.deploy(adapter, first, opts(name))
    slow = plans.make_plan(tmp_path, 'slow', label='slow', update_wait=8)
    other = plans.make_plan(tmp_path, 'other', data='other')

    code, out, err = cli('deploy', slow, '--stack', name, '--no-wait')
    assert code == 0, err
    assert '%s: accepted revision 2, UPDATE_IN_PROGRESS' % name in out
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'pending')]

    code, out, err = cli('deploy', other, '--stack', name)
    assert code == ExitCode.REFUSED, err
    assert 'another deploy of %s is in progress (revision 2, started at' % name in err
    assert 'heatplan recover %s' % name in err
    # a dry run is refused too: it would preview against a moving target
    code, _out, err = cli('deploy', other, '--stack', name, '--dry-run')
    assert code == ExitCode.REFUSED, err
    assert adapter.get_stack(name)['stack_status'] == 'UPDATE_IN_PROGRESS'
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'pending')]

    assert adapter.wait_for_stack(name, timeout=60, poll=0.5) == 'UPDATE_COMPLETE'
    # the next deploy settles the finished one, then goes ahead
    code, out, err = cli('deploy', other, '--stack', name)
    assert code == 0, err
    assert 'settled revision 2 of %s as deployed' % name in err
    assert 'updated revision 3' in out
    assert plans.revisions(adapter, name) == [
        (1, 'superseded'), (2, 'superseded'), (3, 'deployed')]
    assert_deployed(adapter, name, plans.build(other), 3)


def test_stack_in_progress_outside_heatplan_is_refused(cli, adapter, name, tmp_path):
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    deploy.deploy(adapter, first, opts(name))
    # someone updates the stack directly (tags kept), and it takes a while
    slow = plans.build(plans.make_plan(tmp_path, 'slow', label='slow', update_wait=5))
    adapter.update_stack(name, slow.body, tags=plans.tags(adapter, name))
    assert adapter.get_stack(name)['stack_status'] == 'UPDATE_IN_PROGRESS'

    code, out, err = cli('deploy', plans.make_plan(tmp_path, 'v2', data='x'), '--stack', name)
    assert code == ExitCode.REFUSED, err
    assert 'stack %s is UPDATE_IN_PROGRESS' % name in err
    assert '--supersede' in err
    assert plans.revisions(adapter, name) == [(1, 'deployed')]
    assert adapter.wait_for_stack(name, timeout=60, poll=0.5) == 'UPDATE_COMPLETE'


def test_expect_revision(cli, adapter, name, tmp_path):
    v1 = plans.make_plan(tmp_path, 'v1')
    v2 = plans.make_plan(tmp_path, 'v2', data='two')

    code, _out, err = cli('deploy', v1, '--stack', name, '--expect-revision', '1')
    assert code == ExitCode.REFUSED, err
    assert 'stack %s is at revision none (never deployed), not 1 as expected' % name in err
    assert adapter.get_stack(name) is None
    assert plans.records(adapter, name) == []

    code, _out, err = cli('deploy', v1, '--stack', name, '--expect-revision', '0')
    assert code == 0, err

    for wrong in ('0', '2'):
        code, _out, err = cli('deploy', v2, '--stack', name, '--expect-revision', wrong)
        assert code == ExitCode.REFUSED, err
        assert 'stack %s is at revision 1, not %s as expected' % (name, wrong) in err
    assert plans.revisions(adapter, name) == [(1, 'deployed')]
    assert plans.tag(adapter, name, 'hp-digest=') == digest_hex(plans.build(v1))

    code, out, err = cli('deploy', v2, '--stack', name, '--expect-revision', '1')
    assert code == 0, err
    assert 'updated revision 2' in out
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'deployed')]


def test_concurrent_deploys_of_one_stack_one_proceeds(heat, name, tmp_path):
    adapter = heat.adapter
    deploy.deploy(adapter, plans.build(plans.make_plan(tmp_path, 'v1')), opts(name))
    contenders = [plans.build(plans.make_plan(tmp_path, 'p%d' % i, data='contender %d' % i))
                  for i in range(2)]
    barrier = threading.Barrier(len(contenders))

    def run(plan):
        own = heat.connect()
        barrier.wait(timeout=30)
        try:
            return deploy.deploy(own, plan, opts(name))
        except errors.RefusedError as exc:
            return exc

    with concurrent.futures.ThreadPoolExecutor(len(contenders)) as pool:
        outcomes = list(pool.map(run, contenders))

    won = [(o, p) for o, p in zip(outcomes, contenders, strict=True)
           if isinstance(o, deploy.DeployResult)]
    lost = [o for o in outcomes if isinstance(o, errors.RefusedError)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    result, plan = won[0]
    assert (result.outcome, result.revision) == ('updated', 2)
    assert isinstance(lost[0], store_mod.Locked), lost[0]
    assert 'another deploy of %s is in progress (revision 2' % name in str(lost[0])
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'deployed')]
    assert_deployed(adapter, name, plan, 2)


def test_deploy_just_after_anothers_record_is_locked(heat, name, tmp_path):
    adapter = heat.adapter
    deploy.deploy(adapter, plans.build(plans.make_plan(tmp_path, 'v1')), opts(name))
    first = plans.build(plans.make_plan(tmp_path, 'first', data='first'))
    second = plans.build(plans.make_plan(tmp_path, 'second', data='second'))
    sending = threading.Event()
    release = threading.Event()

    class Paused(HeatAdapter):
        """The first deploy pauses just before its update call."""

        def update_stack(self, *args, **kwargs):
            sending.set()
            release.wait(30)
            return super().update_stack(*args, **kwargs)

    paused = Paused(heat.connect().client, url=heat.url)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(deploy.deploy, paused, first, opts(name))
        try:
            assert sending.wait(30)
            with pytest.raises(errors.RefusedError) as refused:
                deploy.deploy(adapter, second, opts(name))
        finally:
            release.set()
        assert running.result().outcome == 'updated'
    assert plans.revisions(adapter, name) == [(1, 'superseded'), (2, 'deployed')]
    # the first deploy was alive all along: the refusal must say so
    assert isinstance(refused.value, store_mod.Locked), str(refused.value)
    assert 'another deploy of %s is in progress (revision 2' % name in str(refused.value)


# -- failure -------------------------------------------------------------------

def test_failed_deploy_names_the_resource_and_reason(cli, adapter, name, tmp_path):
    broken = plans.make_plan(tmp_path, 'broken', broken=True)
    code, out, err = cli('deploy', broken, '--stack', name)
    assert code == ExitCode.DEPLOY_FAILED, err
    assert '%s: failed revision 1, CREATE_FAILED' % name in out
    assert ('  FAILED %s/broken (OS::Heat::TestResource): ' % name) in out
    assert 'Test Resource failed broken' in out
    assert 'broken CREATE_FAILED' in err
    assert plans.revisions(adapter, name) == [(1, 'failed')]
    assert plans.tag(adapter, name, 'hp-rev=') == '1'

    # the failed stack is updated by the next, good, deploy (dropping the
    # resource that failed is a deletion for the guard, though nothing exists)
    fixed = plans.build(plans.make_plan(tmp_path, 'fixed'))
    result = deploy.deploy(adapter, fixed, opts(name, allow_delete=True))
    assert (result.outcome, result.revision, result.status) == (
        'updated', 2, 'UPDATE_COMPLETE')
    assert plans.revisions(adapter, name) == [(1, 'failed'), (2, 'deployed')]


def test_failed_update_result_through_the_api(adapter, name, tmp_path):
    good = plans.build(plans.make_plan(tmp_path, 'good'))
    deploy.deploy(adapter, good, opts(name))
    broken = plans.build(plans.make_plan(tmp_path, 'broken', broken=True))
    result = deploy.deploy(adapter, broken, opts(name))
    assert (result.outcome, result.revision, result.status) == ('failed', 2, 'UPDATE_FAILED')
    assert [(f['resource'], f['type'], f['stack'], f['status']) for f in result.failures] == [
        ('broken', 'OS::Heat::TestResource', name, 'CREATE_FAILED')]
    assert 'Test Resource failed broken' in result.failures[0]['reason']
    # the last good revision is still the deployed one; the failed one is not
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'failed')]
    # the same broken plan again is not "unchanged": the stack failed
    result = deploy.deploy(adapter, broken, opts(name, allow_replace=True))
    assert (result.outcome, result.revision) == ('failed', 3)
    assert plans.revisions(adapter, name) == [(1, 'deployed'), (2, 'failed'), (3, 'failed')]


def test_heat_rejection_is_exit_5_and_changes_nothing(cli, adapter, name, tmp_path):
    main = plans.plan_files()['main.yaml'].replace('update_replace_value: a', 'bogus: a')
    bad = plans.make_plan(tmp_path, 'bad', extra={'main.yaml': main})

    code, out, err = cli('deploy', bad, '--stack', name, '--dry-run')
    assert code == ExitCode.HEAT_REJECTED, err
    assert 'Unknown Property bogus' in err
    assert plans.records(adapter, name) == []

    code, out, err = cli('deploy', bad, '--stack', name)
    assert code == ExitCode.HEAT_REJECTED, err
    assert 'Heat rejected creating stack %s (HTTP 400' % name in err
    assert 'Unknown Property bogus' in err
    assert adapter.get_stack(name) is None
    # the attempt is in the history, settled: nothing holds the stack
    assert plans.revisions(adapter, name) == [(1, 'failed')]

    good = plans.build(plans.make_plan(tmp_path, 'good'))
    assert deploy.deploy(adapter, good, opts(name)).outcome == 'created'
    code, out, err = cli('deploy', bad, '--stack', name)
    assert code == ExitCode.HEAT_REJECTED, err
    assert 'Heat rejected previewing the update of stack %s/' % name in err
    assert plans.revisions(adapter, name) == [(1, 'failed'), (2, 'deployed')]
    assert_deployed(adapter, name, good, 2)


def test_retrying_a_failed_create_destroys_nothing(adapter, name, tmp_path):
    broken = plans.build(plans.make_plan(tmp_path, 'broken', broken=True))
    assert deploy.deploy(adapter, broken, opts(name)).outcome == 'failed'
    failed = [r for r in adapter.list_resources(name) if r['resource_name'] == 'broken']
    assert failed[0]['resource_status'] == 'CREATE_FAILED'
    assert not failed[0]['physical_resource_id']
    # Nothing exists behind "broken": retrying the plan, or dropping the
    # resource, destroys nothing and needs no --allow-replace/--allow-delete.
    refusals = []
    for plan in (broken, plans.build(plans.make_plan(tmp_path, 'fixed'))):
        try:
            result = deploy.deploy(adapter, plan, opts(name))
        except errors.RefusedError as exc:
            refusals.append(str(exc))
        else:
            assert result.outcome in ('failed', 'updated')
    assert refusals == []


@pytest.mark.parametrize('existing', [False, True], ids=['create', 'update'])
def test_rolled_back_deploy_is_a_failure(cli, adapter, name, tmp_path, existing):
    good = plans.build(plans.make_plan(tmp_path, 'good'))
    if existing:
        deploy.deploy(adapter, good, opts(name))
    broken = plans.make_plan(tmp_path, 'broken', data='new data', broken=True)
    code, out, err = cli('deploy', broken, '--stack', name, '--enable-rollback')
    status = adapter.get_stack(name)['stack_status']
    assert status == 'ROLLBACK_COMPLETE'
    if existing:
        assert adapter.get_files(name) == good.body['files']  # Heat put it back
    revisions = plans.revisions(adapter, name)
    again = deploy.deploy(adapter, plans.build(broken), opts(name, allow_replace=True,
                                                             allow_delete=True))
    assert code == ExitCode.DEPLOY_FAILED, out
    assert 'failed revision %d' % (2 if existing else 1) in out
    assert revisions == ([(1, 'deployed'), (2, 'failed')] if existing else [(1, 'failed')])
    assert again.outcome != 'unchanged'


# -- what Heat stores ----------------------------------------------------------

def test_stored_files_equal_the_request_files(adapter, name, tmp_path):
    plan = plans.build(plans.make_plan(tmp_path, nested=True))
    deploy.deploy(adapter, plan, opts(name))
    stored = adapter.get_files(name)
    assert stored == plan.body['files']
    assert list(map(type, stored.values())) == [str] * len(stored)
    record = plans.records(adapter, name)[0]
    kept = store_mod.Store(adapter).files(record)     # from the history stack's blobs
    assert json.loads(kept.pop(store_mod.RECORD_FILE))['digest'] == plan.digest
    assert kept == plan.body['files']


def test_demo_from_archive_and_directory_store_the_same_files(cli, heat, request, tmp_path):
    archive = str(tmp_path / 'demo.tar.gz')
    assert app.main(['package', plans.DEMO, '-o', archive]) == 0
    from_dir = plans.build(plans.DEMO)
    from_tar = plans.build(archive)
    assert from_tar.digest == from_dir.digest
    assert from_tar.body == from_dir.body

    names = [plans.stack_name(request, '-dir'), plans.stack_name(request, '-tar')]

    def run(item):
        stack, plan = item
        return deploy.deploy(heat.connect(), plan, opts(stack))

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, zip(names, (from_dir, from_tar), strict=True)))
    assert [r.outcome for r in results] == ['created', 'created'], results
    stored_dir = heat.adapter.get_files(names[0])
    stored_tar = heat.adapter.get_files(names[1])
    assert stored_dir == stored_tar == from_dir.body['files']
    assert plans.tag(heat.adapter, names[0], 'hp-digest=') == \
        plans.tag(heat.adapter, names[1], 'hp-digest=') == digest_hex(from_dir)

    # the archive of the same content is "unchanged" on the directory's stack
    code, out, err = cli('deploy', archive, '--stack', names[0])
    assert code == 0, err
    assert 'unchanged' in out

    # and both export the example plan byte for byte
    for stack in names:
        exported = tmp_path / ('export-' + stack)
        code, _out, err = cli('export', stack, exported)
        assert code == 0, err
        assert plans.tree_bytes(exported) == plans.tree_bytes(plans.DEMO)

    # a change to the demo's SoftwareConfig script is a replacement: refused
    changed = tmp_path / 'demo-changed'
    shutil.copytree(plans.DEMO, changed)
    with open(changed / 'scripts' / 'common.sh', 'a', encoding='utf-8') as f:
        f.write('echo changed\n')
    code, _out, err = cli('deploy', changed, '--stack', names[0])
    assert code == ExitCode.REFUSED, err
    assert 'would be replaced' in err
    assert '-common_config/config (OS::Heat::SoftwareConfig)' in err
    assert plans.revisions(heat.adapter, names[0]) == [(1, 'deployed')]


# -- openstackclient -------------------------------------------------------------

def _openstack(heat, *args):
    """Run the real ``openstack`` CLI against the noauth local Heat."""
    exe = os.path.join(os.path.dirname(sys.executable), 'openstack')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('OS_') or k == 'OS_CLIENT_CONFIG_FILE'}
    return subprocess.run(
        [exe] + heat.osc_args + [str(a) for a in args],
        capture_output=True, text=True, env=env, timeout=300)


def test_openstack_stack_plan_deploy(heat, name, tmp_path):
    source = plans.make_plan(tmp_path)
    proc = _openstack(heat, 'stack', 'plan', 'deploy', source, '--stack', name)
    assert proc.returncode == 0, proc.stderr
    assert '%s: created revision 1, CREATE_COMPLETE' % name in proc.stdout
    stack = heat.adapter.get_stack(name)
    assert stack['stack_status'] == 'CREATE_COMPLETE'
    assert heat.adapter.get_files(name) == plans.build(source).body['files']

    # exit codes come through openstackclient unchanged
    replacing = plans.make_plan(tmp_path, 'v2', replace='b')
    proc = _openstack(heat, 'stack', 'plan', 'deploy', replacing, '--stack', name)
    assert proc.returncode == ExitCode.REFUSED, (proc.stdout, proc.stderr)
    assert 'would be replaced' in proc.stderr

    proc = _openstack(heat, 'stack', 'plan', 'history', name, '-f', 'json')
    assert proc.returncode == 0, proc.stderr
    assert [(r['revision'], r['status']) for r in json.loads(proc.stdout)] == [
        (1, 'deployed')]

    # deploy and diff take cliff's formats there too, with their exit codes
    proc = _openstack(heat, 'stack', 'plan', 'deploy', source, '--stack', name,
                      '-f', 'value', '-c', 'outcome', '-c', 'revision')
    assert (proc.returncode, proc.stdout) == (0, 'unchanged\n1\n'), proc.stderr
    proc = _openstack(heat, 'stack', 'plan', 'diff', name, replacing, '-f', 'json')
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)['identical'] is False
