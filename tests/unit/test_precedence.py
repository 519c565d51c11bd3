"""Which parameter value Heat uses (heatplan.plan.precedence); hidden values not given."""

from heatplan.actions import guard
from heatplan.plan import precedence

HOT = 'heat_template_version: 2021-04-16\nparameters:\n  a: {type: string}\n' \
      '  n: {type: number}\n'


def body(params, *envs):
    files = {'e%d.yaml' % i: text for i, text in enumerate(envs)}
    return {'template': HOT, 'parameters': params, 'files': files,
            'environment_files': sorted(files)}


def test_an_environment_parameters_section_shadows_a_given_value():
    b = body({'a': 'x', 'n': 5}, 'parameters:\n  n: 2\n', 'parameter_defaults:\n  a: y\n')
    assert precedence.shadowed(b) == {'n': 'e0.yaml'}


def test_the_last_environment_setting_it_is_named():
    b = body({'n': 5}, 'parameters: {n: 2}\n', 'parameters: {n: 3}\n')
    assert precedence.shadowed(b) == {'n': 'e1.yaml'}


def test_merge_strategies_null_values_and_junk_do_not_shadow():
    b = body({'a': 'x', 'n': 5},
             'parameter_merge_strategies: {default: merge}\nparameters: {a: y}\n',
             'parameters: {n: null}\n', ': not yaml: [\n', '- a list\n')
    assert precedence.shadowed(b) == {}


def test_environment_values_and_declared_names():
    b = body({}, 'parameters: {a: x}\n', 'parameter_defaults: {n: 1, z: null}\n')
    assert precedence.environment_values(b) == {'a', 'n'}
    assert precedence.declared(b) == {'a', 'n'}
    assert precedence.declared({'template': '- not a template\n'}) is None


def test_hidden_values_not_given_are_listed():
    old = {'hidden_parameters': ['a', 'gone']}
    assert guard.hidden_not_given(old, body({})) == ['a']
    assert guard.hidden_not_given(old, body({'a': 's'})) == []
    assert guard.hidden_not_given(old, body({}, 'parameter_defaults: {a: s}\n')) == []
    assert guard.hidden_not_given(None, body({})) == []
