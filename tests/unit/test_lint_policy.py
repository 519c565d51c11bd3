"""The lint registry, --strict, --ignore and the heatplan.yaml ``lint:`` section."""

import json
import os
import re

import pytest

from heatplan import errors
from heatplan.actions import plan as plan_actions
from heatplan.lint import registry
from tests.unit.conftest import HOT
from tests.unit.conftest import template
from tests.unit.test_cli import run

DOC = os.path.join(os.path.dirname(__file__), '..', '..', 'doc', 'source', 'lint.rst')

#: a plan with two warnings in two files: a duplicate key (HP104) and a
#: get_param of an undeclared parameter (HP305)
WARNS = {
    'root.yaml': template(resources='  n:\n    type: lib/n.yaml\n').replace(
        'resources:', 'description: a\ndescription: b\nresources:'),
    'lib/n.yaml': template(resources=(
        '  v:\n    type: OS::Heat::Value\n    properties: {value: {get_param: nope}}\n')),
}


def opts(root, **kw):
    kw.setdefault('template', 'root.yaml')
    return plan_actions.PlanOptions(root, **kw)


# -- the registry ---------------------------------------------------------------------

def test_every_rule_has_a_stable_code_a_name_a_severity_and_a_doc():
    families = {'1': 'YAML', '2': 'files', '3': 'template', '4': 'environment',
                '5': 'definition', '6': 'limits'}
    for code, rule in registry.RULES.items():
        assert re.fullmatch(r'HP[1-6]\d\d', code), code
        assert code[2] in families
        assert re.fullmatch(r'[a-z][a-z-]+', rule.name)
        assert rule.severity in ('error', 'warning')
        assert rule.doc.endswith('.') and len(rule.doc) > 20
        # a warning can always be ignored: only errors may be fatal
        assert rule.ignorable or rule.severity == 'error'
    assert registry.rule('hp104') is registry.rule('duplicate-key') is registry.RULES['HP104']
    assert registry.rule('nope') is None


#: the severities are a promise (what stops a build): pinned here, so that a
#: change to the registry is a deliberate one
SEVERITIES = {
    'HP101': 'error', 'HP102': 'error', 'HP103': 'error', 'HP104': 'warning',
    'HP105': 'error', 'HP106': 'warning', 'HP107': 'error',
    'HP201': 'error', 'HP202': 'error', 'HP203': 'error', 'HP204': 'error',
    'HP205': 'warning', 'HP206': 'error', 'HP207': 'warning', 'HP208': 'warning',
    'HP209': 'warning',
    'HP301': 'error', 'HP302': 'warning', 'HP303': 'warning', 'HP304': 'warning',
    'HP305': 'warning', 'HP306': 'warning',
    'HP401': 'error', 'HP402': 'error', 'HP403': 'warning', 'HP404': 'warning',
    'HP405': 'warning', 'HP406': 'error',
    'HP501': 'error', 'HP502': 'warning', 'HP601': 'error', 'HP602': 'error',
}


def test_severities_are_pinned():
    assert {c: r.severity for c, r in registry.RULES.items()} == SEVERITIES


def test_the_docs_list_every_rule_as_the_registry_says():
    with open(DOC, encoding='utf-8') as f:
        text = f.read()
    assert registry.rst() in text, 'regenerate: python -m heatplan.lint.registry'


def test_lint_rules_command_lists_every_code(capsys):
    rc, out, _err = run(['lint', 'rules', '-f', 'json'], capsys)
    assert rc == 0
    rows = json.loads(out)
    assert [r['Code'] for r in rows] == list(registry.RULES)
    assert {r['Code']: r['Severity'] for r in rows} == SEVERITIES


def test_diagnostic_format_carries_the_code():
    d = registry.make('duplicate-key', 'a.yaml', 3, 5, 'msg')
    assert d.format() == 'a.yaml:3:5: warning[HP104]: msg'
    assert d.as_dict() == {'path': 'a.yaml', 'line': 3, 'col': 5, 'severity': 'warning',
                           'message': 'msg', 'code': 'HP104', 'rule': 'duplicate-key'}


# -- --strict and --ignore ------------------------------------------------------------

def test_warnings_alone_do_not_stop_a_build(plan_dir):
    result = plan_actions.lint_plan(opts(plan_dir(WARNS)))
    assert sorted(d.code for d in result.warnings) == ['HP104', 'HP305']
    assert result.plan is not None


def test_strict_makes_warnings_errors(plan_dir, capsys):
    root = plan_dir(WARNS)
    with pytest.raises(errors.LintFailed) as exc:
        plan_actions.build_plan(opts(root, strict=True))
    assert sorted(d.code for d in exc.value.diagnostics if d.severity == 'error') == [
        'HP104', 'HP305']
    rc, out, err = run(['validate', root, '-t', 'root.yaml', '--strict'], capsys)
    assert rc == errors.ExitCode.PLAN_INVALID
    assert 'error[HP104]' in out and '2 error(s), 0 warning(s)' in err
    rc, _out, err = run(['build', root, '-t', 'root.yaml', '--strict'], capsys)
    assert rc == errors.ExitCode.PLAN_INVALID and 'error[HP305]' in err


def test_ignore_by_code_or_name(plan_dir, capsys):
    root = plan_dir(WARNS)
    result = plan_actions.lint_plan(opts(root, ignore=['HP104', 'undeclared-param']))
    assert result.diagnostics == []
    assert sorted(d.code for d in result.ignored) == ['HP104', 'HP305']
    rc, out, err = run(['validate', root, '-t', 'root.yaml', '--strict',
                        '--ignore', 'duplicate-key'], capsys)
    assert rc == errors.ExitCode.PLAN_INVALID  # HP305 is still there, and strict
    assert 'HP104' not in out and '1 ignored (HP104)' in err


def test_build_reports_its_warnings_on_stderr(plan_dir, capsys):
    rc, out, err = run(['build', plan_dir(WARNS), '-t', 'root.yaml'], capsys)
    assert rc == 0
    assert json.loads(out)['digest'].startswith('sha256:')
    assert '2 lint warning(s) (HP104, HP305)' in err


@pytest.mark.parametrize('code', ['HP201', 'missing', 'HP602'])
def test_fatal_rules_cannot_be_ignored(plan_dir, capsys, code):
    rc, _out, err = run(['validate', plan_dir(WARNS), '-t', 'root.yaml', '--ignore', code],
                        capsys)
    assert rc == errors.ExitCode.USAGE
    assert 'cannot be ignored' in err


def test_unknown_rule_is_a_usage_error(plan_dir, capsys):
    rc, _out, err = run(['validate', plan_dir(WARNS), '-t', 'root.yaml', '--ignore', 'HP999'],
                        capsys)
    assert rc == errors.ExitCode.USAGE
    assert "unknown lint rule 'HP999'" in err and 'heatplan lint rules' in err


def test_an_ignorable_error_lets_the_build_go_on(plan_dir):
    # a cloud with a raised max_template_size: accept a big file knowingly
    root = plan_dir({'root.yaml': template(resources=(
        '  v:\n    type: OS::Heat::Value\n    properties: {value: {get_file: big.txt}}\n')),
        'big.txt': 'x' * (600 * 1024)})
    with pytest.raises(errors.LintFailed):
        plan_actions.build_plan(opts(root))
    _src, plan = plan_actions.build_plan(opts(root, ignore=['HP601'], max_body_bytes=0))
    assert len(plan.body['files']['big.txt']) == 600 * 1024


# -- heatplan.yaml lint: ----------------------------------------------------------------

def test_manifest_lint_section_strict_and_ignore_by_path(plan_dir):
    manifest = ('template: root.yaml\nlint:\n  strict: true\n  ignore:\n'
                '    - code: HP305\n      paths: [lib/*]\n')
    root = plan_dir(dict(WARNS, **{'heatplan.yaml': manifest}))
    with pytest.raises(errors.LintFailed) as exc:
        plan_actions.build_plan(plan_actions.PlanOptions(root))
    # HP305 in lib/ is ignored; HP104 in root.yaml is an error (strict)
    assert [(d.code, d.severity, d.path) for d in exc.value.diagnostics] == [
        ('HP104', 'error', 'root.yaml')]
    # the glob matches only where it says
    manifest = ('template: root.yaml\nlint:\n  ignore:\n    - HP104\n'
                '    - {code: undeclared-param, paths: other/*}\n')
    root = plan_dir(dict(WARNS, **{'heatplan.yaml': manifest}), name='p2')
    result = plan_actions.lint_plan(plan_actions.PlanOptions(root))
    assert [d.code for d in result.diagnostics] == ['HP305']
    assert [d.code for d in result.ignored] == ['HP104']
    # and the command line adds to it
    result = plan_actions.lint_plan(plan_actions.PlanOptions(root, strict=True, ignore=['HP305']))
    assert result.diagnostics == []


def test_manifest_lint_section_is_not_part_of_the_digest(plan_dir):
    a = plan_dir(dict(WARNS, **{'heatplan.yaml': 'template: root.yaml\n'}), name='a')
    b = plan_dir(dict(WARNS, **{'heatplan.yaml': 'template: root.yaml\nlint:\n'
                                                 '  ignore: [HP104]\n'}), name='b')
    assert plan_actions.build_plan(plan_actions.PlanOptions(a))[1].digest == \
        plan_actions.build_plan(plan_actions.PlanOptions(b))[1].digest


@pytest.mark.parametrize('section,needle', [
    ('lint: [HP104]\n', 'heatplan.yaml:2:7: error[HP501]: lint must be a mapping'),
    ('lint:\n  strict: maybe\n', 'heatplan.yaml:3:11: error[HP501]: lint: strict must be'),
    ('lint:\n  ignore: HP104\n', 'heatplan.yaml:3:11: error[HP501]: lint: ignore must be'),
    ('lint:\n  ignore: [HP999]\n', "heatplan.yaml:3: unknown lint rule 'HP999'"),
    ('lint:\n  ignore: [HP201]\n', 'cannot be ignored'),
    ('lint:\n  ignore:\n    - {code: HP104, path: x}\n', 'each lint: ignore entry'),
    ('lint:\n  strictly: true\n', "unknown key 'strictly' in lint"),
])
def test_manifest_lint_section_errors_say_where(plan_dir, section, needle):
    root = plan_dir(dict(WARNS, **{'heatplan.yaml': 'template: root.yaml\n' + section}))
    with pytest.raises(errors.PlanError) as exc:
        plan_actions.build_plan(plan_actions.PlanOptions(root))
    assert needle in str(exc.value)


# -- rules with Heat's merge semantics (see tests/functional/test_lint_vs_heat.py) ------

def test_empty_environment_section_is_an_error_and_an_empty_file_a_warning(plan_dir):
    root = plan_dir({'root.yaml': HOT, 'a.yaml': 'resource_registry:\n  # none\n',
                     'b.yaml': '# nothing\n'})
    result = plan_actions.lint_plan(opts(root, environments=['a.yaml', 'b.yaml']))
    assert [(d.path, d.line, d.code, d.severity) for d in result.diagnostics] == [
        ('a.yaml', 1, 'HP401', 'error'), ('b.yaml', 1, 'HP106', 'warning')]


def test_shadowed_parameter_names_both_places(plan_dir):
    root = plan_dir({'root.yaml': template(parameters='  n: {type: number, default: 1}\n'),
                     'env.yaml': 'parameters:\n  n: 3\n'})
    result = plan_actions.lint_plan(opts(root, environments=['env.yaml'], parameters=['n=5']))
    d, = result.diagnostics
    assert (d.path, d.line, d.col, d.code) == ('env.yaml', 2, 3, 'HP405')
    assert 'given by the command line' in d.message and "environment's value" in d.message


# -- every rule, one plan each ----------------------------------------------------------

def _get_file(ref):
    return template(resources=('  v:\n    type: OS::Heat::Value\n'
                               '    properties: {value: {get_file: %s}}\n' % ref))


#: code -> (files, build kwargs); each plan triggers that rule (and maybe others)
TRIGGERS = {
    'HP101': ({'root.yaml': HOT + 'resources: {a: [\n'}, {}),
    'HP102': ({'root.yaml': HOT + 'x: ' + '[' * 20000 + ']' * 20000 + '\n'}, {}),
    'HP103': ({'root.yaml': HOT + 'a: &a [*a]\n'}, {}),
    'HP104': ({'root.yaml': HOT + 'description: a\ndescription: b\n'}, {}),
    'HP105': ({'root.yaml': ''}, {}),
    'HP106': ({'root.yaml': HOT, 'e.yaml': ''}, {'environments': ['e.yaml']}),
    'HP107': ({'root.yaml': '- a\n'}, {}),
    'HP201': ({'root.yaml': _get_file('nope.txt')}, {}),
    'HP202': ({'root.yaml': _get_file('../../etc/passwd')}, {}),
    'HP203': ({'root.yaml': _get_file('latin1.txt'), 'latin1.txt': b'caf\xe9\n'}, {}),
    'HP204': ({'root.yaml': template(resources='  a:\n    type: n.yml\n'), 'n.yml': HOT}, {}),
    'HP205': ({'root.yaml': HOT, 'e.yaml': 'resource_registry:\n  A::B: t.txt\n',
               't.txt': 'x\n'}, {'environments': ['e.yaml']}),
    'HP206': ({'root.yaml': template(resources='  a:\n    type: root.yaml\n')}, {}),
    'HP207': ({'root.yaml': template(resources='  a:\n    type: https://x.example/t.yaml\n')},
              {}),
    'HP208': ({'root.yaml': _get_file('t.yaml'), 't.yaml': HOT + 'a: [\n'}, {}),
    'HP301': ({'root.yaml': 'resources: {}\n'}, {}),
    'HP302': ({'root.yaml': 'heat_template_version: 2099-01-01\n'}, {}),
    'HP303': ({'root.yaml': HOT + 'bogus: 1\n'}, {}),
    'HP304': ({'root.yaml': template(resources='  a: {typ: x}\n')}, {}),
    'HP305': ({'root.yaml': template(resources=(
        '  v:\n    type: OS::Heat::Value\n    properties: {value: {get_param: nope}}\n'))},
        {}),
    'HP306': ({'root.yaml': template(resources=(
        '  v:\n    type: OS::Heat::Value\n    properties: {value: {get_resource: nope}}\n'))},
        {}),
    'HP401': ({'root.yaml': HOT, 'e.yaml': 'bogus: {}\n'}, {'environments': ['e.yaml']}),
    'HP402': ({'root.yaml': HOT, 'e.yaml': 'parameters:\n  nope: 1\n'},
              {'environments': ['e.yaml']}),
    'HP403': ({'root.yaml': template(parameters='  p: {type: string, default: x}\n'),
               'a.yaml': 'parameters:\n  p: y\n', 'b.yaml': 'parameters:\n  nope: 1\n'},
              {'environments': ['a.yaml', 'b.yaml']}),
    'HP404': ({'root.yaml': HOT, 'e.yaml': 'parameter_defaults:\n  nope: 1\n'},
              {'environments': ['e.yaml']}),
    'HP405': ({'root.yaml': template(parameters='  p: {type: string, default: x}\n'),
               'e.yaml': 'parameters:\n  p: y\n'},
              {'environments': ['e.yaml'], 'parameters': ['p=z']}),
    'HP406': ({'root.yaml': HOT}, {'parameters': ['nope=1']}),
    'HP501': ({'root.yaml': HOT, 'plan-environment.yaml': (
        'template: root.yaml\nparameter_defaults: {a: !!python/name:os.system x}\n')},
        {'template': None}),
    'HP502': ({'root.yaml': HOT, 'plan-environment.yaml': 'template: root.yaml\nzork: 1\n'},
              {'template': None}),
    'HP601': ({'root.yaml': _get_file('big.txt'), 'big.txt': 'x' * (513 * 1024)},
              {'max_body_bytes': 0}),
    'HP602': ({'root.yaml': HOT}, {'max_body_bytes': 10}),
}


def test_every_rule_has_a_trigger():
    assert set(TRIGGERS) | {'HP209'} == set(registry.RULES)  # HP209: test_source.py


@pytest.mark.parametrize('code', sorted(TRIGGERS))
def test_each_rule_reports_its_code_and_severity(plan_dir, code):
    files, kw = TRIGGERS[code]
    kw = dict(kw)
    if kw.get('template', 'root.yaml') is None:
        kw.pop('template')
    root = plan_dir(files)
    try:
        diagnostics = plan_actions.lint_plan(opts(root, **kw) if 'template' not in kw else
                                        plan_actions.PlanOptions(root, **kw)).diagnostics
    except errors.PlanError as exc:  # definition files are read before lint runs
        assert '[%s]' % code in str(exc)
        assert SEVERITIES[code] == 'error'
        return
    found = [d for d in diagnostics if d.code == code]
    assert found, [d.format() for d in diagnostics]
    rule = registry.RULES[code]
    assert all((d.severity, d.rule) == (SEVERITIES[code], rule.name) for d in found)
    assert all('[%s]' % code in d.format() for d in found)
