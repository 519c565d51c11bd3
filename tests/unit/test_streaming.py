"""The build output written in pieces (issue 18): the same bytes, never held whole."""

import json
import os

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from heatplan import output
from heatplan.actions import plan as actions
from heatplan.cli import app
from heatplan.plan import jsonstream
from tests.unit.conftest import HOT

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
