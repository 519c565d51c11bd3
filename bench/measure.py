"""Assembly, lint, body-size and memory measurements, one tool per process.

Run by ``bench/run.py`` as a fresh subprocess per (plan, tool), so that no
measurement inherits another's heap (Python's cyclic GC cost grows with the
live heap) and peak RSS is the measured work's own.  Prints one JSON object.

    python bench/measure.py time TOOL PLAN_DIR --runs N
    python bench/measure.py memory TOOL PLAN_DIR
    python bench/measure.py script heatclient PLAN_DIR > body.json

TOOL is ``heatplan`` (analyze + build = assembly; lint + body check = lint,
as ``heatplan build`` runs them), ``heatclient`` (what ``openstack stack
create`` does: ``template_utils.process_template_path`` +
``process_multiple_environments_and_files`` with an environment list
tracker, and the request fields) or ``floor`` (read every plan file once and
compose every YAML one with ``yaml.CSafeLoader``: the least any tool that
looks inside the YAML must do).  With ``--floor-files read`` the floor reads
only the files python-heatclient's assembly reads, for a tree that holds more
than the plan (tripleo-heat-templates).
"""

import argparse
import gc
import json
import os
import resource
import sys
import time

TOOLS = ('heatplan', 'heatclient', 'floor', 'heatplan-nogc')


def _plan_definition(plan_dir):
    """(root template, [environments], {parameters}) from the plan's heatplan.yaml."""
    import yaml

    with open(os.path.join(plan_dir, 'heatplan.yaml')) as f:
        doc = yaml.safe_load(f)
    return doc['template'], list(doc.get('environments') or []), dict(
        doc.get('parameters') or {})


def _plan_files(plan_dir):
    """Every file of the plan but heatplan.yaml: (keys of YAML files, other keys).

    The YAML files are the environments and every template (a ``.yaml`` or
    ``.template`` file with a ``heat_template_version``); the others (get_file
    scripts, data) are only read.
    """
    _root, envs, _params = _plan_definition(plan_dir)
    yaml_keys, other = [], []
    for dirpath, _dirs, names in os.walk(plan_dir):
        for name in names:
            path = os.path.join(dirpath, name)
            key = os.path.relpath(path, plan_dir).replace(os.sep, '/')
            if key == 'heatplan.yaml':
                continue
            is_yaml = key in envs
            if not is_yaml and key.endswith(('.yaml', '.template')):
                with open(path, encoding='utf-8') as f:
                    is_yaml = 'heat_template_version' in f.read()
            (yaml_keys if is_yaml else other).append(key)
    return sorted(yaml_keys), sorted(other)


class HeatplanTool:
    name = 'heatplan'

    def __init__(self, plan_dir):
        from heatplan import lint
        from heatplan.actions import plan as actions
        from heatplan.plan import assemble
        from heatplan.plan import source

        self.actions, self.assemble, self.lint = actions, assemble, lint
        self.opts = actions.PlanOptions(
            source=plan_dir, max_body_bytes=0,
            limits=source.Limits(max_files=1000000, max_total_bytes=4 << 30))

    def run(self):
        """One ``heatplan build``: returns ({phase: seconds}, result).

        Like ``actions.build_plan`` (what ``heatplan build`` runs), the
        phases run in one scope with the cyclic GC paused.
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if enabled:
                gc.enable()

    def _run(self):
        clock, cpu = time.perf_counter, time.process_time
        c0, t0 = cpu(), clock()
        src, d = self.actions.open_plan(self.opts)
        an = self.assemble.analyze(src, d)
        c1, t1 = cpu(), clock()
        diagnostics = self.lint.lint(an)
        c2, t2 = cpu(), clock()
        if an.errors:
            raise SystemExit('the plan has lint errors: %s'
                             % '; '.join(x.format() for x in an.errors[:5]))
        plan = self.assemble.build(an)
        c3, t3 = cpu(), clock()
        self.lint.check_body(plan, self.opts.max_body_bytes)
        c4, t4 = cpu(), clock()
        times = {'assembly': (t1 - t0) + (t3 - t2), 'lint': (t2 - t1) + (t4 - t3),
                 'total': t4 - t0, 'cpu': (c1 - c0) + (c3 - c2), 'cpu_total': c4 - c0}
        return times, (plan, diagnostics)

    def fields(self, result):
        from heatplan.heat import adapter as heat

        plan, _diagnostics = result
        fields = heat.HeatAdapter._fields(plan.body, disable_rollback=True)
        fields['stack_name'] = 'bench'
        return fields

    def facts(self, result):
        plan, diagnostics = result
        return {'files_sent': len(plan.body['files']), 'diagnostics': len(diagnostics)}


class HeatplanNoGCTool(HeatplanTool):
    """heatplan with Python's cyclic GC disabled during the run (a what-if)."""

    name = 'heatplan-nogc'

    def run(self):
        gc.disable()
        try:
            return super().run()
        finally:
            gc.enable()


class HeatclientTool:
    name = 'heatclient'

    def __init__(self, plan_dir):
        from heatclient.common import template_utils

        self.tu = template_utils
        root, envs, params = _plan_definition(plan_dir)
        # heatclient needs absolute paths (it turns them into file:// URLs)
        self.template = os.path.join(plan_dir, root)
        self.envs = [os.path.join(plan_dir, e) for e in envs]
        self.params = params

    def run(self):
        clock = time.perf_counter
        c0 = time.process_time()
        t0 = clock()
        tpl_files, template = self.tu.process_template_path(self.template)
        env_files_list = []
        env_files, env = self.tu.process_multiple_environments_and_files(
            env_paths=self.envs, env_list_tracker=env_files_list)
        fields = {
            'stack_name': 'bench',
            'disable_rollback': True,
            'parameters': dict(self.params),
            'template': template,
            'files': dict(list(tpl_files.items()) + list(env_files.items())),
            'environment': env,
        }
        if env_files_list:
            fields['environment_files'] = env_files_list
        t1 = clock()
        return {'assembly': t1 - t0, 'total': t1 - t0,
                'cpu': time.process_time() - c0}, fields

    def fields(self, result):
        return result

    def facts(self, result):
        return {'files_sent': len(result['files'])}


def _read_files(plan_dir):
    """The plan's files as python-heatclient's assembly reads them (a tree with
    files no plan file references, like tripleo-heat-templates): (YAML keys,
    other keys).  YAML: what heatclient re-dumps (templates, environments)."""
    tool = HeatclientTool(plan_dir)
    _times, fields = tool.run()
    prefix = 'file://' + plan_dir.rstrip('/') + '/'
    root, envs, _params = _plan_definition(plan_dir)
    yaml_keys, other = {root}, set()
    for url, value in fields['files'].items():
        key = url[len(prefix):] if url.startswith(prefix) else None
        if key is None:
            raise SystemExit('heatclient read %s, outside the plan' % url)
        if isinstance(value, bytes):
            other.add(key)
            continue
        try:
            is_yaml = isinstance(json.loads(value), dict)
        except ValueError:
            is_yaml = False
        (yaml_keys if is_yaml or key in envs else other).add(key)
    return sorted(yaml_keys), sorted(other)


class FloorTool:
    name = 'floor'

    def __init__(self, plan_dir, files='tree'):
        import yaml

        self.yaml = yaml
        self.loader = yaml.CSafeLoader
        self.yaml_keys, self.other_keys = (_read_files(plan_dir) if files == 'read'
                                           else _plan_files(plan_dir))
        self.yaml_paths = [os.path.join(plan_dir, *k.split('/')) for k in self.yaml_keys]
        self.other_paths = [os.path.join(plan_dir, *k.split('/')) for k in self.other_keys]

    def run(self):
        clock = time.perf_counter
        compose, loader = self.yaml.compose, self.loader
        c0 = time.process_time()
        t0 = clock()
        for path in self.other_paths:
            with open(path, 'rb') as f:
                f.read()
        for path in self.yaml_paths:
            with open(path, 'rb') as f:
                compose(f.read().decode('utf-8'), Loader=loader)
        t1 = clock()
        return {'assembly': t1 - t0, 'total': t1 - t0,
                'cpu': time.process_time() - c0}, None

    def fields(self, result):
        return None

    def facts(self, result):
        return {'yaml_files': len(self.yaml_keys), 'other_files': len(self.other_keys)}


def make_tool(name, plan_dir, floor_files='tree'):
    plan_dir = os.path.abspath(plan_dir)
    if name == 'floor':
        return FloorTool(plan_dir, floor_files)
    return {'heatplan': HeatplanTool, 'heatclient': HeatclientTool,
            'heatplan-nogc': HeatplanNoGCTool}[name](plan_dir)


def body_bytes(fields):
    """Bytes of the JSON request body heatclient sends for these fields."""
    from oslo_serialization import jsonutils

    return len(jsonutils.dumps(fields).encode('utf-8'))


def time_tool(name, plan_dir, runs, warmup=1, floor_files='tree'):
    tool = make_tool(name, plan_dir, floor_files)
    samples = []
    facts = {}
    size = None
    for i in range(warmup + runs):
        gc.collect()
        times, result = tool.run()
        if i == 0:
            facts = tool.facts(result)
            fields = tool.fields(result)
            size = body_bytes(fields) if fields is not None else None
            del fields
        del result
        if i >= warmup:
            samples.append(times)
    return {'tool': name, 'plan': plan_dir, 'runs': samples, 'body_bytes': size,
            'facts': facts}


def _maxrss_bytes():
    """This process's peak RSS.

    On Linux, VmHWM of /proc/self/status: ``ru_maxrss`` also counts the
    memory of the process before its exec (the parent's, for a forked child),
    so under a parent larger than the measured work (bench/run.py holding the
    THT plan) every delta read 0.
    """
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == 'darwin' else rss * 1024


def memory_tool(name, plan_dir):
    """Peak RSS of one assembly, above the process's peak after imports and setup."""
    tool = make_tool(name, plan_dir)
    gc.collect()
    base = _maxrss_bytes()
    times, result = tool.run()
    peak = _maxrss_bytes()
    return {'tool': name, 'plan': plan_dir, 'baseline_rss': base, 'peak_rss': peak,
            'delta_rss': peak - base, 'seconds': times['total']}


def profile_tool(name, plan_dir, top=25):
    """cProfile one run (after a warm-up); return the top functions as text."""
    import cProfile
    import io
    import pstats

    tool = make_tool(name, plan_dir)
    tool.run()
    gc.collect()
    prof = cProfile.Profile()
    prof.enable()
    tool.run()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats('tottime').print_stats(top)
    return {'tool': name, 'plan': plan_dir, 'profile': out.getvalue()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('what', choices=('time', 'memory', 'profile', 'script'))
    parser.add_argument('tool', choices=TOOLS)
    parser.add_argument('plan', help='plan directory (with heatplan.yaml)')
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--floor-files', choices=('tree', 'read'), default='tree',
                        help='floor over every file of the tree (default), or only '
                             'those python-heatclient reads (a tree holding more than '
                             'the plan)')
    args = parser.parse_args(argv)
    if args.what == 'script':
        # heatclient's assembly as a user's script: one run, the request body
        # (as its HTTP layer serialises it) on stdout; bench/wholeproc.py
        # times the whole process
        from oslo_serialization import jsonutils

        tool = make_tool(args.tool, args.plan)
        _times, result = tool.run()
        sys.stdout.write(jsonutils.dumps(tool.fields(result)))
        return
    if args.what == 'time':
        out = time_tool(args.tool, args.plan, args.runs, args.warmup, args.floor_files)
    elif args.what == 'memory':
        out = memory_tool(args.tool, args.plan)
    else:
        out = profile_tool(args.tool, args.plan)
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
