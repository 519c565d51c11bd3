"""The build output written in pieces (issue 18): the same bytes, never held whole."""

import collections.abc
import json
import os
import tracemalloc

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from heatplan import output
from heatplan.actions import plan as actions
from heatplan.cli import app
from heatplan.plan import assemble
from heatplan.plan import jsonstream
from tests.unit.conftest import HOT
from tests.unit.conftest import write_files

_text = st.text(st.characters(codec='utf-8'), max_size=40)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: st.lists(children, max_size=4) |
    st.dictionaries(_text, children, max_size=4), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_pieces_join_to_json_dumps_sort_keys(obj):
    assert ''.join(jsonstream.chunks(obj)) == json.dumps(obj, sort_keys=True)


def test_a_files_map_is_one_piece_per_file():
    body = {'files': {'b.yaml': 'x' * 1000, 'a.yaml': 'y' * 1000}, 'template': 't'}
    pieces = list(jsonstream.chunks({'digest': 'sha256:0', 'body': body}))
    assert max(len(p) for p in pieces) < 1010   # no piece holds two files
    assert ''.join(pieces) == json.dumps({'digest': 'sha256:0', 'body': body},
                                         sort_keys=True)


def test_atomic_write_takes_pieces(tmp_path):
    path = str(tmp_path / 'out.json')
    output.atomic_write(path, iter([b'ab', b'', b'cd']))
    with open(path, 'rb') as f:
        assert f.read() == b'abcd'


def test_a_failing_piece_leaves_no_file_and_no_temporary(tmp_path):
    path = str(tmp_path / 'out.json')

    def pieces():
        yield b'partial'
        raise RuntimeError('boom')

    with pytest.raises(RuntimeError):
        output.atomic_write(path, pieces())
    assert os.listdir(str(tmp_path)) == []


@pytest.fixture
def plan(tmp_path):
    root = tmp_path / 'plan'
    (root / 'nested').mkdir(parents=True)
    (root / 'root.yaml').write_text(
        HOT + 'parameters:\n  p: {type: string, hidden: true}\nresources:\n'
        '  a: {type: nested/n.yaml}\n  b: {type: OS::Heat::Value, properties: {value: "\u00e9"}}\n')
    (root / 'nested' / 'n.yaml').write_text(HOT + 'resources: {}\n')
    (root / 'heatplan.yaml').write_text('template: root.yaml\nparameters: {p: s3cret}\n')
    return str(root)


@pytest.mark.parametrize('flags', [[], ['--body-only'], ['--show-secrets']])
def test_build_writes_the_same_bytes_as_one_json_dumps(plan, tmp_path, flags):
    path = str(tmp_path / 'out.json')
    assert app.main(['build', plan, '-o', path] + flags) == 0
    _src, built = actions.build_plan(actions.PlanOptions(plan))
    if '--show-secrets' not in flags:
        built = actions.masked(built)
    want = built.body_json() if '--body-only' in flags else actions.document(built)
    with open(path, 'rb') as f:
        assert f.read() == (want + '\n').encode('utf-8')


def test_build_to_stdout_writes_the_same_bytes(plan, capsysbinary):
    assert app.main(['build', plan]) == 0
    _src, built = actions.build_plan(actions.PlanOptions(plan))
    out = capsysbinary.readouterr().out
    assert out == (actions.document(actions.masked(built)) + '\n').encode('utf-8')


# -- the rewritten files map made file by file (hold_texts=False) -------------

def _plans(tmp_path):
    """Plans with rewrites, generated environments, a hidden manifest value."""
    nested = HOT + 'resources:\n  x: {type: OS::Heat::None}\n'
    yield write_files(tmp_path / 'rewrites', {
        'heatplan.yaml': 'template: top/root.yaml\nenvironments: [env/e.yaml]\n'
                         'parameters: {p: "s3cret"}\n',
        'top/root.yaml': HOT + 'parameters:\n  p: {type: string, hidden: true}\n'
                         'resources:\n  a: {type: ../lib/n.yaml}\n'
                         '  b: {type: "./../lib/n.yaml"}\n'
                         "  c: {type: '../lib/m.yaml'}\n"
                         '  d: {type: OS::Heat::Value, properties: {value: {get_file: '
                         '../data/\u00e9.sh}}}\n',
        'lib/n.yaml': nested,
        'lib/m.yaml': nested + '# caf\u00e9 \U0001f600\n',
        'data/\u00e9.sh': '#!/bin/sh\necho "\u00e9"\n',
        'env/e.yaml': 'resource_registry:\n  My::T: ../lib/n.yaml\n',
    })
    yield write_files(tmp_path / 'tripleo', {
        'plan-environment.yaml': 'version: 1.0\nname: o\ntemplate: r.yaml\n'
                                 'environments:\n  - data:\n      parameter_defaults: '
                                 '{a: 1}\n  - path: e/x.yaml\nparameter_defaults: {b: 2}\n',
        'r.yaml': HOT + 'parameters:\n  a: {type: number}\n  b: {type: number}\n'
                  'resources:\n  n: {type: ./sub/../n.yaml}\n',
        'n.yaml': HOT,
        'e/x.yaml': 'resource_registry:\n  X::Y: ../n.yaml\n',
    })


def test_a_plan_built_without_holding_its_texts_writes_the_same_bytes(tmp_path):
    for root in _plans(tmp_path):
        opts = actions.PlanOptions(root)
        _src, held = actions.build_plan(opts)
        _src, lazy = actions.build_plan(opts, hold_texts=False)
        assert isinstance(lazy.body['files'], assemble.RewrittenTexts)
        assert lazy.digest == held.digest and lazy.manifest == held.manifest
        assert lazy.body_size == held.body_size == len(held.body_json())
        assert dict(lazy.body['files']) == held.body['files']
        assert dict(lazy.texts) == held.texts
        for show in (held, actions.masked(held)):
            lazy_show = lazy if show is held else actions.masked(lazy)
            for body_only in (False, True):
                assert b''.join(actions.document_pieces(lazy_show, body_only)) == \
                    b''.join(actions.document_pieces(show, body_only)) == \
                    ((show.body_json() if body_only else actions.document(show)) +
                     '\n').encode('utf-8')


def test_the_lazy_files_map_holds_no_rewritten_text(tmp_path):
    root = next(_plans(tmp_path))
    _src, plan = actions.build_plan(actions.PlanOptions(root), hold_texts=False)
    files = plan.body['files']
    rewritten = [k for k in files if k in plan.files and files[k] != plan.files[k].text]
    assert rewritten   # the plan has rewrites ...
    for key, item in files._items.items():   # ... and none of them is held
        if key in plan.files:
            assert item is plan.files[key].text or item.__class__ is list
    assert files['top/root.yaml'] is not files['top/root.yaml']   # made on each lookup


def test_rewrite_edits_are_rewrites_edits():
    text = 'a: ../x.yaml\nb: "y"\nc: z\n'
    reps = [(17, 20, 'longer'), (3, 12, 'x.yaml')]
    assert assemble.rewrite_edits(text, reps) == assemble.rewrite(text, reps)[1]


def test_a_mapping_that_is_not_a_dict_is_written_as_its_dict():
    class View(collections.abc.Mapping):
        def __init__(self, d):
            self.d = d

        def __getitem__(self, k):
            return self.d[k]

        def __iter__(self):
            return iter(self.d)

        def __len__(self):
            return len(self.d)

    for inner in ({'b': 'x', 'a': [1, {'z': None}]}, {1: 'int key'}, {}):
        obj = {'files': View(inner), 'n': 1}
        assert ''.join(jsonstream.chunks(obj)) == json.dumps(
            {'files': inner, 'n': 1}, sort_keys=True)


def test_build_holds_each_file_once(tmp_path):
    """``heatplan build`` peaks at the plan's text once, not with a rewritten copy.

    Every file of this plan is rewritten (its one reference is ``../``); it
    used to be held twice, the original and the rewritten text (not a timed
    test: a count of allocations).
    """
    filler = '# ' + 'x' * 2000 + '\n'
    files = {'heatplan.yaml': 'template: top/root.yaml\n',
             'top/root.yaml': HOT + 'resources:\n' + ''.join(
                 '  r%d: {type: ../lib/n%d.yaml}\n' % (i, i) for i in range(60))}
    for i in range(60):
        files['lib/n%d.yaml' % i] = HOT + 'resources:\n  x: {type: ../lib/leaf.yaml}\n' + \
            filler * 40
    files['lib/leaf.yaml'] = HOT
    root = write_files(tmp_path / 'big', files)
    plan_bytes = sum(len(t.encode('utf-8')) for t in files.values())
    out = str(tmp_path / 'out.json')
    tracemalloc.start()
    try:
        assert app.main(['build', root, '--no-cache', '--max-body-bytes', '0', '-o', out]) == 0
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert os.path.getsize(out) > plan_bytes
    assert peak < 1.5 * plan_bytes, (peak, plan_bytes)
