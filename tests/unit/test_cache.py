"""The per-file analysis cache and plan summaries (heatplan.plan.cache, issue 18).

A hit must give exactly what a miss computes; a bad entry (tampered,
corrupt, from another key) is ignored and recomputed; a changed file misses.
"""

import json
import os

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from heatplan import lint
from heatplan.actions import plan as actions
from heatplan.cli import app
from heatplan.plan import assemble
from heatplan.plan import cache as cache_mod
from heatplan.plan import definition
from heatplan.plan import lazy
from heatplan.plan import source
from tests.unit.conftest import HOT
from tests.unit.conftest import make_plan


def spot(s):
    if s is None:
        return None
    return (s.value, s.style, s.start_mark.line, s.start_mark.column, s.start_mark.index,
            s.end_mark.line, s.end_mark.column, s.end_mark.index)


def facts(an):
    """Everything an analysis found, comparable."""
    out = {}
    for key, pf in an.files.items():
        out[key] = {
            'kind': pf.kind, 'parsed': pf.parsed, 'only_get_file': pf.only_get_file,
            'version': pf.version, 'sha256': pf.sha256, 'size': pf.size, 'text': pf.text,
            'sections': [(n, spot(k)) for n, k in pf.sections],
            'params': sorted(pf.params), 'hidden': sorted(pf.hidden),
            'resources': sorted(pf.resources), 'checks': pf.checks,
            'env_params': [(n, spot(k), b) for n, k, b in pf.env_params],
            'env_defaults': [(n, spot(k)) for n, k in pf.env_defaults],
            'empty_sections': [(n, spot(k)) for n, k in pf.empty_sections],
            'registry': pf.registry,
            'refs': [(r.origin, r.kind, r.value, spot(r.node), r.target, r.remote, r.base)
                     for r in pf.refs],
        }
    return out


def run(plan_dir, use_cache=True):
    """(facts, diagnostics, plan or None, cache stats) of one lint + assembly."""
    src = source.open_source(plan_dir)
    d = definition.load_definition(src)
    cache = actions.open_cache(src, actions.PlanOptions(plan_dir, cache=True)) \
        if use_cache else None
    an = assemble.analyze(src, d, cache=cache)
    lint.lint(an)
    plan = None
    if not an.errors:
        plan = assemble.build(an)
    if cache is not None:
        cache.finish()
    return facts(an), list(an.diagnostics), plan, (cache.stats if cache else None)


def same_plan(a, b):
    if a is None or b is None:
        return a is b
    return (a.digest, a.body, a.manifest, a.body_size) == (b.digest, b.body, b.manifest,
                                                             b.body_size)


# -- plans made of pieces that exercise every fact the cache keeps ----------

NESTED = HOT + '''parameters:
  p: {type: string, hidden: true}
  q: {type: string}
resources:
  r: {type: OS::Heat::Value, properties: {value: {get_param: q}}}
outputs:
  o: {value: {get_attr: [r, value]}}
'''
PIECES = {
    'nested': '  n: {type: lib/nested.yaml}\n',
    'quoted': "  nq: {type: 'lib/nested.yaml'}\n",
    'getfile': '  g: {type: OS::Heat::Value, properties: {value: {get_file: scripts/s.sh}}}\n',
    'getfile_tpl': '  gt: {type: OS::Heat::Value,\n'
                   '       properties: {value: {get_file: lib/nested.yaml}}}\n',
    'yml': '  y: {type: lib/other.yml}\n',
    'missing_intrinsic': '  m: {type: OS::Heat::Value,\n'
                         '      properties: {value: {get_resource: nope}}}\n',
    'chain': '  c:\n    type: OS::Heat::ResourceChain\n    properties:\n'
             '      resources: [lib/nested.yaml, OS::Heat::None]\n',
    'dup': '  d: {type: OS::Heat::None}\n  d: {type: OS::Heat::None}\n',
    'remote': '  h: {type: "https://example.com/t.yaml"}\n',
    'anchors': '  a1: &x {type: OS::Heat::None}\n  a2: *x\n',
}
ENV_PIECES = {
    'registry': 'resource_registry:\n  My::Thing: lib/nested.yaml\n  My::None: OS::Heat::None\n',
    'defaults': 'parameter_defaults:\n  q: v\n  undeclared: 1\n',
    'params': 'parameters:\n  q: w\n',
    'empty': 'event_sinks:\n',
    'unknown': 'bogus: {}\n',
}


def write_plan(tmp_path, pieces, env_pieces, name='plan'):
    root = HOT + 'parameters:\n  q: {type: string, default: x}\nresources:\n' + \
        ''.join(PIECES[p] for p in pieces)
    files = {'root.yaml': root, 'lib/nested.yaml': NESTED, 'lib/other.yml': HOT,
             'scripts/s.sh': '#!/bin/sh\necho hi\n'}
    manifest = {'template': 'root.yaml'}
    if env_pieces:
        files['env.yaml'] = ''.join(ENV_PIECES[p] for p in env_pieces)
        manifest['environments'] = ['env.yaml']
    files['heatplan.yaml'] = json.dumps(manifest)
    return make_plan(tmp_path, files, name)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(sorted(PIECES)), unique=True, max_size=6),
       st.lists(st.sampled_from(sorted(ENV_PIECES)), unique=True, max_size=3))
def test_a_hit_gives_exactly_what_a_miss_computes(tmp_path_factory, monkeypatch, pieces,
                                                  env_pieces):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path_factory.mktemp('xdg')))
    plan_dir = write_plan(tmp_path_factory.mktemp('p'), pieces, env_pieces)
    plain = run(plan_dir, use_cache=False)
    cold = run(plan_dir)
    warm = run(plan_dir)
    assert cold[3]['misses'] > 0 and cold[3]['hits'] == 0
    assert warm[3]['hits'] == cold[3]['misses'] and warm[3]['misses'] == 0
    for got in (cold, warm):
        assert got[0] == plain[0]
        assert got[1] == plain[1]
        assert same_plan(got[2], plain[2])


def test_a_changed_file_misses_and_the_rest_hit(tmp_path):
    plan_dir = write_plan(tmp_path, ['nested', 'getfile'], ['registry'])
    first = run(plan_dir)
    with open(os.path.join(plan_dir, 'lib', 'nested.yaml'), 'a') as f:
        f.write('  # changed\n')
    second = run(plan_dir)
    assert second[3]['misses'] == 1
    assert second[3]['hits'] == first[3]['misses'] - 1
    plain = run(plan_dir, use_cache=False)
    assert second[0] == plain[0] and same_plan(second[2], plain[2])
    assert second[2].digest != first[2].digest


def _pack(home):
    root = os.path.join(home, 'heatplan', 'analysis')
    packs = [n for n in os.listdir(root) if n.startswith('pack-')]
    assert len(packs) == 1
    return os.path.join(root, packs[0])


@pytest.mark.parametrize('damage', ['edit', 'truncate', 'garbage', 'rehash', 'empty'])
def test_a_tampered_or_corrupt_pack_is_ignored_and_recomputed(tmp_path, damage):
    plan_dir = write_plan(tmp_path, ['nested', 'getfile'], ['registry'])
    plain = run(plan_dir, use_cache=False)
    run(plan_dir)
    path = _pack(os.environ['XDG_CACHE_HOME'])
    with open(path, 'rb') as f:
        data = f.read()
    if damage == 'edit':      # drop a reference from an entry: the HMAC no longer holds
        data = data.replace(b'"lib/nested.yaml"', b'"lib/nested.yamx"', 1)
    elif damage == 'truncate':
        data = data[:len(data) // 2]
    elif damage == 'garbage':
        data = os.urandom(len(data))
    elif damage == 'rehash':  # re-signed by someone without the secret
        import hashlib

        payload = data[70:].replace(b'"lib/nested.yaml"', b'"lib/nested.yamx"', 1)
        data = data[:5] + hashlib.sha256(payload).hexdigest().encode() + b'\n' + payload
    else:
        data = b''
    with open(path, 'wb') as f:
        f.write(data)
    got = run(plan_dir)
    assert got[3]['hits'] == 0 and got[3]['misses'] > 0
    assert got[3]['rejected'] == 1
    assert got[0] == plain[0] and got[1] == plain[1] and same_plan(got[2], plain[2])
    again = run(plan_dir)   # rewritten whole
    assert again[3]['misses'] == 0 and again[3]['rejected'] == 0


@pytest.mark.parametrize('bad', [
    {'kind': 'weird'}, {'refs': [['get_file', 7, None, None]]}, {'refs': 'x'},
    {'params': 'q'}, {'parsed': 1}, {'sections': [['s', [None, None, -1, 0, 0, 0, 0, 0]]]},
    {'diagnostics': [['root.yaml', 1, 1, 'error', 'x', 'HP104', 'duplicate-key']]},
    {'checks': [['root.yaml', 1, 1, 'warning', 'x', 'HP999', 'duplicate-key']]},
])
def test_a_signed_entry_that_is_not_what_encode_writes_is_ignored(tmp_path, bad):
    # even under a valid HMAC (a heatplan bug, or a secret that leaked), an entry
    # is decoded strictly: wrong types, unknown kinds, a severity or code that is
    # not the registry's make it a miss, never a wrong result
    plan_dir = write_plan(tmp_path, ['nested', 'dup'], [])
    plain = run(plan_dir, use_cache=False)
    run(plan_dir)
    src = source.open_source(plan_dir)
    cache = actions.open_cache(src, actions.PlanOptions(plan_dir, cache=True))
    entries = cache._load_pack()
    assert entries
    signed = {}
    for ck, where in entries.items():
        e = json.loads(cache._raw(ck, where))
        e.update(bad)
        signed[ck] = json.dumps(e).encode()
    cache._used = signed
    assert cache._write_pack()
    got = run(plan_dir)
    assert got[3]['rejected'] == len(signed)
    assert got[3]['hits'] == 0
    assert got[0] == plain[0] and got[1] == plain[1] and same_plan(got[2], plain[2])


def test_new_code_is_a_new_key(tmp_path, monkeypatch):
    plan_dir = write_plan(tmp_path, ['nested'], [])
    run(plan_dir)
    real = cache_mod._code_fingerprint
    monkeypatch.setattr(cache_mod, '_code_fingerprint', lambda: real() + b'changed')
    assert run(plan_dir)[3]['hits'] == 0


def test_a_summary_answers_an_unchanged_plan_without_building_it(tmp_path):
    plan_dir = write_plan(tmp_path, ['nested', 'getfile', 'dup'], ['registry', 'defaults'])
    opts = actions.PlanOptions(plan_dir, cache=True)
    _src, full = actions.prepare_plan(opts)        # cold: a full assembly
    assert not isinstance(full, lazy.LazyPlan)
    _src, quick = actions.prepare_plan(opts)
    assert isinstance(quick, lazy.LazyPlan) and not quick.built
    plain = actions.build_plan(actions.PlanOptions(plan_dir))[1]
    assert quick.digest == plain.digest and quick.body_size == plain.body_size
    assert quick.diagnostics == plain.diagnostics
    assert not quick.built
    assert quick.body == plain.body and quick.built   # built when asked
    # a changed file: no summary, a full assembly
    with open(os.path.join(plan_dir, 'scripts', 's.sh'), 'a') as f:
        f.write('echo more\n')
    _src, changed = actions.prepare_plan(opts)
    assert not isinstance(changed, lazy.LazyPlan)
    assert changed.digest != plain.digest


def test_a_summary_keeps_the_policy_of_this_run(tmp_path):
    plan_dir = write_plan(tmp_path, ['dup'], [])
    actions.prepare_plan(actions.PlanOptions(plan_dir, cache=True))
    _src, quick = actions.prepare_plan(actions.PlanOptions(plan_dir, cache=True,
                                                           ignore=['HP104']))
    assert isinstance(quick, lazy.LazyPlan)
    assert not [d for d in quick.diagnostics if d.code == 'HP104']
    from heatplan import errors

    with pytest.raises(errors.LintFailed):   # strict: the warning is an error now
        actions.prepare_plan(actions.PlanOptions(plan_dir, cache=True, strict=True))


def test_no_summary_for_a_plan_with_a_hidden_value(tmp_path):
    plan_dir = write_plan(tmp_path, ['nested'], [])
    opts = actions.PlanOptions(plan_dir, cache=True, template='lib/nested.yaml',
                               parameters=['p=s3cret'])
    actions.prepare_plan(opts)
    _src, again = actions.prepare_plan(opts)
    assert not isinstance(again, lazy.LazyPlan)
    with open(_pack(os.environ['XDG_CACHE_HOME']), 'rb') as f:
        assert b's3cret' not in f.read()


def test_not_used_inside_the_plan_root_nor_in_a_directory_others_can_write(tmp_path,
                                                                            monkeypatch):
    plan_dir = write_plan(tmp_path, ['nested'], [])
    monkeypatch.setenv('XDG_CACHE_HOME', os.path.join(plan_dir, '.cache'))
    src = source.open_source(plan_dir)
    assert actions.open_cache(src, actions.PlanOptions(plan_dir, cache=True)) is None
    assert not os.path.exists(os.path.join(plan_dir, '.cache'))
    shared = tmp_path / 'shared'
    (shared / 'heatplan').mkdir(parents=True)
    os.chmod(str(shared / 'heatplan'), 0o777)
    monkeypatch.setenv('XDG_CACHE_HOME', str(shared))
    assert actions.open_cache(src, actions.PlanOptions(plan_dir, cache=True)) is None


def test_no_cache_flag_and_environment(tmp_path, monkeypatch, capsys):
    plan_dir = write_plan(tmp_path, ['nested'], [])
    home = os.environ['XDG_CACHE_HOME']
    assert app.main(['build', plan_dir, '--no-cache', '-o', str(tmp_path / 'a.json')]) == 0
    assert not os.path.exists(os.path.join(home, 'heatplan', 'analysis'))
    monkeypatch.setenv('HEATPLAN_NO_CACHE', '1')
    assert app.main(['build', plan_dir, '-o', str(tmp_path / 'b.json')]) == 0
    assert not os.path.exists(os.path.join(home, 'heatplan', 'analysis'))
    monkeypatch.delenv('HEATPLAN_NO_CACHE')
    assert app.main(['build', plan_dir, '-o', str(tmp_path / 'c.json')]) == 0
    assert os.path.exists(_pack(home))
    assert app.main(['build', plan_dir, '-o', str(tmp_path / 'd.json')]) == 0
    outs = [open(str(tmp_path / n), 'rb').read() for n in ('a.json', 'b.json', 'c.json',
                                                            'd.json')]
    assert len(set(outs)) == 1


def test_the_cache_is_capped(tmp_path, monkeypatch):
    monkeypatch.setenv(cache_mod.MAX_BYTES_ENV, '1')
    for i in range(3):
        run(write_plan(tmp_path, ['nested'], [], name='plan%d' % i))
    root = os.path.join(os.environ['XDG_CACHE_HOME'], 'heatplan', 'analysis')
    assert len([n for n in os.listdir(root) if n.startswith('pack-')]) == 1


def test_a_plan_that_changes_between_summary_and_body_is_refused(tmp_path):
    # the summary said digest A; the files changed before the body was built:
    # nothing may go out under the wrong digest
    from heatplan import errors

    plan_dir = write_plan(tmp_path, ['nested'], [])
    opts = actions.PlanOptions(plan_dir, cache=True)
    actions.prepare_plan(opts)
    _src, quick = actions.prepare_plan(opts)
    assert isinstance(quick, lazy.LazyPlan)
    with open(os.path.join(plan_dir, 'lib', 'nested.yaml'), 'a') as f:
        f.write('# edited meanwhile\n')
    with pytest.raises(errors.PlanError, match='changed while heatplan read it'):
        _body = quick.body  # noqa: F841 (building it is the point)
