"""A short loaded soak (the CI variant of ``tox -e soak-local``): no stall under CPU load.

Ten update deploys of the issue-13 plan (a ResourceGroup of nested templates
with get_file + str_replace values, and a registry-mapped template) while two
processes keep both cores busy.  A deploy still running after 90 s is a
stall (before the local Heat's watchdog and the bounded waits, such a
deploy waited for ever).
"""

import os

import pytest

from tests.figures import figure
from tests.functional import soak

DEPLOYS = 10


@pytest.mark.local_only  # the embedded Heat's heat.log and data dir
def test_ten_update_deploys_under_cpu_load_do_not_stall(local_heat, tmp_path, name):
    runner = soak.Soak(local_heat.adapter, name, str(tmp_path), stall_after=90.0,
                       log=lambda m: None)
    runner.deploy('1')
    log_start = os.path.getsize(local_heat.log_file)
    with soak.cpu_hog(2, 150):
        times = runner.run(DEPLOYS, 'loaded')
    assert len(times) == DEPLOYS
    figure('soak_loaded_deploys', '%d update deploys under a 2-process CPU hog, 0 stalls: '
           'p50 %.2f s, p95 %.2f s, max %.2f s (%s)' % (
               DEPLOYS, soak.percentile(times, 50), soak.percentile(times, 95),
               max(times), ', '.join('%.1f' % t for t in times)))
    with open(local_heat.log_file, 'rb') as f:
        f.seek(log_start)
        assert b'watchdog: ' not in f.read(), 'the watchdog saw a stall: see heat.log'
    assert os.path.exists(os.path.join(local_heat.data_dir, 'progress.json'))
