"""End to end on the local Heat: heatplan deploy vs heatclient, and export.

Run by ``bench/run.py`` in its own process.  Starts a local Heat (in a
temporary data dir, on a free port, with raised limits), then for each plan
and each run, alternating which tool goes first:

* **create**: from the plan's source files to ``CREATE_COMPLETE``.
  heatplan: ``actions.build_plan`` + ``deploy.deploy`` (revision record,
  lock, tags, event-based progress, settle), as ``heatplan deploy`` does.
  heatclient: what ``openstack stack create`` does (``template_utils`` +
  ``stacks.create``), then polling the stack.
* **update**: the same plan with a new ``DeployIdentifier`` parameter (one
  resource per role changes), to ``UPDATE_COMPLETE``; heatplan's deploy also
  runs Heat's update preview (its destruction guard).

Both poll the stack every ``--poll`` seconds (heatplan: ``DeployOptions.poll``),
so neither is favoured by its polling schedule.  Requests and request bytes
are counted on the keystoneauth session.  Then ``heatplan export`` of the
``--export`` plan's stack into a new directory is timed.  Prints JSON.
"""

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import measure  # noqa: E402

#: Local Heat limits for the benchmark plans (the 5,000-file request is ~22 MB).
HEAT_LIMITS = {
    'max_json_body_size': 64 * 1024 * 1024,
    'max_resources_per_stack': 20000,
    'max_stacks_per_tenant': 5000,
    'max_events_per_stack': 10000,
}


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Counter:
    """Counts requests and request-body bytes sent through a keystoneauth session."""

    def __init__(self, session):
        self.requests = 0
        self.bytes = 0
        original = session.request

        def request(url, method, **kwargs):
            self.requests += 1
            data = kwargs.get('data')
            if data:
                self.bytes += len(data) if isinstance(data, bytes) else len(
                    data.encode('utf-8'))
            return original(url, method, **kwargs)

        session.request = request

    def reset(self):
        self.requests = 0
        self.bytes = 0


#: HeatAdapter methods whose time heatplan's deploy spends is broken down.
TIMED_METHODS = ('get_stack', 'list_stacks', 'get_files', 'preview_update', 'create_stack',
                 'update_stack', 'update_tags', 'patch_files', 'list_events', 'delete_stack')


class MethodTimer:
    """Accumulates wall time and calls per adapter method (on one instance)."""

    def __init__(self, adapter, names=TIMED_METHODS):
        self.seconds = {}
        self.calls = {}
        for name in names:
            setattr(adapter, name, self._wrap(name, getattr(adapter, name)))

    def _wrap(self, name, method):
        def timed(*args, **kwargs):
            key = name
            if name == 'create_stack' and args and str(args[0]).startswith('hp.'):
                key = 'create_stack(record)'     # heatplan's revision record
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0
                self.calls[key] = self.calls.get(key, 0) + 1
        return timed

    def reset(self):
        self.seconds = {}
        self.calls = {}


class Bench:
    def __init__(self, url, poll, timeout):
        from heatplan.heat.adapter import HeatAdapter

        self.adapter = HeatAdapter.from_url(url, local=True)
        self.client = self.adapter.client
        self.counter = Counter(self.adapter.client.http_client.session)
        self.timer = MethodTimer(self.adapter)
        self.poll = poll
        self.timeout = timeout

    # -- heatplan ---------------------------------------------------------
    def heatplan(self, plan_dir, stack, deploy_id):
        from heatplan.actions import deploy
        from heatplan.actions import plan as actions
        from heatplan.plan import source

        opts = actions.PlanOptions(
            source=plan_dir, parameters=['DeployIdentifier=%s' % deploy_id],
            max_body_bytes=0, limits=source.Limits(max_files=1000000,
                                                   max_total_bytes=4 << 30))
        self.counter.reset()
        self.timer.reset()
        t0 = time.perf_counter()
        _src, plan = actions.build_plan(opts)
        t1 = time.perf_counter()
        result = deploy.deploy(self.adapter, plan, deploy.DeployOptions(
            stack=stack, poll=self.poll, wait_timeout=self.timeout))
        elapsed = time.perf_counter() - t0
        sample = self._sample(elapsed, result.status, result.outcome)
        sample['phases'] = dict(self.timer.seconds, build_plan=t1 - t0)
        sample['calls'] = dict(self.timer.calls)
        return sample

    # -- heatclient -------------------------------------------------------
    def heatclient(self, plan_dir, stack, deploy_id, ident=None):
        tool = measure.HeatclientTool(plan_dir)
        tool.params['DeployIdentifier'] = deploy_id
        self.counter.reset()
        t0 = time.perf_counter()
        times, fields = tool.run()
        if ident is None:
            fields['stack_name'] = stack
            created = self.client.stacks.create(**fields)
            ident = '%s/%s' % (stack, created['stack']['id'])
            want = 'CREATE_'
        else:
            del fields['stack_name']
            self.client.stacks.update(ident, **fields)
            want = 'UPDATE_'
        deadline = time.monotonic() + self.timeout
        while True:
            status = self.client.stacks.get(ident).stack_status
            if status.startswith(want) and status.endswith(('_COMPLETE', '_FAILED')):
                break
            if time.monotonic() > deadline:
                status = 'TIMEOUT(%s)' % status
                break
            time.sleep(self.poll)
        elapsed = time.perf_counter() - t0
        sample = self._sample(elapsed, status, 'ok')
        sample['phases'] = {'assembly': times['assembly']}
        return sample, ident

    def _sample(self, elapsed, status, outcome):
        return {'seconds': elapsed, 'status': status, 'outcome': outcome,
                'requests': self.counter.requests, 'request_bytes': self.counter.bytes}


def run(plans, export_label, export_runs, workdir, poll, timeout):
    """``plans``: [(label, directory, runs)]."""
    from heatplan.actions import export as export_action
    from heatplan.local import launcher

    data_dir = tempfile.mkdtemp(prefix='local-heat-', dir=workdir)
    started = time.perf_counter()
    status = launcher.up(data_dir=data_dir, port=free_port(), limits=HEAT_LIMITS,
                         exit_with_pid=os.getpid())
    out = {'heat_startup_seconds': time.perf_counter() - started, 'plans': {},
           'export': None, 'errors': []}
    try:
        bench = Bench(status.url, poll, timeout)
        for label, plan_dir, runs in plans:
            res = {(tool, op): [] for tool in ('heatplan', 'heatclient')
                   for op in ('create', 'update')}
            idents = {}
            for op in ('create', 'update'):
                for i in range(runs):
                    order = ('heatplan', 'heatclient') if i % 2 == 0 else (
                        'heatplan', 'heatclient')[::-1]
                    for tool in order:
                        stack = 'bench-%s-%s-%d' % (label, tool, i)
                        deploy_id = '%s-%d' % (op, i)
                        try:
                            if tool == 'heatplan':
                                sample = bench.heatplan(plan_dir, stack, deploy_id)
                            else:
                                sample, idents[stack] = bench.heatclient(
                                    plan_dir, stack, deploy_id,
                                    idents.get(stack) if op == 'update' else None)
                        except Exception as exc:  # report it, go on with the others
                            sample = {'seconds': None, 'status': 'ERROR %s: %s' % (
                                type(exc).__name__, str(exc).splitlines()[0][:300])}
                        if not sample['status'].endswith('_COMPLETE'):
                            out['errors'].append('%s %s %s: %s' % (
                                tool, op, stack, sample['status']))
                        res[(tool, op)].append(sample)
            out['plans'][label] = {'%s/%s' % k: v for k, v in res.items()}
        if export_label is not None:
            stack = 'bench-%s-heatplan-0' % export_label
            samples = []
            try:
                for i in range(export_runs + 1):
                    target = os.path.join(workdir, 'export-%d' % i)
                    t0 = time.perf_counter()
                    info = export_action.export(bench.adapter, stack, target)
                    elapsed = time.perf_counter() - t0
                    if i:   # the first one warms up
                        samples.append({'seconds': elapsed, 'files': info['files']})
                    shutil.rmtree(target, ignore_errors=True)
            except Exception as exc:
                out['errors'].append('export %s: %s: %s' % (
                    stack, type(exc).__name__, str(exc).splitlines()[0][:300]))
            out['export'] = {'plan': export_label, 'runs': samples}
    finally:
        launcher.down(data_dir=data_dir)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--plan', action='append', default=[], metavar='LABEL=DIR',
                        help='a plan to deploy (repeatable)')
    parser.add_argument('--runs', type=int, default=3, help='runs per plan (default)')
    parser.add_argument('--plan-runs', action='append', default=[], metavar='LABEL=N',
                        help='runs for one plan')
    parser.add_argument('--export', metavar='LABEL', help='plan whose stack to export')
    parser.add_argument('--export-runs', type=int, default=5)
    parser.add_argument('--poll', type=float, default=0.2)
    parser.add_argument('--timeout', type=float, default=300)
    parser.add_argument('--workdir', required=True)
    args = parser.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    runs = {label: int(n) for label, n in (p.split('=', 1) for p in args.plan_runs)}
    plans = [(label, path, runs.get(label, args.runs))
             for label, path in (p.split('=', 1) for p in args.plan)]
    out = run(plans, args.export, args.export_runs, args.workdir, args.poll, args.timeout)
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
