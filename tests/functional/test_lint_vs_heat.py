"""Lint never refuses what Heat accepts: each rule's severity checked against a real Heat.

Every case is a small plan with one finding.  The plan is assembled whatever
lint says, then sent to the local Heat's create preview (Heat's validate and
preview, what ``deploy --dry-run`` sends).  The case pins both what Heat
does and what lint says, and the invariant holds for every case: a plan
lint calls an *error* is one Heat rejects.
"""

import pytest

from heatplan import errors
from heatplan import lint
from heatplan.plan import assemble
from heatplan.plan import definition
from heatplan.plan import source

HOT = 'heat_template_version: 2021-04-16\n'
ROOT = HOT + ('parameters:\n  p: {type: string, default: root}\n'
              'resources:\n  v:\n    type: OS::Heat::Value\n'
              '    properties: {value: {get_param: p}}\n'
              'outputs:\n  p: {value: {get_param: p}}\n')
NESTED = HOT + 'parameters:\n  q: {type: string, default: nested}\nresources: {}\n'


def _root_with_nested():
    return ROOT.replace('resources:\n', 'resources:\n  n:\n    type: nested.yaml\n')


# (id, files, environments, body parameters, Heat accepts?, lint codes {code: severity})
CASES = [
    ('duplicate-key', {'root.yaml': ROOT.replace('resources:', 'description: a\n'
                                                 'description: b\nresources:')},
     [], {}, True, {'HP104': 'warning'}),
    ('undeclared-param-in-unused-condition', {'root.yaml': ROOT.replace(
        'resources:', 'conditions:\n  c: {equals: [{get_param: Nope}, x]}\nresources:')},
     [], {}, True, {'HP305': 'warning'}),
    ('get_attr-block-string-in-uninstantiated-template', {
        'root.yaml': ROOT, 'env.yaml': 'resource_registry:\n  My::Unused: unused.yaml\n',
        'unused.yaml': HOT + 'outputs:\n  o:\n    value:\n      get_attr: |\n'
                             '        not a list\n'},
     ['env.yaml'], {}, True, {'HP306': 'warning'}),
    ('nested-without-version-uninstantiated', {
        'root.yaml': ROOT, 'env.yaml': 'resource_registry:\n  My::Unused: unused.yaml\n',
        'unused.yaml': 'resources: {}\n'},
     ['env.yaml'], {}, True, {'HP302': 'warning'}),
    ('registry-value-not-a-template', {
        'root.yaml': ROOT, 'env.yaml': 'resource_registry:\n  My::Thing: thing.txt\n',
        'thing.txt': 'text\n'},
     ['env.yaml'], {}, True, {'HP205': 'warning'}),
    ('empty-environment-file', {'root.yaml': ROOT, 'env.yaml': '# nothing here\n'},
     ['env.yaml'], {}, True, {'HP106': 'warning'}),
    ('empty-environment-section', {'root.yaml': ROOT, 'env.yaml': 'resource_registry:\n'},
     ['env.yaml'], {}, False, {'HP401': 'error'}),
    ('unknown-environment-section', {'root.yaml': ROOT, 'env.yaml': 'bogus: {}\n'},
     ['env.yaml'], {}, False, {'HP401': 'error'}),
    ('env-param-undeclared-taken-whole', {'root.yaml': ROOT,
                                          'env.yaml': 'parameters:\n  nowhere: 1\n'},
     ['env.yaml'], {}, False, {'HP402': 'error'}),
    ('env-param-undeclared-dropped', {
        'root.yaml': ROOT, 'a.yaml': 'parameters:\n  p: from-a\n',
        'b.yaml': 'parameters:\n  nowhere: 1\n'},
     ['a.yaml', 'b.yaml'], {}, True, {'HP403': 'warning'}),
    ('env-param-declared-only-by-nested', {
        'root.yaml': _root_with_nested(), 'nested.yaml': NESTED,
        'a.yaml': 'parameters:\n  p: from-a\n', 'b.yaml': 'parameters:\n  q: 1\n'},
     ['a.yaml', 'b.yaml'], {}, False, {'HP402': 'error'}),
    ('shadowed-parameter', {'root.yaml': ROOT, 'env.yaml': 'parameters:\n  p: from-env\n'},
     ['env.yaml'], {'p': 'from-command-line'}, True, {'HP405': 'warning'}),
    ('unused-parameter-default', {'root.yaml': ROOT,
                                  'env.yaml': 'parameter_defaults:\n  nowhere: 1\n'},
     ['env.yaml'], {}, True, {'HP404': 'warning'}),
    ('undeclared-body-parameter', {'root.yaml': ROOT}, [], {'nowhere': '1'}, False,
     {'HP406': 'error'}),
]


def _analysis(root_dir, environments, parameters):
    src = source.open_source(root_dir)
    d = definition.load_definition(
        src, template='root.yaml', environments=environments,
        parameters=['%s=%s' % kv for kv in parameters.items()])
    an = assemble.analyze(src, d)
    lint.lint(an)
    return an


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_lint_severity_agrees_with_heat(tmp_path, adapter, name, case):
    _id, files, environments, parameters, heat_accepts, want = case
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    an = _analysis(str(tmp_path), environments, parameters)
    got = {d.code: d.severity for d in an.diagnostics}
    assert got == want, [d.format() for d in an.diagnostics]
    found_errors = bool(an.errors)
    an.diagnostics = []  # assemble whatever lint said: Heat is the judge here
    plan = assemble.build(an)
    try:
        preview = adapter.preview_create(name, plan.body)
    except errors.HeatRejected as exc:
        accepted, why = False, str(exc)
    else:
        accepted, why = True, preview
    assert accepted == heat_accepts, why
    # the invariant: never an error for a plan Heat accepts
    assert not (found_errors and accepted)
    if _id == 'shadowed-parameter':
        # Heat uses the environment's value, as the warning says
        assert preview['parameters']['p'] == 'from-env'
