"""References: finding, resolving, following, rewriting and restoring them."""

import json

import pytest
import yaml

from heatplan import errors
from heatplan.plan import assemble
from heatplan.plan import source
from tests.unit.conftest import HOT
from tests.unit.conftest import analyze
from tests.unit.conftest import build
from tests.unit.conftest import find
from tests.unit.conftest import line_col
from tests.unit.conftest import template

NONE = template(resources='  n:\n    type: OS::Heat::None\n')


def files_keys(plan):
    return sorted(k for k in plan.body['files'] if not k.startswith('heatplan://'))


def replaced(text, *pairs):
    """``text`` with each (old, new) substring replaced exactly once."""
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def assert_restores(plan, files):
    restored = assemble.restore_files(plan.body['files'])
    for key, content in files.items():
        if key in restored:
            expected = content.encode('utf-8') if isinstance(content, str) else content
            assert restored[key] == expected, key
    return restored


# ---------------------------------------------------------------------------
# where references are found

def test_get_file_at_any_depth(plan_dir):
    root_text = template(resources=(
        '  config:\n'
        '    type: OS::Heat::SoftwareConfig\n'
        '    properties:\n'
        '      config:\n'
        '        str_replace:\n'
        '          template: {get_file: ../scripts/a.sh}\n'
        '          params:\n'
        '            $X: [{get_file: ../scripts/b.sh}, {list: [{get_file: "../scripts/c.sh"}]}]\n'
        '  deep:\n'
        '    type: OS::Heat::Value\n'
        '    properties:\n'
        '      value:\n'
        '        a:\n'
        '          b:\n'
        '            - - c:\n'
        "                  get_file: '../scripts/d.sh'\n"),
        outputs='  o:\n    value: {get_file: ../scripts/e.sh}\n')
    files = {'t/root.yaml': root_text}
    for n in 'abcde':
        files['scripts/%s.sh' % n] = 'echo %s\n' % n
    plan = build(plan_dir(files), template='t/root.yaml')
    assert files_keys(plan) == ['scripts/a.sh', 'scripts/b.sh', 'scripts/c.sh',
                                'scripts/d.sh', 'scripts/e.sh', 't/root.yaml']
    assert plan.body['template'] == replaced(
        root_text,
        ('{get_file: ../scripts/a.sh}', '{get_file: scripts/a.sh}'),
        ('{get_file: ../scripts/b.sh}', '{get_file: scripts/b.sh}'),
        ('{get_file: "../scripts/c.sh"}', '{get_file: "scripts/c.sh"}'),
        ("get_file: '../scripts/d.sh'", "get_file: 'scripts/d.sh'"),
        ('{get_file: ../scripts/e.sh}', '{get_file: scripts/e.sh}'))
    assert_restores(plan, files)


def test_type_yaml_and_template_in_resources(plan_dir):
    root_text = template(resources=(
        '  a:\n    type: nested/a.yaml\n'
        '  b:\n    type: ./nested/b.template\n'
        '  c:\n    type: OS::Heat::None\n'))
    files = {'root.yaml': root_text, 'nested/a.yaml': NONE, 'nested/b.template': NONE}
    plan = build(plan_dir(files), template='root.yaml')
    assert files_keys(plan) == ['nested/a.yaml', 'nested/b.template', 'root.yaml']
    assert plan.body['template'] == replaced(
        root_text, ('type: ./nested/b.template', 'type: nested/b.template'))
    assert 'edits' not in plan.manifest['files']['nested/a.yaml']


def test_resource_group_and_autoscaling_group(plan_dir):
    root_text = template(resources=(
        '  group:\n'
        '    type: OS::Heat::ResourceGroup\n'
        '    properties:\n'
        '      count: 2\n'
        '      resource_def:\n'
        '        type: ../member.yaml\n'
        '  asg:\n'
        '    type: OS::Heat::AutoScalingGroup\n'
        '    properties:\n'
        '      min_size: 1\n'
        '      max_size: 2\n'
        '      resource:\n'
        '        type: ./scaled.yaml\n'))
    files = {'sub/root.yaml': root_text, 'member.yaml': NONE, 'sub/scaled.yaml': NONE}
    plan = build(plan_dir(files), template='sub/root.yaml')
    assert files_keys(plan) == ['member.yaml', 'sub/root.yaml', 'sub/scaled.yaml']
    assert plan.body['template'] == replaced(
        root_text, ('type: ../member.yaml', 'type: member.yaml'),
        ('type: ./scaled.yaml', 'type: sub/scaled.yaml'))


def test_resource_chain_resources_list(plan_dir):
    root_text = template(resources=(
        '  chain:\n'
        '    type: OS::Heat::ResourceChain\n'
        '    properties:\n'
        '      resources: [OS::Heat::None, ./c/one.yaml, "c/two.template"]\n'
        '  chain2:\n'
        '    type: OS::Heat::ResourceChain\n'
        '    properties:\n'
        '      resources:\n'
        '        - c/../c/three.yaml\n'))
    files = {'root.yaml': root_text, 'c/one.yaml': NONE, 'c/two.template': NONE,
             'c/three.yaml': NONE}
    plan = build(plan_dir(files), template='root.yaml')
    assert files_keys(plan) == ['c/one.yaml', 'c/three.yaml', 'c/two.template', 'root.yaml']
    assert plan.body['template'] == replaced(
        root_text, ('./c/one.yaml', 'c/one.yaml'), ('c/../c/three.yaml', 'c/three.yaml'))


def test_resource_chain_missing_entry(plan_dir):
    root_text = template(resources=(
        '  chain:\n'
        '    type: OS::Heat::ResourceChain\n'
        '    properties:\n'
        '      resources: [gone.yaml]\n'))
    an = analyze(plan_dir({'root.yaml': root_text}), template='root.yaml')
    d = find(an.diagnostics, 'missing')[0]
    assert (d.path, d.line, d.col) == ('root.yaml', 6, 19)


ENV_REGISTRY = (
    '# comment kept\n'
    'resource_registry:\n'
    '  My::Top: ../templates/top.yaml\n'
    '  My::Alias: OS::Heat::None\n'
    '  "My::Quoted": "../templates/quoted.template"\n'
    '  resources:\n'
    '    my_server:\n'
    '      My::PerResource: ../templates/per.yaml\n'
    '      hooks: [pre-create, ../not/a/file.yaml]\n'
    '      restricted_actions: replace\n'
    '    other:\n'
    '      My::Other: OS::Heat::Value\n'
    'parameter_defaults:\n'
    '  x: 1\n')


def test_environment_resource_registry(plan_dir):
    files = {'root.yaml': template(parameters='  x: {type: number}\n'),
             'env/reg.yaml': ENV_REGISTRY,
             'templates/top.yaml': NONE, 'templates/quoted.template': NONE,
             'templates/per.yaml': NONE}
    plan = build(plan_dir(files), template='root.yaml', environments=['env/reg.yaml'])
    assert files_keys(plan) == ['env/reg.yaml', 'root.yaml', 'templates/per.yaml',
                                'templates/quoted.template', 'templates/top.yaml']
    assert plan.body['files']['env/reg.yaml'] == replaced(
        ENV_REGISTRY,
        ('../templates/top.yaml', 'templates/top.yaml'),
        ('"../templates/quoted.template"', '"templates/quoted.template"'),
        ('../templates/per.yaml', 'templates/per.yaml'))
    reg = yaml.safe_load(plan.body['files']['env/reg.yaml'])['resource_registry']
    assert reg['resources']['my_server']['hooks'] == ['pre-create', '../not/a/file.yaml']
    assert_restores(plan, files)


def test_registry_entries_are_resolved_relative_to_the_environment(plan_dir):
    # the same relative value from two environments in different directories
    files = {'root.yaml': HOT,
             'a/env.yaml': 'resource_registry:\n  X::Y: nested.yaml\n',
             'b/c/env.yaml': 'resource_registry:\n  X::Z: nested.yaml\n',
             'a/nested.yaml': NONE, 'b/c/nested.yaml': NONE}
    plan = build(plan_dir(files), template='root.yaml',
                 environments=['a/env.yaml', 'b/c/env.yaml'])
    assert plan.body['files']['a/env.yaml'] == 'resource_registry:\n  X::Y: a/nested.yaml\n'
    assert plan.body['files']['b/c/env.yaml'] == 'resource_registry:\n  X::Z: b/c/nested.yaml\n'


def test_registry_base_url(plan_dir):
    files = {'root.yaml': HOT,
             'env.yaml': 'resource_registry:\n  base_url: lib/\n  X::Y: n.yaml\n',
             'lib/n.yaml': NONE}
    plan = build(plan_dir(files), template='root.yaml', environments=['env.yaml'])
    assert 'lib/n.yaml' in files_keys(plan)
    assert_restores(plan, files)


@pytest.mark.parametrize('value', ['nested.yml', 'nested'])
def test_registry_value_that_is_not_a_template(plan_dir, value):
    # Heat fails only where a resource uses such an entry; python-heatclient
    # sends the file as it is: a warning, and the file is in the files map.
    files = {'root.yaml': HOT, 'env.yaml': 'resource_registry:\n  X::Y: %s\n' % value,
             value: 'some text\n'}
    an = analyze(plan_dir(files), template='root.yaml', environments=['env.yaml'])
    d = find(an.diagnostics, 'registry-value')[0]
    assert (d.path, d.line, d.col, d.severity, d.code) == ('env.yaml', 2, 9, 'warning', 'HP205')
    assert ('rename it to .yaml' in d.message) == value.endswith('.yml')
    plan = build(plan_dir(files, name='b'), template='root.yaml', environments=['env.yaml'])
    assert plan.body['files'][value] == 'some text\n'
    # ... and when the file is not there, heatclient fails too: an error
    del files[value]
    an = analyze(plan_dir(files, name='c'), template='root.yaml', environments=['env.yaml'])
    assert [(d.rule, d.severity) for d in an.diagnostics
            if d.severity == 'error'] == [('missing', 'error')]


def test_registry_template_in_the_environment_is_followed_transitively(plan_dir):
    files = {'root.yaml': HOT,
             'env.yaml': 'resource_registry:\n  X::Y: t/one.yaml\n',
             't/one.yaml': template(resources='  two:\n    type: ../u/two.yaml\n'),
             'u/two.yaml': template(resources=(
                 '  s:\n    type: OS::Heat::Value\n    properties:\n'
                 '      value: {get_file: ../s/x.sh}\n')),
             's/x.sh': 'x\n'}
    plan = build(plan_dir(files), template='root.yaml', environments=['env.yaml'])
    assert files_keys(plan) == ['env.yaml', 'root.yaml', 's/x.sh', 't/one.yaml', 'u/two.yaml']
    assert 'type: u/two.yaml' in plan.body['files']['t/one.yaml']
    assert '{get_file: s/x.sh}' in plan.body['files']['u/two.yaml']


def test_nested_templates_followed_transitively(plan_dir):
    files = {
        'root.yaml': template(resources='  l1:\n    type: a/l1.yaml\n'),
        'a/l1.yaml': template(resources='  l2:\n    type: b/l2.yaml\n'),
        'a/b/l2.yaml': template(resources='  l3:\n    type: ../../c/l3.yaml\n'),
        'c/l3.yaml': template(resources=(
            '  s:\n    type: OS::Heat::Value\n    properties:\n'
            '      value: {get_file: ./deep.sh}\n')),
        'c/deep.sh': 'deep\n',
        'unused.yaml': NONE,
    }
    plan = build(plan_dir(files), template='root.yaml')
    assert files_keys(plan) == ['a/b/l2.yaml', 'a/l1.yaml', 'c/deep.sh', 'c/l3.yaml',
                                'root.yaml']
    assert 'type: a/b/l2.yaml' in plan.body['files']['a/l1.yaml']
    assert 'type: c/l3.yaml' in plan.body['files']['a/b/l2.yaml']
    assert '{get_file: c/deep.sh}' in plan.body['files']['c/l3.yaml']


def test_get_file_of_a_template_follows_its_references(plan_dir):
    inner = template(resources=(
        '  s:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: ../scripts/inner.sh}\n'
        '  n:\n    type: ./leaf.yaml\n'))
    root_text = template(resources=(
        '  stack:\n'
        '    type: OS::Heat::Stack\n'
        '    properties:\n'
        '      template: {get_file: nested/inner.yaml}\n'))
    files = {'root.yaml': root_text, 'nested/inner.yaml': inner, 'nested/leaf.yaml': NONE,
             'scripts/inner.sh': 'echo\n'}
    plan = build(plan_dir(files), template='root.yaml')
    assert files_keys(plan) == ['nested/inner.yaml', 'nested/leaf.yaml', 'root.yaml',
                                'scripts/inner.sh']
    assert plan.body['files']['nested/inner.yaml'] == replaced(
        inner, ('../scripts/inner.sh', 'scripts/inner.sh'), ('./leaf.yaml', 'nested/leaf.yaml'))


def test_get_file_of_plain_yaml_data_is_not_followed(plan_dir):
    data = 'users:\n  - get_file: ../nope.sh\n    type: missing.yaml\n'
    root_text = template(resources=(
        '  v:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: data/cloud.yaml}\n'))
    files = {'root.yaml': root_text, 'data/cloud.yaml': data}
    plan = build(plan_dir(files), template='root.yaml')
    assert plan.body['files']['data/cloud.yaml'] == data
    assert files_keys(plan) == ['data/cloud.yaml', 'root.yaml']


def test_same_file_under_two_spellings_gets_one_key(plan_dir):
    root_text = template(resources=(
        '  a:\n    type: x/n.yaml\n'
        '  b:\n    type: ./x/../x/n.yaml\n'
        '  c:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: x//s.sh}\n'
        '  d:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: ./x/s.sh}\n'))
    files = {'root.yaml': root_text, 'x/n.yaml': NONE, 'x/s.sh': 's\n'}
    plan = build(plan_dir(files), template='root.yaml')
    assert files_keys(plan) == ['root.yaml', 'x/n.yaml', 'x/s.sh']
    assert plan.body['template'].count('type: x/n.yaml') == 2
    assert plan.body['template'].count('{get_file: x/s.sh}') == 2


@pytest.mark.parametrize('url', ['http://example.com/t.yaml', 'https://example.com/s.sh'])
def test_http_references_are_left_alone_with_a_warning(plan_dir, url):
    kind = 'type' if url.endswith('.yaml') else 'get_file'
    if kind == 'type':
        root_text = template(resources='  r:\n    type: %s\n' % url)
    else:
        root_text = template(resources=(
            '  r:\n    type: OS::Heat::Value\n    properties:\n'
            '      value: {get_file: "%s"}\n' % url))
    root = plan_dir({'root.yaml': root_text})
    an = analyze(root, template='root.yaml')
    d = find(an.diagnostics, 'remote')[0]
    assert d.severity == 'warning'
    assert url in d.message
    assert (d.path, d.line) == ('root.yaml', line_col(root_text, url)[0])
    plan = build(root, template='root.yaml')
    assert plan.body['template'] == root_text
    assert files_keys(plan) == ['root.yaml']


def test_http_registry_entry_is_a_warning(plan_dir):
    files = {'root.yaml': HOT, 'env.yaml': 'resource_registry:\n  X::Y: https://h/x.yaml\n'}
    an = analyze(plan_dir(files), template='root.yaml', environments=['env.yaml'])
    d = find(an.diagnostics, 'remote')[0]
    assert (d.path, d.line, d.severity) == ('env.yaml', 2, 'warning')


def test_missing_targets(plan_dir):
    root_text = template(resources=(
        '  a:\n    type: sub/gone.yaml\n'
        '  b:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: ../plan/gone.sh}\n'))
    root = plan_dir({'root.yaml': root_text})
    an = analyze(root, template='root.yaml')
    missing = find(an.diagnostics, 'missing')
    assert [(d.path, d.line, d.col) for d in missing] == [
        ('root.yaml', 4, 11)]
    assert 'sub/gone.yaml' in missing[0].message
    # ../plan/gone.sh leaves the root (the plan directory's name is not part of it)
    conf = find(an.diagnostics, 'confinement')[0]
    assert (conf.line, conf.col) == (8, 25)
    with pytest.raises(errors.LintFailed) as exc:
        build(root, template='root.yaml')
    assert 'root.yaml:4:11' in str(exc.value)


def test_missing_environment_registry_target(plan_dir):
    files = {'root.yaml': HOT, 'e/env.yaml': 'resource_registry:\n  X::Y: ../gone.yaml\n'}
    an = analyze(plan_dir(files), template='root.yaml', environments=['e/env.yaml'])
    d = find(an.diagnostics, 'missing')[0]
    assert (d.path, d.line, d.col) == ('e/env.yaml', 2, 9)
    assert 'gone.yaml' in d.message


def test_cycle_is_reported(plan_dir):
    files = {'root.yaml': template(resources='  a:\n    type: a.yaml\n'),
             'a.yaml': template(resources='  b:\n    type: sub/b.yaml\n'),
             'sub/b.yaml': template(resources='  a:\n    type: ../a.yaml\n')}
    an = analyze(plan_dir(files), template='root.yaml')
    cycles = find(an.diagnostics, 'cycle')
    assert len(cycles) == 1
    assert 'a.yaml -> sub/b.yaml -> a.yaml' in cycles[0].message
    assert (cycles[0].path, cycles[0].line) == ('sub/b.yaml', 4)


def test_self_reference_cycle(plan_dir):
    files = {'root.yaml': template(resources='  me:\n    type: ./root.yaml\n')}
    an = analyze(plan_dir(files), template='root.yaml')
    assert 'root.yaml -> root.yaml' in find(an.diagnostics, 'cycle')[0].message


def test_diamond_is_not_a_cycle(plan_dir):
    files = {'root.yaml': template(resources='  a:\n    type: a.yaml\n  b:\n    type: b.yaml\n'),
             'a.yaml': template(resources='  c:\n    type: c.yaml\n'),
             'b.yaml': template(resources='  c:\n    type: c.yaml\n'),
             'c.yaml': NONE}
    an = analyze(plan_dir(files), template='root.yaml')
    assert an.errors == []


@pytest.mark.parametrize('case', ['pair', 'self'])
def test_get_file_cycle_is_reported(plan_dir, case):
    def gf(ref):
        return template(resources=(
            '  s:\n    type: OS::Heat::Stack\n    properties:\n'
            '      template: {get_file: %s}\n' % ref))
    if case == 'pair':
        files = {'a.yaml': gf('b.yaml'), 'b.yaml': gf('a.yaml')}
    else:
        files = {'a.yaml': gf('a.yaml')}
    root = plan_dir(files)
    an = analyze(root, limits=source.Limits(max_files=500), template='a.yaml')
    assert find(an.diagnostics, 'cycle')


def test_yml_type_is_an_error(plan_dir):
    root_text = template(resources='  a:\n    type: nested.yml\n')
    an = analyze(plan_dir({'root.yaml': root_text, 'nested.yml': NONE}), template='root.yaml')
    d = find(an.diagnostics, 'yml-type')[0]
    assert (d.path, d.line, d.col, d.severity) == ('root.yaml', 4, 11, 'error')


# ---------------------------------------------------------------------------
# the rewrite

STYLED = (
    'heat_template_version: 2021-04-16   # version comment\n'
    '\n'
    '# a comment before resources\n'
    'resources:\n'
    '  plain:\n'
    '    type:   ../lib/n.yaml     # trailing comment\n'
    '  single:\n'
    "    type: '../lib/n.yaml'\n"
    '  double:\n'
    '    type: "../lib/./n.yaml"\n'
    '  flow: {type: OS::Heat::Value, properties: {value: {get_file: ../lib/s.sh}}}\n'
    '  needs_quotes:\n'
    '    type: OS::Heat::Value\n'
    '    properties:\n'
    '      value: {get_file: ../lib/odd name.sh}\n'
    '  unchanged:\n'
    '    type: OS::Heat::Value\n'
    '    properties:\n'
    '      value: {get_file: ../lib/s.sh, note: "../lib/s.sh stays"}\n')


def test_rewrite_touches_only_the_reference_scalars(plan_dir):
    files = {'t/root.yaml': STYLED, 'lib/n.yaml': NONE, 'lib/s.sh': 's\n',
             'lib/odd name.sh': 'odd\n'}
    plan = build(plan_dir(files), template='t/root.yaml')
    expected = (
        'heat_template_version: 2021-04-16   # version comment\n'
        '\n'
        '# a comment before resources\n'
        'resources:\n'
        '  plain:\n'
        '    type:   lib/n.yaml     # trailing comment\n'
        '  single:\n'
        "    type: 'lib/n.yaml'\n"
        '  double:\n'
        '    type: "lib/n.yaml"\n'
        '  flow: {type: OS::Heat::Value, properties: {value: {get_file: lib/s.sh}}}\n'
        '  needs_quotes:\n'
        '    type: OS::Heat::Value\n'
        '    properties:\n'
        '      value: {get_file: "lib/odd name.sh"}\n'
        '  unchanged:\n'
        '    type: OS::Heat::Value\n'
        '    properties:\n'
        '      value: {get_file: lib/s.sh, note: "../lib/s.sh stays"}\n')
    assert plan.body['template'] == expected
    assert plan.body['files']['t/root.yaml'] == expected
    data = yaml.safe_load(expected)
    assert data['resources']['needs_quotes']['properties']['value'] == {
        'get_file': 'lib/odd name.sh'}
    assert_restores(plan, files)


def test_rewrite_keeps_windows_line_endings_and_unicode(plan_dir):
    text = (HOT.replace('\n', '\r\n') + '# café ☕ \U0001F600\r\nresources:\r\n'
            '  a:\r\n    type: ./sub/../n.yaml\r\n')
    files = {'root.yaml': text, 'n.yaml': NONE}
    plan = build(plan_dir(files), template='root.yaml')
    assert plan.body['template'] == text.replace('./sub/../n.yaml', 'n.yaml')
    assert_restores(plan, files)


def test_canonical_references_produce_no_edits(plan_dir):
    files = {'root.yaml': template(resources='  a:\n    type: lib/n.yaml\n'),
             'lib/n.yaml': NONE}
    plan = build(plan_dir(files), template='root.yaml')
    assert plan.body['template'] == files['root.yaml']
    assert 'edits' not in plan.manifest['files']['root.yaml']


def test_json_template_stays_json(plan_dir):
    root_json = json.dumps({
        'heat_template_version': '2021-04-16',
        'resources': {
            'nested': {'type': '../lib/n.yaml'},
            'script': {'type': 'OS::Heat::Value',
                       'properties': {'value': {'get_file': '../lib/s "q".sh'}}},
        },
    }, indent=4)
    nested_json = json.dumps({
        'heat_template_version': '2021-04-16',
        'resources': {'x': {'type': 'OS::Heat::Value',
                            'properties': {'value': {'get_file': './s "q".sh'}}}},
    })
    files = {'t/root.json': root_json, 'lib/n.yaml': nested_json, 'lib/s "q".sh': 'q\n'}
    plan = build(plan_dir(files), template='t/root.json')
    sent = json.loads(plan.body['template'])
    assert sent['resources']['nested']['type'] == 'lib/n.yaml'
    assert sent['resources']['script']['properties']['value']['get_file'] == 'lib/s "q".sh'
    nested = json.loads(plan.body['files']['lib/n.yaml'])
    assert nested['resources']['x']['properties']['value']['get_file'] == 'lib/s "q".sh'
    # layout kept: only the two scalars changed
    assert plan.body['template'] == root_json.replace(
        '"../lib/n.yaml"', '"lib/n.yaml"').replace(
        '"../lib/s \\"q\\".sh"', '"lib/s \\"q\\".sh"')
    assert_restores(plan, files)


def test_restore_files_gives_back_every_original_byte(plan_dir):
    files = {'t/root.yaml': STYLED, 'lib/n.yaml': NONE, 'lib/s.sh': 's\n',
             'lib/odd name.sh': 'odd\n', 'env/e.yaml': ENV_REGISTRY,
             'templates/top.yaml': NONE, 'templates/quoted.template': NONE,
             'templates/per.yaml': NONE}
    files['t/root.yaml'] = files['t/root.yaml'].replace(
        'resources:\n', 'parameters:\n  x: {type: number}\nresources:\n', 1)
    plan = build(plan_dir(files), template='t/root.yaml', environments=['env/e.yaml'])
    restored = assemble.restore_files(plan.body['files'])
    plan_keys = set(files_keys(plan))
    assert set(restored) == plan_keys
    for key in plan_keys:
        assert restored[key] == files[key].encode('utf-8')
    # with the manifest given explicitly too
    again = assemble.restore_files(plan.body['files'], plan.manifest)
    assert again == restored


def test_restore_files_detects_tampering(plan_dir):
    files = {'root.yaml': template(resources='  a:\n    type: ./n.yaml\n'), 'n.yaml': NONE}
    plan = build(plan_dir(files), template='root.yaml')
    stored = dict(plan.body['files'])
    stored['n.yaml'] = stored['n.yaml'] + '# changed\n'
    with pytest.raises(errors.PlanError) as exc:
        assemble.restore_files(stored)
    assert 'n.yaml' in str(exc.value)
    del stored['n.yaml']
    with pytest.raises(errors.PlanError):
        assemble.restore_files(stored)
    with pytest.raises(errors.PlanError):
        assemble.restore_files({'root.yaml': files['root.yaml']})


def test_rewrite_and_restore_roundtrip_unit():
    text = 'a: ../x  # c\nb: "../y"\n'
    new, edits = assemble.rewrite(text, [(3, 7, 'x'), (16, 22, '"y"')])
    assert new == 'a: x  # c\nb: "y"\n'
    assert assemble.restore(new, edits) == text


def test_manifest_key_cannot_collide_with_a_plan_key():
    assert source.normalize_key(assemble.MANIFEST_KEY) != assemble.MANIFEST_KEY


def test_rewrite_keeps_anchors_on_reference_scalars(plan_dir):
    root_text = template(resources=(
        '  a:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: &script ./lib/s.sh}\n'
        '  b:\n    type: OS::Heat::Value\n    properties:\n'
        '      value: {get_file: *script}\n'))
    files = {'root.yaml': root_text, 'lib/s.sh': 's\n'}
    plan = build(plan_dir(files), template='root.yaml')
    data = yaml.safe_load(plan.body['template'])
    props = data['resources']['b']['properties']
    assert props['value'] == {'get_file': 'lib/s.sh'}


def test_rewrite_in_a_file_with_a_bom(plan_dir):
    text = '\ufeff' + template(resources='  a:\n    type: ./b.yaml\n')
    files = {'root.yaml': text, 'b.yaml': NONE}
    plan = build(plan_dir(files), template='root.yaml')
    assert plan.body['template'] == text.replace('./b.yaml', 'b.yaml')
