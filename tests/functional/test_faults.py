"""Faults between heatplan and a real Heat: the plan lands whole or not at all.

Each scenario deploys a plan through :class:`tests.functional.faultproxy.FaultProxy`
(loopback only) with one fault aimed at one request: the create/update call
itself, the revision record that takes the lock, the tagging that settles
the record, or a status poll.  Afterwards, checked against the real Heat
directly (never through the proxy):

* the stack stores the old plan or the new plan, entirely (the whole files
  map equals one of the two requests; its manifest digest and its
  ``hp-digest`` tag agree);
* no record claims a plan the stack does not run; once ``recover`` has run,
  the history says exactly what the stack runs;
* the error is one of heatplan's own, and says what state things are in and
  what to run next;
* ``recover`` then a new deploy succeed.

The scenarios run in parallel (each on its own stack and proxy) in one
module fixture; the tests then check one promise each, so a broken promise
in one scenario does not hide the others.

A separate local Heat (its own data dir and port) is killed with SIGKILL in
the middle of two deploys and restarted, for the crash-recovery tests.

``HEATPLAN_SOAK=1`` runs :func:`test_soak_fault_rounds` (many rounds).
"""

import concurrent.futures
import contextlib
import dataclasses
import io
import json
import os
import re
import signal
import threading
import time

import pytest

from heatplan import errors
from heatplan import store as store_mod
from heatplan.actions import deploy
from heatplan.actions import recover as recover_action
from heatplan.cli import app
from heatplan.heat.adapter import HeatAdapter
from heatplan.local import launcher
from tests.figures import figure
from tests.functional import plans
from tests.functional.conftest import free_port
from tests.functional.faultproxy import FaultProxy

SOAK = os.environ.get('HEATPLAN_SOAK') == '1'
MANIFEST_KEY = 'heatplan://manifest.json'
HOT = 'heat_template_version: 2021-04-16\n'

#: Client timeout for the scenarios whose fault is a stall, and how long the
#: proxy stalls (well past the timeout, so the client has given up).  The
#: timeout covers every request of the deploy, the lock's record create
#: included: on a cloud (Keystone tokens and trusts, RPC to the engines, a
#: loaded machine) that create took more than 6 s once, before any fault.
STALL_TIMEOUT = 20.0 if os.environ.get('HEATPLAN_TEST_CLOUD') else 6.0
STALL_SECONDS = 2 * STALL_TIMEOUT
#: Bound on waiting for a stack to leave IN_PROGRESS.
SETTLE_TIMEOUT = 120




# -- plans ------------------------------------------------------------------------

def fault_plan(label, wait=0):
    """A small plan: root, environment, a template and a text file in its files map.

    No nested stack (they slow every deploy down by a second or so); the
    files map still holds several files, one with CRLF and non-ASCII text.
    """
    return {
        'heatplan.yaml': ('# plan for the fault tests\ntemplate: main.yaml\n'
                          'environments:\n  - env.yaml\n'),
        'main.yaml': HOT + (
            '# root -- %s\n'
            'parameters:\n'
            '  label: {type: string}\n'
            'resources:\n'
            '  data:\n'
            '    type: OS::Heat::Value\n'
            '    properties:\n'
            '      value: {list_join: [\'|\', [{get_file: files/data.txt},\n'
            '                                {get_file: templates/part.yaml}]]}\n'
            '  slow:\n'
            '    type: OS::Heat::TestResource\n'
            '    properties:\n'
            '      value: {get_param: label}\n'
            '      action_wait_secs: {create: 0, update: %d}\n' % (label, wait)),
        'env.yaml': 'parameter_defaults:\n  label: %s\n' % label,
        'templates/part.yaml': HOT + 'description: carried in the files map, %s\n' % label,
        'files/data.txt': 'data of plan %s: ünïcødé\r\nno final newline' % label,
    }


def build_plan(tmp_path, name, label, wait=0):
    source = plans.write_plan(os.path.join(str(tmp_path), name), fault_plan(label, wait))
    return plans.build(source)


def opts(name, **kwargs):
    kwargs.setdefault('poll', 0.3)
    kwargs.setdefault('wait_timeout', SETTLE_TIMEOUT)
    return deploy.DeployOptions(stack=name, **kwargs)


# -- what Heat holds ----------------------------------------------------------------

@dataclasses.dataclass
class Snapshot:
    """A stack and its records as Heat holds them (read directly, not via the proxy)."""

    status: str = None
    rev_tag: str = None
    digest_tag: str = None
    files: dict = None
    records: list = dataclasses.field(default_factory=list)  # (revision, status, digest)

    @property
    def manifest_digest(self):
        if not self.files or MANIFEST_KEY not in self.files:
            return None
        return json.loads(self.files[MANIFEST_KEY])['digest']

    def deployed(self):
        return [r for r in self.records if r[1] == store_mod.DEPLOYED]

    def pending(self):
        return [r for r in self.records if r[1] == store_mod.PENDING]


def snapshot(adapter, name):
    snap = Snapshot()
    stack = adapter.get_stack(name)
    if stack is not None and stack.get('stack_status') != 'DELETE_COMPLETE':
        tags = store_mod.tags_of(stack)
        snap.status = stack['stack_status']
        snap.rev_tag = store_mod.tag_value(tags, 'hp-rev=')
        snap.digest_tag = store_mod.tag_value(tags, 'hp-digest=')
        snap.files = adapter.get_files('%s/%s' % (stack['stack_name'], stack['id']))
    snap.records = [(r.revision, r.status, r.digest)
                    for r in store_mod.Store(adapter).records(name)]
    return snap


def wait_settled(adapter, name, timeout=SETTLE_TIMEOUT):
    """Wait until the stack is not IN_PROGRESS (or gone); bounded."""
    if adapter.get_stack(name) is None:
        return None
    return adapter.wait_for_stack(name, timeout=timeout, poll=0.3)


def which_plan(snap, old, new):
    """'old', 'new', 'none' (no stack) or 'MIXED' for what the stack stores."""
    if snap.files is None:
        return 'none'
    if old is not None and snap.files == old.body['files']:
        return 'old'
    if snap.files == new.body['files']:
        return 'new'
    return 'MIXED'


def no_false_claim(snap, plan):
    """Problems if a record claims ``plan`` deployed while the stack does not run it."""
    claims = [r for r in snap.deployed() if r[2] == plan.digest]
    if claims and (snap.files != plan.body['files'] or
                   [str(r[0]) for r in claims] != [snap.rev_tag] or
                   not snap.status.endswith('_COMPLETE')):
        return ['records %s say deployed but the stack carries revision %s, stores %s '
                'and is %s' % (claims, snap.rev_tag, snap.manifest_digest, snap.status)]
    return []


def history_agrees(snap):
    """Problems with what the records say about the stack (empty: none)."""
    problems = []
    revisions = [r[0] for r in snap.records]
    if len(set(revisions)) != len(revisions):
        problems.append('a revision number is used twice: %s' % revisions)
    deployed = snap.deployed()
    if snap.files is None:
        if deployed:
            problems.append('records %s say deployed but there is no stack' % deployed)
        return problems
    if len(deployed) > 1:
        problems.append('more than one deployed record: %s' % deployed)
    for rev, _status, digest in deployed:
        if str(rev) != snap.rev_tag or digest != snap.manifest_digest or \
                not snap.status.endswith('_COMPLETE'):
            problems.append(
                'record %d says deployed (%s) but the stack carries revision %s, '
                'stores %s and is %s' % (rev, digest, snap.rev_tag, snap.manifest_digest,
                                         snap.status))
    return problems


# -- the scenarios ------------------------------------------------------------------

@dataclasses.dataclass
class Scenario:
    id: str
    mode: str
    target: str = 'plan'        # plan | lock | settle | poll
    op: str = 'update'          # update (a stack at revision 1) | create
    fault: dict = dataclasses.field(default_factory=dict)
    timeout: float = 60.0       # the client's timeout
    expect: str = 'old'         # the plan the stack holds after the fault
    error: bool = True          # False: heatplan rides the fault out (reads are retried)
    bugs: dict = dataclasses.field(default_factory=dict)   # aspect -> xfail reason


BUG_NON_JSON_ERROR = (
    'BUG: HeatAdapter._rejected crashes with TypeError on an error answer whose body is '
    'not JSON (a load balancer\'s 500/503 page): heatclient keeps the body as bytes')
BUG_5XX_NOT_CHECKED = (
    'BUG: deploy.deploy treats every HeatRejected from the create/update call as '
    '"nothing was applied" (record -> failed) without reading the stack back, although '
    'a 5xx (e.g. a gateway 502/503/504) may come after Heat took the plan')
BUG_TIMEOUT_CONCLUDES = (
    'BUG: apply.after_fault reads the stack right after a timeout and concludes '
    '"Heat did not take the plan: the stack is unchanged" (record -> failed) while the '
    'request may still reach Heat; then the stack runs the plan and history says it failed')
BUG_OTHER_CALLS = (
    'BUG: a fault on a call other than the create/update (taking the lock, settling the '
    'record, a status poll) surfaces as a bare "cannot reach Heat"/"Heat rejected" error: '
    'nothing says the stack\'s state or that "heatplan recover" is the next step')

SCENARIOS = [
    # -- the create/update call of an existing stack
    Scenario('update-drop-mid-request-body', 'drop_request'),
    Scenario('update-drop-after-accept', 'drop_after_accept', expect='new'),
    Scenario('update-drop-mid-response', 'drop_mid_response', expect='new'),
    Scenario('update-500-lb-page', 'status', fault={'status': 500}),
    Scenario('update-503-lb-page', 'status', fault={'status': 503}),
    Scenario('update-503-json', 'status', fault={'status': 503, 'page': 'json'}),
    Scenario('update-502-after-accept', 'status_after_forward',
             fault={'status': 502, 'page': 'json'}, expect='new'),
    Scenario('update-stall-request', 'stall_request', fault={'seconds': STALL_SECONDS},
             timeout=STALL_TIMEOUT),
    Scenario('update-stall-response', 'stall_response', fault={'seconds': STALL_SECONDS},
             timeout=STALL_TIMEOUT, expect='new'),
    Scenario('update-late-forward', 'late_forward', fault={'seconds': STALL_SECONDS},
             timeout=STALL_TIMEOUT, expect='new'),
    # -- the create call of a new stack
    Scenario('create-drop-mid-request-body', 'drop_request', op='create', expect='none'),
    Scenario('create-drop-after-accept', 'drop_after_accept', op='create', expect='new'),
    Scenario('create-503-lb-page', 'status', op='create', expect='none',
             fault={'status': 503}),
    # -- taking the lock (creating the pending record), settling it, polling
    Scenario('lock-drop-after-accept', 'drop_after_accept', target='lock'),
    Scenario('lock-drop-mid-request-body', 'drop_request', target='lock'),
    Scenario('settle-drop-mid-request-body', 'drop_request', target='settle', expect='new'),
    Scenario('poll-503-once', 'status', target='poll', fault={'status': 503, 'page': 'json'},
             expect='new', error=False),
    Scenario('poll-503-persistent', 'status', target='poll', expect='new',
             fault={'status': 503, 'page': 'json', 'times': None}),
]


def add_fault(proxy, scenario, name):
    n = re.escape(name)
    kwargs = dict(scenario.fault)
    if scenario.target == 'plan' and scenario.op == 'update':
        return proxy.add(scenario.mode, method='PUT', path=r'/stacks/%s/[0-9a-f-]+$' % n,
                         **kwargs)
    if scenario.target == 'plan':
        return proxy.add(scenario.mode, method='POST', path=r'/stacks$',
                         body=r'"stack_name":\s*"%s"' % n, **kwargs)
    lock = re.escape(store_mod.lock_name(name))
    history = re.escape(store_mod.history_name(name))
    if scenario.target == 'lock':
        return proxy.add(scenario.mode, method='POST', path=r'/stacks$',
                         body=r'"stack_name":\s*"%s"' % lock, **kwargs)
    if scenario.target == 'settle' and scenario.op == 'create':
        # the first revision's history write creates the history stack
        return proxy.add(scenario.mode, method='POST', path=r'/stacks$',
                         body=r'"stack_name":\s*"%s"' % history, **kwargs)
    if scenario.target == 'settle':
        return proxy.add(scenario.mode, method='PATCH', path=r'/stacks/%s/' % history,
                         **kwargs)
    if scenario.target == 'poll':
        # The first GET of the stack by id is deploy's own read; the next is a poll.
        path = r'/stacks/%s/[0-9a-f-]{36}\?' % n
        proxy.add('pass', method='GET', path=path, times=1)
        return proxy.add(scenario.mode, method='GET', path=path, **kwargs)
    raise ValueError(scenario.target)


@dataclasses.dataclass
class Run:
    scenario: Scenario
    name: str
    old: object
    new: object
    next: object
    error: BaseException = None
    result: object = None
    faults: list = None
    after_fault: Snapshot = None
    recover_error: BaseException = None
    after_recover: Snapshot = None
    next_result: object = None
    next_error: BaseException = None
    final: Snapshot = None
    seconds: float = 0.0


def run_scenario(heat, tmp_path, scenario, suffix=''):
    started = time.monotonic()
    name = 'flt-%s%s%s' % (scenario.id, plans.RUN_TAG, suffix)
    direct = heat.connect()
    old = build_plan(tmp_path, name + '-old', 'old') if scenario.op == 'update' else None
    new = build_plan(tmp_path, name + '-new', 'new')
    nxt = build_plan(tmp_path, name + '-next', 'next')
    run = Run(scenario, name, old, new, nxt)
    if old is not None:
        deploy.deploy(direct, old, opts(name))
    with FaultProxy(heat.port, project=heat.project) as proxy:
        rule = add_fault(proxy, scenario, name)
        through = heat.connect(proxy.url, timeout=scenario.timeout)
        try:
            run.result = deploy.deploy(through, new, opts(name))
        except Exception as exc:  # anything: a crash is a finding too
            run.error = exc
        if scenario.mode in ('late_forward', 'stall_response'):
            rule.done.wait(STALL_SECONDS + 30)
        run.faults = proxy.faults
    wait_settled(direct, name)
    run.after_fault = snapshot(direct, name)
    try:
        # the faulted deploy has returned: it is certainly dead (--force)
        recover_action.recover(direct, name, force=True)
    except Exception as exc:
        run.recover_error = exc
    run.after_recover = snapshot(direct, name)
    try:
        run.next_result = deploy.deploy(direct, nxt, opts(name))
    except Exception as exc:
        run.next_error = exc
    run.final = snapshot(direct, name)
    run.seconds = time.monotonic() - started
    return run


@pytest.fixture(scope='module')
def fault_runs(local_heat, tmp_path_factory):
    """Every scenario, run once, in parallel: ``{scenario id: Run}``."""
    tmp = tmp_path_factory.mktemp('fault-plans')
    with concurrent.futures.ThreadPoolExecutor(9) as pool:
        # the slowest (stalls) first, so they do not finish last
        ordered = sorted(SCENARIOS, key=lambda s: s.timeout)
        futures = {s.id: pool.submit(run_scenario, local_heat, tmp, s) for s in ordered}
        runs = {sid: f.result(timeout=600) for sid, f in futures.items()}
    figure('fault scenarios', len(runs))
    figure('faults injected', sum(len(r.faults) for r in runs.values()))
    lost = [r.scenario.id for r in runs.values()
            if which_plan(r.after_fault, r.old, r.new) == 'MIXED' or
            r.final.files != r.next.body['files']]
    figure('fault runs that lost or mixed a stored plan', len(lost))
    return runs


def params(aspect):
    out = []
    for s in SCENARIOS:
        marks = []
        if aspect in s.bugs:
            marks.append(pytest.mark.xfail(strict=True, reason=s.bugs[aspect]))
        out.append(pytest.param(s, id=s.id, marks=marks))
    return out


def _describe(run):
    return 'error=%r faults=%s' % (run.error, [(f['method'], f['mode']) for f in run.faults])


# -- the promises -------------------------------------------------------------------

@pytest.mark.parametrize('scenario', params('state'))
def test_stack_holds_the_old_or_the_new_plan_entirely(fault_runs, scenario):
    run = fault_runs[scenario.id]
    assert run.faults, 'no fault was injected: %s' % _describe(run)
    snap = run.after_fault
    held = which_plan(snap, run.old, run.new)
    assert held != 'MIXED', 'the stack stores neither plan whole: %s' % sorted(snap.files)
    assert held == scenario.expect, _describe(run)
    if snap.files is not None:
        assert snap.status.endswith('_COMPLETE'), snap.status
        assert snap.manifest_digest == 'sha256:' + snap.digest_tag
    # the stack's own revision record holds the same plan, byte for byte
    if held == 'new':
        record = [r for r in snap.records if r[2] == run.new.digest]
        assert len(record) == 1, snap.records


@pytest.mark.parametrize('scenario', params('record'))
def test_no_record_claims_a_plan_the_stack_does_not_run(fault_runs, scenario):
    run = fault_runs[scenario.id]
    # Before recover: the faulted deploy's record claims nothing false (the
    # previous revision may still say deployed while the new one is pending).
    assert no_false_claim(run.after_fault, run.new) == [], _describe(run)
    if not run.after_fault.pending():
        assert history_agrees(run.after_fault) == [], _describe(run)
    # recover settles every pending record, and then history tells the truth
    assert run.recover_error is None, run.recover_error
    after = run.after_recover
    assert after.pending() == []
    assert history_agrees(after) == []
    if after.files is not None:
        assert [r[0] for r in after.deployed()] == [int(after.rev_tag)], (
            'the stack runs revision %s but the history says %s; %s'
            % (after.rev_tag, after.records, _describe(run)))


STATE_OLD = ('unchanged', 'did not take', 'not applied', 'was not sent', 'nothing was applied')
STATE_NEW = ('accepted the plan', 'is applying', 'was applied', 'carries revision',
             'may or may not')


@pytest.mark.parametrize('scenario', params('message'))
def test_user_is_told_the_state_and_what_to_run_next(fault_runs, scenario):
    run = fault_runs[scenario.id]
    if not scenario.error:
        assert run.error is None, run.error
        assert run.result.outcome == 'updated', run.result
        return
    assert isinstance(run.error, errors.HeatplanError), \
        'not one of heatplan\'s errors: %r' % run.error
    text = str(run.error)
    held = which_plan(run.after_fault, run.old, run.new)
    if 'may or may not' in text:
        # After a timeout the client cannot know whether the request reached
        # Heat or still will: the honest answer is that, plus the way out.
        assert 'heatplan recover %s' % run.name in text, text
        return
    if held == 'new':
        assert any(s in text for s in STATE_NEW), text
        assert not any(s in text for s in STATE_OLD), text
    else:
        assert any(s in text for s in STATE_OLD), text
        assert not any(s in text for s in STATE_NEW if s != 'may or may not'), text
    if run.after_fault.pending():
        assert 'heatplan recover %s' % run.name in text, text
    else:
        assert 'recover' in text or 'deploy again' in text, text


@pytest.mark.parametrize('scenario', params('next'))
def test_recover_then_the_next_deploy_succeeds(fault_runs, scenario):
    run = fault_runs[scenario.id]
    assert run.recover_error is None, run.recover_error
    assert run.next_error is None, run.next_error
    assert run.next_result.outcome in ('created', 'updated'), run.next_result
    final = run.final
    assert which_plan(final, run.new, run.next) == 'new'  # the "next" plan, whole
    assert final.files == run.next.body['files']
    assert history_agrees(final) == []
    revisions = [r[0] for r in final.records]
    assert revisions == sorted(set(revisions))
    assert final.deployed() == [(run.next_result.revision, 'deployed', run.next.digest)]


# -- the command line -----------------------------------------------------------------

def _cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = app.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.local_only  # --heat-url through the proxy: no authentication
def test_cli_reports_a_dropped_answer_and_recover_settles_it(local_heat, request, tmp_path):
    name = plans.stack_name(request)
    old = plans.write_plan(str(tmp_path / 'old'), fault_plan('old'))
    new = plans.write_plan(str(tmp_path / 'new'), fault_plan('new'))
    code, _out, err = _cli('deploy', old, '--stack', name, '--heat-url', local_heat.url)
    assert code == 0, err
    with FaultProxy(local_heat.port) as proxy:
        add_fault(proxy, Scenario('cli', 'drop_after_accept'), name)
        code, out, err = _cli('deploy', new, '--stack', name, '--heat-url', proxy.url)
        assert len(proxy.faults) == 1
    assert code == errors.ExitCode.CONNECTION, (out, err)
    assert out == ''
    assert 'Heat accepted the plan (the stack carries revision 2)' in err
    assert 'heatplan recover %s' % name in err
    wait_settled(local_heat.adapter, name)
    # while the record is pending, a deploy settles it itself (the stack carries it)
    code, out, err = _cli('recover', name, '--heat-url', local_heat.url, '-f', 'json')
    assert code == 0, err
    assert json.loads(out) == [{'revision': 2, 'status': 'deployed'}]
    code, out, err = _cli('history', name, '--heat-url', local_heat.url, '-f', 'json')
    assert code == 0, err
    assert [(r['revision'], r['status']) for r in json.loads(out)] == [
        (1, 'superseded'), (2, 'deployed')]
    assert local_heat.adapter.get_files(name) == plans.build(new).body['files']


# -- Heat killed in the middle of deploys ----------------------------------------------

@pytest.fixture(scope='module')
def killed_heat(tmp_path_factory):
    """A separate local Heat, SIGKILLed during two deploys, then started again."""
    from tests.functional.conftest import require_heat

    require_heat()
    data_dir = str(tmp_path_factory.mktemp('killed-heat'))
    plan_dir = tmp_path_factory.mktemp('killed-plans')
    port = free_port()
    status = launcher.up(data_dir=data_dir, port=port, exit_with_pid=os.getpid())
    try:
        adapter = HeatAdapter.from_url(status.url, timeout=20)
        old = build_plan(plan_dir, 'old', 'old')
        new = build_plan(plan_dir, 'new', 'new', wait=300)  # never finishes by itself
        nxt = build_plan(plan_dir, 'next', 'next')
        names = ['killed-recover', 'killed-supersede']
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda n: deploy.deploy(HeatAdapter.from_url(status.url), old,
                                                  opts(n)), names))
        outcomes = {}

        def run(name):
            try:
                outcomes[name] = deploy.deploy(HeatAdapter.from_url(status.url, timeout=20),
                                               new, opts(name))
            except Exception as exc:
                outcomes[name] = exc

        threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in names]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = [(adapter.get_stack(n) or {}).get('stack_status') for n in names]
            if states == ['UPDATE_IN_PROGRESS'] * 2:
                break
            time.sleep(0.2)
        assert states == ['UPDATE_IN_PROGRESS'] * 2, states
        time.sleep(0.5)  # deploys are waiting, polling Heat
        os.kill(status['pid'], signal.SIGKILL)
        for thread in threads:
            thread.join(60)
        assert not any(t.is_alive() for t in threads)
        try:
            recover_action.recover(adapter, names[0])
            while_down = None
        except Exception as exc:
            while_down = exc
        status = launcher.up(data_dir=data_dir, port=port, exit_with_pid=os.getpid())
        figure('local Heat killed (SIGKILL) mid-deploy', 1)
        yield dataclasses.replace(
            _Killed(), adapter=adapter, names=names, old=old, new=new, next=nxt,
            outcomes=outcomes, while_down=while_down, status=status)
    finally:
        launcher.down(data_dir=data_dir, timeout=1)


@dataclasses.dataclass
class _Killed:
    adapter: object = None
    names: list = None
    old: object = None
    new: object = None
    next: object = None
    outcomes: dict = None
    while_down: BaseException = None
    status: dict = None


@pytest.mark.local_only  # kills its own local Heat
def test_killed_heat_fails_the_deploy_with_a_connection_error(killed_heat):
    for name in killed_heat.names:
        outcome = killed_heat.outcomes[name]
        assert isinstance(outcome, errors.ConnectionFailed), repr(outcome)
        assert 'cannot reach Heat' in str(outcome)
    assert isinstance(killed_heat.while_down, errors.ConnectionFailed), killed_heat.while_down


@pytest.mark.local_only  # kills its own local Heat
def test_killed_heat_leaves_a_whole_plan_and_no_false_record(killed_heat):
    for name in killed_heat.names:
        snap = snapshot(killed_heat.adapter, name)
        assert which_plan(snap, killed_heat.old, killed_heat.new) in ('old', 'new')
        assert snap.manifest_digest == 'sha256:' + snap.digest_tag
        assert (2, store_mod.PENDING, killed_heat.new.digest) in snap.records
        assert (1, store_mod.DEPLOYED, killed_heat.old.digest) in snap.records
        assert len(snap.records) == 2


@pytest.mark.local_only  # kills its own local Heat
def test_recover_after_restart_settles_the_record_and_the_next_deploy_succeeds(killed_heat):
    adapter = killed_heat.adapter
    name = killed_heat.names[0]
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and \
            'IN_PROGRESS' in adapter.get_stack(name)['stack_status']:
        time.sleep(0.5)
    settled = recover_action.recover(adapter, name, force=True)
    assert [s['revision'] for s in settled] == [2]
    # Heat replaces a resource its dead update left FAILED: allowed knowingly
    result = deploy.deploy(adapter, killed_heat.next, opts(name, allow_replace=True))
    assert result.outcome == 'updated'
    snap = snapshot(adapter, name)
    assert snap.files == killed_heat.next.body['files']
    assert history_agrees(snap) == [] and snap.pending() == []


@pytest.mark.local_only  # kills its own local Heat
def test_deploy_after_restart_settles_the_dead_revision_and_proceeds(killed_heat):
    """The restarted Heat marks the dead update FAILED; the stack carries that
    revision, so its outcome is certain: the next deploy settles it and runs."""
    adapter = killed_heat.adapter
    name = killed_heat.names[1]
    assert 'IN_PROGRESS' not in adapter.get_stack(name)['stack_status']
    # Heat may replace a resource its dead update left FAILED (depending on how
    # far the update got when the engine died): allowed knowingly
    result = deploy.deploy(adapter, killed_heat.next, opts(name, allow_replace=True))
    assert (result.outcome, result.revision) == ('updated', 3)
    snap = snapshot(adapter, name)
    assert snap.files == killed_heat.next.body['files']
    assert snap.pending() == []
    assert history_agrees(snap) == []
    assert snap.deployed() == [(3, store_mod.DEPLOYED, killed_heat.next.digest)]
    assert (2, store_mod.FAILED, killed_heat.new.digest) in snap.records


# -- soak -----------------------------------------------------------------------------

@pytest.mark.skipif(not SOAK, reason='soak test: set HEATPLAN_SOAK=1')
def test_soak_fault_rounds(local_heat, tmp_path):
    """Every scenario again, several rounds: the plan is always whole, history true."""
    rounds = int(os.environ.get('HEATPLAN_SOAK_ROUNDS', '5'))
    injected = 0
    problems = []
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(run_scenario, local_heat, tmp_path, s, '-r%d' % i)
                   for i in range(rounds) for s in SCENARIOS]
        for future in futures:
            run = future.result(timeout=1800)
            injected += len(run.faults)
            held = which_plan(run.after_fault, run.old, run.new)
            if held in ('MIXED',) or run.final.files != run.next.body['files']:
                problems.append((run.name, held))
    figure('soak fault rounds', rounds)
    figure('soak faults injected', injected)
    assert problems == []
