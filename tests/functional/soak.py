"""A loaded soak of the local Heat: N update deploys of a nested plan under a CPU hog.

``python -m tests.functional.soak --deploys 100 --hog 2`` (``tox -e
soak-local``) starts a local Heat in a temporary data dir (or uses
``--heat-url``), deploys the plan of issue 13 and then updates it N times,
alternating two versions, while ``--hog`` processes spin on the CPU.  Each
deploy waits at most ``--stall-after`` seconds: a deploy still IN_PROGRESS
then is a **stall**, and the run dumps the server's threads (``py-spy dump``
when installed; the local Heat's watchdog writes its own dump to heat.log)
and stops.  It prints each deploy's time and the p50/p95 of the loaded and
(with ``--idle N``) idle deploys, and, on a local Heat, what SQLite id reuse
would have left in its database (:func:`record_faults`: any is a failure).

The plan (as in the issue): a ResourceGroup of 2 members, each a nested
template with an ``OS::Heat::Value`` (``get_file`` + ``str_replace``) and a
nested template of its own, plus a registry-mapped template resource.  The
two versions differ in the file the Values read, so every deploy updates
every Value at every level.
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MANIFEST = """\
template: main.yaml
environments:
  - env.yaml
parameters:
  label: soak
"""

ENV = """\
resource_registry:
  "Soak::Shared": templates/shared.yaml
"""

MAIN = """\
heat_template_version: 2021-04-16
parameters:
  label: {type: string}
resources:
  shared:
    type: Soak::Shared
    properties:
      label: {get_param: label}
  group:
    type: OS::Heat::ResourceGroup
    properties:
      count: 2
      resource_def:
        type: templates/member.yaml
        properties:
          name: {list_join: ['-', [{get_param: label}, '%index%']]}
outputs:
  values: {value: {get_attr: [group, v]}}
"""

MEMBER = """\
heat_template_version: 2021-04-16
parameters:
  name: {type: string}
resources:
  v:
    type: OS::Heat::Value
    properties:
      value:
        str_replace:
          template: {get_file: ../files/greeting.txt}
          params:
            $NAME: {get_param: name}
  inner:
    type: inner.yaml
    properties:
      name: {get_param: name}
outputs:
  v: {value: {get_attr: [v, value]}}
"""

INNER = """\
heat_template_version: 2021-04-16
parameters:
  name: {type: string}
resources:
  w:
    type: OS::Heat::Value
    properties:
      value:
        str_replace:
          template: {get_file: ../files/greeting.txt}
          params:
            $NAME: {list_join: ['/', [inner, {get_param: name}]]}
"""

SHARED = """\
heat_template_version: 2021-04-16
parameters:
  label: {type: string}
resources:
  s:
    type: OS::Heat::Value
    properties:
      value:
        str_replace:
          template: {get_file: ../files/greeting.txt}
          params:
            $NAME: {get_param: label}
"""


def plan_files(version):
    return {
        'heatplan.yaml': MANIFEST,
        'env.yaml': ENV,
        'main.yaml': MAIN,
        'templates/member.yaml': MEMBER,
        'templates/inner.yaml': INNER,
        'templates/shared.yaml': SHARED,
        'files/greeting.txt': 'hello $NAME, version %s\n' % version,
    }


def write_plan(root, version):
    path = os.path.join(root, 'v%s' % version)
    for key, text in plan_files(version).items():
        full = os.path.join(path, *key.split('/'))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'w') as f:
            f.write(text)
    return path


def _spin(until):
    while time.monotonic() < until:
        pass


@contextlib.contextmanager
def cpu_hog(processes, seconds):
    """``processes`` processes spinning on the CPU for at most ``seconds``."""
    procs = []
    until = time.monotonic() + seconds
    ctx = multiprocessing.get_context('fork')
    try:
        for _ in range(processes):
            proc = ctx.Process(target=_spin, args=(until,), daemon=True)
            proc.start()
            procs.append(proc)
        yield procs
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(5)


def percentile(values, pct):
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[k]


class Stalled(Exception):
    pass


def thread_dump(pid, out_path):
    """``py-spy dump`` of ``pid`` into ``out_path``; the path, or None."""
    spy = shutil.which('py-spy') or os.path.join(os.path.dirname(sys.executable), 'py-spy')
    if not os.path.exists(spy):
        return None
    try:
        res = subprocess.run([spy, 'dump', '--pid', str(pid)], capture_output=True,
                             text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    with open(out_path, 'w') as f:
        f.write(res.stdout + res.stderr)
    return out_path


class Soak:
    """Deploys the plan again and again on one stack; times each deploy."""

    def __init__(self, adapter, stack, workdir, stall_after=120.0, log=print,
                 server_pid=None, heat_log=None):
        from heatplan.actions import plan as actions

        self.actions = actions
        self.adapter = adapter
        self.stack = stack
        self.workdir = workdir
        self.stall_after = stall_after
        self.log = log
        self.server_pid = server_pid
        self.heat_log = heat_log
        self.plans = {v: write_plan(workdir, v) for v in ('1', '2')}
        self.times = []

    def deploy(self, version, force=False):
        from heatplan import errors
        from heatplan.actions import deploy as deploy_mod

        _src, plan = self.actions.build_plan(
            self.actions.PlanOptions(source=self.plans[version]))
        opts = deploy_mod.DeployOptions(stack=self.stack, force=force,
                                        wait_timeout=self.stall_after, poll=1.0)
        started = time.monotonic()
        try:
            result = deploy_mod.deploy(self.adapter, plan, opts, deploy_mod.Reporter())
        except errors.DeployTimedOut as exc:
            raise Stalled('deploy of v%s did not end within %.0f s: %s'
                          % (version, self.stall_after, exc.message))
        took = time.monotonic() - started
        if result.outcome == 'failed':
            raise AssertionError('deploy of v%s failed: %s %s'
                                 % (version, result.status, result.failures))
        return result, took

    def run(self, deploys, label):
        """v1, v1 again (forced), v2, v1, ...: ``deploys`` updates after the create."""
        if self.adapter.get_stack(self.stack) is None:
            self.deploy('1')
        times = []
        sequence = ['1'] + ['2', '1'] * deploys
        for i in range(deploys):
            version = sequence[i]
            try:
                result, took = self.deploy(version, force=(i == 0))
            except Stalled as exc:
                self.on_stall(exc, label, i)
                raise
            times.append(took)
            self.log('%s deploy %3d v%s %-9s %6.2f s' % (label, i + 1, version,
                                                      result.outcome, took))
        return times

    def cycles(self, count, label):
        """The issue's sequence on fresh stacks: create v1, v1 again, v2; delete."""
        times = []
        base = self.stack
        try:
            for i in range(count):
                self.stack = '%s-c%d' % (base, i)
                try:
                    _r, created = self.deploy('1')
                    again, _t = self.deploy('1')
                    result, took = self.deploy('2')
                except Stalled as exc:
                    self.on_stall(exc, label, i)
                    raise
                times.append(took)
                self.log('%s cycle %3d create %.2f s, v1 again %s, update v2 %.2f s'
                         % (label, i + 1, created, again.outcome, took))
                self.adapter.delete_stack(self.stack)
        finally:
            self.stack = base
        return times

    def on_stall(self, exc, label, i):
        self.log('%s deploy %d STALLED: %s' % (label, i + 1, exc))
        if self.server_pid:
            dump = thread_dump(self.server_pid, os.path.join(
                self.workdir, 'stall-%s-%d.pyspy.txt' % (label, i + 1)))
            self.log('py-spy dump: %s' % (dump or 'py-spy not available'))
        if self.heat_log:
            self.log('heat.log: %s (the watchdog dumps every thread there)' % self.heat_log)


def summary(name, times):
    if not times:
        return '%s: no deploys' % name
    return ('%s: %d deploys, p50 %.2f s, p95 %.2f s, max %.2f s, mean %.2f s'
            % (name, len(times), percentile(times, 50), percentile(times, 95),
               max(times), statistics.mean(times)))


def record_faults(data_dir, heat_log):
    """What SQLite id reuse left behind (doc/source/local.rst, "When it stalls").

    ``dangling``: resources pointing at a deleted properties or attributes
    record; ``shared``: properties records that are also some resource's
    attributes record, or another resource's properties record (a deleted
    record's id given to the next one); ``dropped``: checks Heat dropped
    (heat.log).
    """
    import sqlite3

    con = sqlite3.connect('file:%s?mode=ro' % os.path.join(data_dir, 'heat.sqlite'),
                          uri=True, timeout=60)
    try:
        dangling = sum(1 for row in con.execute('PRAGMA foreign_key_check(resource)')
                       if row[2] == 'resource_properties_data')
        (shared,), = con.execute(
            'SELECT count(*) FROM resource r JOIN resource a '
            'ON a.attr_data_id = r.rsrc_prop_data_id '
            'OR (a.rsrc_prop_data_id = r.rsrc_prop_data_id AND a.id < r.id)').fetchall()
    finally:
        con.close()
    dropped = 0
    with contextlib.suppress(OSError):
        with open(heat_log, encoding='utf-8', errors='replace') as f:
            dropped = sum(1 for line in f if 'Heat drops the check' in line)
    return {'dangling': dangling, 'shared': shared, 'dropped': dropped}


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tests.functional.soak',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--deploys', type=int, default=100,
                        help='update deploys under load (default: 100)')
    parser.add_argument('--idle', type=int, default=0,
                        help='update deploys with no hog first, for comparison')
    parser.add_argument('--hog', type=int, default=2,
                        help='CPU hog processes during the loaded deploys (default: 2)')
    parser.add_argument('--stall-after', type=float, default=120.0,
                        help='a deploy still running after this many seconds is a stall')
    parser.add_argument('--max-seconds', type=float, default=3600.0,
                        help='upper bound of the hog (default: 3600)')
    parser.add_argument('--cycles', action='store_true',
                        help='each deploy is a fresh stack: create v1, v1 again '
                             '(unchanged), update to v2, delete (the issue\'s sequence)')
    parser.add_argument('--heat-url', help='use this Heat instead of starting a local one')
    parser.add_argument('--keep', action='store_true', help='keep the data dir')
    parser.add_argument('--json', help='write the figures to this file')
    args = parser.parse_args(argv)

    from heatplan.heat.adapter import HeatAdapter
    from heatplan.local import launcher

    workdir = tempfile.mkdtemp(prefix='heatplan-soak-')
    status = None
    try:
        if args.heat_url:
            url, pid, heat_log = args.heat_url, None, None
        else:
            import socket

            with socket.socket() as sock:
                sock.bind(('127.0.0.1', 0))
                port = sock.getsockname()[1]
            status = launcher.up(data_dir=os.path.join(workdir, 'heat'), port=port,
                                 exit_with_pid=os.getpid())
            url, pid, heat_log = status.url, status['pid'], status['log_file']
            print('local Heat pid %s, %s, log %s' % (pid, url, heat_log), flush=True)
        adapter = HeatAdapter.from_url(url, local=bool(status))
        soak = Soak(adapter, 'soak-%d' % os.getpid(), workdir, args.stall_after,
                    log=lambda m: print(m, flush=True), server_pid=pid, heat_log=heat_log)
        figures = {'stalls': 0}
        run = soak.cycles if args.cycles else soak.run
        idle = run(args.idle, 'idle') if args.idle else []
        loaded = []
        try:
            if args.hog:
                with cpu_hog(args.hog, args.max_seconds):
                    loaded = run(args.deploys, 'loaded')
            else:
                loaded = run(args.deploys, 'loaded')
        except Stalled:
            figures['stalls'] = 1
        print(summary('idle', idle))
        print(summary('loaded (%d hog processes)' % args.hog, loaded))
        print('stalls: %d' % figures['stalls'])
        figures.update(idle=idle, loaded=loaded, hog=args.hog)
        faults = {}
        if status is not None:
            faults = record_faults(os.path.join(workdir, 'heat'), heat_log)
            print('records: %(dangling)d dangling, %(shared)d shared, '
                  '%(dropped)d checks dropped' % faults)
            figures['records'] = faults
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(figures, f, indent=2)
        return 1 if figures['stalls'] or any(faults.values()) else 0
    finally:
        if status is not None:
            with contextlib.suppress(Exception):
                launcher.down(data_dir=os.path.join(workdir, 'heat'))
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print('kept %s' % workdir)


if __name__ == '__main__':
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
