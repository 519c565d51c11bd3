"""The demo (``tox -e demo``): a real local Heat, the example plan, deployed.

Starts heatplan's local Heat (unless one is running), then runs the heatplan
commands a user would, printing each one: validate, deploy (created), deploy
again (unchanged), a dry run of a change, the change, history, an export of
revision 1 compared byte for byte with the source, and a rollback.  Stops the
local Heat at the end if it started it (``--keep`` leaves it running).
"""

import argparse
import filecmp
import os
import shlex
import sys
import tempfile

from heatplan.cli import app
from heatplan.local import launcher

HERE = os.path.dirname(os.path.abspath(__file__))


def _example():
    for candidate in (os.path.join(os.getcwd(), 'examples', 'demo'),
                      os.path.join(HERE, '..', 'examples', 'demo')):
        if os.path.isfile(os.path.join(candidate, 'heatplan.yaml')):
            return os.path.relpath(os.path.abspath(candidate))
    sys.exit('demo: cannot find examples/demo (run from the heatplan checkout)')


def run(*argv, expect=(0,)):
    print('\n$ heatplan %s' % ' '.join(shlex.quote(a) for a in argv), flush=True)
    rc = app.main(list(argv))
    if rc not in expect:
        sys.exit('demo: "heatplan %s" exited %s' % (' '.join(argv), rc))
    return rc


def identical_trees(a, b):
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return False
    _match, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(identical_trees(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--stack', default='heatplan-demo')
    parser.add_argument('--keep', action='store_true',
                        help='leave the local Heat (and the stack) running')
    parser.add_argument('--data-dir', help='local Heat data dir (default: a temporary one)')
    args = parser.parse_args(argv)
    example = _example()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix='heatplan-demo-')
    started = not launcher.status(data_dir=data_dir, check_api=False).running
    print('starting the local Heat in %s ...' % data_dir, flush=True)
    status = launcher.up(data_dir=data_dir)
    url = status.url
    print('local Heat answering at %s (started in %s s)' % (
        url, status.get('startup_seconds', '?')), flush=True)
    heat = ['--heat-url', url]
    try:
        run('validate', example)
        run('deploy', example, '--stack', args.stack, *heat)
        run('deploy', example, '--stack', args.stack, *heat)      # unchanged
        change = ['--parameter', 'cluster_name=renamed']
        run('deploy', example, '--stack', args.stack, '--dry-run', *change, *heat)
        run('deploy', example, '--stack', args.stack, *change, *heat,
            expect=(4,))                                           # refused: replacement
        run('deploy', example, '--stack', args.stack, '--allow-replace', *change, *heat)
        run('history', args.stack, *heat)
        out = tempfile.mkdtemp(prefix='heatplan-export-')
        run('export', args.stack, os.path.join(out, 'r1'), '--revision', '1', *heat)
        same = identical_trees(example, os.path.join(out, 'r1'))
        print('\nexport of revision 1 byte-identical to %s: %s' % (example, same))
        if not same:
            sys.exit('demo: the export differs from the source')
        run('diff', args.stack, '--from-revision', '1', '--to-revision', '2', *heat,
            expect=(1,))
        run('rollback', args.stack, '--allow-replace', *heat)
        run('history', args.stack, *heat)
        print('\ndemo complete.')
    finally:
        if started and not args.keep:
            launcher.down(data_dir=data_dir)
            print('local Heat stopped.')
        else:
            print('local Heat still running: heatplan local down --data-dir %s' % data_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
