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
        # the default set of envs (the first assignment; a switch may narrow it)
        envs = re.findall(r'^envs=(\S+)$', run, re.M)
        assert envs
        ci = ['tox -e ' + envs[0]]
    assert ci[0] in readme
    assert 'realplans' in ci[0]


def test_ci_runs_the_suite_on_both_heats_by_default():
    run = _read('.ci', 'run')
    assert re.search(r'^HEATPLAN_CI_PRODHEAT=\$\{HEATPLAN_CI_PRODHEAT:-1\}$', run, re.M)
    default = re.findall(r'^envs=(\S+)$', run, re.M)[0].split(',')
    assert 'functional' in default and 'functional-prod' in default
    assert default.index('functional-prod') == len(default) - 1   # after the embedded Heat
