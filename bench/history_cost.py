"""What heatplan's history costs a cloud, measured as the member user ("before" of issue 17).

Run against the production-shaped Heat (tools/prodheat: Keystone, trusts,
MariaDB) as its member user::

    python -m tools.prodheat up
    OS_CLIENT_CONFIG_FILE=$PWD/.prodheat/clouds.yaml \\
        python bench/history_cost.py --files 100 --revisions 10

It generates a plan of about ``--files`` files (bench/genplan.py), then
deploys ``--revisions`` revisions of it to one stack with heatplan
(``deploy.deploy``, what ``heatplan deploy`` runs) and the same revisions to
another stack with python-heatclient (``stacks.create`` then ``stacks.update``,
what ``openstack stack create/update`` send).  Each revision changes one file
and the ``DeployIdentifier`` parameter.  It prints (and with ``--json``
writes) per tool:

* stacks the member's plain ``openstack stack list`` shows (this Heat's
  ``hidden_stack_tags``), and how many a stock Heat (its default
  ``hidden_stack_tags``, which does not hide heatplan's records) would show;
* Keystone trusts and Heat ``user_creds`` rows the stacks hold (and the
  member's trusts created in Keystone meanwhile, a cross-check);
* stacks counted against ``max_stacks_per_tenant`` (live stack rows, nested
  ones included, as Heat counts them);
* request body bytes sent per deploy (counted on the keystoneauth session);
* bytes stored (Heat's ``raw_template`` and ``raw_template_files`` rows the
  live stacks use: templates, environments, files maps), and per revision;
* deploy time, median and range, and heatplan's overhead on the create and
  per pair of updates (``--no-guard``: heatplan deploys as ``--allow-replace
  --allow-delete``, without the destruction guard's update preview).

The counts read Heat's and Keystone's databases through prodheat's MariaDB
socket (``--prodheat-dir``), matching rows by stack name, so other activity
in the project does not count; everything else runs as the member.  The stacks are
deleted at the end (heatplan's with its history; ``--keep`` keeps them).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)

import e2e  # noqa: E402
import genplan  # noqa: E402
import measure  # noqa: E402


class Cloud:
    """The member's keystoneauth session and Heat adapter (request bytes counted)."""

    def __init__(self, cloud):
        from keystoneauth1 import session as ks_session
        from openstack import config as os_config

        from heatplan.heat.adapter import HeatAdapter

        region = os_config.OpenStackConfig(app_name='heatplan-bench').get_one(cloud=cloud)
        self.session = ks_session.Session(auth=region.get_auth(), verify=region.verify)
        self.adapter = HeatAdapter.from_session(
            self.session, interface=region.get_interface('orchestration'),
            region_name=region.region_name)
        self.client = self.adapter.client
        self.counter = e2e.Counter(self.adapter.client.http_client.session)
        self.project_id = self.session.get_project_id()
        self.user_id = self.session.get_user_id()


class Database:
    """Counts from prodheat's MariaDB (root over its socket), for one managed stack.

    Rows are matched by name: the stack ``S``, its nested stacks ``S-...`` and
    heatplan's own stacks ``hp.S.*`` (format-1 records ``hp.S.rN``, the history
    ``hp.S.history``, a lock ``hp.S.lock``), so other activity in the project does not
    count.
    """

    def __init__(self, prodheat_dir):
        self.socket = os.path.join(prodheat_dir, 'mariadb', 'mysqld.sock')

    def value(self, sql):
        out = subprocess.run(['mariadb', '--no-defaults', '--socket=' + self.socket, '-uroot',
                              '-N', '-B', '-e', sql], capture_output=True, text=True,
                             check=True, timeout=60).stdout.strip()
        return int(float(out)) if out and out != 'NULL' else 0

    @staticmethod
    def _match(stack):
        return ("(s.name = '{0}' OR s.name LIKE '{0}-%' OR s.name LIKE 'hp.{0}.%')"
                .format(stack))

    def settled_snapshot(self, stack, user_id, within=30.0):
        """:meth:`snapshot` once Heat has soft-deleted a lock released a moment ago.

        (Heat answers DELETE_COMPLETE a little before it marks the row
        deleted and drops its credentials; a snapshot taken in between
        would count the lock.)
        """
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and self.value(
                "SELECT COUNT(*) FROM heat.stack s WHERE s.name = 'hp.%s.lock' "
                "AND s.deleted_at IS NULL" % stack):
            time.sleep(0.5)
        return self.snapshot(stack, user_id)

    def snapshot(self, stack, user_id):
        m = self._match(stack)
        return {
            # Keystone trusts Heat holds for these stacks (deferred_auth_method=trusts)
            'trusts': self.value(
                'SELECT COUNT(DISTINCT uc.trust_id) FROM heat.stack s JOIN heat.user_creds uc '
                'ON uc.id = s.user_creds_id WHERE %s AND uc.trust_id IS NOT NULL' % m),
            'user_creds': self.value(
                'SELECT COUNT(DISTINCT s.user_creds_id) FROM heat.stack s '
                'JOIN heat.user_creds uc ON uc.id = s.user_creds_id WHERE %s' % m),
            # the member's trusts in Keystone, all of them (a cross-check)
            'keystone_trusts_of_user': self.value(
                "SELECT COUNT(*) FROM keystone.trust WHERE trustor_user_id = '%s' "
                "AND deleted_at IS NULL" % user_id),
            # what max_stacks_per_tenant counts: live stack rows, nested included
            'quota_stacks': self.value(
                'SELECT COUNT(*) FROM heat.stack s WHERE %s AND s.deleted_at IS NULL' % m),
            'stored_bytes': self.value(
                'SELECT COALESCE(SUM(LENGTH(rt.template) + COALESCE(LENGTH(rt.environment), 0)'
                '), 0) FROM heat.raw_template rt WHERE rt.id IN (SELECT s.raw_template_id '
                'FROM heat.stack s WHERE %s AND s.deleted_at IS NULL)' % m) + self.value(
                'SELECT COALESCE(SUM(LENGTH(f.files)), 0) FROM heat.raw_template_files f '
                'WHERE f.id IN (SELECT rt.files_id FROM heat.raw_template rt JOIN heat.stack s '
                'ON s.raw_template_id = rt.id WHERE %s AND s.deleted_at IS NULL)' % m),
        }


def change_one_file(plan_dir, revision):
    """Make revision ``revision`` differ from the last in one file (a script)."""
    scripts = []
    for root, _dirs, names in os.walk(plan_dir):
        for name in sorted(names):
            if name.endswith('.sh'):
                scripts.append(os.path.join(root, name))
    target = sorted(scripts)[0]
    with open(target, 'a') as f:
        f.write('# revision %d\n' % revision)


def heatplan_deploy(cloud, plan_dir, stack, revision, poll, timeout, guard=True):
    from heatplan.actions import deploy
    from heatplan.actions import plan as actions
    from heatplan.plan import source

    opts = actions.PlanOptions(
        source=plan_dir, parameters=['DeployIdentifier=r%d' % revision], max_body_bytes=0,
        limits=source.Limits(max_files=1000000, max_total_bytes=4 << 30))
    cloud.counter.reset()
    t0 = time.perf_counter()
    _src, plan = actions.build_plan(opts)
    result = deploy.deploy(cloud.adapter, plan, deploy.DeployOptions(
        stack=stack, poll=poll, wait_timeout=timeout, yes=True,
        # without the destruction guard: no update preview (deploy --allow-replace
        # --allow-delete), to tell the guard's share of the time from the rest
        allow_replace=not guard, allow_delete=not guard))
    return {'seconds': time.perf_counter() - t0, 'status': result.status,
            'request_bytes': cloud.counter.bytes, 'requests': cloud.counter.requests}


def heatclient_deploy(cloud, plan_dir, stack, revision, ident, poll, timeout):
    tool = measure.HeatclientTool(plan_dir)
    tool.params['DeployIdentifier'] = 'r%d' % revision
    cloud.counter.reset()
    t0 = time.perf_counter()
    _times, fields = tool.run()
    if ident is None:
        fields['stack_name'] = stack
        created = cloud.client.stacks.create(**fields)
        ident = '%s/%s' % (stack, created['stack']['id'])
        want = 'CREATE_'
    else:
        del fields['stack_name']
        cloud.client.stacks.update(ident, **fields)
        want = 'UPDATE_'
    deadline = time.monotonic() + timeout
    while True:
        status = cloud.client.stacks.get(ident).stack_status
        if status.startswith(want) and status.endswith(('_COMPLETE', '_FAILED')):
            break
        if time.monotonic() > deadline:
            status = 'TIMEOUT(%s)' % status
            break
        time.sleep(poll)
    return {'seconds': time.perf_counter() - t0, 'status': status,
            'request_bytes': cloud.counter.bytes, 'requests': cloud.counter.requests}, ident


def listed(cloud, stack):
    """(stacks the plain list shows for ``stack``, heatplan's own stacks that exist)."""
    from heatplan import store

    gone = ('DELETE_COMPLETE', 'DELETE_IN_PROGRESS')
    plain = [s['stack_name'] for s in cloud.adapter.list_stacks()
             if s['stack_status'] not in gone]
    mine = [n for n in plain if n == stack or n.startswith('hp.%s.' % stack)]
    records = [s for s in cloud.adapter.list_stacks(tags=[store.stack_tag(stack)],
                                                    show_hidden=True)
               if s['stack_status'] not in gone]
    return len(mine), len(records)


def summary(samples):
    secs = [s['seconds'] for s in samples]
    return {'median_s': statistics.median(secs), 'min_s': min(secs), 'max_s': max(secs),
            'bytes_per_deploy': statistics.median(s['request_bytes'] for s in samples),
            'statuses': sorted({s['status'] for s in samples})}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cloud', default=os.environ.get('OS_CLOUD') or 'prodheat')
    parser.add_argument('--files', type=int, default=100)
    parser.add_argument('--revisions', type=int, default=10)
    parser.add_argument('--prodheat-dir', default=os.environ.get('PRODHEAT_DIR') or
                        os.path.join(REPO, '.prodheat'))
    parser.add_argument('--poll', type=float, default=1.0)
    parser.add_argument('--timeout', type=float, default=900)
    parser.add_argument('--json', metavar='FILE')
    parser.add_argument('--keep', action='store_true')
    parser.add_argument('--guard', action=argparse.BooleanOptionalAction, default=True,
                        help="heatplan's destruction guard (its update preview); "
                             '--no-guard deploys as --allow-replace --allow-delete')
    args = parser.parse_args(argv)

    cloud = Cloud(args.cloud)
    db = Database(args.prodheat_dir)
    work = tempfile.mkdtemp(prefix='history-cost-')
    tag = '%d' % time.time()
    out = {'cloud': args.cloud, 'files': None, 'revisions': args.revisions, 'tools': {},
           'guard': args.guard, 'load_start': open('/proc/loadavg').read().split()[:3]}
    tools = ('heatplan', 'heatclient')
    plan_dirs, stacks, before, samples, idents = {}, {}, {}, {}, {}
    for tool in tools:
        plan_dirs[tool] = os.path.join(work, tool)
        info = genplan.generate(plan_dirs[tool], args.files)
        out['files'] = len(info.files)
        stacks[tool] = 'cost-%s-%s' % (tool, tag)
        before[tool] = db.snapshot(stacks[tool], cloud.user_id)
        samples[tool], idents[tool] = [], None
    # the two tools take turns, each going first every other revision, so a
    # change in the machine's load weighs on both alike
    for revision in range(1, args.revisions + 1):
        for tool in (tools if revision % 2 else tools[::-1]):
            if revision > 1:
                change_one_file(plan_dirs[tool], revision)
            if tool == 'heatplan':
                sample = heatplan_deploy(cloud, plan_dirs[tool], stacks[tool], revision,
                                         args.poll, args.timeout, args.guard)
            else:
                sample, idents[tool] = heatclient_deploy(
                    cloud, plan_dirs[tool], stacks[tool], revision, idents[tool], args.poll,
                    args.timeout)
            samples[tool].append(sample)
            print('%s revision %d: %s in %.1f s, %d bytes sent' % (
                tool, revision, sample['status'], sample['seconds'], sample['request_bytes']),
                flush=True)
    for tool in tools:
        stack = stacks[tool]
        after = db.settled_snapshot(stack, cloud.user_id)
        shown, records = listed(cloud, stack)
        delta = {k: after[k] - before[tool][k] for k in after}
        out['tools'][tool] = dict(
            summary(samples[tool]), plain_list_shows=shown,
            stock_heat_list_would_show=1 + records if tool == 'heatplan' else 1,
            records=records, trusts_held=after['trusts'],
            user_creds_held=after['user_creds'],
            keystone_trusts_created=delta['keystone_trusts_of_user'],
            quota_stacks=after['quota_stacks'],
            stored_bytes=after['stored_bytes'],
            stored_bytes_per_revision=after['stored_bytes'] / args.revisions,
            create=samples[tool][0],
            updates=summary(samples[tool][1:]) if len(samples[tool]) > 1 else None)
    hp, hc = out['tools']['heatplan'], out['tools']['heatclient']
    out['create_overhead'] = hp['create']['seconds'] / hc['create']['seconds'] - 1
    if hp['updates'] and hc['updates']:
        pairs = [a['seconds'] / b['seconds'] - 1 for a, b in
                 zip(samples['heatplan'][1:], samples['heatclient'][1:], strict=True)]
        out['update_overhead'] = {
            'median_of_medians': hp['updates']['median_s'] / hc['updates']['median_s'] - 1,
            'per_pair_median': statistics.median(pairs), 'per_pair_min': min(pairs),
            'per_pair_max': max(pairs)}
    out['load'] = open('/proc/loadavg').read().split()[:3]
    if not args.keep:
        from heatplan.actions import delete as delete_action

        delete_action.delete(cloud.adapter, stacks['heatplan'], wait=True)
        if idents['heatclient']:
            cloud.adapter.delete_stack(idents['heatclient'], wait=True)
    print(json.dumps(out, indent=1, sort_keys=True))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
