"""The README's test command is the one CI runs (.ci/run)."""

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(*parts):
    with open(os.path.join(REPO, *parts), encoding='utf-8') as f:
        return f.read()


def test_readme_and_ci_run_the_same_tox_envs():
    readme = re.findall(r'^    (tox -e \S+)$', _read('README.rst'), re.M)
    run = _read('.ci', 'run')
    ci = re.findall(r'^(tox -e \S+)$', run, re.M)
    assert ci and len(ci) == 1
    if ci[0] == 'tox -e "$envs"':
        # the default set of envs, before any opt-in switch adds one
        envs = re.findall(r'^envs=(\S+)$', run, re.M)
        assert len(envs) == 1
        ci = ['tox -e ' + envs[0]]
    assert ci[0] in readme
    assert 'realplans' in ci[0]
