"""tripleo-heat-templates as a real-world plan: fetch, render, complete.

The corpus is the tripleo-heat-templates sdist from the package index
(``pip download --no-deps --no-binary :all: tripleo-heat-templates==18.0.0``,
the only network access), kept in a cache directory so later runs need no
network at all.  It is rendered with its own ``tools/process-templates.py``
(jinja2, PyYAML) into a plan directory, to which this module adds:

* ``heatplan-test/required-parameters.yaml``: ``parameter_defaults`` giving
  every parameter that some template of the plan declares without a default
  (and no template or environment gives one) a value of its type;
* ``heatplan-test/missing-resource-types.yaml``: a ``resource_registry``
  mapping every resource type the plan uses that the target Heat does not
  offer (``GET /resource_types``: Nova, Neutron, ... are absent from the
  local Heat, whose catalog has no such services) to ``OS::Heat::None``;
* ``heatplan.yaml``: the root template and the environments in merge order.

Which templates belong to the plan is decided by python-heatclient's own
assembly (what ``openstack stack create`` sends), not by heatplan: the plan
is what the check compares heatplan against.

    python -m tests.realplans.tht prepare [--heat-url URL] [--out DIR]

prints the plan directory (``--heat-url`` names the noauth Heat whose
resource types decide the second environment; without it a temporary local
Heat is started).  The cache is ``$HEATPLAN_CORPUS_CACHE``, else
``.cache/realplans/`` in the repository (ignored by git).
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import yaml

from heatplan import errors

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

NAME = 'tripleo-heat-templates'
VERSION = '18.0.0'
SDIST = '%s-%s.tar.gz' % (NAME, VERSION)
#: sha256 of the sdist on the package index (checked at every use of the cache).
SDIST_SHA256 = '09026a2ace181b1a2eeddb941504add4a10429a391bd265b4c04571f131b8b89'
CACHE_ENV = 'HEATPLAN_CORPUS_CACHE'

ROOT_TEMPLATE = 'overcloud.yaml'
#: The environments of the overcloud plan, in merge order: THT's resource
#: registry, then the deployed-server ones that need no Neutron/Nova ports.
#: In 18.0.0 servers are deployed servers by default; these replace the
#: control plane VIP port and the networks by templates that only read
#: parameters, and deployed-network-environment.yaml gives the networks'
#: parameter (DeployedNetworkEnvironment) for a deploy without Neutron.
#: (environments/deployed-ports.yaml is left out: rendered with the default
#: roles it holds an empty resource_registry, which Heat rejects.)
THT_ENVIRONMENTS = (
    'overcloud-resource-registry-puppet.yaml',
    'environments/deployed-server-deployed-neutron-ports.yaml',
    'environments/deployed-networks.yaml',
    'environments/deployed-network-environment.yaml',
)
GENERATED_DIR = 'heatplan-test'
REQUIRED_ENV = GENERATED_DIR + '/required-parameters.yaml'
MISSING_TYPES_ENV = GENERATED_DIR + '/missing-resource-types.yaml'
MANIFEST = 'heatplan.yaml'
ENVIRONMENTS = THT_ENVIRONMENTS + (REQUIRED_ENV, MISSING_TYPES_ENV)

#: Candidate values for a string parameter with an ``allowed_pattern``.
_PATTERN_CANDIDATES = ('heatplan', 'A' * 38 + '==', '0', 'a', '127.0.0.1')


def log(message):
    sys.stderr.write('[realplans %s] %s\n' % (time.strftime('%H:%M:%S'), message))
    sys.stderr.flush()


class CorpusError(Exception):
    """The corpus cannot be fetched, unpacked or rendered."""


def cache_dir():
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    return os.path.join(REPO, '.cache', 'realplans')


def _sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def fetch(cache=None):
    """The sdist's path in the cache, downloaded by pip if it is not there."""
    cache = cache or cache_dir()
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, SDIST)
    if not os.path.exists(path):
        log('downloading %s==%s (pip download, sdist only)' % (NAME, VERSION))
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps',
                   '--no-binary', ':all:', '--disable-pip-version-check',
                   '-d', tmp, '%s==%s' % (NAME, VERSION)]
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
            got = os.path.join(tmp, SDIST)
            if proc.returncode != 0 or not os.path.exists(got):
                raise CorpusError('pip download of %s==%s failed (exit %d):\n%s'
                                  % (NAME, VERSION, proc.returncode, proc.stdout[-2000:]))
            os.replace(got, path)
    digest = _sha256(path)
    if digest != SDIST_SHA256:
        os.unlink(path)
        raise CorpusError('%s has sha256 %s, expected %s; removed it (run again to '
                          'download it again)' % (path, digest, SDIST_SHA256))
    return path


def extract(sdist, cache=None):
    """The unpacked sdist (``<cache>/tripleo-heat-templates-18.0.0``)."""
    cache = cache or cache_dir()
    top = '%s-%s' % (NAME, VERSION)
    dest = os.path.join(cache, top)
    marker = os.path.join(dest, '.heatplan-extracted')
    if os.path.exists(marker):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    tmp = tempfile.mkdtemp(dir=cache)
    try:
        with tarfile.open(sdist) as tar:
            kwargs = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
            tar.extractall(tmp, **kwargs)
        os.replace(os.path.join(tmp, top), dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with open(marker, 'w') as f:
        f.write(_sha256(sdist) + '\n')
    return dest


def render(tree, out):
    """Render ``tree`` with its own tools/process-templates.py into ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, os.path.join(tree, 'tools', 'process-templates.py'),
           '--base_path', tree, '--roles-data', 'roles_data.yaml',
           '--network-data', 'network_data_default.yaml', '--output-dir', out]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          cwd=tree)
    if proc.returncode != 0:
        raise CorpusError('process-templates.py failed (exit %d):\n%s'
                          % (proc.returncode, proc.stdout[-3000:]))
    for key in (ROOT_TEMPLATE,) + THT_ENVIRONMENTS:
        if not os.path.isfile(os.path.join(out, key)):
            raise CorpusError('the rendered tree %s has no %s' % (out, key))
    return out


# ---------------------------------------------------------------------------
# python-heatclient's assembly (what ``openstack stack create`` sends)

def heatclient_fields(plan_dir, environments=ENVIRONMENTS, template=ROOT_TEMPLATE):
    """The create request python-heatclient builds for the plan, as ``openstack
    stack create -t TEMPLATE -e ENV ...`` does.  Returns the fields dict
    (``template``, ``files``, ``environment_files``)."""
    from heatclient.common import template_utils

    plan_dir = os.path.abspath(plan_dir)
    tpl_files, tpl = template_utils.process_template_path(os.path.join(plan_dir, template))
    env_list = []
    env_files, env = template_utils.process_multiple_environments_and_files(
        env_paths=[os.path.join(plan_dir, e) for e in environments],
        env_list_tracker=env_list)
    files = dict(tpl_files)
    files.update(env_files)
    fields = {'template': tpl, 'files': files, 'environment': env}
    if env_list:
        fields['environment_files'] = env_list
    return fields


def _as_data(value):
    """A heatclient files-map value as data if heatclient re-dumped it (JSON)."""
    if isinstance(value, bytes):
        try:
            value = value.decode('utf-8')
        except UnicodeDecodeError:
            return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _templates(fields):
    """{key: parsed template} of every template heatclient sends, root as ''."""
    out = {'': fields['template']}
    envs = set(fields.get('environment_files') or ())
    for key, value in fields['files'].items():
        if key in envs:
            continue
        data = _as_data(value)
        if isinstance(data, dict) and ('heat_template_version' in data
                                       or 'HeatTemplateFormatVersion' in data
                                       or 'AWSTemplateFormatVersion' in data):
            out[key] = data
    return out


def _environments(fields):
    return [(key, _as_data(fields['files'][key]) or {})
            for key in fields.get('environment_files') or ()]


def _parse(text):
    """A template or environment as Heat (and heatclient) parse it."""
    from heatclient.common import template_format

    return yaml.load(text, Loader=template_format.yaml_loader)


def compare(plan_dir, body, fields, template=ROOT_TEMPLATE,
            definition_files=(MANIFEST,)):
    """Compare heatplan's request ``body`` with heatclient's ``fields``.

    heatclient keys files by ``file:///<absolute path>`` and re-dumps
    templates and environments as JSON with every reference made such a
    URL; heatplan keys them by their path from the plan root and keeps the
    author's text with references rewritten to keys.  So keys (and URLs
    inside heatclient's data) are mapped to root-relative keys; files
    heatclient re-dumped are compared as parsed data, all others byte for
    byte.  heatplan also keeps the root template (``template``) and
    ``definition_files`` in its files map, and its reserved ``heatplan://``
    keys.  Returns a dict of lists (``missing``, ``extra``, ``different``,
    ``outside_root`` empty: no difference) and flags.
    """
    prefix = 'file://' + os.path.abspath(plan_dir).rstrip('/') + '/'

    def key_of(url):
        return url[len(prefix):] if url.startswith(prefix) else None

    def unurl(data):
        if isinstance(data, str):
            return key_of(data) or data
        if isinstance(data, dict):
            return {unurl(k): unurl(v) for k, v in data.items()}
        if isinstance(data, list):
            return [unurl(v) for v in data]
        return data

    out = {'outside_root': [], 'missing': [], 'extra': [], 'different': [],
           'same_bytes': [], 'same_data': [], 'heatclient_stripped': [], 'template': True,
           'environment_files': True, 'root_in_files': None}
    hc_files = {}
    for url, value in fields['files'].items():
        key = key_of(url)
        if key is None:
            out['outside_root'].append(url)
        else:
            hc_files[key] = value
    hp_files = body['files']
    out['missing'] = sorted(set(hc_files) - set(hp_files))
    out['extra'] = sorted(k for k in set(hp_files) - set(hc_files)
                          if not k.startswith('heatplan://') and k != template
                          and k not in definition_files)
    out['reserved'] = sorted(k for k in set(hp_files) - set(hc_files) if k not in out['extra'])
    for key in sorted(set(hc_files) & set(hp_files)):
        theirs = hc_files[key]
        theirs_bytes = theirs if isinstance(theirs, bytes) else theirs.encode('utf-8')
        ours = hp_files[key]
        if theirs_bytes == ours.encode('utf-8'):
            out['same_bytes'].append(key)
            continue
        data = _as_data(theirs)
        data = unurl(data) if isinstance(data, dict) else None
        if data is not None and data == _parse(ours):
            out['same_data'].append(key)
        elif data is not None and data == _parse(ours.strip()):
            # python-heatclient strips a template's text before parsing it
            # (Heat does not): a block scalar ending the file loses its final
            # newline in heatclient's request, never in heatplan's.
            out['same_data'].append(key)
            out['heatclient_stripped'].append(key)
        else:
            out['different'].append(key)
    root = body['template']
    if template in hp_files:
        out['root_in_files'] = hp_files[template] == root
    theirs = unurl(fields['template'])
    if isinstance(root, str):
        out['template'] = theirs == _parse(root) or theirs == _parse(root.strip())
    else:
        out['template'] = theirs == root
    out['environment_files'] = [key_of(u) for u in fields.get('environment_files') or ()] \
        == list(body.get('environment_files') or ())
    return out


# ---------------------------------------------------------------------------
# the generated environments

def _value_for(name, spec):
    ptype = (spec.get('type') or 'string').lower()
    constraints = spec.get('constraints') or []
    for c in constraints:
        if isinstance(c, dict) and c.get('allowed_values'):
            return c['allowed_values'][0]
    if ptype in ('number', 'integer'):
        low = 1
        for c in constraints:
            if isinstance(c, dict) and isinstance(c.get('range'), dict):
                low = c['range'].get('min', low)
        return low
    if ptype == 'boolean':
        return False
    if ptype == 'json':
        return {}
    if ptype == 'comma_delimited_list':
        return []
    value = 'heatplan-%s' % name
    patterns = [c['allowed_pattern'] for c in constraints
                if isinstance(c, dict) and c.get('allowed_pattern')]
    if patterns:
        for candidate in (value,) + _PATTERN_CANDIDATES:
            if all(re.match(p, candidate) for p in patterns):
                return candidate
        raise CorpusError('no test value for parameter %s matches %s: add one to '
                          '_PATTERN_CANDIDATES' % (name, patterns))
    return value


def required_parameters(fields):
    """``{name: value}`` for every parameter no template or environment sets.

    A parameter counts when some template of the plan declares it without a
    default, no template declares it with one (a ``parameter_defaults``
    entry would override that default everywhere) and no environment sets
    it.  Nested templates mostly get such parameters from their parent's
    properties, which win over ``parameter_defaults``.
    """
    without, with_default = {}, set()
    for _key, tpl in sorted(_templates(fields).items()):
        for name, spec in (tpl.get('parameters') or {}).items():
            if not isinstance(spec, dict):
                continue
            if 'default' in spec:
                with_default.add(name)
            else:
                without.setdefault(name, spec)
    given = set()
    for _key, env in _environments(fields):
        given.update(env.get('parameter_defaults') or {})
        given.update(env.get('parameters') or {})
    return {name: _value_for(name, spec) for name, spec in sorted(without.items())
            if name not in with_default and name not in given}


def used_resource_types(fields):
    """Every resource type name the plan's templates and registries mention."""
    names = set()
    for _key, tpl in _templates(fields).items():
        for rdef in (tpl.get('resources') or {}).values():
            if isinstance(rdef, dict) and isinstance(rdef.get('type'), str):
                names.add(rdef['type'])
    registry = {}
    for _key, env in _environments(fields):
        for name, value in (env.get('resource_registry') or {}).items():
            if isinstance(value, str):
                registry[name] = value
    for value in registry.values():
        names.add(value)
    return names, registry


def missing_resource_types(fields, available):
    """Types the plan needs that are neither templates, registered, nor offered."""
    names, registry = used_resource_types(fields)
    missing = set()
    for name in names:
        seen = set()
        while name in registry and name not in seen:  # follow registry aliases
            seen.add(name)
            name = registry[name]
        if name.endswith(('.yaml', '.template')) or '://' in name:
            continue  # a template resource
        if name not in available:
            missing.add(name)
    return sorted(missing)


def _dump(path, comment, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(comment)
        yaml.safe_dump(doc, f, default_flow_style=False, sort_keys=True)


def write_environments(plan_dir, available_types):
    """Write the two generated environments and heatplan.yaml into ``plan_dir``.

    Returns ``{'required': {...}, 'missing_types': [...]}``.
    """
    base = heatclient_fields(plan_dir, environments=THT_ENVIRONMENTS)
    required = required_parameters(base)
    missing = missing_resource_types(base, set(available_types))
    _dump(os.path.join(plan_dir, REQUIRED_ENV),
          '# Generated by tests/realplans/tht.py: a value for every parameter that a\n'
          '# template of the plan declares without a default and nothing else sets.\n',
          {'parameter_defaults': required})
    _dump(os.path.join(plan_dir, MISSING_TYPES_ENV),
          '# Generated by tests/realplans/tht.py: resource types the plan uses that\n'
          '# the target Heat does not offer (GET /resource_types), mapped to\n'
          '# OS::Heat::None.\n',
          {'resource_registry': {name: 'OS::Heat::None' for name in missing}})
    _dump(os.path.join(plan_dir, MANIFEST),
          '# Generated by tests/realplans/tht.py: the THT overcloud test plan.\n',
          {'template': ROOT_TEMPLATE, 'environments': list(ENVIRONMENTS)})
    return {'required': required, 'missing_types': missing}


def prepare(available_types, cache=None, out=None):
    """Fetch (if needed), render and complete the plan; return a dict of facts.

    ``available_types``: the resource type names the target Heat offers.
    """
    cache = cache or cache_dir()
    t0 = time.perf_counter()
    sdist = fetch(cache)
    tree = extract(sdist, cache)
    out = out or os.path.join(cache, 'tht-%s-plan' % VERSION)
    render(tree, out)
    generated = write_environments(out, available_types)
    return dict(generated, plan_dir=out, sdist=sdist, sdist_sha256=_sha256(sdist),
                seconds=time.perf_counter() - t0)


def available_types_of(adapter):
    """Resource type names a Heat offers (``GET /resource_types``)."""
    with adapter._errors('listing resource types'):  # Heat's errors as heatplan's
        types = adapter.client.resource_types.list()
    return {t['resource_type'] if isinstance(t, dict) else t.resource_type for t in types}


@contextlib.contextmanager
def temporary_local_heat():
    """A local Heat in a temporary data dir on a free port (stopped after)."""
    import socket

    from heatplan.heat.adapter import HeatAdapter
    from heatplan.local import launcher

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    data_dir = tempfile.mkdtemp(prefix='heatplan-realplans-heat-')
    try:
        status = launcher.up(data_dir=data_dir, port=port, exit_with_pid=os.getpid())
        try:
            yield HeatAdapter.from_url(status.url, local=True)
        finally:
            launcher.down(data_dir=data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('prepare', help='fetch, render and complete the plan; print its dir')
    p.add_argument('--heat-url', help='noauth Heat whose resource types to use')
    p.add_argument('--out', help='plan directory (default: in the cache)')
    args = parser.parse_args(argv)
    try:
        if args.heat_url:
            from heatplan.heat.adapter import HeatAdapter

            types = available_types_of(HeatAdapter.from_url(args.heat_url))
        else:
            with temporary_local_heat() as adapter:
                types = available_types_of(adapter)
        facts = prepare(types, out=args.out)
    except (CorpusError, errors.HeatplanError) as exc:
        sys.stderr.write('error: %s\n' % exc)
        return 1
    log('%d required parameters given, %d resource types mapped to OS::Heat::None: %s'
        % (len(facts['required']), len(facts['missing_types']),
           ', '.join(facts['missing_types']) or '-'))
    print(facts['plan_dir'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
