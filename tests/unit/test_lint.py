"""Lint (plan_actions.validate): each check with its file:line:col."""

import pytest
import yaml

from heatplan import errors
from heatplan.actions import plan as plan_actions
from tests.unit.conftest import HOT
from tests.unit.conftest import build
from tests.unit.conftest import find
from tests.unit.conftest import line_col
from tests.unit.conftest import template
from tests.unit.conftest import validate

NONE = template(resources='  n:\n    type: OS::Heat::None\n')


def run(plan_dir, files, **kw):
    """validate a plan whose root is root.yaml; returns the diagnostics."""
    kw.setdefault('template', 'root.yaml')
    return validate(plan_dir(files), **kw)


def one(diags, code):
    found = find(diags, code)
    assert len(found) == 1, [d.format() for d in found]
    return found[0]


def at(d):
    return (d.path, d.line, d.col)


def errors_of(diags):
    return [d for d in diags if d.severity == 'error']


def test_clean_plan_has_no_diagnostics(plan_dir):
    files = {'root.yaml': template(
        parameters='  p: {type: string, default: x}\n',
        resources=('  a:\n    type: OS::Heat::Value\n    properties:\n'
                   '      value: {get_param: p}\n'
                   '  b:\n    type: OS::Heat::Value\n    depends_on: [a]\n    properties:\n'
                   '      value: {get_attr: [a, value]}\n'
                   '  c:\n    type: OS::Heat::None\n    depends_on: b\n'),
        outputs=('  o:\n    value: {get_resource: c}\n'
                 '  n:\n    value: {get_param: OS::stack_name}\n'))}
    assert run(plan_dir, files) == []


def test_yaml_syntax_error(plan_dir):
    text = HOT + 'resources:\n  a: [1, 2\n  b: x\n'
    d = one(run(plan_dir, {'root.yaml': text}), 'yaml-syntax')
    assert d.severity == 'error'
    assert d.path == 'root.yaml' and d.line >= 3 and d.col >= 1
    assert d.message.startswith('YAML syntax error')


def test_yaml_syntax_error_in_environment(plan_dir):
    diags = run(plan_dir, {'root.yaml': NONE, 'env.yaml': 'parameter_defaults:\n  a: "x\n'},
                environments=['env.yaml'])
    d = one(diags, 'yaml-syntax')
    assert d.path == 'env.yaml' and d.line >= 2


def test_tab_indentation_is_a_syntax_error(plan_dir):
    text = HOT + 'resources:\n\tn:\n    type: OS::Heat::None\n'
    d = one(run(plan_dir, {'root.yaml': text}), 'yaml-syntax')
    assert at(d) == ('root.yaml', 3, 1)


def test_tab_indentation_error_says_tabs(plan_dir):
    text = HOT + 'resources:\n\tn:\n    type: OS::Heat::None\n'
    d = one(run(plan_dir, {'root.yaml': text}), 'yaml-syntax')
    assert 'tab' in d.message


def test_duplicate_keys_at_every_level(plan_dir):
    text = (HOT +
            'description: one\n'
            'resources:\n'
            '  a:\n'
            '    type: OS::Heat::Value\n'
            '    properties:\n'
            '      value: {x: 1, y: 2, x: 3}\n'
            '    type: OS::Heat::None\n'
            '  list:\n'
            '    type: OS::Heat::Value\n'
            '    properties:\n'
            '      value:\n'
            '        - {k: 1, k: 2}\n'
            'description: two\n')
    diags = run(plan_dir, {'root.yaml': text})
    dups = find(diags, 'duplicate-key')
    # reported where a key is ignored (every occurrence but the last), naming
    # the occurrence Heat uses; Heat accepts the file, so a warning
    got = sorted((d.line, d.col, d.message.split("'")[1]) for d in dups)
    assert got == [(2, 1, 'description'), (5, 5, 'type'), (7, 15, 'x'), (13, 12, 'k')]
    first = [d for d in dups if d.line == 2][0]
    assert 'last occurrence (line 14)' in first.message
    assert all((d.severity, d.code) == ('warning', 'HP104') for d in dups)
    # and build goes on with them, sending what PyYAML reads (the last one)
    plan = build(plan_dir({'root.yaml': text}, name='b'), template='root.yaml')
    assert yaml.safe_load(plan.body['template'])['description'] == 'two'


def test_duplicate_keys_in_environment(plan_dir):
    env = 'parameter_defaults:\n  a: 1\n  b: 2\n  a: 3\n'
    files = {'root.yaml': template(parameters='  a: {type: number}\n  b: {type: number}\n'),
             'env.yaml': env}
    d = one(run(plan_dir, files, environments=['env.yaml']), 'duplicate-key')
    assert at(d) == ('env.yaml', 2, 3)
    assert d.severity == 'warning'


def test_missing_reference_targets(plan_dir):
    text = template(resources='  n:\n    type: nested/none.yaml\n')
    d = one(run(plan_dir, {'root.yaml': text}), 'missing')
    assert at(d) == ('root.yaml', 4, 11)


def test_yml_type(plan_dir):
    text = template(resources='  n:\n    type: nested.yml\n')
    d = one(run(plan_dir, {'root.yaml': text, 'nested.yml': NONE}), 'yml-type')
    assert at(d) == ('root.yaml', 4, 11)
    assert 'nested.yml' in d.message


def test_cycle(plan_dir):
    files = {'root.yaml': template(resources='  a:\n    type: a.yaml\n'),
             'a.yaml': template(resources='  b:\n    type: b.yaml\n'),
             'b.yaml': template(resources='  a:\n    type: a.yaml\n')}
    d = one(run(plan_dir, files), 'cycle')
    assert at(d) == ('b.yaml', 4, 11)
    assert 'a.yaml -> b.yaml -> a.yaml' in d.message


def test_missing_heat_template_version(plan_dir):
    d = one(run(plan_dir, {'root.yaml': 'resources: {}\n'}), 'not-a-template')
    assert at(d) == ('root.yaml', 1, 1)
    assert (d.code, d.severity) == ('HP301', 'error')
    assert 'no heat_template_version' in d.message


def test_nested_template_without_version_is_a_warning(plan_dir):
    # Heat loads a nested template only where a resource uses it
    files = {'root.yaml': template(resources='  a:\n    type: n.yaml\n'),
             'n.yaml': 'resources: {}\n'}
    d = one(run(plan_dir, files), 'version')
    assert (d.path, d.code, d.severity) == ('n.yaml', 'HP302', 'warning')


@pytest.mark.parametrize('version', ['2099-01-01', 'banana', "'2013-05-24'"])
def test_unknown_heat_template_version(plan_dir, version):
    text = '# c\nheat_template_version: %s\n' % version
    d = one(run(plan_dir, {'root.yaml': text}), 'version')
    assert at(d) == ('root.yaml', 2, 24)
    assert version.strip("'") in d.message


@pytest.mark.parametrize('version', ['2013-05-23', '2021-04-16', 'wallaby', '"2018-08-31"'])
def test_known_heat_template_versions(plan_dir, version):
    text = 'heat_template_version: %s\n' % version
    assert run(plan_dir, {'root.yaml': text}) == []


def test_version_in_nested_template_is_checked(plan_dir):
    files = {'root.yaml': template(resources='  a:\n    type: sub/a.yaml\n'),
             'sub/a.yaml': 'heat_template_version: 1999-01-01\n'}
    d = one(run(plan_dir, files), 'version')
    assert at(d) == ('sub/a.yaml', 1, 24)


def test_unknown_template_section(plan_dir):
    text = HOT + 'resource:\n  a:\n    type: OS::Heat::None\n'
    d = one(run(plan_dir, {'root.yaml': text}), 'section')
    assert at(d) == ('root.yaml', 2, 1)
    assert "'resource'" in d.message


def test_cfn_template(plan_dir):
    text = ('HeatTemplateFormatVersion: 2012-12-12\nResources: {}\nresources: {}\n')
    d = one(run(plan_dir, {'root.yaml': text}), 'section')
    assert at(d) == ('root.yaml', 3, 1)
    assert 'version' not in [x.code for x in run(plan_dir, {'root.yaml': text})]


def test_unknown_environment_section(plan_dir):
    env = 'parameter_defaults: {}\nresource_registy:\n  X::Y: OS::Heat::None\n'
    d = one(run(plan_dir, {'root.yaml': NONE, 'env.yaml': env}, environments=['env.yaml']),
            'env-section')
    assert at(d) == ('env.yaml', 2, 1)
    assert "'resource_registy'" in d.message


def test_resource_keywords(plan_dir):
    text = template(resources=('  a:\n    type: OS::Heat::None\n    propertes: {}\n'
                               '  b:\n    properties: {}\n'))
    diags = run(plan_dir, {'root.yaml': text})
    got = sorted((d.line, d.col, d.severity) for d in diags if d.rule == 'resource')
    assert got == [(5, 5, 'warning'), (7, 5, 'warning')]


def test_environment_parameters_not_declared_by_root(plan_dir):
    files = {'root.yaml': template(
        parameters='  known: {type: string}\n',
        resources='  n:\n    type: nested.yaml\n'),
        'nested.yaml': template(parameters='  nested_only: {type: string}\n'),
        'env.yaml': 'parameters:\n  known: a\n  nested_only: b\n'}
    d = one(run(plan_dir, files, environments=['env.yaml']), 'env-param')
    assert d.severity == 'error'
    assert at(d) == ('env.yaml', 3, 3)
    assert "'nested_only'" in d.message


def test_parameter_defaults_declared_by_no_template(plan_dir):
    files = {'root.yaml': template(
        parameters='  known: {type: string}\n',
        resources='  n:\n    type: nested.yaml\n'),
        'nested.yaml': template(parameters='  nested_only: {type: string}\n'),
        'first.yaml': 'parameter_defaults:\n  nested_only: 1\n  typo_first: 2\n',
        'second.yaml': 'parameter_defaults:\n  known: 1\n  typo_second: 2\n'}
    diags = run(plan_dir, files, environments=['first.yaml', 'second.yaml'])
    assert errors_of(diags) == []                      # warnings only
    unused = find(diags, 'unused-default')
    assert [(at(d), d.severity) for d in unused] == [
        (('first.yaml', 3, 3), 'warning'), (('second.yaml', 3, 3), 'warning')]
    assert "'typo_first'" in unused[0].message and 'second environment' not in unused[0].message
    assert "'typo_second'" in unused[1].message and 'second environment' in unused[1].message


@pytest.mark.parametrize('snippet,name,needle', [
    ('{get_resource: nope}', 'nope', 'nope}'),
    ('{get_attr: [gone, value]}', 'gone', 'gone,'),
    ('{get_attr: [a, value]}', None, None),
])
def test_get_resource_and_get_attr(plan_dir, snippet, name, needle):
    text = template(resources=(
        '  a:\n    type: OS::Heat::Value\n    properties:\n      value: 1\n'
        '  b:\n    type: OS::Heat::Value\n    properties:\n      value: %s\n' % snippet))
    diags = run(plan_dir, {'root.yaml': text})
    if name is None:
        assert diags == []
        return
    d = one(diags, 'undefined-resource')
    assert at(d) == ('root.yaml',) + line_col(text, needle)
    assert repr(name) in d.message


@pytest.mark.parametrize('deps', ['missing', '[a, missing]'])
def test_depends_on_undefined(plan_dir, deps):
    text = template(resources=(
        '  a:\n    type: OS::Heat::None\n'
        '  b:\n    type: OS::Heat::None\n    depends_on: %s\n' % deps))
    d = one(run(plan_dir, {'root.yaml': text}), 'undefined-resource')
    assert at(d) == ('root.yaml',) + line_col(text, 'missing')
    assert 'depends_on' in d.message


def test_get_param_undeclared(plan_dir):
    text = template(
        parameters='  p: {type: json}\n',
        resources=(
            '  a:\n    type: OS::Heat::Value\n    properties:\n'
            '      value: [{get_param: p}, {get_param: [p, k]}, {get_param: OS::stack_name},\n'
            '              {get_param: OS::stack_id}, {get_param: OS::project_id},\n'
            '              {get_param: [undeclared, k]}]\n'))
    d = one(run(plan_dir, {'root.yaml': text}), 'undeclared-param')
    assert at(d) == ('root.yaml',) + line_col(text, 'undeclared')
    assert "'undeclared'" in d.message


def test_get_param_checked_per_template(plan_dir):
    files = {'root.yaml': template(parameters='  p: {type: string}\n',
                                   resources='  n:\n    type: n.yaml\n'),
             'n.yaml': template(outputs='  o:\n    value: {get_param: p}\n')}
    d = one(run(plan_dir, files), 'undeclared-param')
    assert at(d) == ('n.yaml', 4, 24)


def test_inline_stack_template_is_not_checked_against_the_outer_one(plan_dir):
    text = template(resources=(
        '  s:\n    type: OS::Heat::Stack\n    properties:\n'
        '      template:\n'
        '        heat_template_version: 2021-04-16\n'
        '        parameters: {inner: {type: string}}\n'
        '        resources:\n'
        '          r: {type: OS::Heat::Value, properties: {value: {get_param: inner}}}\n'
        '        outputs: {o: {value: {get_attr: [r, value]}}}\n'))
    assert run(plan_dir, {'root.yaml': text}) == []


def test_file_over_512_kib(plan_dir):
    text = template(resources=(
        '  s:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: big.sh}\n'))
    files = {'root.yaml': text, 'big.sh': 'x' * (512 * 1024 + 1),
             'ok.sh': 'x' * (512 * 1024)}
    d = one(run(plan_dir, files), 'file-size')
    assert d.path == 'big.sh' and d.severity == 'error'
    assert str(512 * 1024 + 1) in d.message
    files['root.yaml'] = text.replace('big.sh', 'ok.sh')
    assert run(plan_dir, files) == []


def test_body_over_max_body_bytes(plan_dir):
    text = template(resources=(
        '  s:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: data.txt}\n'))
    root = plan_dir({'root.yaml': text, 'data.txt': 'd' * 5000})
    size = build(root, template='root.yaml').body_size
    d = one(validate(root, template='root.yaml', max_body_bytes=size - 1), 'body-size')
    assert d.severity == 'error' and str(size) in d.message
    assert validate(root, template='root.yaml', max_body_bytes=size) == []
    assert validate(root, template='root.yaml', max_body_bytes=0) == []
    with pytest.raises(errors.LintFailed) as exc:
        build(root, template='root.yaml', max_body_bytes=size - 1)
    assert 'request body is %d bytes' % size in str(exc.value)


def test_default_body_limit_is_one_mib(plan_dir):
    text = template(resources=''.join(
        '  s%d:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: d%d.txt}\n' % (i, i) for i in range(3)))
    files = {'root.yaml': text}
    for i in range(3):
        files['d%d.txt' % i] = 'd' * (400 * 1024)
    d = one(run(plan_dir, files), 'body-size')
    assert '1048576' in d.message


def _bomb(levels, width=10):
    out = ['  l0: &l0 [lol]\n']
    for i in range(1, levels):
        out.append('  l%d: &l%d [%s]\n' % (i, i, ', '.join(['*l%d' % (i - 1)] * width)))
    return ''.join(out)


def test_alias_bomb(plan_dir):
    text = HOT + 'description: x\nparameters:\n  p:\n    type: json\n    default:\n' + ''.join(
        '    ' + line for line in _bomb(9).splitlines(True))
    diags = run(plan_dir, {'root.yaml': text})
    d = one(diags, 'yaml-alias')
    assert d.path == 'root.yaml' and d.severity == 'error'
    assert 'alias bomb' in d.message


def test_alias_bomb_in_environment(plan_dir):
    env = 'parameter_defaults:\n  p:\n' + ''.join(
        '  ' + line for line in _bomb(9).splitlines(True))
    files = {'root.yaml': template(parameters='  p: {type: json}\n'), 'env.yaml': env}
    d = one(run(plan_dir, files, environments=['env.yaml']), 'yaml-alias')
    assert d.path == 'env.yaml'


def test_small_aliases_are_fine(plan_dir):
    text = template(resources=(
        '  a:\n    type: OS::Heat::Value\n    properties: &props\n      value: 1\n'
        '  b:\n    type: OS::Heat::Value\n    properties: *props\n'))
    assert run(plan_dir, {'root.yaml': text}) == []


def test_recursive_alias(plan_dir):
    text = HOT + 'description: &d [a, *d]\n'
    d = one(run(plan_dir, {'root.yaml': text}), 'yaml-alias')
    assert d.path == 'root.yaml' and 'recursive' in d.message


@pytest.mark.parametrize('shape', ['flow-list', 'flow-map', 'block-list'])
def test_very_deep_nesting_does_not_crash(plan_dir, shape):
    depth = 10000
    if shape == 'flow-list':
        value = '[' * depth + ']' * depth
    elif shape == 'flow-map':
        value = '{a: ' * depth + '1' + '}' * depth
    else:
        value = '\n  ' + '- ' * depth + 'x'
    text = HOT + 'description: ' + value + '\n'
    diags = run(plan_dir, {'root.yaml': text})    # must not raise
    for d in errors_of(diags):
        assert d.path == 'root.yaml'


def test_non_mapping_template(plan_dir):
    d = one(run(plan_dir, {'root.yaml': '- heat_template_version: 2021-04-16\n'}),
            'not-mapping')
    assert at(d) == ('root.yaml', 1, 1)


def test_scalar_environment(plan_dir):
    d = one(run(plan_dir, {'root.yaml': NONE, 'env.yaml': 'just text\n'},
                environments=['env.yaml']), 'not-mapping')
    assert d.path == 'env.yaml'


def test_empty_template(plan_dir):
    d = one(run(plan_dir, {'root.yaml': '# nothing\n'}), 'empty')
    assert d.path == 'root.yaml'


def test_diagnostics_are_sorted_and_all_reported(plan_dir):
    files = {'root.yaml': template(resources=(
        '  a:\n    type: z.yaml\n  b:\n    type: a.yml\n  c:\n    type: OS::Heat::None\n'
        '    depends_on: nope\n')),
        'env.yaml': 'parameters:\n  undeclared: 1\nbogus: 1\n'}
    diags = run(plan_dir, files, environments=['env.yaml'])
    assert [d.sort_key() for d in diags] == sorted(d.sort_key() for d in diags)
    assert sorted((d.rule, d.severity) for d in diags) == sorted(
        [('missing', 'error'), ('yml-type', 'error'), ('undefined-resource', 'warning'),
         ('env-param', 'error'), ('env-section', 'error')])


def test_validate_returns_warnings_only_for_remote_refs(plan_dir):
    text = template(resources='  a:\n    type: https://example.com/t.yaml\n')
    diags = run(plan_dir, {'root.yaml': text})
    assert [(d.rule, d.code, d.severity) for d in diags] == [('remote', 'HP207', 'warning')]


def test_build_refuses_any_lint_error(plan_dir):
    root = plan_dir({'root.yaml': template(resources='  a:\n    type: a.yml\n')})
    with pytest.raises(errors.LintFailed) as exc:
        plan_actions.build_plan(plan_actions.PlanOptions(root, template='root.yaml'))
    assert "root.yaml:4:11: error[HP204]: type 'a.yml' ends in .yml" in str(exc.value)
    assert exc.value.exit_code == errors.ExitCode.PLAN_INVALID
    assert [d.rule for d in exc.value.diagnostics] == ['yml-type']


def test_build_goes_on_with_warnings_only(plan_dir):
    # an unknown section is for Heat's validate to judge: a warning
    root = plan_dir({'root.yaml': HOT + 'bogus: 1\n'})
    _src, plan = plan_actions.build_plan(plan_actions.PlanOptions(root, template='root.yaml'))
    assert [(d.code, d.severity) for d in plan.diagnostics] == [('HP303', 'warning')]
