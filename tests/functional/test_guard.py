"""Deploy fails closed (issue 11), against the real local Heat.

1. the destruction guard when Heat cannot preview the nested stacks;
2. a hidden parameter reset on the redeploy of an export;
3. a --parameter an environment file's ``parameters:`` shadows;
5. an HTTP 500 from Heat on create/update releases the lock at once.

Each test notes whether it failed before the fix.
"""

import json
import re

import pytest

from heatplan import errors
from heatplan.actions import deploy
from heatplan.heat import events as events_mod
from tests.functional import plans
from tests.functional.faultproxy import FaultProxy

ExitCode = errors.ExitCode
HOT = 'heat_template_version: 2021-04-16\n'


def opts(name, **kwargs):
    kwargs.setdefault('poll', 0.5)
    return deploy.DeployOptions(stack=name, **kwargs)


def physical_ids(adapter, name):
    """``{(stack key, resource): physical id}`` of every resource, nested ones too."""
    return {(events_mod.stack_key(r['stack_name']), r['resource_name']):
            r['physical_resource_id'] for r in adapter.list_resources(name, nested_depth=5)}


# -- 1. the guard when Heat's nested preview fails ------------------------------------

GROUP_MAIN = HOT + """\
parameters:
  count: {type: number, default: 2}
  rep: {type: string, default: a}
resources:
  group:
    type: OS::Heat::ResourceGroup
    properties:
      count: {get_param: count}
      resource_def:
        type: My::Member
        properties:
          rep: {get_param: rep}
          index: "%index%"
"""
MEMBER = HOT + """\
parameters:
  rep: {type: string}
  index: {type: string}
resources:
  inner:
    type: OS::Heat::TestResource
    properties:
      value: {get_param: index}
      update_replace_value: {get_param: rep}
"""


def group_plan(tmp_path):
    return plans.write_plan(str(tmp_path / 'group'), {
        'heatplan.yaml': 'template: main.yaml\nenvironments: [env/base.yaml]\n',
        'main.yaml': GROUP_MAIN,
        'templates/member.yaml': MEMBER,
        'env/base.yaml': 'resource_registry:\n  My::Member: ../templates/member.yaml\n',
    })


def test_group_growth_hiding_a_nested_replacement_is_refused(cli, adapter, name, tmp_path):
    """Before the fix: exit 0, the inner resources replaced, ``messages: []``."""
    source = group_plan(tmp_path)
    code, _out, err = cli('deploy', source, '--stack', name)
    assert code == 0, err
    ids = physical_ids(adapter, name)

    # the control case: the nested change alone is seen by Heat's own preview
    code, _out, err = cli('deploy', source, '--stack', name, '--parameter', 'rep=b')
    assert code == ExitCode.REFUSED, err
    assert 'would be replaced' in err and 'cannot see every resource' not in err

    # the group grows while the same nested change happens: Heat's nested
    # preview answers 400; previewing the nested stacks one by one finds it
    grow = ('--parameter', 'count=3', '--parameter', 'rep=b')
    code, out, err = cli('deploy', source, '--stack', name, *grow)
    assert code == ExitCode.REFUSED, err
    assert out == ''
    assert 'HTTP 400' in err
    # Heat's whole message, not cut mid-word
    assert 'either malformed or otherwise incorrect.' in err
    inner = re.findall(r'\n  (%s-group-[a-z0-9]{12}-[01]-[a-z0-9]{12}/inner) '
                       r'\(OS::Heat::TestResource\)' % re.escape(name), err)
    assert len(set(inner)) == 2, err
    assert '2 resource(s) would be replaced' in err
    assert '--allow-replace' in err and '--allow-partial-preview' in err
    assert physical_ids(adapter, name) == ids
    assert plans.revisions(adapter, name) == [(1, 'deployed')]

    # accepting the partial view does not accept what it sees
    code, _out, err = cli('deploy', source, '--stack', name, *grow, '--allow-partial-preview')
    assert code == ExitCode.REFUSED, err
    assert 'would be replaced' in err
    assert physical_ids(adapter, name) == ids

    # the dry run shows it all, and the JSON result carries every note
    code, out, err = cli('deploy', source, '--stack', name, *grow, '--dry-run', '-f', 'json')
    assert code == 0, err
    result = json.loads(out)
    assert result['preview_complete'] is False
    notes = '\n'.join(result['messages'])
    assert 'Heat could not preview the nested stacks' in notes
    assert 'either malformed or otherwise incorrect.' in notes
    assert 'one by one' in notes
    assert len(result['preview']['replaced']) == 2, result['preview']
    assert any('-group-2/inner' in a for a in result['preview']['added']), result['preview']

    # the growth alone: nothing destroyed, but the view is partial: refused
    # unless accepted explicitly
    code, _out, err = cli('deploy', source, '--stack', name, '--parameter', 'count=3')
    assert code == ExitCode.REFUSED, err
    assert 'the update preview is incomplete' in err
    assert '--allow-partial-preview' in err and 'would be replaced' not in err
    code, out, err = cli('deploy', source, '--stack', name, '--parameter', 'count=3',
                         '--allow-partial-preview', '-f', 'json')
    assert code == 0, err
    result = json.loads(out)
    assert result['outcome'] == 'updated'
    assert any('could not preview the nested stacks' in m for m in result['messages'])
    after = physical_ids(adapter, name)
    assert all(after[k] == v for k, v in ids.items()), 'an existing resource was replaced'
    assert len([k for k in after if k[1] == 'inner']) == 3


# -- 2. hidden values on redeploy ------------------------------------------------------

SECRET_MAIN = HOT + """\
parameters:
  admin_password:
    type: string
    hidden: true
    default: template-default
  label: {type: string, default: x}
resources:
  v:
    type: OS::Heat::Value
    properties: {value: {get_param: admin_password}}
outputs:
  seen: {value: {get_attr: [v, value]}}
"""


def test_redeploying_an_export_does_not_reset_a_hidden_value(cli, adapter, name, tmp_path):
    """Before the fix: "updated revision 2", exit 0, and the value went back to the default."""
    source = plans.write_plan(str(tmp_path / 'secret'), {
        'heatplan.yaml': 'template: main.yaml\n', 'main.yaml': SECRET_MAIN})
    code, _out, err = cli('deploy', source, '--stack', name,
                          '--parameter', 'admin_password=s3cret-Zq9')
    assert code == 0, err
    exported = tmp_path / 'exported'
    code, _out, err = cli('export', name, exported)
    assert code == 0, err

    code, out, err = cli('deploy', exported, '--stack', name)
    assert code == ExitCode.REFUSED, err
    assert 'hidden parameter(s) admin_password' in err
    assert '--parameter admin_password=...' in err and '--reset-hidden admin_password' in err
    assert out == ''
    assert plans.revisions(adapter, name) == [(1, 'deployed')]
    assert adapter.get_outputs(name)['seen'] == 's3cret-Zq9'

    # the dry run warns and changes nothing
    code, out, err = cli('deploy', exported, '--stack', name, '--dry-run')
    assert code == 0, err
    assert 'warning: hidden parameter(s) admin_password had a value in revision 1' in out + err

    # the value again: the same plan, unchanged
    code, out, err = cli('deploy', exported, '--stack', name,
                         '--parameter', 'admin_password=s3cret-Zq9')
    assert code == 0, err
    assert 'unchanged' in out

    # an explicit reset is the other way through
    code, out, err = cli('deploy', exported, '--stack', name,
                         '--reset-hidden', 'admin_password')
    assert code == 0, err
    assert 'updated revision 2' in out
    assert adapter.get_outputs(name)['seen'] == 'template-default'


# -- 3. a parameter an environment shadows -----------------------------------------------

SHADOW_MAIN = HOT + """\
parameters:
  node_count: {type: number, default: 1}
  label: {type: string, default: x}
resources:
  v:
    type: OS::Heat::Value
    properties: {value: {get_param: node_count}}
outputs:
  seen: {value: {get_attr: [v, value]}}
"""


def test_a_shadowed_parameter_is_reported_not_shown_as_a_change(cli, adapter, name,
                                                                 tmp_path):
    """Before the fix: "parameter changed: node_count", and the stack kept 2 silently."""
    source = plans.write_plan(str(tmp_path / 'shadow'), {
        'heatplan.yaml': 'template: main.yaml\nenvironments: [env/scale.yaml]\n',
        'main.yaml': SHADOW_MAIN,
        'env/scale.yaml': 'parameters:\n  node_count: 2\n',
        'env/other.yaml': 'parameter_defaults:\n  label: other\n',
    })
    code, _out, err = cli('deploy', source, '--stack', name)
    assert code == 0, err
    assert adapter.get_outputs(name)['seen'] == 2

    code, out, err = cli('deploy', source, '--stack', name, '--parameter', 'node_count=5',
                         '--dry-run')
    assert code == 0, err
    assert 'parameter changed: node_count' not in out
    assert ('warning: --parameter node_count is overridden by the parameters: section '
            'of environment file env/scale.yaml') in err

    code, out, err = cli('deploy', source, '--stack', name, '--parameter', 'node_count=5',
                         '-f', 'json')
    assert code == 0, err
    result = json.loads(out)
    assert result['shadowed'] == {'node_count': 'env/scale.yaml'}
    assert result['changes']['parameters'] == []
    assert any('--parameter node_count' in m and 'env/scale.yaml' in m
               for m in result['messages'])
    assert adapter.get_outputs(name)['seen'] == 2  # Heat used the environment's value

    # -e replaces the manifest's environment list, and says so
    code, out, err = cli('deploy', source, '--stack', name, '-e', 'env/other.yaml',
                         '--dry-run')
    assert code == 0, err
    assert ('note: -e replaced the environment list of heatplan.yaml (env/scale.yaml) with '
            'env/other.yaml; not deployed: env/scale.yaml') in err


# -- 5. Heat's own 500 on create/update ------------------------------------------------

def _through_500(heat, name, method, path):
    proxy = FaultProxy(heat.port, project=heat.project).start()
    body = r'"stack_name":\s*"%s"' % re.escape(name) if method == 'POST' else None
    rule = proxy.add('status', method=method, path=path, body=body, status=500, page='json')
    return proxy, rule


@pytest.mark.parametrize('op', ['create', 'update'])
def test_heats_500_settles_the_record_and_releases_the_lock(local_heat, name, tmp_path, op):
    """Before the fix: the record stayed pending and the next deploy was refused
    ("another deploy ... is in progress") until recover; the create message read
    "the stack still had no stack yet"."""
    direct = local_heat.adapter
    first = plans.build(plans.make_plan(tmp_path, 'v1'))
    second = plans.build(plans.make_plan(tmp_path, 'v2', data='second'))
    if op == 'update':
        deploy.deploy(direct, first, opts(name))
        method, path = 'PUT', r'/stacks/%s/[0-9a-f-]+$' % re.escape(name)
    else:
        method, path = 'POST', r'/stacks$'
    proxy, rule = _through_500(local_heat, name, method, path)
    try:
        through = local_heat.connect(proxy.url)
        with pytest.raises(errors.HeatRejected) as exc:
            deploy.deploy(through, second if op == 'update' else first, opts(name))
    finally:
        proxy.stop()
    assert rule.hits == 1
    text = str(exc.value)
    assert 'HTTP 500' in text
    assert 'did not take the plan' in text
    assert 'no stack yet' not in text
    if op == 'create':
        assert 'there is still no stack %s' % name in text
        assert direct.get_stack(name) is None
        assert plans.revisions(direct, name) == [(1, 'failed')]
    else:
        assert 'the stack is unchanged (revision 1)' in text
        assert plans.revisions(direct, name) == [(1, 'deployed'), (2, 'failed')]
    # no recover needed: the next deploy goes ahead at once
    result = deploy.deploy(direct, second, opts(name))
    assert result.outcome == ('updated' if op == 'update' else 'created')
    assert plans.revisions(direct, name)[-1] == (result.revision, 'deployed')
