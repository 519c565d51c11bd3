"""The plan definition: flags > heatplan.yaml > plan-environment.yaml."""

import os

import pytest
import yaml

from heatplan import errors
from heatplan.plan import definition
from heatplan.plan import source
from tests.unit.conftest import HOT
from tests.unit.conftest import build
from tests.unit.conftest import template
from tests.unit.conftest import validate

GENERATED = 'heatplan://generated/plan-environment.yaml/parameter_defaults.yaml'

ROOT = template(parameters=(
    '  name: {type: string, default: x}\n'
    '  count: {type: number, default: 1}\n'
    '  flavor: {type: string, default: small}\n'
    '  user_data: {type: string, default: ""}\n'))

BASE = {
    'root.yaml': ROOT,
    'other.yaml': ROOT,
    'env/a.yaml': 'parameter_defaults:\n  name: from-a\n',
    'env/b.yaml': 'parameter_defaults:\n  name: from-b\n',
    'env/c.yaml': 'parameter_defaults:\n  name: from-c\n',
    'data/user.txt': 'line one\nline two\n',
}

MANIFEST = (
    '# the plan\n'
    'template: root.yaml\n'
    'environments:\n'
    '  - env/a.yaml\n'
    '  - env/b.yaml\n'
    'parameters:\n'
    '  name: manifest\n'
    '  count: 2\n')

TRIPLEO = (
    'version: 1.0\n'
    'name: overcloud\n'
    'template: other.yaml\n'
    'environments:\n'
    '  - path: env/c.yaml\n'
    '  - path: env/a.yaml\n'
    'parameter_defaults:\n'
    '  flavor: large\n'
    '  count: 3\n')


def load(root, **kw):
    return definition.load_definition(source.open_source(root), **kw)


def test_flags_only(plan_dir):
    root = plan_dir(BASE)
    d = load(root, template='root.yaml', environments=['env/b.yaml', 'env/a.yaml'],
             parameters=['name=flag', 'flavor=a=b'])
    assert d.template == 'root.yaml'
    assert d.environments == ['env/b.yaml', 'env/a.yaml']
    assert d.parameters == {'name': 'flag', 'flavor': 'a=b'}
    assert d.origin == 'flags'
    plan = build(root, template='root.yaml', environments=['env/b.yaml', 'env/a.yaml'],
                 parameters=['name=flag'])
    assert plan.body['environment_files'] == ['env/b.yaml', 'env/a.yaml']
    assert plan.body['parameters'] == {'name': 'flag'}


def test_manifest_when_no_flags(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': MANIFEST}))
    d = load(root)
    assert d.origin == 'heatplan.yaml'
    assert d.template == 'root.yaml'
    assert d.environments == ['env/a.yaml', 'env/b.yaml']
    assert d.parameters == {'name': 'manifest', 'count': 2}  # typed YAML values
    plan = build(root)
    assert plan.body['template'] == ROOT
    assert plan.body['environment_files'] == ['env/a.yaml', 'env/b.yaml']
    assert plan.body['parameters'] == {'name': 'manifest', 'count': 2}


def test_flags_override_manifest_field_by_field(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': MANIFEST}))
    d = load(root, template='other.yaml', environments=['env/c.yaml'],
             parameters=['name=flag', 'flavor=big'])
    assert d.template == 'other.yaml'
    assert d.environments == ['env/c.yaml']                      # -e replaces the list
    assert d.parameters == {'name': 'flag', 'count': 2, 'flavor': 'big'}  # merged
    assert d.origin == 'flags+heatplan.yaml'
    # a flag for one field leaves the others to the manifest
    d = load(root, parameters=['flavor=big'])
    assert d.template == 'root.yaml'
    assert d.environments == ['env/a.yaml', 'env/b.yaml']
    assert d.parameters == {'name': 'manifest', 'count': 2, 'flavor': 'big'}


def test_manifest_wins_over_tripleo_plan_environment(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': MANIFEST,
                                  'plan-environment.yaml': TRIPLEO}))
    d = load(root)
    assert d.origin == 'heatplan.yaml'
    assert d.template == 'root.yaml'
    assert d.environments == ['env/a.yaml', 'env/b.yaml']
    assert d.plan_environment is None
    plan = build(root)
    assert plan.body['environment_files'] == ['env/a.yaml', 'env/b.yaml']
    assert not any(k.startswith('heatplan://generated/') for k in plan.body['files'])


def test_tripleo_plan_environment(plan_dir):
    root = plan_dir(dict(BASE, **{'plan-environment.yaml': TRIPLEO}))
    d = load(root)
    assert d.origin == 'plan-environment.yaml'
    assert d.template == 'other.yaml'
    assert d.environments == ['env/c.yaml', 'env/a.yaml']
    assert d.plan_environment == 'plan-environment.yaml'
    assert d.all_environments() == ['env/c.yaml', 'env/a.yaml', GENERATED]
    plan = build(root)
    envs = plan.body['environment_files']
    assert envs[:2] == ['env/c.yaml', 'env/a.yaml']
    assert envs[-1].startswith('heatplan://generated/')      # merged last: it wins
    assert envs[-1] == GENERATED
    generated = yaml.safe_load(plan.body['files'][GENERATED])
    assert generated == {'parameter_defaults': {'flavor': 'large', 'count': 3}}
    assert plan.body['template'] == ROOT
    assert plan.manifest['generated'][GENERATED]['from'] == 'plan-environment.yaml'


def test_flags_override_tripleo(plan_dir):
    root = plan_dir(dict(BASE, **{'plan-environment.yaml': TRIPLEO}))
    d = load(root, template='root.yaml', environments=['env/b.yaml'])
    assert d.template == 'root.yaml'
    assert d.environments == ['env/b.yaml']
    assert d.origin == 'flags+plan-environment.yaml'
    # the plan environment's parameter_defaults still come last
    assert d.all_environments() == ['env/b.yaml', GENERATED]


def test_tripleo_without_parameter_defaults_generates_nothing(plan_dir):
    root = plan_dir(dict(BASE, **{'plan-environment.yaml':
                                  'template: root.yaml\nenvironments:\n  - path: env/a.yaml\n'}))
    d = load(root)
    assert d.plan_environment is None
    assert d.all_environments() == ['env/a.yaml']


def test_tripleo_inline_environment_data_is_a_generated_environment(plan_dir):
    # tripleoclient writes an inline "data" environment to a file in its place
    # in the list; heatplan makes it a generated environment there.
    root = plan_dir(dict(BASE, **{'plan-environment.yaml': (
        'template: root.yaml\nenvironments:\n  - path: env/a.yaml\n'
        '  - data:\n      parameter_defaults: {name: inline, count: 7}\n'
        '  - path: env/b.yaml\n')}))
    inline = 'heatplan://generated/plan-environment.yaml/environments/1.yaml'
    plan = build(root)
    assert plan.body['environment_files'] == ['env/a.yaml', inline, 'env/b.yaml']
    assert yaml.safe_load(plan.body['files'][inline]) == {
        'parameter_defaults': {'name': 'inline', 'count': 7}}
    assert plan.manifest['generated'][inline]['section'] == 'environments'
    # the data is part of the digest
    other = plan_dir(dict(BASE, **{'plan-environment.yaml': (
        'template: root.yaml\nenvironments:\n  - path: env/a.yaml\n'
        '  - data:\n      parameter_defaults: {name: inline, count: 8}\n'
        '  - path: env/b.yaml\n')}), name='other')
    assert build(other).digest != plan.digest


def test_tripleo_environment_entry_neither_path_nor_data(plan_dir):
    root = plan_dir(dict(BASE, **{'plan-environment.yaml': (
        'template: root.yaml\nenvironments:\n  - {x: 1}\n  - data: [1]\n')}))
    with pytest.raises(errors.PlanError) as exc:
        load(root)
    assert 'plan-environment.yaml:3:5' in str(exc.value)
    assert '{data: {...}}' in str(exc.value)


def test_tripleo_duplicate_keys_warn_and_the_last_wins(plan_dir):
    # tripleoclient reads plan-environment.yaml with PyYAML: the last key wins
    root = plan_dir(dict(BASE, **{'plan-environment.yaml': (
        'template: root.yaml\nparameter_defaults:\n  name: first\n  name: second\n')}))
    d = load(root)
    assert [(w.code, w.line, w.severity) for w in d.diagnostics] == [('HP104', 4, 'warning')]
    plan = build(root)
    assert yaml.safe_load(plan.body['files'][GENERATED]) == {
        'parameter_defaults': {'name': 'second'}}


def test_tripleo_passwords_and_unknown_keys_warn(plan_dir):
    root = plan_dir(dict(BASE, **{'plan-environment.yaml': (
        'template: root.yaml\npasswords:\n  AdminPassword: x\nfrobnicate: 1\n')}))
    d = load(root)
    warnings = {(w.line, w.severity) for w in d.diagnostics}
    assert warnings == {(2, 'warning'), (4, 'warning')}
    assert any('passwords' in w.message for w in d.diagnostics)
    assert any("'frobnicate'" in w.message for w in d.diagnostics)


def test_unknown_manifest_key_names_line_and_column(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': 'template: root.yaml\n\n  # c\nenvironment:\n'
                                                   '  - env/a.yaml\n'}))
    with pytest.raises(errors.PlanError) as exc:
        load(root)
    assert str(exc.value).startswith(
        "heatplan.yaml:4:1: error[HP501]: unknown key 'environment' in the plan manifest")
    assert 'environments' in str(exc.value)   # the hint lists the known keys


@pytest.mark.parametrize('text,where', [
    ('template: [a, b]\n', 'heatplan.yaml:1:11'),
    ('template: root.yaml\nenvironments: env/a.yaml\n', 'heatplan.yaml:2:15'),
    ('template: root.yaml\nenvironments:\n  - {x: 1}\n', 'heatplan.yaml:3:5'),
    ('template: root.yaml\nparameters: [a]\n', 'heatplan.yaml:2:13'),
    ('template: root.yaml\nparameter_files:\n  a: [x]\n', 'heatplan.yaml:3:6'),
])
def test_malformed_manifest_values(plan_dir, text, where):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': text}))
    with pytest.raises(errors.PlanError) as exc:
        load(root)
    assert str(exc.value).startswith(where + ': error[HP501]:')


def test_manifest_yaml_syntax_error(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': 'template: root.yaml\nenvironments: [a\n'}))
    with pytest.raises(errors.PlanError) as exc:
        load(root)
    assert str(exc.value).startswith('heatplan.yaml:')
    assert 'YAML syntax error' in str(exc.value)


def test_manifest_must_be_a_mapping(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': '- root.yaml\n'}))
    with pytest.raises(errors.PlanError) as exc:
        load(root)
    assert 'heatplan.yaml' in str(exc.value) and 'mapping' in str(exc.value)


def test_missing_template_in_manifest(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': 'template: nope/missing.yaml\n'}))
    with pytest.raises(errors.SourceError) as exc:
        load(root)
    assert 'nope/missing.yaml' in str(exc.value)


def test_missing_template_flag(plan_dir):
    root = plan_dir(BASE)
    with pytest.raises(errors.SourceError) as exc:
        load(root, template='missing.yaml')
    assert 'missing.yaml' in str(exc.value)


def test_missing_environment(plan_dir):
    root = plan_dir(BASE)
    with pytest.raises(errors.SourceError) as exc:
        load(root, template='root.yaml', environments=['env/zzz.yaml'])
    assert 'env/zzz.yaml' in str(exc.value)


def test_no_template_anywhere(plan_dir):
    root = plan_dir(BASE)
    with pytest.raises(errors.PlanError) as exc:
        load(root)
    assert 'no root template' in str(exc.value)
    assert exc.value.exit_code == errors.ExitCode.PLAN_INVALID


@pytest.mark.parametrize('envs', [['env/a.yaml', 'env/a.yaml'],
                                  ['env/a.yaml', './env/a.yaml'],
                                  ['env/a.yaml', 'env/../env/a.yaml']])
def test_duplicate_environment_flags(plan_dir, envs):
    root = plan_dir(BASE)
    with pytest.raises(errors.PlanError) as exc:
        load(root, template='root.yaml', environments=envs)
    assert 'environment env/a.yaml is listed twice' in str(exc.value)


def test_duplicate_environment_in_manifest(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': (
        'template: root.yaml\nenvironments:\n  - env/a.yaml\n  - env/b.yaml\n'
        '  - ./env/a.yaml\n')}))
    with pytest.raises(errors.PlanError) as exc:
        load(root)
    assert 'env/a.yaml is listed twice' in str(exc.value)


def test_duplicate_environment_in_tripleo(plan_dir):
    root = plan_dir(dict(BASE, **{'plan-environment.yaml': (
        'template: root.yaml\nenvironments:\n  - path: env/a.yaml\n  - path: env/a.yaml\n')}))
    with pytest.raises(errors.PlanError) as exc:
        load(root)
    assert 'env/a.yaml is listed twice' in str(exc.value)


@pytest.mark.parametrize('bad', ['novalue', '=value'])
def test_parameter_flag_must_be_key_value(plan_dir, bad):
    root = plan_dir(BASE)
    with pytest.raises(errors.UsageError) as exc:
        load(root, template='root.yaml', parameters=[bad])
    assert 'expects KEY=VALUE' in str(exc.value)
    assert 'value' not in str(exc.value).replace('KEY=VALUE', '').replace('a value', '')
    assert exc.value.exit_code == errors.ExitCode.USAGE


def test_parameter_file(plan_dir):
    root = plan_dir(BASE)
    plan = build(root, template='root.yaml', parameter_files=['user_data=data/user.txt'])
    assert plan.body['parameters'] == {'user_data': 'line one\nline two\n'}
    assert plan.manifest['parameter_files'] == {'user_data': 'data/user.txt'}


def test_parameter_file_in_manifest(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': (
        'template: root.yaml\nparameter_files:\n  user_data: data/user.txt\n')}))
    plan = build(root)
    assert plan.body['parameters'] == {'user_data': 'line one\nline two\n'}


def test_parameter_given_as_value_and_file(plan_dir):
    root = plan_dir(BASE)
    with pytest.raises(errors.UsageError) as exc:
        load(root, template='root.yaml', parameters=['user_data=x'],
             parameter_files=['user_data=data/user.txt'])
    assert "'user_data'" in str(exc.value)


def test_template_flag_relative_to_cwd_inside_plan(plan_dir, tmp_path, monkeypatch):
    root = plan_dir(BASE)
    monkeypatch.chdir(tmp_path)
    d = load(root, template='plan/root.yaml', environments=[os.path.join(root, 'env/a.yaml')])
    assert d.template == 'root.yaml'
    assert d.environments == ['env/a.yaml']


def test_template_flag_outside_the_plan(plan_dir, tmp_path):
    root = plan_dir(BASE)
    outside = tmp_path / 'outside.yaml'
    outside.write_text(HOT)
    with pytest.raises(errors.ConfinementError) as exc:
        load(root, template=str(outside))
    assert str(outside) in str(exc.value)
    with pytest.raises(errors.ConfinementError) as exc:
        load(root, template='../outside.yaml')
    assert 'outside.yaml' in str(exc.value)


def test_manifest_path_outside_the_plan(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': 'template: /etc/passwd\n'}))
    with pytest.raises(errors.ConfinementError) as exc:
        load(root)
    assert '/etc/passwd' in str(exc.value)


def test_archive_template_flag_absolute_is_refused(tmp_path):
    from tests.unit.conftest import tar_bytes
    from tests.unit.conftest import write_bytes

    arc = write_bytes(tmp_path / 'p.tar', tar_bytes({'root.yaml': HOT}))
    with pytest.raises(errors.ConfinementError):
        load(arc, template='/root.yaml')
    assert load(arc, template='./root.yaml').template == 'root.yaml'


def test_request_parameter_not_declared_by_root(plan_dir):
    root = plan_dir(BASE)
    diags = validate(root, template='root.yaml', parameters=['nosuch=1'])
    errs = [d for d in diags if d.severity == 'error']
    assert [d.code for d in errs] == ['HP406']
    assert "'nosuch'" in errs[0].message and errs[0].path == 'root.yaml'


def test_manifest_parameter_that_yaml_reads_as_a_date(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': 'template: root.yaml\nparameters:\n'
                                                   '  name: 2021-04-16\n'}))
    try:
        plan = build(root)
    except errors.HeatplanError:
        return   # refusing it with a clear error is acceptable too
    assert plan.body['parameters']['name'] in ('2021-04-16',)


def _bomb(indent, levels, width=10):
    lines = ['%sl0: &l0 [lol]\n' % indent]
    for i in range(1, levels):
        lines.append('%sl%d: &l%d [%s]\n' % (indent, i, i, ', '.join(['*l%d' % (i - 1)] * width)))
    return ''.join(lines)


def test_alias_bomb_in_manifest_parameters(plan_dir):
    root = plan_dir(dict(BASE, **{'heatplan.yaml': (
        'template: root.yaml\nparameters:\n  name:\n' + _bomb('    ', 7))}))
    try:
        diags = validate(root)
    except errors.HeatplanError as exc:
        assert 'heatplan.yaml' in str(exc)
        return
    errs = [d for d in diags if d.severity == 'error']
    assert errs and all(d.path == 'heatplan.yaml' for d in errs), [d.format() for d in errs]


def test_alias_bomb_in_tripleo_parameter_defaults(plan_dir):
    root = plan_dir(dict(BASE, **{'plan-environment.yaml': (
        'template: root.yaml\nparameter_defaults:\n  name:\n' + _bomb('    ', 9))}))
    try:
        diags = validate(root)
    except errors.HeatplanError as exc:
        assert 'plan-environment.yaml' in str(exc)
        return
    errs = [d for d in diags if d.severity == 'error']
    assert errs, 'alias bomb not reported'


def test_template_flag_as_file_url_inside_the_plan(plan_dir):
    root = plan_dir(BASE)
    d = load(root, template='file://' + os.path.join(root, 'root.yaml'))
    assert d.template == 'root.yaml'


SECRET_ROOT = template(parameters='  pw: {type: string, hidden: true}\n  name: {type: string}\n')


def test_hidden_parameters_are_masked_in_the_manifest(plan_dir):
    root = plan_dir({'root.yaml': SECRET_ROOT})
    plan = build(root, template='root.yaml', parameters=['pw=s3cret', 'name=n'])
    assert plan.body['parameters'] == {'pw': 's3cret', 'name': 'n'}   # Heat needs the value
    assert plan.manifest['parameters'] == {'pw': '******', 'name': 'n'}
    assert plan.manifest['hidden_parameters'] == ['pw']
    assert not any('s3cret' in text for text in plan.body['files'].values())


def test_hidden_parameter_from_manifest_is_not_stored_in_files(plan_dir):
    root = plan_dir({'root.yaml': SECRET_ROOT,
                     'heatplan.yaml': 'template: root.yaml\nparameters:\n  pw: s3cret\n'})
    plan = build(root)
    assert plan.manifest['parameters']['pw'] == '******'
    leaked = [k for k, text in plan.body['files'].items() if 's3cret' in text]
    assert leaked == []


def test_tripleo_inline_environments_with_overrides_are_not_packaged_lossily(plan_dir, tmp_path):
    from heatplan.actions import plan as actions

    root = plan_dir(dict(BASE, **{'plan-environment.yaml': (
        'template: root.yaml\nenvironments:\n  - data:\n      parameter_defaults: {name: x}\n')}))
    # without overrides the plan-environment.yaml itself is packaged
    plan = actions.package(actions.PlanOptions(root), str(tmp_path / 'a.tar.gz'))
    assert plan.body['environment_files'] == [
        'heatplan://generated/plan-environment.yaml/environments/0.yaml']
    with pytest.raises(errors.PlanError) as exc:
        actions.package(actions.PlanOptions(root, parameters=['count=2']),
                        str(tmp_path / 'b.tar.gz'))
    assert 'inline environment data' in str(exc.value)
    assert not os.path.exists(str(tmp_path / 'b.tar.gz'))
