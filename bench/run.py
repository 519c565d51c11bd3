"""heatplan benchmarks: what users feel, against what they would use instead.

``tox -e bench`` (or ``python bench/run.py``) generates the synthetic plans
(``bench/genplan.py``), measures every figure in fresh subprocesses
(``bench/measure.py``, ``bench/e2e.py``) and prints one table of figures,
ratios and targets.  Targets are goals measured here, not timed tests: a
missed target never fails the run (only a broken measurement does).

Figures (median [min-max] of several runs):

1. assembly time, source -> request body: heatplan vs python-heatclient's
   template_utils vs the floor (libyaml composing every YAML file once);
2. lint time, and lint + assembly vs heatclient's assembly;
3. request body bytes;
4. end to end on the local Heat: heatplan deploy vs heatclient create/update;
5. export of the 1,000-file plan from its stack;
6. peak RSS of assembling the 5,000-file plan;
7. assembly time per file across plan sizes;

and whole processes as users run them (``bench/wholeproc.py``):

W1. ``heatplan build`` (without the analysis cache, with an empty one, with a
    warm one) against python-heatclient's assembly as a script: wall, CPU,
    peak RSS;
W2. ``heatplan deploy`` of an unchanged plan on the local Heat: wall, time
    waiting for Heat, heatplan's own time.

``--before DIR`` adds, to W1 and W2, the heatplan package of an older
checkout (``git archive REV heatplan | tar -x -C DIR``): before and after,
side by side in the same run.

The assembly figures (1-3) also cover (unless ``--no-tht``)
a real plan: the tripleo-heat-templates 18.0.0 overcloud plan of
``tests/realplans`` (fetched from the package index once, then cached), whose
floor counts only the files heatclient reads from the 1,800-file tree.

See doc/source/performance.rst for the latest figures.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEMO = os.path.join(REPO, 'examples', 'demo')
sys.path.insert(0, HERE)

import genplan  # noqa: E402
import wholeproc  # noqa: E402

TOOLS = ('heatplan', 'heatclient', 'floor')
#: Phases of heatplan's deploy that heatclient's create/update has no counterpart for.
EXTRA_PHASES = ('build_plan', 'create_stack(record)', 'list_stacks', 'update_tags',
                'preview_update', 'get_files', 'patch_files', 'delete_stack')
#: Plans whose assembly targets count (the issue: the 1,000- and 5,000-file plans).
TARGET_PLANS = ('1000', '5000')


def log(message):
    sys.stderr.write('[bench %s] %s\n' % (time.strftime('%H:%M:%S'), message))
    sys.stderr.flush()


def sub(args, timeout=1800):
    """Run ``python bench/<args>`` and return its JSON output."""
    cmd = [sys.executable] + args
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError('%s failed (exit %d):\n%s' % (' '.join(args), proc.returncode,
                                                          proc.stderr[-3000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# statistics and formatting

def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values),
            'n': len(values)}


def fs(seconds):
    """Seconds with 3 significant digits."""
    if seconds is None:
        return '-'
    if seconds >= 100:
        return '%.0f' % seconds
    if seconds >= 10:
        return '%.1f' % seconds
    if seconds >= 1:
        return '%.2f' % seconds
    if seconds >= 0.1:
        return '%.3f' % seconds
    return '%.4f' % seconds


def cell(st):
    if st is None:
        return '-'
    return '%s [%s-%s]' % (fs(st['median']), fs(st['min']), fs(st['max']))


def fbytes(n):
    if n is None:
        return '-'
    if n >= 1 << 20:
        return '%.1f MiB' % (n / float(1 << 20))
    if n >= 1 << 10:
        return '%.0f KiB' % (n / 1024.0)
    return '%d B' % n


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fr(x, suffix='x'):
    return '-' if x is None else '%.2f%s' % (x, suffix)


def table(headers, rows, indent='  '):
    widths = [len(h) for h in headers]
    for row in rows:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(str(c)))
    lines = [indent + '  '.join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append(indent + '  '.join('-' * w for w in widths))
    for row in rows:
        lines.append(indent + '  '.join(str(c).ljust(widths[i])
                                        for i, c in enumerate(row)).rstrip())
    return '\n'.join(lines)


# ---------------------------------------------------------------------------
# environment

def _version(dist):
    try:
        from importlib import metadata

        return metadata.version(dist)
    except Exception:
        return 'not installed'


def machine():
    info = {
        'nproc': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
        else os.cpu_count(),
        'cpu': platform.processor() or platform.machine(),
        'python': platform.python_version(),
        'platform': platform.platform(),
        'heatplan': _version('heatplan'),
        'python-heatclient': _version('python-heatclient'),
        'openstack-heat': _version('openstack-heat'),
        'PyYAML': _version('PyYAML'),
        'keystoneauth1': _version('keystoneauth1'),
    }
    try:
        import yaml

        info['libyaml'] = yaml._yaml.get_version_string() if yaml.__with_libyaml__ else 'no'
    except Exception:
        info['libyaml'] = 'no'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
        with open('/proc/meminfo') as f:
            info['memory'] = '%.1f GiB' % (int(f.readline().split()[1]) / 1048576.0)
    except OSError:
        pass
    return info


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


# ---------------------------------------------------------------------------
# the run

def generate_plans(workdir, sizes, seed):
    plans = {'demo': DEMO}
    infos = {}
    demo_files = [os.path.relpath(os.path.join(d, n), DEMO)
                  for d, _s, ns in os.walk(DEMO) for n in ns if n != 'heatplan.yaml']
    infos['demo'] = {'files': len(demo_files), 'bytes': sum(
        os.path.getsize(os.path.join(DEMO, k)) for k in demo_files), 'environments': 2}
    for n in sizes:
        t0 = time.perf_counter()
        info = genplan.generate(os.path.join(workdir, 'plan-%d' % n), n, seed)
        plans[str(n)] = info.root
        infos[str(n)] = {'files': len(info.files), 'bytes': info.total_bytes,
                         'environments': len(info.environments)}
        log('generated the %d-file plan (%s) in %.1f s'
            % (n, fbytes(info.total_bytes), time.perf_counter() - t0))
    return plans, infos


#: Real plans (not generated): left out of the per-file scaling figure.
REAL_PLANS = ('tht',)


def tht_plan(plan_dir=None):
    """The THT overcloud plan of tests/realplans: (dir, info); prepared if not given."""
    sys.path.insert(0, REPO)
    from tests.realplans import tht

    if plan_dir is None:
        t0 = time.perf_counter()
        with tht.temporary_local_heat() as adapter:
            types = tht.available_types_of(adapter)
        plan_dir = tht.prepare(types)['plan_dir']
        log('prepared the THT plan in %.1f s: %s' % (time.perf_counter() - t0, plan_dir))
    plan_dir = os.path.abspath(plan_dir)
    fields = tht.heatclient_fields(plan_dir)
    values = [v if isinstance(v, bytes) else v.encode('utf-8')
              for v in fields['files'].values()]
    with open(os.path.join(plan_dir, tht.ROOT_TEMPLATE), 'rb') as f:
        root_bytes = len(f.read())
    return plan_dir, {'files': len(values) + 1, 'bytes': sum(map(len, values)) + root_bytes,
                      'environments': len(fields.get('environment_files') or ())}


def measure_assembly(plans, infos, runs, runs_large):
    out = {}
    for label, path in plans.items():
        n = runs_large if infos[label]['files'] >= 5000 else runs
        out[label] = {}
        for tool in TOOLS:
            t0 = time.perf_counter()
            args = ['bench/measure.py', 'time', tool, path, '--runs', str(n)]
            if tool == 'floor' and label in REAL_PLANS:
                args += ['--floor-files', 'read']
            out[label][tool] = sub(args)
            log('assembly %s %s: %d runs in %.1f s'
                % (label, tool, n, time.perf_counter() - t0))
    return out


def measure_memory(plans, labels):
    out = {}
    for label in labels:
        out[label] = {}
        for tool in TOOLS:
            out[label][tool] = sub(['bench/measure.py', 'memory', tool, plans[label]])
            log('memory %s %s: %s' % (label, tool, fbytes(out[label][tool]['delta_rss'])))
    return out


def measure_e2e(plans, e2e_plans, runs, large_runs, export_label, export_runs, workdir):
    args = ['bench/e2e.py', '--workdir', workdir, '--runs', str(runs),
            '--export-runs', str(export_runs)]
    for label in e2e_plans:
        args += ['--plan', '%s=%s' % (label, plans[label])]
        if label != e2e_plans[0]:
            args += ['--plan-runs', '%s=%d' % (label, large_runs)]
    if export_label:
        args += ['--export', export_label]
    t0 = time.perf_counter()
    out = sub(args, timeout=3600)
    log('end to end: %.0f s' % (time.perf_counter() - t0))
    return out


def measure_wholeproc(plans, labels, runs, workdir, before=None):
    """Whole-process ``heatplan build`` (no cache, cold, warm) against heatclient's script."""
    if not labels:
        return None
    args = ['bench/wholeproc.py', 'build', '--runs', str(runs), '--workdir',
            os.path.join(workdir, 'wholeproc')] + (['--before', before] if before else [])
    for label in labels:
        args += ['--plan', '%s=%s' % (label, plans[label])]
    t0 = time.perf_counter()
    out = sub(args, timeout=3600)
    log('whole-process build (%s): %.0f s' % (', '.join(labels), time.perf_counter() - t0))
    return out


def measure_unchanged(plans, labels, runs, workdir, before=None):
    """Whole-process ``heatplan deploy`` of an unchanged plan on the local Heat."""
    if not labels:
        return None
    args = ['bench/wholeproc.py', 'deploy', '--runs', str(runs), '--workdir',
            os.path.join(workdir, 'unchanged')] + (['--before', before] if before else [])
    for label in labels:
        args += ['--plan', '%s=%s' % (label, plans[label])]
    t0 = time.perf_counter()
    out = sub(args, timeout=3600)
    log('unchanged deploy (%s): %.0f s' % (', '.join(labels), time.perf_counter() - t0))
    return out


def profile(plans, label):
    return sub(['bench/measure.py', 'profile', 'heatplan', plans[label]])['profile']


# ---------------------------------------------------------------------------
# report

def measure_startup(runs=15):
    """Whole-process start-up: ``heatplan --version`` against ``python -c pass``."""
    exe = os.path.join(os.path.dirname(sys.executable), 'heatplan')
    out = {}
    for label, argv in (('python -c pass', [sys.executable, '-c', 'pass']),
                        ('heatplan --version', [exe, '--version']),
                        ('heatplan lint rules', [exe, 'lint', 'rules', '-f', 'value'])):
        samples = []
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)   # unmeasured: writes its bytecode (cache_bytecode)
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True)
            samples.append(time.perf_counter() - t)
        out[label] = stats(samples)
        log('start-up %s: %d runs' % (label, runs))
    return out


def report(res):
    lines = []
    add = lines.append
    targets = []     # (figure, description, met: True/False/None, measured)
    m = res['machine']
    add('heatplan benchmarks (bench/run.py, seed %d)' % res['seed'])
    add('machine: %s CPUs (%s), %s RAM; %s' % (m['nproc'], m['cpu'], m.get('memory', '?'),
                                                m['platform']))
    add('versions: Python %s, heatplan %s, python-heatclient %s, openstack-heat %s, '
        'PyYAML %s (libyaml %s), keystoneauth1 %s'
        % (m['python'], m['heatplan'], m['python-heatclient'], m['openstack-heat'],
           m['PyYAML'], m['libyaml'], m['keystoneauth1']))
    add('load average (1 min) at start %s, at end %s'
        % (fr(res['load_start'], ''), fr(res['load_end'], '')))
    if res['load_start'] and res['load_start'] > m['nproc']:
        add('WARNING: the machine was busy when the run started; figures are noisy')
    add('all times in seconds: median [min-max] of the runs; ratios use medians')
    add('')
    if res.get('startup'):
        add('Start-up (whole process, %s)' % ', '.join(res['startup']))
        add(table(['command', 'seconds'], [[k, cell(v)] for k, v in res['startup'].items()]))
        version = res['startup'].get('heatplan --version')
        if version:
            targets.append(('start-up', 'heatplan --version <= 0.1 s',
                            version['median'] <= 0.1, fs(version['median'])))
        add('')
    add('Plans')
    rows = []
    for label, info in res['plans'].items():
        rows.append((label, info['files'], fbytes(info['bytes']), info['environments']))
    add(table(('plan', 'files', 'bytes', 'environments'), rows))

    asm = res['assembly']
    add('')
    add('1. Assembly, source -> request body (heatplan: analyze + build; heatclient: '
        'template_utils; floor: libyaml compose of every YAML file)')
    rows = []
    for label in asm:
        hp = stats([r['assembly'] for r in asm[label]['heatplan']['runs']])
        hc = stats([r['assembly'] for r in asm[label]['heatclient']['runs']])
        fl = stats([r['assembly'] for r in asm[label]['floor']['runs']])
        speed = ratio(hc['median'], hp['median'])
        floor = ratio(hp['median'], fl['median'])
        cpu = {t: stats([r.get('cpu') for r in asm[label][t]['runs']]) for t in TOOLS}
        cpu_ratios = '-'
        if all(cpu.values()):
            cpu_ratios = '%s / %s' % (
                fr(ratio(cpu['heatclient']['median'], cpu['heatplan']['median'])),
                fr(ratio(cpu['heatplan']['median'], cpu['floor']['median'])))
        rows.append((label, cell(hp), cell(hc), cell(fl), fr(speed), fr(floor), cpu_ratios))
        if label in TARGET_PLANS:
            targets.append(('1', '%s files: heatplan >= 4x faster than heatclient' % label,
                            speed >= 4, fr(speed)))
            targets.append(('1', '%s files: heatplan within 1.5x of the floor' % label,
                            floor <= 1.5, fr(floor)))
    add(table(('plan', 'heatplan', 'heatclient', 'floor', 'hc/hp', 'hp/floor',
               'same on CPU time'), rows))

    add('')
    add('2. Lint (lint + request-size check), and lint + assembly (= heatplan build)')
    rows = []
    for label in asm:
        runs = asm[label]['heatplan']['runs']
        lint = stats([r['lint'] for r in runs])
        total = stats([r['total'] for r in runs])
        hc = stats([r['assembly'] for r in asm[label]['heatclient']['runs']])
        speed = ratio(hc['median'], total['median'])
        rows.append((label, cell(lint), cell(total), fr(speed)))
        if label in TARGET_PLANS:
            targets.append(('2', '%s files: lint + assembly >= 3x faster than heatclient '
                            'assembly' % label, speed >= 3, fr(speed)))
    add(table(('plan', 'lint', 'lint + assembly', 'hc / (lint + assembly)'), rows))

    add('')
    add('3. Request body (JSON, as heatclient sends it)')
    rows = []
    for label in asm:
        hp = asm[label]['heatplan']['body_bytes']
        hc = asm[label]['heatclient']['body_bytes']
        rows.append((label, fbytes(hp), fbytes(hc), fr(ratio(hp, hc)),
                     asm[label]['heatplan']['facts']['files_sent'],
                     asm[label]['heatclient']['facts']['files_sent']))
    add(table(('plan', 'heatplan', 'heatclient', 'hp/hc', 'hp files map', 'hc files map'),
              rows))

    whole = res.get('wholeproc')
    add('')
    add('W1. Whole process: heatplan build PLAN -o /dev/null vs heatclient\'s assembly as a '
        'script (bench/measure.py script: template_utils + the request body as its HTTP layer '
        'serialises it); fresh processes, tools in rotating order; wall s, CPU s (user+sys), '
        'peak RSS')
    if not whole:
        add('  (skipped)')
    else:
        rows = []
        for label, data in whole.items():
            sm = data['samples']
            hc = sm['heatclient']
            hc_cpu = stats([x['cpu'] for x in hc])['median']
            hc_wall = stats([x['wall'] for x in hc])['median']
            hc_rss = max(x['maxrss'] for x in hc)
            asm_hp = None
            if label in asm:
                asm_hp = stats([r['total'] for r in asm[label]['heatplan']['runs']])['median']
            for tool in ('heatclient', 'heatplan before', 'heatplan --no-cache',
                         'heatplan cold', 'heatplan warm'):
                xs = sm.get(tool)
                if not xs:
                    continue
                wall = stats([x['wall'] for x in xs])
                cpu = stats([x['cpu'] for x in xs])
                rss = max(x['maxrss'] for x in xs)
                rows.append((label, tool, cell(wall), cell(cpu), fbytes(rss),
                             '-' if tool == 'heatclient' else fr(ratio(hc_cpu, cpu['median'])),
                             '-' if tool == 'heatclient' else fr(ratio(hc_wall,
                                                                       wall['median'])),
                             fs(asm_hp) if tool == 'heatplan --no-cache' else '',
                             fr(stats(data['load'])['median'], '') if tool == 'heatclient'
                             else ''))
                if label in TARGET_PLANS and tool not in ('heatclient', 'heatplan before'):
                    if label == '1000':
                        targets.append(('W1', '%s files: %s >= 3x faster than heatclient '
                                        '(whole process, CPU)' % (label, tool),
                                        ratio(hc_cpu, cpu['median']) >= 3,
                                        fr(ratio(hc_cpu, cpu['median']))))
                    targets.append(('W1', '%s files: %s peak RSS <= heatclient\'s (%s)'
                                    % (label, tool, fbytes(hc_rss)), rss <= hc_rss,
                                    fbytes(rss)))
        add(table(('plan', 'tool', 'wall', 'CPU', 'peak RSS', 'hc/hp CPU', 'hc/hp wall',
                   'in-process', 'load'), rows))
        add('  (in-process: the same build measured inside one process, figure 2; cold: an')
        add('  empty cache directory, filled by the run; warm: the cache a previous run left)')

    unchanged = res.get('unchanged')
    add('')
    add('W2. Whole process: heatplan deploy of an unchanged plan on the local Heat ("unchanged"; '
        'own = wall - time waiting for Heat\'s answers)')
    if not unchanged:
        add('  (skipped)')
    else:
        rows = []
        for label, data in unchanged.items():
            for kind in ('before', '--no-cache', 'warm'):
                xs = data['samples'].get(kind)
                if not xs:
                    continue
                own = stats([x['own'] for x in xs])
                rows.append((label, kind, cell(stats([x['wall'] for x in xs])),
                             cell(stats([x['heat'] for x in xs])), cell(own),
                             cell(stats([x['cpu'] for x in xs])),
                             fbytes(max(x['maxrss'] for x in xs)),
                             '%d' % stats([x['requests'] for x in xs])['median'],
                             fr(stats(data['load'])['median'], '') if kind == 'warm' else ''))
                if label == '5000' and kind == 'warm':
                    targets.append(('W2', 'unchanged 5000-file redeploy: heatplan\'s own time '
                                    '<= 0.3 s', own['median'] <= 0.3,
                                    fs(own['median']) + ' s'))
        add(table(('plan', 'cache', 'wall', 'waiting for Heat', 'own', 'CPU', 'peak RSS',
                   'requests', 'load'), rows))
        add('  before: the heatplan of --before (no cache; it also read the deployed files map)')
        add('  requests: reading the stack and its revision records (the deployed digest);')
        add('  warm: the plan summary cached (files read and hashed, nothing analysed, no body)')

    e2e = res.get('e2e')
    add('')
    add('4. End to end on the local Heat: source -> COMPLETE (heatplan deploy with its '
        'revision record vs heatclient stacks.create/update; both poll every %.1f s)'
        % res['poll'])
    if not e2e:
        add('  (skipped)')
    else:
        rows = []
        for label, ops in e2e['plans'].items():
            for op in ('create', 'update'):
                hp_runs = ops['heatplan/' + op]
                hc_runs = ops['heatclient/' + op]
                hp = stats([r['seconds'] for r in hp_runs])
                hc = stats([r['seconds'] for r in hc_runs])
                over = ratio(hp['median'], hc['median']) - 1 if hp and hc else None
                paired = stats([a['seconds'] / b['seconds'] - 1
                                for a, b in zip(hp_runs, hc_runs, strict=False)
                                if a.get('seconds') and b.get('seconds')])
                rows.append((label, op, cell(hp), cell(hc),
                             '-' if over is None else '%+.0f%%' % (100 * over),
                             '-' if paired is None else '%+.0f%% [%+.0f%%..%+.0f%%] (%d)' % (
                                 100 * paired['median'], 100 * paired['min'],
                                 100 * paired['max'], paired['n']),
                             '%d / %d' % (stats([r.get('requests', 0) for r in hp_runs])
                                          ['median'],
                                          stats([r.get('requests', 0) for r in hc_runs])
                                          ['median']),
                             '%s / %s' % (fbytes(stats([r.get('request_bytes', 0)
                                                        for r in hp_runs])['median']),
                                          fbytes(stats([r.get('request_bytes', 0)
                                                        for r in hc_runs])['median']))))
                # issue 18: <= 5 % including the guard (the medians of the two tools compared)
                targets.append(('4', '%s files %s: heatplan overhead <= 5%%' % (label, op),
                                None if over is None else over <= 0.05,
                                '-' if over is None else '%+.0f%%' % (100 * over)))
        add(table(('plan', 'op', 'heatplan', 'heatclient', 'overhead',
                   'paired runs: median [min..max] (n)', 'requests hp/hc', 'sent hp/hc'),
                  rows))
        add('  Heat paces nested stacks by the second, so one deploy varies by about 1 s;')
        add('  the time heatplan spends outside the create/update + wait that heatclient also')
        add('  does (its build_plan beyond heatclient\'s assembly, the revision record, the')
        add('  update preview, record lookups and tags; median, s):')
        rows = []
        for label, ops in e2e['plans'].items():
            for op in ('create', 'update'):
                hc_runs = [r for r in ops['heatclient/' + op] if r.get('phases')]
                hp_runs = [r for r in ops['heatplan/' + op] if r.get('phases')]
                if not hc_runs or not hp_runs:
                    continue
                hc_asm = statistics.median(r['phases']['assembly'] for r in hc_runs)
                extra = statistics.median(
                    sum(v for k, v in r['phases'].items() if k in EXTRA_PHASES)
                    for r in hp_runs) - hc_asm
                hc_med = statistics.median(r['seconds'] for r in ops['heatclient/' + op]
                                           if r['seconds'] is not None)
                guard = statistics.median(r['phases'].get('preview_update', 0.0)
                                          for r in hp_runs)
                rows.append((label, op, fs(extra), '%+.0f%%' % (100 * extra / hc_med),
                             fs(guard), '%+.0f%%' % (100 * (extra - guard) / hc_med)))
        add(table(('plan', 'op', 'heatplan-only time', 'of heatclient\'s deploy',
                   'guard preview', 'without the preview'), rows))
        add('  (the preview is the destruction guard: Heat computing what the update would')
        add('  replace or delete; "deploy --allow-replace --allow-delete" skips it)')
        add('  where heatplan deploy spends its time (median of runs; seconds; list_events')
        add('  and get_stack poll while Heat works):')
        for label, ops in e2e['plans'].items():
            for op in ('create', 'update'):
                phases = {}
                for r in ops['heatplan/' + op]:
                    for k, v in (r.get('phases') or {}).items():
                        phases.setdefault(k, []).append(v)
                calls = {}
                for r in ops['heatplan/' + op]:
                    for k, v in (r.get('calls') or {}).items():
                        calls.setdefault(k, []).append(v)
                parts = ['%s %s%s' % (k, fs(statistics.median(v)),
                                      ' (%dx)' % statistics.median(calls[k])
                                      if k in calls else '')
                         for k, v in sorted(phases.items(), key=lambda kv: -max(kv[1]))]
                add('    %s %s: %s' % (label, op, ', '.join(parts)))
        for err in e2e.get('errors', []):
            add('  ERROR: %s' % err)

    add('')
    add('5. Export of a deployed plan from its stack to a new directory (heatplan export)')
    exp = e2e.get('export') if e2e else None
    if not exp or not exp['runs']:
        add('  (skipped)')
    else:
        st = stats([r['seconds'] for r in exp['runs']])
        add('  %s files (%d files written): %s' % (exp['plan'], exp['runs'][0]['files'],
                                                    cell(st)))
        if exp['plan'] == '1000':
            targets.append(('5', 'export of the 1000-file plan < 0.5 s', st['median'] < 0.5,
                            fs(st['median']) + ' s'))

    add('')
    add('6. Memory: peak RSS above the process baseline (after imports) of one assembly')
    mem = res.get('memory') or {}
    rows = []
    for label, tools in mem.items():
        plan_bytes = res['plans'][label]['bytes']
        cells = [label, fbytes(plan_bytes)]
        for tool in TOOLS:
            delta = tools[tool]['delta_rss']
            cells.append('%s (%.1fx)' % (fbytes(delta), delta / float(plan_bytes)))
        rows.append(cells)
        hp_ratio = tools['heatplan']['delta_rss'] / float(plan_bytes)
        if label == '5000':
            targets.append(('6', 'peak RSS of assembling 5000 files < 5x the plan bytes',
                            hp_ratio < 5, fr(hp_ratio)))
    add(table(('plan', 'plan bytes', 'heatplan', 'heatclient', 'floor'), rows) if rows
        else '  (skipped)')

    add('')
    add('7. Scaling: assembly time per file (microseconds, medians)')
    rows = []
    per_file = {tool: {} for tool in TOOLS}
    for label in asm:
        if label == 'demo' or label in REAL_PLANS:
            continue
        files = res['plans'][label]['files']
        cells = [label]
        for tool in TOOLS:
            med = stats([r['assembly'] for r in asm[label][tool]['runs']])['median']
            per_file[tool][label] = med / files * 1e6
            cells.append('%.0f' % per_file[tool][label])
        rows.append(cells)
    spread = {tool: ratio(max(v.values()), min(v.values())) if v else None
              for tool, v in per_file.items()}
    if rows:
        rows.append(['max/min'] + [fr(spread[t]) for t in TOOLS])
    add(table(('plan', 'heatplan', 'heatclient', 'floor'), rows) if rows
        else '  (skipped: no generated plans)')
    if spread['heatplan'] is not None:
        targets.append(('7', 'assembly time per file flat across sizes (max/min <= 1.5)',
                        spread['heatplan'] <= 1.5, fr(spread['heatplan'])))

    add('')
    add('Targets')
    rows = [(fig, desc, measured, {True: 'met', False: 'MISSED', None: 'n/a'}[met])
            for fig, desc, met, measured in targets]
    add(table(('fig', 'target', 'measured', 'status'), rows) if rows
        else '  (none measured: they are on the generated plans)')
    add('')
    add('total wall time: %.0f s' % res['wall_seconds'])
    if res.get('whatif'):
        add('')
        add('What if heatplan ran with the cyclic GC disabled during assembly (diagnostic, '
            'not shipped):')
        rows = []
        for label, sample in res['whatif'].items():
            nogc = stats([r['assembly'] for r in sample['runs']])
            hc = stats([r['assembly'] for r in asm[label]['heatclient']['runs']])
            fl = stats([r['assembly'] for r in asm[label]['floor']['runs']])
            rows.append((label, cell(nogc), fr(ratio(hc['median'], nogc['median'])),
                         fr(ratio(nogc['median'], fl['median']))))
        add(table(('plan', 'heatplan, gc off', 'hc/hp', 'hp/floor'), rows))
    if res.get('profile'):
        add('')
        add('cProfile of one heatplan assembly + lint of the %s-file plan (top by own time):'
            % res['profile_plan'])
        add(res['profile'])
    return '\n'.join(lines), targets


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog='Default: every figure; about 8 minutes on a quiet 2-core machine.')
    parser.add_argument('--sizes', default='100,1000,5000',
                        help='synthetic plan sizes in files (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--runs', type=int, default=5,
                        help='timed runs per assembly figure (default: %(default)s)')
    parser.add_argument('--runs-large', type=int, default=3,
                        help='timed runs for plans of 5,000+ files (default: %(default)s)')
    parser.add_argument('--e2e-plans', default='100,1000',
                        help='plans deployed end to end; "" to skip (default: %(default)s)')
    parser.add_argument('--e2e-runs', type=int, default=6,
                        help='deploys per tool and operation, first e2e plan '
                             '(default: %(default)s)')
    parser.add_argument('--e2e-runs-large', type=int, default=5,
                        help='the same for the other e2e plans (default: %(default)s)')
    parser.add_argument('--export-runs', type=int, default=5)
    parser.add_argument('--memory-plans', default='5000',
                        help='plans whose peak RSS is measured (default: %(default)s)')
    parser.add_argument('--poll', type=float, default=0.2)
    parser.add_argument('--wholeproc-plans', default='100,1000,5000,tht',
                        help='plans whose whole-process build is timed; "" to skip '
                             '(default: %(default)s)')
    parser.add_argument('--wholeproc-runs', type=int, default=5,
                        help='runs per tool of each whole-process figure (default: '
                             '%(default)s)')
    parser.add_argument('--before', metavar='DIR',
                        help='also time whole processes of the heatplan package in DIR (an '
                             'older checkout: git archive REV heatplan | tar -x -C DIR)')
    parser.add_argument('--unchanged-plans', default='1000,5000',
                        help='plans deployed once, then redeployed unchanged (whole '
                             'process); "" to skip (default: %(default)s)')
    parser.add_argument('--profile', action='store_true',
                        help='also cProfile heatplan on the largest plan, and time it '
                             'with the cyclic GC disabled (what-if)')
    parser.add_argument('--quick', action='store_true',
                        help='sizes 100,1000, 3 runs, e2e on 100 only (a smoke run)')
    parser.add_argument('--tht', action=argparse.BooleanOptionalAction, default=True,
                        help='measure assembly on the tripleo-heat-templates 18.0.0 '
                             'overcloud plan too (fetched once from the package index '
                             'into the tests/realplans cache; default: yes)')
    parser.add_argument('--tht-plan', metavar='DIR',
                        help='use the THT plan already prepared in DIR')
    parser.add_argument('--workdir', help='keep plans and results here (default: a temp dir, '
                        'removed at the end)')
    parser.add_argument('--json', metavar='FILE', help='also write every sample as JSON')
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.runs, args.runs_large = '100,1000', 3, 3
        args.e2e_plans, args.e2e_runs, args.memory_plans = '100', 1, '1000'
        args.wholeproc_plans, args.wholeproc_runs, args.unchanged_plans = '1000', 3, '1000'
    started = time.perf_counter()
    sizes = [int(s) for s in args.sizes.split(',') if s]
    e2e_plans = [s for s in args.e2e_plans.split(',') if s]
    memory_plans = [s for s in args.memory_plans.split(',') if s and int(s) in sizes]
    workdir = args.workdir or tempfile.mkdtemp(prefix='heatplan-bench-')
    os.makedirs(workdir, exist_ok=True)
    # child processes cache their bytecode, as an installed heatplan has it
    wholeproc.cache_bytecode(workdir)
    res = {'seed': args.seed, 'machine': machine(), 'load_start': load_average(),
           'poll': args.poll}
    try:
        res['startup'] = measure_startup()
        plans, infos = generate_plans(workdir, sizes, args.seed)
        if args.tht or args.tht_plan:
            plans['tht'], infos['tht'] = tht_plan(args.tht_plan)
        res['plans'] = infos
        res['assembly'] = measure_assembly(plans, infos, args.runs, args.runs_large)
        res['memory'] = measure_memory(plans, memory_plans)
        res['wholeproc'] = measure_wholeproc(
            plans, [p for p in args.wholeproc_plans.split(',') if p in plans],
            args.wholeproc_runs, workdir, args.before)
        res['unchanged'] = measure_unchanged(
            plans, [p for p in args.unchanged_plans.split(',') if p in plans],
            args.wholeproc_runs, workdir, args.before)
        res['e2e'] = None
        if e2e_plans:
            export = '1000' if '1000' in e2e_plans else None
            try:
                res['e2e'] = measure_e2e(plans, e2e_plans, args.e2e_runs,
                                         args.e2e_runs_large, export, args.export_runs,
                                         os.path.join(workdir, 'e2e'))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                log('end to end failed: %s' % exc)
                res['e2e'] = {'plans': {}, 'export': None,
                              'errors': ['the end-to-end run failed: %s'
                                         % str(exc).strip().splitlines()[-1]]}
        if args.profile:
            res['whatif'] = {}
            for label in plans:
                if label != 'demo' and infos[label]['files'] >= 1000:
                    n = args.runs_large if infos[label]['files'] >= 5000 else args.runs
                    res['whatif'][label] = sub(['bench/measure.py', 'time', 'heatplan-nogc',
                                                plans[label], '--runs', str(n)])
            res['profile_plan'] = str(max(sizes))
            res['profile'] = profile(plans, res['profile_plan'])
        res['load_end'] = load_average()
        res['wall_seconds'] = time.perf_counter() - started
        text, targets = report(res)
        res['targets'] = targets
        print(text)
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(res, f, indent=1)
        with open(os.path.join(workdir, 'results.json'), 'w') as f:
            json.dump(res, f, indent=1)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    errors = (res.get('e2e') or {}).get('errors') or []
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
