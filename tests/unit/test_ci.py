"""The README's test command is the one CI runs (.ci/run)."""

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(*parts):
    with open(os.path.join(REPO, *parts), encoding='utf-8') as f:
        return f.read()


def test_readme_and_ci_run_the_same_tox_envs():
    readme = re.findall(r'^    (tox -e \S+)$', _read('README.rst'), re.M)
    ci = re.findall(r'^(tox -e \S+)$', _read('.ci', 'run'), re.M)
    assert ci and len(ci) == 1
    assert ci[0] in readme
    assert 'realplans' in ci[0]
