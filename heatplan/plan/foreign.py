"""Turning a stack heatplan never deployed into a plan directory (pure).

Stacks created by ``openstack stack create`` (python-heatclient's template
processing) store the root template as a parsed dict, nested templates as
JSON dumps and every reference as an absolute ``file:///...`` URL of the
machine that created them.  :func:`import_stack` makes the keys relative to
their common directory, rewrites every reference to a path relative to the
file holding it (only those scalars change), writes the root template and the
stack's merged environment as YAML and names them in a ``heatplan.yaml``.
Deploying the result back onto the stack changes template keys only, which
Heat treats as an in-place update: no resource is replaced.
"""

import posixpath

import yaml

from heatplan import secrets
from heatplan.plan import assemble
from heatplan.plan import source as source_mod
from heatplan.plan import yamlnodes as yn

ROOT_NAME = 'template.yaml'
ENV_NAME = 'environment.yaml'
HIDDEN_MASK = secrets.MASK  # Heat masks hidden values as heatplan does
_ENV_SECTIONS = ('parameters', 'parameter_defaults', 'resource_registry',
                 'encrypted_param_names', 'event_sinks', 'parameter_merge_strategies')


def _key_path(key):
    if key.startswith('file://'):
        return source_mod.url_to_path(key)
    return None


def _rewrite_scalars(text, path_of, own_key):
    """Replace scalars naming a stored key by a path relative to ``own_key``."""
    node, problem = yn.compose(text, own_key)
    if node is None or problem is not None:
        return text
    base = posixpath.dirname(own_key)
    reps = {}
    stack = [node]
    seen = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yn.ScalarNode):
            target = path_of.get(n.value)
            if target is not None:
                rel = posixpath.relpath(target, base) if base else target
                start, end = n.start_mark.index, n.end_mark.index
                reps[start] = (start, end, assemble.render_scalar(rel, n, text[start:end]))
        elif isinstance(n, yn.SequenceNode):
            stack.extend(n.value)
        elif isinstance(n, yn.MappingNode):
            for k, v in n.value:
                stack.append(k)
                stack.append(v)
    return assemble.rewrite(text, list(reps.values()))[0]


def _is_environment(text):
    try:
        data = yaml.load(text, Loader=yn.Loader)
    except yaml.YAMLError:
        return False
    return isinstance(data, dict) and data and 'heat_template_version' not in data and \
        set(data) <= set(_ENV_SECTIONS)


def _dump(data):
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False, width=1000)


def import_stack(template, files, environment):
    """``({path: bytes}, hidden parameter names)`` for a foreign stack."""
    path_of = _plan_paths(files)
    root_name, env_name = _free_names(set(path_of.values()))
    tree = {}
    for key, text in files.items():
        rel = path_of.get(key)
        if rel is None or key.startswith('heatplan://'):
            continue
        if rel.endswith(('.yaml', '.yml', '.template', '.json')) and _is_environment(text):
            continue  # an environment file: the merged environment replaces it
        tree[rel] = _rewrite_scalars(text, path_of, rel).encode('utf-8')
    tree[root_name] = _rewrite_scalars(_dump(template), path_of, root_name).encode('utf-8')
    env, hidden = _plain_environment(environment, path_of)
    manifest = {'template': root_name}
    if env:
        tree[env_name] = _rewrite_scalars(_dump(env), path_of, env_name).encode('utf-8')
        manifest['environments'] = [env_name]
    header = '# written by "heatplan export" from a stack heatplan did not deploy\n'
    if hidden:
        header += ('# hidden parameters are not readable from Heat; supply them again:\n'
                   + ''.join('#   --parameter %s=...\n' % k for k in sorted(hidden)))
    tree['heatplan.yaml'] = (header + _dump(manifest)).encode('utf-8')
    return tree, sorted(hidden)


def _plan_paths(files):
    """``{files-map key: plan-relative path}``: URLs relative to their common directory."""
    urls = {k: _key_path(k) for k in files}
    abs_paths = [p for p in urls.values() if p]
    root_dir = posixpath.commonpath([posixpath.dirname(p) for p in abs_paths]) \
        if abs_paths else '/'
    path_of = {}
    for key, path in urls.items():
        if path:
            rel = source_mod.normalize_key(posixpath.relpath(path, root_dir))
        else:
            rel = source_mod.normalize_key(key)
        if rel is not None:
            path_of[key] = rel
    return path_of


def _free_names(taken):
    """Names for the root template and the environment that no plan file has."""
    root_name, env_name, n = ROOT_NAME, ENV_NAME, 1
    while root_name in taken or env_name in taken:
        root_name = 'template-%d.yaml' % n
        env_name = 'environment-%d.yaml' % n
        n += 1
    return root_name, env_name


def _plain_environment(environment, path_of):
    """The stack's merged environment without masked values and implied registry entries."""
    env = {k: v for k, v in (environment or {}).items() if v}
    hidden = []
    params = env.get('parameters') or {}
    for name, value in list(params.items()):
        if value == HIDDEN_MASK:
            hidden.append(name)
            del params[name]
    if not params:
        env.pop('parameters', None)
    registry = env.get('resource_registry') or {}
    for name in [n for n in registry if n in path_of]:
        # Heat registers each template used by "type: <file>" under its own
        # name; the template's reference is enough.
        del registry[name]
    if registry.get('resources') == {}:
        registry.pop('resources')
    if not registry:
        env.pop('resource_registry', None)
    return env, hidden
