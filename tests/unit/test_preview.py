"""The nested preview's helpers (heatplan.actions.preview)."""

from heatplan.actions import preview

HOT = 'heat_template_version: 2021-04-16\n'


def body(params, *envs):
    files = {'e%d.yaml' % i: text for i, text in enumerate(envs)}
    return {'template': HOT, 'parameters': params, 'files': files,
            'environment_files': sorted(files)}


def test_nested_previews_drop_the_root_parameters_section():
    b = body({}, 'parameters: {a: x}\nresource_registry: {My::T: t.yaml}\n')
    files = preview._without_parameters(b)
    assert 'parameters' not in files['e0.yaml'] and 'My::T' in files['e0.yaml']
    assert b['files']['e0.yaml'].startswith('parameters')  # the plan is not touched


def test_create_preview_leaves_by_level():
    leaf = {'stack_name': 'p-group-0', 'resource_name': 'inner'}
    levels = preview._created_levels([[[leaf]], {'stack_name': 'p', 'resource_name': 'x'}],
                                     {})
    assert levels == {'p-group-0': {'inner': leaf}, 'p': {'x': levels['p']['x']}}
    assert preview._level_exists(levels, 'p-group')
    assert not preview._level_exists(levels, 'p-other')


def test_preview_notes_reach_the_result_and_the_reporter():
    import types

    from heatplan.actions import deploy as deploy_mod
    from heatplan.actions import guard

    heard = []

    class Reporter(deploy_mod.Reporter):
        def note(self, message):
            heard.append(message)

    result = deploy_mod.DeployResult('dry-run', 's', 'sha256:x')
    seen = types.SimpleNamespace(complete=False, notes=['nested stack a/b previewed alone'])
    guard.preview_notes(seen, result, Reporter())
    assert result.preview_complete is False
    assert result.messages == heard == ['note: nested stack a/b previewed alone']
