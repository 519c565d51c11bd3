"""The README's test command is the one CI runs (.ci/run)."""

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(*parts):
    with open(os.path.join(REPO, *parts), encoding='utf-8') as f:
        return f.read()


def _ci_command():
    """.ci/run's tox command, with the default set of envs (the first
    assignment; a switch may narrow it) put in for "$envs"."""
    run = _read('.ci', 'run')
    ci = re.findall(r'^(tox .*-e \S+)$', run, re.M)
    assert ci and len(ci) == 1
    envs = re.findall(r'^envs=(\S+)$', run, re.M)
    assert envs
    return ci[0].replace('"$envs"', envs[0]), envs[0].split(',')


def test_readme_and_ci_run_the_same_tox_envs():
    readme = re.findall(r'^    (tox .*-e \S+)$', _read('README.rst'), re.M)
    command, envs = _ci_command()
    assert command in readme
    assert 'realplans' in envs


def test_ci_runs_the_suite_on_both_heats_by_default():
    run = _read('.ci', 'run')
    assert re.search(r'^HEATPLAN_CI_PRODHEAT=\$\{HEATPLAN_CI_PRODHEAT:-1\}$', run, re.M)
    command, envs = _ci_command()
    assert 'functional' in envs and 'functional-prod' in envs
    # two at a time (the machine's two cores), the longest first so that it
    # runs beside all the others
    assert command.startswith('tox run-parallel --parallel 2 ')
    assert envs[0] == 'functional-prod'
