"""tripleo-heat-templates 18.0.0, rendered, as heatplan's real-world plan.

What ``openstack stack create`` (python-heatclient) assembles and Heat
validates and previews, heatplan must validate without errors, build to the
same files and the same bytes from anywhere, and dry-run on the local Heat.
"""

import collections
import json
import logging
import os
import re
import shutil
import statistics
import tarfile
import time

import pytest

from heatplan.actions import plan as plan_actions
from heatplan.cli import app
from tests.realplans import tht
from tests.realplans.conftest import figure

#: Timed runs of each assembly (heatplan build, heatclient's template_utils).
ASSEMBLY_RUNS = 3


@pytest.fixture(autouse=True)
def _restore_root_logging():
    """cliff adds a console handler per run; drop them so streams do not leak."""
    root = logging.getLogger('')
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli(capsys):
    """Run ``heatplan ARGS`` in this process; return (exit code, stdout, stderr)."""

    def run(*args):
        capsys.readouterr()
        try:
            code = app.main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        assert 'Traceback' not in out + err
        return code, out, err

    return run


def _body_limit(realplans_heat):
    """The check every plan verb runs against: the local Heat's body limit."""
    return realplans_heat.limits['max_json_body_size']


def _mib(n):
    return '%d bytes (%.2f MiB)' % (n, n / 1048576.0)


def test_validate_has_no_errors(tht_plan, realplans_heat, cli):
    rc, out, err = cli('validate', tht_plan.plan_dir, '-f', 'json',
                       '--max-body-bytes', _body_limit(realplans_heat))
    found = json.loads(out)
    errors = [d for d in found if d['severity'] == 'error']
    warnings = [d for d in found if d['severity'] != 'error']
    by_code = collections.Counter(
        ' '.join(x for x in (d.get('code'), d.get('rule')) if x) or '(no code)'
        for d in warnings)
    figure('heatplan validate: errors', len(errors))
    figure('heatplan validate: warnings', len(warnings))
    figure('heatplan validate: warnings by code',
           ['%4d  %s' % (n, code) for code, n in sorted(by_code.items())])
    figure('heatplan validate: the warnings',
           ['%s:%s:%s: [%s] %s' % (d['path'], d['line'], d['col'], d.get('code'),
                                   d['message']) for d in warnings])
    assert not errors, '\n'.join('%s:%s:%s: %s' % (d['path'], d['line'], d['col'],
                                                   d['message']) for d in errors)
    assert rc == 0, err


def _median_seconds(fn, runs=ASSEMBLY_RUNS):
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def test_build_sends_what_heatclient_sends(tht_plan, realplans_heat, cli, tmp_path):
    out = tmp_path / 'plan.json'
    rc, _out, err = cli('build', tht_plan.plan_dir, '-o', out,
                        '--max-body-bytes', _body_limit(realplans_heat))
    assert rc == 0, err
    doc = json.loads(out.read_text())
    body = doc['body']
    hc_seconds, fields = _median_seconds(lambda: tht.heatclient_fields(tht_plan.plan_dir))
    result = tht.compare(tht_plan.plan_dir, body, fields)

    opts = plan_actions.PlanOptions(source=tht_plan.plan_dir,
                               max_body_bytes=_body_limit(realplans_heat))
    hp_seconds, (_src, plan) = _median_seconds(lambda: plan_actions.build_plan(opts))
    from oslo_serialization import jsonutils

    hc_bytes = len(jsonutils.dumps(fields).encode('utf-8'))
    figure('THT plan: files in heatplan\'s files map', len(body['files']))
    figure('THT plan: files in heatclient\'s files map', len(fields['files']))
    figure('THT plan: bytes of heatplan\'s files', sum(
        len(v.encode('utf-8')) for v in body['files'].values()))
    figure('THT plan: request body, heatplan', _mib(plan.body_size))
    figure('THT plan: request body, heatclient', _mib(hc_bytes))
    figure('THT plan: files equal byte for byte / as parsed data (heatclient re-dumps '
           'templates and environments as JSON)',
           '%d / %d' % (len(result['same_bytes']), len(result['same_data'])))
    figure('THT plan: heatplan-only keys (root template, manifest, reserved)',
           ', '.join(result['reserved']) or '-')
    figure('THT plan: files whose final newline python-heatclient strips (a block '
           'scalar at the end of the file; Heat would keep it)',
           ', '.join(result['heatclient_stripped']) or '-')
    figure('THT plan: assembly, heatplan build_plan (lint included) vs heatclient '
           'template_utils, median of %d (s)' % ASSEMBLY_RUNS,
           '%.3f vs %.3f (heatclient/heatplan %.2fx)'
           % (hp_seconds, hc_seconds, hc_seconds / hp_seconds))
    assert plan.digest == doc['digest']
    assert not result['outside_root'], 'heatclient read files outside the plan root'
    assert not result['missing'], 'heatplan lacks files heatclient sends: %s' % (
        result['missing'],)
    assert not result['different'], 'files whose content differs: %s' % (
        result['different'],)
    assert not result['extra'], 'heatplan sends files heatclient does not: %s' % (
        result['extra'],)
    assert result['template'], 'the root template differs from heatclient\'s'
    assert result['root_in_files'] is not False, 'files[root] is not the root template'
    assert result['environment_files'], 'environment_files differ from heatclient\'s'
    assert body['environment_files'] == list(tht.ENVIRONMENTS)


def _tar_gz(src_dir, path, top):
    with tarfile.open(path, 'w:gz') as tar:
        tar.add(src_dir, arcname=top)
    return path


def test_same_bytes_from_directory_copy_and_archive(tht_plan, realplans_heat, cli,
                                                     tmp_path):
    copy = tmp_path / 'elsewhere' / 'overcloud-plan'
    shutil.copytree(tht_plan.plan_dir, copy, symlinks=True)
    archive = _tar_gz(tht_plan.plan_dir, tmp_path / 'tht-plan.tar.gz', 'tht-18.0.0')
    outputs = {}
    for label, source in (('directory', tht_plan.plan_dir), ('copy', copy),
                          ('tar.gz', archive)):
        out = tmp_path / ('%s.json' % label.replace('.', '-'))
        t0 = time.perf_counter()
        rc, stdout, err = cli('build', source, '-o', out,
                              '--max-body-bytes', _body_limit(realplans_heat))
        assert rc == 0, '%s: %s' % (label, err)
        outputs[label] = out.read_bytes()
        figure('heatplan build from the %s (s)' % label, '%.2f' % (time.perf_counter() - t0))
    figure('THT tree: files / bytes (tar.gz)', '%d / %d' % (
        sum(len(names) for _d, _s, names in os.walk(tht_plan.plan_dir)),
        os.path.getsize(archive)))
    digest = json.loads(outputs['directory'])['digest']
    figure('THT plan digest', digest)
    assert outputs['copy'] == outputs['directory']
    assert outputs['tar.gz'] == outputs['directory']


def test_dry_run_on_the_local_heat(tht_plan, realplans_heat, cli, monkeypatch):
    # --local finds the session's Heat through its data dir, and checks the
    # ~2 MB request against that Heat's own max_json_body_size (no flag).
    monkeypatch.setenv('HEATPLAN_LOCAL_DATA_DIR', realplans_heat.data_dir)
    t0 = time.perf_counter()
    rc, out, err = cli('deploy', tht_plan.plan_dir, '--stack', 'tht-overcloud', '--local',
                       '--dry-run')
    seconds = time.perf_counter() - t0
    assert rc == 0, err
    match = re.search(r'^preview: (\d+) resource\(s\) in all', out, re.M)
    assert match, out[-2000:]
    count = int(match.group(1))
    added = len(re.findall(r'^  resource added: ', out, re.M))
    figure('heatplan deploy --dry-run --local (Heat validate + create preview)',
           '%d resources (nested stacks included), %.1f s' % (count, seconds))
    assert count == added > 100
    assert realplans_heat.adapter.get_stack('tht-overcloud') is None


def test_other_clouds_are_checked_against_heats_default(tht_plan, realplans_heat, cli):
    # The same Heat by URL is "a cloud": its limit cannot be asked for, so the
    # plan is checked against Heat's default 1 MiB, and refused before sending.
    assert realplans_heat.limits['max_json_body_size'] == 8 * 1024 * 1024
    assert realplans_heat.limits['max_nested_stack_depth'] == 6
    rc, _out, err = cli('deploy', tht_plan.plan_dir, '--stack', 'tht-cloud', '--dry-run',
                        '--heat-url', realplans_heat.url)
    assert rc == 3
    assert 'over the limit of 1048576 bytes' in err
    assert '[DEFAULT] max_json_body_size = N' in err and '--max-body-bytes N' in err


# -- the harness's own generators, on a small plan of heatclient's shape -------

_ENV_URL = 'file:///p/env.yaml'
_FIELDS = {
    'template': {
        'heat_template_version': 'wallaby',
        'parameters': {'Needed': {'type': 'string'}, 'Defaulted': {'type': 'json'},
                       'Pattern': {'type': 'string',
                                   'constraints': [{'allowed_pattern': '^[A-Z]{38}==$'}]},
                       'FromEnv': {'type': 'number'}},
        'resources': {'s': {'type': 'OS::Nova::Server'}, 'a': {'type': 'My::Alias'},
                      'n': {'type': 'file:///p/nested.yaml'},
                      'v': {'type': 'OS::Heat::Value'}},
    },
    'files': {
        'file:///p/nested.yaml': json.dumps({
            'heat_template_version': 'wallaby',
            'parameters': {'Defaulted': {'type': 'json', 'default': {}},
                           'Count': {'type': 'number',
                                     'constraints': [{'range': {'min': 3}}]}},
            'resources': {'p': {'type': 'OS::Neutron::Port'}}}),
        _ENV_URL: json.dumps({'resource_registry': {'My::Alias': 'Other::Alias',
                                                    'Other::Alias': 'OS::Neutron::Net'},
                              'parameter_defaults': {'FromEnv': 1}}),
    },
    'environment_files': [_ENV_URL],
}


def test_required_parameters_skip_defaults_and_environments():
    assert tht.required_parameters(_FIELDS) == {
        'Count': 3, 'Needed': 'heatplan-Needed', 'Pattern': 'A' * 38 + '=='}


def test_missing_types_follow_registry_aliases():
    offered = {'OS::Heat::Value', 'OS::Heat::None'}
    assert tht.missing_resource_types(_FIELDS, offered) == [
        'OS::Neutron::Net', 'OS::Neutron::Port', 'OS::Nova::Server']
