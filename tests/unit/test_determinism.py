"""Determinism: the same content gives the same bytes and digest, anywhere."""

import os
import shutil
import tarfile

import pytest

from heatplan.actions import plan as plan_actions
from tests.unit.conftest import build
from tests.unit.conftest import make_plan
from tests.unit.conftest import opts
from tests.unit.conftest import tar_bytes
from tests.unit.conftest import template
from tests.unit.conftest import write_bytes
from tests.unit.conftest import zip_bytes

DEMO = os.path.join(os.path.dirname(__file__), '..', '..', 'examples', 'demo')

PLAN = {
    'heatplan.yaml': ('template: top/root.yaml\n'
                      'environments:\n  - env/one.yaml\n  - env/two.yaml\n'
                      'parameters:\n  name: demo\n'),
    'top/root.yaml': template(
        parameters='  name: {type: string}\n  size: {type: number, default: 1}\n',
        resources=('  n:\n    type: ../lib/nested.yaml\n'
                   '  r:\n    type: My::Thing\n')),
    'lib/nested.yaml': template(resources=(
        '  s:\n    type: OS::Heat::Value\n    properties:\n'
        "      value: {get_file: '../scripts/s.sh'}\n")),
    'lib/thing.yaml': template(resources='  n:\n    type: OS::Heat::None\n'),
    'scripts/s.sh': '#!/bin/sh\necho "héllo"\n',
    'env/one.yaml': 'resource_registry:\n  My::Thing: ../lib/thing.yaml\n'
                    'parameter_defaults:\n  size: 2\n',
    'env/two.yaml': 'parameter_defaults:\n  size: 3\n',
}


def _tree_files(root):
    out = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root).replace(os.sep, '/')] = f.read()
    return out


def _document(src, **kw):
    return plan_actions.document(build(src, **kw))


def test_same_plan_anywhere_gives_the_same_bytes(tmp_path):
    a = make_plan(tmp_path, PLAN, 'a')
    b = make_plan(tmp_path / 'deeper' / 'still', PLAN, 'other-name')
    tgz = write_bytes(tmp_path / 'plan.tar.gz', tar_bytes(
        {'some-top-dir/' + k: v for k, v in PLAN.items()}, 'w:gz'))
    zipped = write_bytes(tmp_path / 'plan.zip', zip_bytes(
        {'x/' + k: v for k, v in PLAN.items()}))
    docs = [_document(p) for p in (a, b, tgz, zipped)]
    plans = [build(p) for p in (a, b, tgz, zipped)]
    assert docs[0] == docs[1] == docs[2] == docs[3]
    assert len({p.digest for p in plans}) == 1
    assert plans[0].digest.startswith('sha256:') and len(plans[0].digest) == 71
    for doc in docs:
        assert str(tmp_path) not in doc
        assert 'some-top-dir' not in doc and 'other-name' not in doc


def test_building_twice_gives_the_same_bytes(tmp_path):
    a = make_plan(tmp_path, PLAN)
    assert _document(a) == _document(a)


def test_cwd_does_not_matter(tmp_path, monkeypatch):
    a = make_plan(tmp_path, PLAN)
    first = _document(a)
    monkeypatch.chdir(tmp_path)
    assert _document('plan') == first
    monkeypatch.chdir(os.path.join(a, 'lib'))
    assert _document('..') == first


def test_demo_example_copied_elsewhere(tmp_path):
    copy = str(tmp_path / 'copy')
    shutil.copytree(DEMO, copy)
    doc = _document(DEMO)
    assert doc == _document(copy)
    assert os.path.abspath(DEMO) not in doc and str(tmp_path) not in doc


def _package(src, out, **kw):
    plan_actions.package(opts(src, **kw), str(out))
    with open(str(out), 'rb') as f:
        return f.read()


@pytest.mark.parametrize('case', ['manifest', 'flags', 'tripleo', 'demo'])
def test_package_is_deterministic_and_builds_to_the_same_digest(tmp_path, case):
    kw = {}
    if case == 'manifest':
        src = make_plan(tmp_path, PLAN)
    elif case == 'flags':
        files = {k: v for k, v in PLAN.items() if k != 'heatplan.yaml'}
        files['data/user.txt'] = 'user data\n'
        files['top/root.yaml'] = files['top/root.yaml'].replace(
            'parameters:\n', 'parameters:\n  user: {type: string}\n', 1)
        src = make_plan(tmp_path, files)
        kw = dict(template='top/root.yaml', environments=['env/two.yaml', 'env/one.yaml'],
                  parameters=['name=x', 'size=5'], parameter_files=['user=data/user.txt'])
    elif case == 'tripleo':
        files = {k: v for k, v in PLAN.items() if k != 'heatplan.yaml'}
        files['plan-environment.yaml'] = (
            'version: 1.0\ntemplate: top/root.yaml\nenvironments:\n'
            '  - path: env/one.yaml\nparameter_defaults:\n  name: tripleo\n  size: 4\n')
        src = make_plan(tmp_path, files)
    else:
        src = DEMO
    plan = build(src, **kw)
    one = _package(src, tmp_path / 'one.tar.gz', **kw)
    two = _package(src, tmp_path / 'two.tar.gz', **kw)
    assert one == two
    assert one[:2] == b'\x1f\x8b' and one[4:8] == b'\0\0\0\0'   # gzip mtime 0
    repacked = build(str(tmp_path / 'one.tar.gz'))
    assert repacked.digest == plan.digest
    assert repacked.body['template'] == plan.body['template']
    assert repacked.body['environment_files'] == plan.body['environment_files']
    assert repacked.body['parameters'] == plan.body['parameters']
    # members are sorted, owned by root, with fixed mtimes and modes
    with tarfile.open(str(tmp_path / 'one.tar.gz')) as tar:
        infos = tar.getmembers()
    names = [i.name for i in infos]
    assert names == sorted(names)
    assert {(i.mtime, i.uid, i.gid, i.mode) for i in infos} == {(0, 0, 0, 0o644)}
    # the package holds the original bytes of every plan file
    originals = _tree_files(src)
    with tarfile.open(str(tmp_path / 'one.tar.gz')) as tar:
        for info in infos:
            if info.name in originals:
                assert tar.extractfile(info).read() == originals[info.name], info.name


def test_package_written_from_a_different_directory_is_identical(tmp_path):
    a = make_plan(tmp_path, PLAN, 'a')
    b = make_plan(tmp_path, PLAN, 'b')
    assert _package(a, tmp_path / 'a.tgz') == _package(b, tmp_path / 'b.tgz')


def test_package_of_tripleo_plan_without_parameter_defaults(tmp_path):
    files = {k: v for k, v in PLAN.items() if k != 'heatplan.yaml'}
    files['plan-environment.yaml'] = ('template: top/root.yaml\nenvironments:\n'
                                      '  - path: env/one.yaml\n')
    src = make_plan(tmp_path, files)
    plan = build(src)   # no flags: the definition comes from plan-environment.yaml alone
    _package(src, tmp_path / 'p.tar.gz')
    assert build(str(tmp_path / 'p.tar.gz')).digest == plan.digest


def _digest(tmp_path, files, name, **kw):
    return build(make_plan(tmp_path, files, name), **kw).digest


def test_digest_changes_with_content_parameters_and_order(tmp_path):
    base = _digest(tmp_path, PLAN, 'base')
    changed_script = dict(PLAN, **{'scripts/s.sh': PLAN['scripts/s.sh'] + '# x\n'})
    assert _digest(tmp_path, changed_script, 'script') != base
    changed_env = dict(PLAN, **{'env/two.yaml': 'parameter_defaults:\n  size: 4\n'})
    assert _digest(tmp_path, changed_env, 'env') != base
    changed_param = dict(PLAN, **{'heatplan.yaml': PLAN['heatplan.yaml'].replace(
        'name: demo', 'name: demo2')})
    assert _digest(tmp_path, changed_param, 'param') != base
    swapped = dict(PLAN, **{'heatplan.yaml': PLAN['heatplan.yaml'].replace(
        '  - env/one.yaml\n  - env/two.yaml\n', '  - env/two.yaml\n  - env/one.yaml\n')})
    assert _digest(tmp_path, swapped, 'order') != base
    # a flag parameter changes it too
    assert _digest(tmp_path, PLAN, 'flag', parameters=['size=9']) != base


def test_digest_ignores_comments_in_the_manifest(tmp_path):
    base = _digest(tmp_path, PLAN, 'base')
    commented = dict(PLAN, **{'heatplan.yaml': '# just a comment\n' + PLAN['heatplan.yaml']})
    assert _digest(tmp_path, commented, 'commented') == base


def test_digest_is_recorded_in_the_manifest(tmp_path):
    plan = build(make_plan(tmp_path, PLAN))
    assert plan.manifest['digest'] == plan.digest
    assert '"digest":"%s"' % plan.digest in plan.body['files']['heatplan://manifest.json']


#: The digest of examples/demo: a compatibility promise (every deployed stack
#: carries its digest in a tag).  If this changes, the digest format changed:
#: bump assemble.MANIFEST_FORMAT and say so in doc/source/plans.rst.
HOT = 'heat_template_version: 2021-04-16\n'
DEMO_DIGEST = 'sha256:1f279e59b01b576c713f2bcbaf6eb522ca0d2c034eeb96a20e3dac1f5d88dba3'


def test_golden_digest_of_the_demo_example():
    _src, plan = plan_actions.build_plan(plan_actions.PlanOptions(DEMO))
    assert plan.digest == DEMO_DIGEST


def test_digest_format_as_documented(tmp_path):
    # recompute a digest by hand from doc/source/plans.rst's description
    import hashlib
    import json

    files = {'root.yaml': HOT + 'parameters:\n  p: {type: string}\n'
                          'resources:\n  a:\n    type: lib/n.yaml\n',
             'lib/n.yaml': HOT, 'env.yaml': 'parameter_defaults: {}\n'}
    root = tmp_path / 'plan'
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    _src, plan = plan_actions.build_plan(plan_actions.PlanOptions(
        str(root), template='root.yaml', environments=['env.yaml'], parameters=['p=x']))
    doc = {'format': 1, 'root': 'root.yaml', 'environments': ['env.yaml'],
           'parameters': {'p': 'x'},
           'files': {k: hashlib.sha256(v.encode()).hexdigest() for k, v in files.items()}}
    text = json.dumps(doc, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    assert plan.digest == 'sha256:' + hashlib.sha256(text.encode('utf-8')).hexdigest()
