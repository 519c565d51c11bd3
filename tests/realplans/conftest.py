"""Fixtures for the real-world plan checks (``tox -e realplans``).

One local Heat for the session, started the way TripleO runs its
undercloud Heat where THT needs it (``max_nested_stack_depth`` 6: the
overcloud nests 6 deep), and the tripleo-heat-templates overcloud plan,
fetched once into the cache (see :mod:`tests.realplans.tht`) and completed
with environments generated against that Heat.

Figures (file counts, bytes, warnings, times) are collected with
:func:`figure` and printed at the end of the run, so that they are in the CI
log whatever pytest's verbosity.
"""

import os
import time
import types

import pytest

from heatplan.heat.adapter import HeatAdapter
from heatplan.local import launcher
from tests.functional.conftest import free_port
from tests.functional.conftest import require_heat
from tests.realplans import tht

#: Heat options of the session's local Heat (TripleO's undercloud uses 6).
HEAT_LIMITS = {'max_nested_stack_depth': 6}

_FIGURES = []


def figure(name, value):
    """Note a figure for the end-of-run report."""
    _FIGURES.append((name, value))


def pytest_terminal_summary(terminalreporter):
    if not _FIGURES:
        return
    terminalreporter.section('realplans figures')
    for name, value in _FIGURES:
        if isinstance(value, (list, tuple)):
            terminalreporter.write_line('%s:' % name)
            for line in value:
                terminalreporter.write_line('    %s' % line)
        else:
            terminalreporter.write_line('%s: %s' % (name, value))


@pytest.fixture(scope='session')
def realplans_heat(tmp_path_factory):
    """The session's local Heat: ``url``, ``adapter``, ``data_dir``, ``limits``."""
    require_heat()
    data_dir = str(tmp_path_factory.mktemp('realplans-heat'))
    t0 = time.perf_counter()
    status = launcher.up(data_dir=data_dir, port=free_port(), limits=HEAT_LIMITS,
                         exit_with_pid=os.getpid())
    figure('local Heat startup (s)', '%.1f' % (time.perf_counter() - t0))
    try:
        yield types.SimpleNamespace(
            url=status.url, data_dir=data_dir,
            adapter=HeatAdapter.from_url(status.url, local=True),
            limits=launcher.configured_limits(data_dir))
    finally:
        launcher.down(data_dir=data_dir)


@pytest.fixture(scope='session')
def tht_plan(realplans_heat):
    """The THT overcloud plan: ``plan_dir`` plus what was generated for it."""
    types_offered = tht.available_types_of(realplans_heat.adapter)
    try:
        facts = tht.prepare(types_offered)
    except tht.CorpusError as exc:
        pytest.fail(str(exc), pytrace=False)
    figure('THT sdist', '%s (sha256 %s)' % (os.path.basename(facts['sdist']),
                                            facts['sdist_sha256']))
    figure('THT fetch/unpack/render + generated environments (s)',
           '%.1f' % facts['seconds'])
    figure('resource types the local Heat offers', '%d (Nova/Neutron: %s)' % (
        len(types_offered), ', '.join(sorted(
            t for t in types_offered if t.startswith(('OS::Nova::', 'OS::Neutron::'))))
        or 'none'))
    figure('parameters without a default given values (%s)' % tht.REQUIRED_ENV,
           len(facts['required']))
    figure('resource types mapped to OS::Heat::None (%s)' % tht.MISSING_TYPES_ENV,
           ', '.join(facts['missing_types']) or 'none: the plan uses only types the '
           'local Heat offers')
    return types.SimpleNamespace(**facts)
