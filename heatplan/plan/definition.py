"""The plan definition: root template, ordered environments, parameters.

Precedence, field by field: command-line flags, else ``heatplan.yaml`` at the
source root, else a TripleO ``plan-environment.yaml``.  See
doc/source/plans.rst for the manifest format.
"""

import dataclasses
import os

import yaml

from heatplan import errors
from heatplan.lint import policy as policy_mod
from heatplan.lint import registry as reg
from heatplan.plan import source as source_mod
from heatplan.plan import yamlnodes as yn

MANIFEST_NAME = 'heatplan.yaml'
TRIPLEO_PLAN_ENV = 'plan-environment.yaml'
#: Prefix of keys heatplan itself puts in the files map.  A plan file's key
#: is a normalized relative path and can never contain "//".
RESERVED_PREFIX = 'heatplan://'
GENERATED_PREFIX = RESERVED_PREFIX + 'generated/'

MANIFEST_KEYS = ('version', 'template', 'environments', 'parameters',
                 'parameter_files', 'plan_environment', 'lint')
TRIPLEO_KEYS = ('version', 'name', 'description', 'template', 'environments',
                'parameter_defaults', 'workflow_parameters', 'passwords',
                'derived_parameters', 'playbook_parameters')


@dataclasses.dataclass
class Definition:
    template: str = None
    environments: list = dataclasses.field(default_factory=list)
    parameters: dict = dataclasses.field(default_factory=dict)
    #: parameter name -> key of the file whose text is the value
    parameter_files: dict = dataclasses.field(default_factory=dict)
    #: key of a TripleO plan-environment.yaml whose parameter_defaults
    #: become the last environment (a generated file)
    plan_environment: str = None
    #: where the definition came from: flags, heatplan.yaml, plan-environment.yaml
    origin: str = 'flags'
    diagnostics: list = dataclasses.field(default_factory=list)
    #: generated environment key -> its text (a TripleO plan-environment's
    #: inline ``data`` environments, in their place in ``environments``)
    inline_environments: dict = dataclasses.field(default_factory=dict)
    #: the heatplan.yaml ``lint:`` section (a lint Policy), if any
    lint: object = None

    @property
    def generated_key(self):
        if self.plan_environment:
            return GENERATED_PREFIX + self.plan_environment + '/parameter_defaults.yaml'
        return None

    def all_environments(self):
        envs = list(self.environments)
        if self.plan_environment:
            envs.append(self.generated_key)
        return envs


def _user_path_to_key(src, path, what):
    """Turn a path the user gave (flag or manifest) into a key."""
    if path.startswith('file://'):
        path = source_mod.url_to_path(path) or path
    key = source_mod.normalize_key(path)
    if key is not None and src.exists(key):
        return key
    # A path relative to the current directory (or absolute) inside the root.
    # Confinement is decided on the name alone, before the filesystem is
    # touched: the message never tells whether a path outside exists.
    if isinstance(src, source_mod.DirectorySource) and (
            os.path.isabs(path) or path.startswith('..')):
        key2 = src.absolute_to_key(os.path.abspath(path))
        if key2 is None:
            raise errors.ConfinementError(
                '%s %s is outside the plan root %s' % (what, path, src.label),
                hint='give the path relative to the plan root')
        if src.exists(key2):
            return key2
        key = key2
    elif isinstance(src, source_mod.DirectorySource) and os.path.exists(path):
        key2 = src.absolute_to_key(os.path.abspath(path))
        if key2 is not None and src.exists(key2):
            return key2
    if key is None:
        raise errors.ConfinementError(
            '%s %r is not a path inside the plan root' % (what, path),
            hint='give the path relative to the plan root')
    raise errors.SourceError(
        '%s %s not found in the plan %s' % (what, path, src.label),
        hint='paths are relative to the plan root')


def _parse_kv(items, what):
    out = {}
    for item in items or ():
        if '=' not in item:
            raise errors.UsageError(
                '%s expects KEY=VALUE, got a value without "=" (not shown: it may be a '
                'secret)' % what)
        k, v = item.split('=', 1)
        if not k.strip():
            raise errors.UsageError('%s expects KEY=VALUE, got an empty name' % what)
        out[k] = v
    return out


def _read_yaml_file(src, key, warn=None):
    """Compose a definition file; duplicate keys refuse it, or warn via ``warn``."""
    text, _raw = src.read_text(key)
    node, problem = yn.compose(text, key)
    if problem is not None:
        raise errors.PlanError(problem.format())
    if not isinstance(node, yn.MappingNode):
        raise errors.PlanError('%s: must be a YAML mapping' % key)
    _refuse_duplicate_keys(node, key, warn)
    return node


def _refuse_duplicate_keys(root, key, warn=None):
    """A key twice is ambiguous (YAML keeps the last): refuse it, or warn.

    heatplan.yaml is heatplan's own file and is refused; a TripleO
    plan-environment.yaml is read as tripleoclient reads it (the last
    occurrence wins) with a warning.
    """
    stack = [root]
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yn.MappingNode):
            names = {}
            for k, v in node.value:
                if isinstance(k, yn.ScalarNode):
                    if k.value in names:
                        if warn is None:
                            raise _err(key, k, 'duplicate key %r (first at line %d); YAML '
                                       'keeps only the last one'
                                       % (k.value, names[k.value] + 1))
                        warn(reg.at_node(
                            'duplicate-key', key, k,
                            'duplicate key %r (first at line %d): the last occurrence '
                            'wins, as tripleoclient reads it'
                            % (k.value, names[k.value] + 1)))
                    names[k.value] = k.start_mark.line
                stack.append(v)
        elif isinstance(node, yn.SequenceNode):
            stack.extend(node.value)


#: Limits on parameter data in definition files (heatplan.yaml, plan-environment.yaml).
MAX_DATA_NODES = 100000
MAX_DATA_DEPTH = 100
TIMESTAMP_TAG = 'tag:yaml.org,2002:timestamp'


def node_data(node, key):
    """Plain data for parameter values in a definition file.

    Refuses alias bombs and absurd nesting; timestamps stay strings (as Heat
    reads them: ``2021-04-16`` is a string to Heat, never a date).
    """
    if node is None:
        return None
    size = yn.alias_expansion(node, MAX_DATA_NODES)
    if size < 0 or size > MAX_DATA_NODES:
        raise _err(key, node, 'parameter data expands to more than %d nodes (a YAML alias '
                   'bomb?) or has a recursive alias' % MAX_DATA_NODES)
    stack = [(node, 1)]
    seen = set()
    while stack:
        n, depth = stack.pop()
        if depth > MAX_DATA_DEPTH:
            raise _err(key, n, 'parameter data nested deeper than %d levels' % MAX_DATA_DEPTH)
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yn.ScalarNode):
            if n.tag == TIMESTAMP_TAG:
                n.tag = yn.STR_TAG
        elif isinstance(n, yn.SequenceNode):
            stack.extend((c, depth + 1) for c in n.value)
        elif isinstance(n, yn.MappingNode):
            for k, v in n.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
    loader = yn.Loader('')
    try:
        return loader.construct_document(node)
    except Exception as exc:  # constructor errors: unhashable keys, bad values...
        raise _err(key, node, 'cannot read parameter data: %s' % exc)
    finally:
        loader.dispose()


def _err(key, node, message, hint=None):
    d = reg.at_node('definition', key, node, message)
    return errors.PlanError(d.format(), hint=hint)


def _lint_section(key, value):
    """The ``lint:`` section of heatplan.yaml as a :class:`~heatplan.lint.Policy`."""
    if not isinstance(value, yn.MappingNode):
        raise _err(key, value, 'lint must be a mapping (strict: true, ignore: [...])')
    policy = policy_mod.Policy()
    for name, knode, item in yn.items(value):
        if name == 'strict':
            if not isinstance(item, yn.ScalarNode) or item.value.lower() not in (
                    'true', 'false', 'yes', 'no', 'on', 'off'):
                raise _err(key, item, 'lint: strict must be true or false')
            policy.strict = item.value.lower() in ('true', 'yes', 'on')
        elif name == 'ignore':
            if not isinstance(item, yn.SequenceNode):
                raise _err(key, item, 'lint: ignore must be a list of codes or '
                           '{code: CODE, paths: [GLOB, ...]}')
            for entry in item.value:
                policy.ignore.append(_ignore_entry(key, entry))
        else:
            raise _err(key, knode, 'unknown key %r in lint' % name,
                       hint='known keys: strict, ignore')
    return policy


def _ignore_entry(key, entry):
    where = '%s:%d' % (key, entry.start_mark.line + 1)
    if yn.is_str(entry):
        return _resolve_code(key, entry, where), None, where
    code = yn.get(entry, 'code')
    paths = yn.get(entry, 'paths')
    if not yn.is_str(code) or set(n for n, _k, _v in yn.items(entry)) - {'code', 'paths'}:
        raise _err(key, entry, 'each lint: ignore entry is a code, or '
                   '{code: CODE, paths: [GLOB, ...]}')
    globs = None
    if paths is not None:
        if yn.is_str(paths):
            globs = [paths.value]
        elif isinstance(paths, yn.SequenceNode) and all(yn.is_str(p) for p in paths.value):
            globs = [p.value for p in paths.value]
        else:
            raise _err(key, paths, 'lint: ignore paths must be a glob or a list of globs')
    return _resolve_code(key, code, where), globs, where


def _resolve_code(key, node, where):
    try:
        return policy_mod.resolve(node.value, where)
    except errors.UsageError as exc:
        raise errors.PlanError(exc.message, hint=exc.hint)


def _load_heatplan_yaml(src, key, d):
    node = _read_yaml_file(src, key)
    for name, knode, value in yn.items(node):
        if name not in MANIFEST_KEYS:
            raise _err(key, knode, 'unknown key %r in the plan manifest' % name,
                       hint='known keys: %s' % ', '.join(MANIFEST_KEYS))
        if name == 'template':
            if not yn.is_str(value):
                raise _err(key, value, 'template must be a path string')
            d.template = _user_path_to_key(src, value.value, 'template')
        elif name == 'environments':
            if not isinstance(value, yn.SequenceNode):
                raise _err(key, value, 'environments must be a list of paths')
            envs = []
            for item in value.value:
                path = yn.str_value(item)
                if path is None and isinstance(item, yn.MappingNode):
                    path = yn.str_value(yn.get(item, 'path'))
                if path is None:
                    raise _err(key, item, 'each environment must be a path string')
                envs.append(_user_path_to_key(src, path, 'environment'))
            d.environments = envs
        elif name == 'parameters':
            if not isinstance(value, yn.MappingNode):
                raise _err(key, value, 'parameters must be a mapping of name: value')
            d.parameters = node_data(value, key)
        elif name == 'parameter_files':
            if not isinstance(value, yn.MappingNode):
                raise _err(key, value, 'parameter_files must be a mapping of name: path')
            for pname, _pk, pv in yn.items(value):
                if not yn.is_str(pv):
                    raise _err(key, pv, 'parameter file must be a path string')
                d.parameter_files[pname] = _user_path_to_key(src, pv.value, 'parameter file')
        elif name == 'plan_environment':
            if not yn.is_str(value):
                raise _err(key, value, 'plan_environment must be a path string')
            d.plan_environment = _user_path_to_key(src, value.value, 'plan_environment')
        elif name == 'lint':
            d.lint = _lint_section(key, value)
    d.origin = MANIFEST_NAME


def _load_tripleo(src, key, d):
    """A TripleO plan-environment.yaml, read as tripleoclient reads it.

    ``environments`` entries are ``{path: FILE}`` or inline ``{data: {...}}``
    (tripleoclient writes the data to a temporary environment file in its
    place); heatplan makes each inline one a generated environment file in
    the same position.  ``parameter_defaults`` become the last environment.
    """
    node = _read_yaml_file(src, key, warn=d.diagnostics.append)
    for name, knode, value in yn.items(node):
        if name not in TRIPLEO_KEYS:
            d.diagnostics.append(reg.at_node(
                'definition-key', key, knode, 'unknown key %r in %s; ignored' % (name, key)))
        if name == 'template':
            if not yn.is_str(value):
                raise _err(key, value, 'template must be a path string')
            d.template = _user_path_to_key(src, value.value, 'template')
        elif name == 'environments':
            if not isinstance(value, yn.SequenceNode):
                raise _err(key, value, 'environments must be a list of {path: ...}')
            envs = []
            for index, item in enumerate(value.value):
                path = yn.str_value(yn.get(item, 'path'))
                data = yn.get(item, 'data')
                if path is not None:
                    envs.append(_user_path_to_key(src, path, 'environment'))
                elif data is not None:
                    envs.append(_inline_environment(key, index, data, d))
                else:
                    raise _err(key, item, 'each environment must be {path: FILE} or '
                               '{data: {...}} (an inline environment)')
            d.environments = envs
        elif name == 'passwords':
            d.diagnostics.append(reg.at_node(
                'definition-key', key, knode,
                'the passwords section is not deployed by heatplan; pass secrets '
                'with --parameter or an environment file'))
    if yn.get(node, 'parameter_defaults') is not None:
        d.plan_environment = key
    d.origin = TRIPLEO_PLAN_ENV


def _inline_environment(key, index, node, d):
    """Make a plan-environment's inline ``data`` environment a generated file."""
    if not isinstance(node, yn.MappingNode):
        raise _err(key, node, 'inline environment data must be a mapping (an environment)')
    data = node_data(node, key)
    gen_key = '%s%s/environments/%d.yaml' % (GENERATED_PREFIX, key, index)
    d.inline_environments[gen_key] = yaml.dump(
        data, Dumper=NoAliasDumper, default_flow_style=False, sort_keys=True)
    return gen_key


class NoAliasDumper(yaml.SafeDumper):
    """Dumps shared data in full (generated environments hold no anchors)."""

    def ignore_aliases(self, data):
        return True


def load_definition(src, template=None, environments=None, parameters=None,
                    parameter_files=None):
    """Resolve the plan definition from flags, heatplan.yaml or plan-environment.yaml."""
    d = Definition()
    if src.exists(MANIFEST_NAME):
        _load_heatplan_yaml(src, MANIFEST_NAME, d)
    elif src.exists(TRIPLEO_PLAN_ENV):
        _load_tripleo(src, TRIPLEO_PLAN_ENV, d)
    overridden = False
    if template:
        d.template = _user_path_to_key(src, template, 'template')
        overridden = True
    if environments:
        d.environments = [_user_path_to_key(src, e, 'environment') for e in environments]
        d.inline_environments = {}
        overridden = True
    if parameters:
        d.parameters.update(_parse_kv(parameters, '--parameter'))
        overridden = True
    if parameter_files:
        for name, path in _parse_kv(parameter_files, '--parameter-file').items():
            d.parameter_files[name] = _user_path_to_key(src, path, 'parameter file')
        overridden = True
    if overridden and d.origin != 'flags':
        d.origin = 'flags+' + d.origin
    if d.template is None:
        raise errors.PlanError(
            'no root template for the plan in %s' % src.label,
            hint='pass -t/--template, or write a heatplan.yaml with "template:" '
                 'at the plan root')
    seen = set()
    for env in d.environments:
        if env in seen:
            raise errors.PlanError(
                'environment %s is listed twice' % env,
                hint='Heat keys environment files by name; list each once')
        seen.add(env)
    for name in d.parameter_files:
        if name in d.parameters:
            raise errors.UsageError(
                'parameter %r is given both as a value and as a file' % name)
    return d
