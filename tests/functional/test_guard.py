"""Deploy fails closed (issue 11), against the real local Heat.

5. an HTTP 500 from Heat on create/update releases the lock at once.

Each test notes whether it failed before the fix.
"""

import re

import pytest

from heatplan import deploy
from heatplan import errors
from heatplan.heat import HeatAdapter
from tests.functional import plans
from tests.functional.faultproxy import FaultProxy

ExitCode = errors.ExitCode


def opts(name, **kwargs):
    kwargs.setdefault('poll', 0.5)
    return deploy.DeployOptions(stack=name, **kwargs)


# -- 5. Heat's own 500 on create/update ------------------------------------------------

def _through_500(heat, name, method, path):
    proxy = FaultProxy(heat.port).start()
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
        through = HeatAdapter.from_url(proxy.url)
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
