"""The revision records' state machine, rule by rule, on the memory driver.

Each rule the functional suite proves against a real Heat (tests/functional/
test_races.py, test_faults.py, test_history.py) is pinned here in
milliseconds, including the interleavings a real Heat produces only under
load: duplicate names, a row visible only after another deploy's check,
tags stored after the row, a torn stack read.
"""

import inspect
import random
import threading

import pytest

from heatplan import errors
from heatplan import store as store_mod
from heatplan.heat.adapter import HeatAdapter
from heatplan.store import driver as driver_mod
from heatplan.store import machine
from heatplan.store.memory import MemoryHeat

PLAN = {'template': 'heat_template_version: 2021-04-16\nresources: {}\n',
        'files': {'a.yaml': 'x: 1\n'}}
DIGEST = 'sha256:' + 'ab' * 32


class FakeTime:
    """The store's clock and sleep: sleeping advances the clock and runs ``during``."""

    def __init__(self):
        self.now = 0.0
        self.during = None
        self.slept = 0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept += 1
        self.now += seconds
        if self.during is not None:
            self.during()


def new_store(heat=None, fake=None):
    heat = heat or MemoryHeat()
    fake = fake or FakeTime()
    return store_mod.Store(heat, sleep=fake.sleep, clock=fake.clock), heat, fake


def live_records(heat, name='hp.demo.lock'):
    return [s for s in heat.list_stacks(show_hidden=True, name=name)
            if s['stack_status'] not in machine.GONE]


def deploy_stack(heat, revision, status='UPDATE_IN_PROGRESS', name='demo', files=None):
    """The managed stack, carrying ``revision`` (created if need be)."""
    tags = [store_mod.STACK_REV_TAG + str(revision), 'hp-digest=' + 'ab' * 32]
    body = {'template': 'x', 'files': dict(files or {})}
    if heat.get_stack(name) is None:
        heat.create_stack(name, body, tags=tags)
    else:
        heat.update_stack(name, body, tags=tags)
    if not status.endswith('IN_PROGRESS'):
        heat.finish(name, status)
    return heat.get_stack(name)


# -- the driver interface -------------------------------------------------

@pytest.mark.parametrize('driver', [HeatAdapter, MemoryHeat])
def test_both_drivers_provide_every_method_with_the_same_parameters(driver):
    for name, method in inspect.getmembers(driver_mod.Driver, inspect.isfunction):
        if name.startswith('_'):
            continue
        assert hasattr(driver, name), name
        want = list(inspect.signature(method).parameters)
        assert list(inspect.signature(getattr(driver, name)).parameters) == want, name


# -- the lock -------------------------------------------------------------

def test_a_second_create_of_the_same_revision_is_refused_by_the_name_check():
    st, heat, _ = new_store()
    st.create_pending('demo', 1, PLAN, DIGEST, {})
    with pytest.raises(store_mod.Locked) as caught:
        st.create_pending('demo', 1, PLAN, DIGEST, {})
    assert 'revision 1' in caught.value.message and 'heatplan wait demo' in caught.value.hint
    assert len(live_records(heat)) == 1


def test_duplicate_creates_the_oldest_wins_and_the_younger_withdraws():
    st, heat, _ = new_store()
    heat.duplicate_names = True
    first = st.create_pending('demo', 1, PLAN, DIGEST, {})
    with pytest.raises(store_mod.Locked):
        st.create_pending('demo', 1, PLAN, DIGEST, {})
    assert [s['id'] for s in live_records(heat)] == [first.id]


def test_an_older_record_visible_only_after_a_younger_check_loses():
    """Heat's row for the older create commits after the younger one checked.

    The younger saw itself alone and holds the lock; the older sees the
    younger, waits for it to go, and gives up when it stays.  (The rule of
    'the oldest wins' alone let both go ahead here.)
    """
    heat = MemoryHeat()
    heat.duplicate_names = True
    fake = FakeTime()
    st, _, _ = new_store(heat, fake)
    outcome = {}

    def younger_runs_first(name):
        heat.before_insert = None
        outcome['younger'] = store_mod.Store(heat, sleep=fake.sleep, clock=fake.clock) \
            .create_pending('demo', 1, PLAN, DIGEST, {})

    heat.before_insert = younger_runs_first
    with pytest.raises(store_mod.Locked):
        st.create_pending('demo', 1, PLAN, DIGEST, {})
    assert [s['id'] for s in live_records(heat)] == [outcome['younger'].id]
    assert fake.now >= machine.CONTENDERS_GO_WITHIN   # it waited before giving up


def test_the_oldest_goes_ahead_once_the_younger_withdraws():
    heat = MemoryHeat()
    heat.duplicate_names = True
    fake = FakeTime()
    st, _, _ = new_store(heat, fake)
    younger = {}

    def younger_row_appears(name):
        heat.before_insert = None
        created = heat.create_stack(name, {'template': 'r', 'files': {}}, tags=[])
        younger['record'] = store_mod.Record(name, created['id'], 1, 'pending', DIGEST,
                                             '', '', [])

    def younger_checks():
        fake.during = None
        other = store_mod.Store(heat, sleep=fake.sleep, clock=fake.clock)
        assert other._contest(younger['record']) is not None   # it sees the older one
        other._withdraw(younger['record'])

    heat.before_insert = younger_row_appears
    fake.during = younger_checks
    mine = st.create_pending('demo', 1, PLAN, DIGEST, {})
    assert [s['id'] for s in live_records(heat)] == [mine.id]
    assert fake.slept == 1


def test_the_lock_holds_while_the_tags_are_not_stored_yet():
    """Heat stores a stack's tags after its row.  The lock is found by name
    (the row), so a deploy whose lock's tags are not stored yet is still
    seen, and the check after the create goes by name too."""
    st, heat, _ = new_store()
    heat.duplicate_names = True
    heat.late_tags = 100
    st.create_pending('demo', 1, PLAN, DIGEST, {})
    assert [(r.revision, r.status) for r in st.records('demo')] == [(1, store_mod.PENDING)]
    with pytest.raises(store_mod.Locked):
        st.create_pending('demo', 1, PLAN, DIGEST, {})
    assert len(live_records(heat)) == 1


@pytest.mark.parametrize('seed', range(12))
def test_racing_threads_with_random_delays_exactly_one_holds_the_lock(seed):
    rng = random.Random(seed)
    heat = MemoryHeat()
    heat.duplicate_names = True
    heat.late_tags = rng.randint(0, 3)
    delays = {}

    def slow_commit(name):
        event = delays[threading.get_ident()]
        event.wait(rng.random() * 0.003)

    heat.before_insert = slow_commit
    winners, losers = [], []
    start = threading.Barrier(6)

    def contender():
        delays[threading.get_ident()] = threading.Event()
        fake = FakeTime()   # each look waits 0.5 ms for real, 0.5 s on its clock
        fake.during = lambda: threading.Event().wait(0.0005)
        st = store_mod.Store(heat, sleep=fake.sleep, clock=fake.clock)
        start.wait()
        try:
            winners.append(st.create_pending('demo', 1, PLAN, DIGEST, {}))
        except store_mod.Locked:
            losers.append(1)

    threads = [threading.Thread(target=contender) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) + len(losers) == 6
    assert len(winners) == 1   # never two; and the oldest goes ahead when others withdraw
    assert [s['id'] for s in live_records(heat)] == [w.id for w in winners]


# -- pending records and the managed stack --------------------------------

def test_a_torn_read_never_settles_a_revision_heat_is_still_applying():
    st, heat, _ = new_store()
    record = st.create_pending('demo', 1, PLAN, DIGEST, {})
    deploy_stack(heat, 1, 'CREATE_IN_PROGRESS')
    heat.tear('demo', 'CREATE_COMPLETE')           # the old status, the new tag
    stack = heat.get_stack('demo')
    assert stack['stack_status'] == 'CREATE_COMPLETE'
    with pytest.raises(store_mod.Locked):
        store_mod.check_locks(st, st.records('demo'), stack, 'demo')
    assert st.records('demo')[0].status == store_mod.PENDING
    assert record.revision == 1


def test_a_finished_revision_is_settled_on_the_next_deploy_and_supersedes_the_last():
    st, heat, _ = new_store()
    one = st.create_pending('demo', 1, PLAN, DIGEST, {})
    deploy_stack(heat, 1, 'CREATE_COMPLETE')
    store_mod.settle(st, st.records('demo'), one, heat.get_stack('demo'))
    st.create_pending('demo', 2, PLAN, DIGEST, {})
    deploy_stack(heat, 2, 'UPDATE_COMPLETE')
    heard = []
    stack = store_mod.check_locks(st, st.records('demo'), heat.get_stack('demo'), 'demo',
                                  info=heard.append)
    assert stack['stack_status'] == 'UPDATE_COMPLETE'
    assert [(r.revision, r.status) for r in st.records('demo')] == [
        (1, store_mod.SUPERSEDED), (2, store_mod.DEPLOYED)]
    assert heard == ['settled revision 2 of demo as deployed']


@pytest.mark.parametrize('status', ['UPDATE_FAILED', 'ROLLBACK_COMPLETE'])
def test_a_revision_that_did_not_apply_settles_failed_and_keeps_the_last_deployed(status):
    st, heat, _ = new_store()
    one = st.create_pending('demo', 1, PLAN, DIGEST, {})
    deploy_stack(heat, 1, 'CREATE_COMPLETE')
    store_mod.settle(st, st.records('demo'), one, heat.get_stack('demo'))
    two = st.create_pending('demo', 2, PLAN, DIGEST, {})
    stack = deploy_stack(heat, 2, status)
    assert store_mod.settle(st, st.records('demo'), two, stack) == store_mod.FAILED
    assert [r.status for r in st.records('demo')] == [store_mod.DEPLOYED, store_mod.FAILED]


def test_a_late_contender_is_locked_out_then_a_stale_pending_record_needs_recover():
    st, heat, _ = new_store()
    deploy_stack(heat, 0, 'CREATE_COMPLETE')
    st.create_pending('demo', 1, PLAN, DIGEST, {})   # the lock; the plan not sent yet
    with pytest.raises(store_mod.Locked):
        store_mod.check_locks(st, st.records('demo'), heat.get_stack('demo'), 'demo')
    heat.advance(store_mod.STALE_AFTER + 1)
    with pytest.raises(errors.RefusedError) as caught:
        store_mod.check_locks(st, st.records('demo'), heat.get_stack('demo'), 'demo')
    assert not isinstance(caught.value, store_mod.Locked)
    assert 'heatplan recover demo' in caught.value.hint


def test_recover_refuses_a_young_pending_record_unless_forced_and_settles_it_failed():
    st, heat, _ = new_store()
    stack = deploy_stack(heat, 0, 'CREATE_COMPLETE')
    st.create_pending('demo', 1, PLAN, DIGEST, {})
    with pytest.raises(errors.RefusedError) as caught:
        store_mod.recover(st, 'demo', st.records('demo'), stack)
    assert '--force' in caught.value.hint
    assert store_mod.recover(st, 'demo', st.records('demo'), stack, force=True) == [
        {'revision': 1, 'status': store_mod.FAILED}]
    assert st.records('demo')[0].status == store_mod.FAILED


def test_recover_settles_a_revision_the_stack_carries_from_a_second_read():
    st, heat, _ = new_store()
    st.create_pending('demo', 1, PLAN, DIGEST, {})
    deploy_stack(heat, 1, 'CREATE_IN_PROGRESS')
    heat.tear('demo', 'CREATE_COMPLETE')
    with pytest.raises(errors.RefusedError) as caught:
        store_mod.recover(st, 'demo', st.records('demo'), heat.get_stack('demo'))
    assert 'still running' in caught.value.message
    heat.finish('demo')
    assert store_mod.recover(st, 'demo', st.records('demo'), heat.get_stack('demo')) == [
        {'revision': 1, 'status': store_mod.DEPLOYED}]


def test_recover_refuses_while_the_stack_is_in_progress():
    st, heat, _ = new_store()
    st.create_pending('demo', 1, PLAN, DIGEST, {})
    stack = deploy_stack(heat, 1, 'CREATE_IN_PROGRESS')
    with pytest.raises(errors.RefusedError):
        store_mod.recover(st, 'demo', st.records('demo'), stack, force=True)


def test_a_stack_in_progress_without_a_pending_record_is_refused_unless_superseded():
    st, heat, _ = new_store()
    stack = deploy_stack(heat, 0, 'UPDATE_IN_PROGRESS')   # e.g. openstack stack update
    with pytest.raises(errors.RefusedError) as caught:
        store_mod.check_locks(st, [], stack, 'demo')
    assert '--supersede' in caught.value.hint
    assert store_mod.check_locks(st, [], stack, 'demo', supersede=True) is stack


def test_an_update_that_ended_between_the_reads_is_not_refused():
    st, heat, _ = new_store()
    stack = deploy_stack(heat, 0, 'UPDATE_IN_PROGRESS')
    heat.finish('demo')
    fresh = store_mod.check_locks(st, [], stack, 'demo')
    assert fresh['stack_status'] == 'CREATE_COMPLETE' and fresh is not stack


# -- prune ----------------------------------------------------------------

def commit(st, heat, rev, outcome='COMPLETE', files=None, history_max=None, name='demo'):
    """One deploy of revision ``rev``: lock, stack update, settle; the lock record."""
    plan = {'template': PLAN['template'], 'files': files or PLAN['files']}
    rec = st.create_pending(name, rev, plan, DIGEST, {'description': 'r%d' % rev})
    stack = deploy_stack(heat, rev, 'UPDATE_IN_PROGRESS', name=name)
    heat.finish(name, outcome)
    store_mod.settle(st, st.records(name, cached=True), rec, heat.get_stack(name),
                     history_max=history_max)
    return rec, stack


def test_prune_never_removes_the_deployed_revision_or_a_pending_one():
    st, heat, _ = new_store()
    commit(st, heat, 1)                                 # the deployed one
    for rev in range(2, 6):
        commit(st, heat, rev, 'FAILED')
    st.create_pending('demo', 6, PLAN, DIGEST, {})      # pending
    removed = store_mod.prune(st, 'demo', 2)
    assert removed == [2, 3, 4, 5]
    assert [(r.revision, r.status) for r in st.records('demo')] == [
        (1, store_mod.DEPLOYED), (6, store_mod.PENDING)]
    assert store_mod.prune(st, 'demo', 0) == []


def test_records_are_listed_oldest_revision_first_and_deleted_ones_left_out():
    st, heat, _ = new_store()
    for rev in (1, 2, 3):
        commit(st, heat, rev)
    st.delete(st.get('demo', 2))
    assert [(r.revision, r.status) for r in st.records('demo')] == [
        (1, store_mod.SUPERSEDED), (3, store_mod.DEPLOYED)]
    with pytest.raises(errors.NotFound):
        st.get('demo', 2)


def test_a_revision_keeps_the_plan_files_and_its_metadata():
    st, heat, _ = new_store()
    commit(st, heat, 1)
    rec = st.get('demo', 1)
    files = st.files(rec)
    assert files['a.yaml'] == 'x: 1\n'
    meta = st.meta(rec, files)
    assert meta['description'] == 'r1' and meta['revision'] == 1 and \
        meta['digest'] == DIGEST
    assert 'settled_by_holder' not in meta


# -- format 2: one history stack ------------------------------------------

def heatplan_stacks(heat):
    return sorted(s['stack_name'] for s in heat.list_stacks() if s['stack_name'] != 'demo')


def test_ten_revisions_leave_one_history_stack_and_no_lock():
    st, heat, _ = new_store()
    for rev in range(1, 11):
        commit(st, heat, rev, files={'a.yaml': 'x: 1\n', 'b.yaml': 'rev: %d\n' % rev})
    assert heatplan_stacks(heat) == ['hp.demo.history']
    assert [r.revision for r in st.records('demo')] == list(range(1, 11))
    assert st.files(st.get('demo', 4))['b.yaml'] == 'rev: 4\n'
    # the locks were created and deleted, one per deploy; one history create
    creates = [c[1] for c in heat.calls if c[0] == 'create_stack']
    assert creates.count('hp.demo.history') == 1 and creates.count('hp.demo.lock') == 10


def test_reading_the_records_is_two_list_calls_and_one_files_read():
    # the history and the lock by name in one list call, format-1 records by tag
    st, heat, _ = new_store()
    for rev in (1, 2):
        commit(st, heat, rev, files={'a.yaml': 'rev: %d\n' % rev})
    st.create_pending('demo', 3, PLAN, DIGEST, {})
    heat.calls.clear()
    records = st.records('demo')
    assert [(r.revision, r.kind) for r in records] == [(1, 'history'), (2, 'history'),
                                                        (3, 'lock')]
    lists = [c for c in heat.calls if c[0] == 'list_stacks']
    assert lists == [
        ('list_stacks', (), (('name', ('hp.demo.history', 'hp.demo.lock')),)),
        ('list_stacks', (store_mod.RECORD_TAG, 'hp-stack=demo'), ())]
    assert [c[0] for c in heat.calls if c[0] != 'list_stacks'] == ['get_files', 'get_files']


def test_a_revision_sends_only_the_files_that_changed():
    st, heat, _ = new_store()
    big = {'k%d.yaml' % i: 'file: %d\n' % i + 'x' * 1000 for i in range(50)}
    commit(st, heat, 1, files=big)
    sent = []
    real = heat.patch_files
    heat.patch_files = lambda ident, files: (sent.append(dict(files)), real(ident, files))
    changed = dict(big, **{'k7.yaml': 'changed\n'})
    commit(st, heat, 2, files=changed)
    blobs = [k for piece in sent for k in piece if k.startswith('heatplan://history/blob/')]
    assert len(blobs) == 1
    # the changed file, plus the revision's index of its 50 files (about 80 bytes each)
    assert sum(len(v) for piece in sent for v in piece.values()) < 1000 + 50 * 90
    assert st.files(st.get('demo', 2)) == dict(changed, **{
        store_mod.RECORD_FILE: st.files(st.get('demo', 2))[store_mod.RECORD_FILE]})
    assert st.files(st.get('demo', 1))['k7.yaml'] == big['k7.yaml']


def _deploy_with_prewrite(st, heat, rev, files, name='demo', kill=False, history_max=None):
    """A waiting deploy of ``rev``: lock, send, prewrite, (wait,) commit."""
    plan = {'template': PLAN['template'], 'files': files}
    rec = st.create_pending(name, rev, plan, DIGEST, {'description': 'r%d' % rev})
    deploy_stack(heat, rev, 'UPDATE_IN_PROGRESS', name=name, files=files)
    wrote = st.prewrite(rec)
    heat.finish(name, 'COMPLETE')
    if not kill:
        store_mod.settle(st, st.records(name, cached=True), rec, heat.get_stack(name),
                         history_max=history_max)
    return rec, wrote


def _big(n=40, size=8000, tag=''):
    """About ``n * size`` bytes (320 KB) of plan, over PREWRITE_MIN_BYTES."""
    return {'f%02d.yaml' % i: ('%s%02d ' % (tag, i) * size)[:size] for i in range(n)}


def test_a_big_plans_files_go_to_the_history_while_heat_applies_it():
    # issue 18: the first revision's blobs (the whole plan) are written before
    # the wait; the commit after it sends the revision's document alone
    from heatplan.store import history as hist_mod

    st, heat, _ = new_store()
    files = _big()
    plan_bytes = sum(len(v) for v in files.values())
    assert plan_bytes >= machine.PREWRITE_MIN_BYTES
    sent = []
    for method in ('create_stack', 'patch_files'):
        real = getattr(heat, method)
        setattr(heat, method, lambda *a, _r=real, _m=method, **kw: (
            sent.append((_m, a[0], a[1] if _m == 'patch_files' else a[1]['files'])),
            _r(*a, **kw))[1])
    rec, wrote = _deploy_with_prewrite(st, heat, 1, files)
    assert wrote
    history = [(m, f) for m, name, f in sent if 'history' in str(name)]
    (first, ahead), (then, after) = history
    assert first == 'create_stack' and then == 'patch_files'
    assert sorted(ahead) == sorted([hist_mod.blob_key(hist_mod.sha(v)) for v in files.values()]
                                   + [hist_mod.FORMAT_KEY])
    assert not any(k.startswith(hist_mod.BLOB_PREFIX) for k in after)    # documents only
    assert hist_mod.rev_key(1) in after
    got = st.files(st.get('demo', 1))
    got.pop(store_mod.RECORD_FILE)
    assert got == files
    # the next revision changes two files: small, written after the wait as one write
    sent.clear()
    files2 = dict(files, **{'f00.yaml': 'changed\n', 'f01.yaml': 'changed too\n'})
    rec2, wrote2 = _deploy_with_prewrite(st, heat, 2, files2)
    assert not wrote2
    assert [m for m, name, _f in sent if 'history' in str(name)] == ['patch_files']
    got = st.files(st.get('demo', 2))
    got.pop(store_mod.RECORD_FILE)
    assert got == files2
    assert heatplan_stacks(heat) == ['hp.demo.history']


def test_a_big_change_is_written_ahead_into_the_existing_history_then_compacted_safely():
    st, heat, _ = new_store()
    _deploy_with_prewrite(st, heat, 1, _big(tag='a'))
    rec, wrote = _deploy_with_prewrite(st, heat, 2, _big(tag='b'))   # every file changes
    assert wrote
    # revision 3 prunes 1 and 2: the commit compacts (one PUT) and keeps the
    # blobs revision 3 wrote ahead, which only its document references
    rec, wrote = _deploy_with_prewrite(st, heat, 3, _big(tag='c'), history_max=1)
    assert wrote and [c for c in heat.calls if c[0] == 'update_stack' and
                      'history' in str(c[1])] != []
    assert [r.revision for r in st.records('demo')] == [3]
    got = st.files(st.get('demo', 3))
    got.pop(store_mod.RECORD_FILE)
    assert got == _big(tag='c')
    history = heat.get_files('hp.demo.history')
    assert len([k for k in history if '/blob/' in k]) == 40     # 1's and 2's are gone


def test_a_deploy_killed_after_writing_ahead_is_settled_by_another_process():
    st, heat, fake = new_store()
    files = _big()
    rec, wrote = _deploy_with_prewrite(st, heat, 1, files, kill=True)
    assert wrote
    # the history holds blobs and no revision yet; the lock says its holder waits
    other, _, _ = new_store(heat, fake)
    assert [(r.revision, r.kind) for r in other.records('demo')] == [(1, 'lock')]
    heat.calls.clear()
    fake.now += machine.HOLDER_SETTLES_WITHIN + 1
    store_mod.check_locks(other, other.records('demo'), heat.get_stack('demo'), 'demo')
    assert [(r.revision, r.status) for r in other.records('demo')] == [(1, store_mod.DEPLOYED)]
    got = other.files(other.get('demo', 1))
    got.pop(store_mod.RECORD_FILE)
    assert got == files


def test_a_failed_write_ahead_leaves_everything_to_the_commit():
    from heatplan import errors as errors_mod

    st, heat, _ = new_store()
    real = heat.create_stack

    def refuse_history(name, body, **kw):
        if name.endswith('.history'):
            err = errors_mod.HeatRejected('Heat rejected it (HTTP 503): busy')
            err.status_code = 503
            refuse_history.failed = True
            heat.create_stack = real
            raise err
        return real(name, body, **kw)

    heat.create_stack = refuse_history
    files = _big()
    rec, wrote = _deploy_with_prewrite(st, heat, 1, files)
    assert refuse_history.failed and not wrote
    got = st.files(st.get('demo', 1))
    got.pop(store_mod.RECORD_FILE)
    assert got == files


def test_compaction_only_under_a_lock_that_still_stands():
    st, heat, _ = new_store()
    rec = st.create_pending('demo', 1, PLAN, DIGEST, {})
    assert st._lock_stands(rec)
    heat.delete_stack(rec.ident)
    assert not st._lock_stands(rec)


def test_a_first_write_as_big_as_the_plan_goes_in_one_request(monkeypatch):
    """Heat took the plan in one request, so the history's first write (the
    same files) goes in one request too, whatever CHUNK_BYTES says."""
    from heatplan.store import history as hist_mod

    monkeypatch.setattr(hist_mod, 'CHUNK_BYTES', 4000)
    st, heat, _ = new_store()
    big = {'k%d.yaml' % i: 'y%d' % i * 500 for i in range(10)}
    sent = []
    real = heat.create_stack
    heat.create_stack = lambda name, body, **kw: (sent.append(body), real(name, body, **kw))[1]
    commit(st, heat, 1, files=big)
    history = [b for b in sent if b['template'] == hist_mod.TEMPLATE]
    assert len([k for k in history[0]['files'] if k.startswith(hist_mod.BLOB_PREFIX)]) == 10
    assert heat.count('patch_files') <= 1          # at most the documents after the blobs
    assert st.files(st.get('demo', 1))['k3.yaml'] == big['k3.yaml']


def test_a_write_bigger_than_the_plan_is_split_blobs_first_and_documents_last(monkeypatch):
    """Migrating format-1 records writes more than the plan: in pieces, the
    revision documents last, so no document names a blob not stored yet."""
    from heatplan.store import history as hist_mod

    monkeypatch.setattr(hist_mod, 'CHUNK_BYTES', 4000)
    st, heat, _ = new_store()
    for rev in (1, 2, 3):
        legacy_record(heat, rev, 'superseded' if rev < 3 else 'deployed',
                      {'k.yaml': 'r%d ' % rev * 1500})
    sent = []
    real = heat.patch_files
    heat.patch_files = lambda ident, files: (sent.append(dict(files)), real(ident, files))
    commit(st, heat, 4, files={'k.yaml': 'r4 ' * 1500})
    assert len(sent) >= 1
    assert [r.revision for r in st.records('demo')] == [1, 2, 3, 4]
    for rev in (1, 2, 3, 4):
        assert st.files(st.get('demo', rev))['k.yaml'] == 'r%d ' % rev * 1500
    pieces = hist_mod.chunks(hist_mod.write_files(None, [(1, hist_mod.rev_doc(
        1, 'deployed', {}, {'a': 'x' * 3000, 'b': 'y' * 3000}),
        {'a': 'x' * 3000, 'b': 'y' * 3000})]), 4000)
    assert len(pieces) == 2
    assert all(k.startswith(hist_mod.BLOB_PREFIX) for p in pieces[:-1] for k in p)
    assert hist_mod.rev_key(1) in pieces[-1]


def test_pruned_revisions_are_compacted_away_in_one_full_write():
    st, heat, _ = new_store()
    for rev in range(1, 9):
        commit(st, heat, rev, files={'big.yaml': 'r%d ' % rev * 20000}, history_max=2)
    assert heat.count('update_stack') >= 1 + 8       # the managed stack's 8, plus compaction
    snap = st.records('demo')[0].snapshot
    blobs = [k for k in snap.files if k.startswith('heatplan://history/blob/')]
    assert [r.revision for r in st.records('demo')] == [7, 8]
    assert len(blobs) <= 4                            # not 8: old blobs are gone
    assert st.files(st.get('demo', 7))['big.yaml'] == 'r7 ' * 20000


def test_a_revision_recorded_since_the_read_refuses_the_lock():
    st, heat, _ = new_store()
    commit(st, heat, 1)
    slow = store_mod.Store(heat)     # read the history: revision 2 comes next
    assert slow.records('demo')[-1].revision == 1
    commit(st, heat, 2)              # another deploy did revision 2 meanwhile
    with pytest.raises(store_mod.Locked) as caught:
        slow.create_pending('demo', 2, PLAN, DIGEST, {})
    assert 'revision 2' in caught.value.message
    assert live_records(heat) == []   # it released the lock


def test_a_no_wait_deploy_is_settled_at_once_by_the_next_one():
    st, heat, fake = new_store()
    rec = st.create_pending('demo', 1, PLAN, DIGEST, {}, wait=False)
    deploy_stack(heat, 1, 'CREATE_COMPLETE')
    other, _, _ = new_store(heat, fake)
    heard = []
    store_mod.check_locks(other, other.records('demo'), heat.get_stack('demo'), 'demo',
                          info=heard.append)
    assert heard == ['settled revision 1 of demo as deployed'] and fake.now == 0
    assert [(r.revision, r.status) for r in other.records('demo')] == [(1, 'deployed')]
    assert live_records(heat) == [] and rec.revision == 1


def test_a_waiting_deploy_gets_time_to_settle_its_own_revision():
    st, heat, fake = new_store()
    rec = st.create_pending('demo', 1, PLAN, DIGEST, {})
    deploy_stack(heat, 1, 'CREATE_COMPLETE')
    other = store_mod.Store(heat, sleep=fake.sleep, clock=fake.clock)
    # the holder settles it while the other waits
    fake.during = lambda: store_mod.settle(st, st.records('demo', cached=True), rec,
                                           heat.get_stack('demo'))
    heard = []
    store_mod.check_locks(other, other.records('demo'), heat.get_stack('demo'), 'demo',
                          info=heard.append)
    assert heard == ['revision 1 of demo was settled by its deploy']
    assert fake.now == machine.HOLDER_SETTLES_WITHIN
    assert [(r.revision, r.status) for r in other.records('demo')] == [(1, 'deployed')]


def test_a_dead_waiting_deploy_is_settled_after_its_time():
    st, heat, fake = new_store()
    st.create_pending('demo', 1, PLAN, DIGEST, {})
    deploy_stack(heat, 1, 'CREATE_COMPLETE', files=PLAN['files'])
    other = store_mod.Store(heat, sleep=fake.sleep, clock=fake.clock)
    heard = []
    store_mod.check_locks(other, other.records('demo'), heat.get_stack('demo'), 'demo',
                          info=heard.append)
    assert heard == ['settled revision 1 of demo as deployed']
    # settled from the stack's own files: the plan is stored byte for byte
    assert other.files(other.get('demo', 1))['a.yaml'] == PLAN['files']['a.yaml']
    assert fake.now == machine.HOLDER_SETTLES_WITHIN


# -- format 1: migration --------------------------------------------------

def legacy_record(heat, rev, status, files, name='demo'):
    """A format-1 record stack, as heatplan before format 2 wrote it."""
    from heatplan.store import records as rec_mod

    meta = rec_mod.record_meta(name, rev, DIGEST, {'description': 'old %d' % rev}, 'old@host')
    body = rec_mod.record_body({'files': files}, meta)
    heat.create_stack(rec_mod.record_name(name, rev), body,
                      tags=rec_mod.record_tags(name, rev, status, DIGEST, 'old@host'))


def test_format_1_records_are_read_then_migrated_by_the_next_deploy():
    st, heat, _ = new_store()
    old = [{'a.yaml': 'v%d\n' % rev, 'same.yaml': 'same\n'} for rev in (1, 2, 3)]
    legacy_record(heat, 1, 'superseded', old[0])
    legacy_record(heat, 2, 'failed', old[1])
    legacy_record(heat, 3, 'deployed', old[2])
    deploy_stack(heat, 3, 'UPDATE_COMPLETE')
    # read as they are: history, export
    assert [(r.revision, r.status, r.kind) for r in st.records('demo')] == [
        (1, 'superseded', 'legacy'), (2, 'failed', 'legacy'), (3, 'deployed', 'legacy')]
    before = {rev: st.files(st.get('demo', rev)) for rev in (1, 2, 3)}
    commit(st, heat, 4)
    # migrated: one history stack, the record stacks gone, every revision byte for byte
    assert heatplan_stacks(heat) == ['hp.demo.history']
    recs = st.records('demo')
    assert [(r.revision, r.status, r.kind) for r in recs] == [
        (1, 'superseded', 'history'), (2, 'failed', 'history'),
        (3, 'superseded', 'history'), (4, 'deployed', 'history')]
    for rev in (1, 2, 3):
        files = st.files(st.get('demo', rev))
        assert {k: v for k, v in files.items() if k != store_mod.RECORD_FILE} == \
            {k: v for k, v in before[rev].items() if k != store_mod.RECORD_FILE}
        assert st.meta(st.get('demo', rev))['description'] == 'old %d' % rev
    # 'same.yaml' is stored once for the three revisions
    snap = recs[0].snapshot
    assert sum(1 for v in snap.files.values() if v == 'same\n') == 1


def test_a_pending_format_1_record_is_settled_the_old_way():
    st, heat, _ = new_store()
    legacy_record(heat, 1, 'pending', {'a.yaml': 'v1\n'})
    heat.advance(store_mod.STALE_AFTER + 1)
    deploy_stack(heat, 1, 'CREATE_COMPLETE')
    assert store_mod.recover(st, 'demo', st.records('demo'), heat.get_stack('demo')) == [
        {'revision': 1, 'status': store_mod.DEPLOYED}]
    assert [(r.revision, r.status, r.kind) for r in st.records('demo')] == [
        (1, 'deployed', 'legacy')]


def test_a_lock_still_being_deleted_only_delays_the_next_deploy():
    """The lock is released without waiting for Heat's delete; a deploy right
    after gets 409 for the name while the delete runs, and retries."""
    st, heat, fake = new_store()
    heat.slow_deletes = True
    commit(st, heat, 1)
    lock = heat.list_stacks(show_hidden=True, name='hp.demo.lock')
    assert [s['stack_status'] for s in lock] == ['DELETE_IN_PROGRESS']
    assert [(r.revision, r.status) for r in st.records('demo')] == [(1, 'deployed')]
    fake.during = heat.finish_deletes          # Heat finishes it while the deploy waits
    second = st.create_pending('demo', 2, PLAN, DIGEST, {})
    assert second.revision == 2 and fake.slept >= 1
    assert [s['id'] for s in live_records(heat)] == [second.id]


def test_a_lock_that_stays_is_a_refusal_not_a_wait():
    st, heat, fake = new_store()
    st.create_pending('demo', 1, PLAN, DIGEST, {})
    with pytest.raises(store_mod.Locked):
        store_mod.Store(heat, sleep=fake.sleep, clock=fake.clock).create_pending(
            'demo', 1, PLAN, DIGEST, {})
    assert fake.slept == 0


def test_two_settlers_of_a_first_revision_share_one_history_stack():
    """A deploy slow to settle its first revision, and another process that
    settled it meanwhile: the second history create is refused by name and
    the same keys go into the existing history stack."""
    st, heat, fake = new_store()
    rec = st.create_pending('demo', 1, PLAN, DIGEST, {})
    deploy_stack(heat, 1, 'CREATE_COMPLETE', files=PLAN['files'])
    other = store_mod.Store(heat, sleep=fake.sleep, clock=fake.clock)
    store_mod.check_locks(other, other.records('demo'), heat.get_stack('demo'), 'demo')
    store_mod.settle(st, st.last_records.get('demo') or [], rec, heat.get_stack('demo'))
    assert heatplan_stacks(heat) == ['hp.demo.history']
    assert [(r.revision, r.status) for r in st.records('demo')] == [(1, 'deployed')]
    assert st.files(st.get('demo', 1))['a.yaml'] == PLAN['files']['a.yaml']


def test_a_write_heat_finds_too_big_is_halved_documents_last():
    st, heat, _ = new_store()
    commit(st, heat, 1)
    real = heat.patch_files
    seen = []

    def limited(ident, files):
        if sum(len(v) for v in files.values()) > 5000:
            raise _too_big()
        seen.append(sorted(files))
        return real(ident, files)

    def _too_big():
        exc = errors.HeatRejected('Heat rejected the request (HTTP 413): too large')
        exc.status_code = 413
        return exc

    heat.patch_files = limited
    changed = {'k%d.yaml' % i: 'v%d ' % i * 700 for i in range(6)}
    commit(st, heat, 2, files=changed)
    assert len(seen) >= 2
    assert any(k.startswith('heatplan://history/rev/') for k in seen[-1])
    assert not any(k.startswith('heatplan://history/rev/') for piece in seen[:-1]
                   for k in piece)
    assert st.files(st.get('demo', 2))['k4.yaml'] == changed['k4.yaml']
