"""Whole processes, as users run them: ``heatplan build`` and an unchanged ``heatplan deploy``.

Run by ``bench/run.py`` in its own process.  Every sample is a fresh
process, timed from the parent (wall clock) with its own resource usage
(``os.wait4``: CPU time and peak RSS).  Prints JSON.

    python bench/wholeproc.py build --plan LABEL=DIR ... --runs N
    python bench/wholeproc.py deploy --plan LABEL=DIR ... --runs N --workdir DIR

``build``: for each plan and run (the order of the tools rotates from run to
run, so that a busy neighbour hurts each alike):

* ``heatclient``: python-heatclient's assembly as a script
  (``bench/measure.py script heatclient``: template_utils, then the request
  body as its HTTP layer serialises it, written to /dev/null);
* ``heatplan --no-cache``: ``heatplan build PLAN --no-cache -o /dev/null``;
* ``heatplan cold``: ``heatplan build`` with an empty cache directory
  (``XDG_CACHE_HOME``), which it fills;
* ``heatplan warm``: ``heatplan build`` again with that cache.

``deploy``: starts a local Heat, deploys each plan once, then times
``heatplan deploy`` of the same plan (the answer is "unchanged") with the
plan summary cached (``warm``) and with ``--no-cache``.  The child runs
through ``bench/wholeproc.py child``, which times every HTTP request on the
keystoneauth session: heatplan's own time is the process's wall time minus
the time spent waiting for Heat (reading the stack and its records).
"""

import argparse
import json
import os
import sys
import time

# shutil, subprocess and tempfile are imported where used: the deploy child
# (``child``) is this module too, and what it imports is counted in its figures

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN = os.path.dirname(sys.executable)


def heatplan_exe():
    return os.path.join(BIN, 'heatplan')


#: ``python -c BEFORE DIR ARGS``: heatplan ARGS from the checkout DIR (its
#: ``heatplan`` package instead of the installed one): the "before" figures.
BEFORE = '''import sys
sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]
sys.path.insert(0, sys.argv[1])
from heatplan.cli.app import main
sys.exit(main(sys.argv[2:]))
'''


def before_argv(before):
    return [sys.executable, '-c', BEFORE, before]


def timed(argv, env=None, stdout=None):
    """Run ``argv``; return {wall, cpu, maxrss (bytes), rc} of that one process."""
    import subprocess

    if stdout is None:
        stdout = subprocess.DEVNULL
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=REPO)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode('utf-8', 'replace')
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError('%s failed (exit %d): %s' % (' '.join(argv), proc.returncode,
                                                        err[-2000:]))
    return {'wall': wall, 'cpu': usage.ru_utime + usage.ru_stime,
            'maxrss': usage.ru_maxrss * 1024, 'stderr': err[-500:]}


def cache_bytecode(workdir):
    """Let every child process cache its bytecode, as an installed heatplan has it.

    pip compiles a package's modules when it installs it; a checkout run with
    ``PYTHONDONTWRITEBYTECODE=1`` (tox sets it) compiles heatplan's ~100
    modules from source in every process, 0.05-0.06 s of CPU that no
    installed heatplan pays (and heatclient, installed, never paid).  Children
    write and read their bytecode under ``WORKDIR/pycache``
    (``PYTHONPYCACHEPREFIX``), never in the checkout; each tool runs once
    unmeasured first.  Idempotent; returns the directory.
    """
    prefix = os.environ.get('PYTHONPYCACHEPREFIX')
    if not prefix:
        prefix = os.path.join(os.path.abspath(workdir), 'pycache')
        os.makedirs(prefix, exist_ok=True)
        os.environ['PYTHONPYCACHEPREFIX'] = prefix
    os.environ.pop('PYTHONDONTWRITEBYTECODE', None)
    return prefix


def load():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def measure_build(plans, runs, workdir, before=None):
    import shutil
    import tempfile

    out = {}
    for label, plan_dir in plans:
        warm_home = tempfile.mkdtemp(prefix='xdg-warm-', dir=workdir)
        env_warm = dict(os.environ, XDG_CACHE_HOME=warm_home)
        env_warm.pop('HEATPLAN_NO_CACHE', None)
        hp = [heatplan_exe(), 'build', plan_dir, '--max-body-bytes', '0',
              '--max-files', '1000000', '-o', '/dev/null']
        timed(hp, env=env_warm)   # fills the warm cache (and warms the page cache)
        hc = [sys.executable, os.path.join(HERE, 'measure.py'), 'script', 'heatclient',
              plan_dir]
        tools = {
            'heatclient': (timed, hc, None),
            'heatplan --no-cache': (timed, hp + ['--no-cache'], None),
            'heatplan cold': (_cold, hp, workdir),
            'heatplan warm': (timed, hp, env_warm),
        }
        if before:
            tools['heatplan before'] = (timed, before_argv(before) + hp[1:], None)
        names = list(tools)
        samples = {n: [] for n in names}
        loads = []
        for name in names:   # unmeasured: writes each tool's bytecode (see cache_bytecode)
            func, cmd, arg = tools[name]
            func(cmd, arg)
        for i in range(runs):
            for name in names[i % len(names):] + names[:i % len(names)]:
                func, cmd, arg = tools[name]
                samples[name].append(func(cmd, arg))
            loads.append(load())
        out[label] = {'samples': samples, 'load': loads}
        shutil.rmtree(warm_home, ignore_errors=True)
    return out


def _cold(argv, workdir):
    import shutil
    import tempfile

    home = tempfile.mkdtemp(prefix='xdg-cold-', dir=workdir)
    try:
        env = dict(os.environ, XDG_CACHE_HOME=home)
        env.pop('HEATPLAN_NO_CACHE', None)
        return timed(argv, env=env)
    finally:
        shutil.rmtree(home, ignore_errors=True)


# ---------------------------------------------------------------------------
# deploy

def child(argv, before=None):
    """``heatplan ARGV`` in this process, timing every HTTP request to Heat.

    Writes {requests, heat_seconds, first_request_at (monotonic)} to
    ``$BENCH_HEAT_TIMES``.
    """
    times = {'requests': 0, 'heat_seconds': 0.0, 'first_request_at': None,
             'methods': []}

    def timing(original):
        def request(url, method, **kwargs):
            t0 = time.monotonic()
            if times['first_request_at'] is None:
                times['first_request_at'] = t0
            try:
                return original(url, method, **kwargs)
            finally:
                times['requests'] += 1
                times['heat_seconds'] += time.monotonic() - t0
                times['methods'].append('%s %s' % (method, url.split('?')[0][-60:]))
        return request

    if before:
        sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]
        sys.path.insert(0, before)
    # the --heat-url session, timed where heatplan makes it: importing
    # keystoneauth1 here first would import it as heatplan does not (osprofiler)
    from heatplan.heat import adapter

    make_session = adapter.noauth_session

    def noauth_session(*args, **kwargs):
        sess = make_session(*args, **kwargs)
        sess.request = timing(sess.request)
        return sess

    adapter.noauth_session = noauth_session
    from heatplan.cli import app

    try:
        rc = app.main(argv)
    finally:
        with open(os.environ['BENCH_HEAT_TIMES'], 'w') as f:
            json.dump(times, f)
    return rc


def measure_deploy(plans, runs, workdir, before=None):
    import shutil
    import tempfile

    sys.path.insert(0, HERE)
    import e2e

    from heatplan.local import launcher

    data_dir = tempfile.mkdtemp(prefix='local-heat-', dir=workdir)
    # the 5,000-file plan's revision record holds a 1.2 MB manifest
    limits = dict(e2e.HEAT_LIMITS, max_template_size=16 * 1024 * 1024)
    status = launcher.up(data_dir=data_dir, port=e2e.free_port(), limits=limits,
                         exit_with_pid=os.getpid())
    out = {}
    try:
        for label, plan_dir in plans:
            home = tempfile.mkdtemp(prefix='xdg-deploy-', dir=workdir)
            env = dict(os.environ, XDG_CACHE_HOME=home)
            env.pop('HEATPLAN_NO_CACHE', None)
            stack = 'unchanged-%s' % label
            base = [heatplan_exe(), 'deploy', plan_dir, '--stack', stack, '--heat-url',
                    status.url, '--max-body-bytes', '0', '--max-files', '1000000',
                    '--allow-replace', '--allow-delete', '--wait-timeout', '600']
            first = timed(base, env=env)
            samples = {'warm': [], '--no-cache': []}
            if before:
                samples['before'] = []
            loads = []
            for kind in samples:   # unmeasured: each kind's bytecode (see cache_bytecode)
                _deploy_sample(plan_dir, stack, status.url, env, workdir,
                               ['--no-cache'] if kind == '--no-cache' else [],
                               before if kind == 'before' else None)
            for i in range(runs):
                kinds = list(samples)
                for kind in kinds[i % len(kinds):] + kinds[:i % len(kinds)]:
                    samples[kind].append(_deploy_sample(
                        plan_dir, stack, status.url, env, workdir,
                        ['--no-cache'] if kind == '--no-cache' else [],
                        before if kind == 'before' else None))
                loads.append(load())
            out[label] = {'first_deploy': first['wall'], 'samples': samples, 'load': loads}
            shutil.rmtree(home, ignore_errors=True)
    finally:
        launcher.down(data_dir=data_dir)
    return out


def _deploy_sample(plan_dir, stack, url, env, workdir, extra, before=None):
    import tempfile

    fd, times_path = tempfile.mkstemp(prefix='heat-times-', dir=workdir)
    os.close(fd)
    env = dict(env, BENCH_HEAT_TIMES=times_path)
    argv = [sys.executable, os.path.abspath(__file__), 'child'] + (
        ['--before', before] if before else []) + ['--', 'deploy', plan_dir,
            '--stack', stack, '--heat-url', url, '--max-body-bytes', '0',
            '--max-files', '1000000', '-f', 'json'] + extra
    started = time.monotonic()
    out_path = times_path + '.out'
    with open(out_path, 'wb') as stdout:
        sample = timed(argv, env=env, stdout=stdout)
    with open(times_path) as f:
        heat = json.load(f)
    with open(out_path) as f:
        result = json.load(f)
    os.unlink(times_path)
    os.unlink(out_path)
    if result.get('outcome') != 'unchanged':
        raise RuntimeError('deploy of an unchanged plan said %r' % result.get('outcome'))
    sample.update(requests=heat['requests'], heat=heat['heat_seconds'],
                  own=sample['wall'] - heat['heat_seconds'],
                  before_first_request=(heat['first_request_at'] - started)
                  if heat['first_request_at'] else None,
                  methods=heat['methods'])
    return sample


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['child']:
        rest = argv[1:]
        before = None
        if rest[:1] == ['--before']:
            before, rest = rest[1], rest[2:]
        if rest[:1] == ['--']:
            rest = rest[1:]
        return child(rest, before)
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('what', choices=('build', 'deploy'))
    parser.add_argument('--plan', action='append', default=[], metavar='LABEL=DIR')
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--workdir', required=True)
    parser.add_argument('--before', metavar='DIR',
                        help='also time heatplan from the checkout DIR (a directory '
                             'holding an older heatplan package): the "before" figures')
    args = parser.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    cache_bytecode(args.workdir)
    plans = [tuple(p.split('=', 1)) for p in args.plan]
    if args.what == 'build':
        out = measure_build(plans, args.runs, args.workdir, args.before)
    else:
        out = measure_deploy(plans, args.runs, args.workdir, args.before)
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
