"""Plan assembly: from a source and a definition to one exact Heat request.

Pure functions over the plan's text: no network, no Heat.

1. :func:`analyze` reads the root template and environments, finds every
   reference (resolved relative to the file containing it, as
   python-heatclient does) and follows nested templates transitively.
2. :func:`build` rewrites each reference to its canonical key *in the text*
   (only that scalar changes: comments, order and layout survive), records
   the original text of every rewritten scalar in a manifest stored under a
   reserved files-map key, computes the plan digest and the request body.
"""

import collections.abc
import dataclasses
import functools
import gc
import hashlib
import json
import re
import sys

import yaml

from heatplan import errors
from heatplan import secrets
from heatplan.lint import diagnostics as diag
from heatplan.lint import registry as reg
from heatplan.lint import template as template_rules
from heatplan.lint import yaml as yaml_rules
from heatplan.plan import definition as definition_mod
from heatplan.plan import source as source_mod
from heatplan.plan import yamlnodes as yn

MANIFEST_KEY = definition_mod.RESERVED_PREFIX + 'manifest.json'
MANIFEST_FORMAT = 1
TEMPLATE_SUFFIXES = ('.yaml', '.template')
_TEMPLATE_MARKER = re.compile(
    r'^\s*["\']?(heat_template_version|HeatTemplateFormatVersion|AWSTemplateFormatVersion)'
    r'["\']?\s*:', re.M)
_SCHEME = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')
_SAFE_PLAIN = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_./@+-]*$')


@dataclasses.dataclass(eq=False, slots=True)
class Ref:
    """One reference: a scalar in ``origin`` naming another file."""

    origin: str
    kind: str          # get_file | type | chain | registry
    value: str
    node: object       # its yamlnodes.Spot (position, style)
    target: str = None  # canonical key, None when remote or invalid
    remote: bool = False
    base: str = None    # resource_registry base_url, if any


@dataclasses.dataclass(eq=False, slots=True)
class PlanFile:
    """One plan file: its text and the compact facts assembly and lint need.

    The composed node graph (``node``) exists only while the file is
    scanned: it costs about 25 times the file's bytes, so a 5,000-file plan
    holding every graph peaked above 500 MiB.  What outlives the scan is
    small: references (with their scalar nodes, for positions and rewrites),
    names, key nodes for positions, and the per-template diagnostics
    (``checks``) that needed the graph.
    """

    key: str
    text: str
    size: int           # bytes (UTF-8) of the file as read
    kind: str           # template | environment | file | definition
    node: object = None  # only during the scan
    parsed: bool = False  # composed to a mapping and scanned
    refs: list = dataclasses.field(default_factory=list)
    sha256: str = ''
    # template facts (HOT)
    version: str = None
    sections: list = dataclasses.field(default_factory=list)  # (name, key Spot)
    params: set = dataclasses.field(default_factory=set)      # declared names
    hidden: set = dataclasses.field(default_factory=set)
    resources: set = dataclasses.field(default_factory=set)   # resource names
    checks: list = dataclasses.field(default_factory=list)  # lint.template diagnostics
    #: read only through get_file so far: an unparseable one is sent as text
    only_get_file: bool = False
    # environment facts
    env_params: list = dataclasses.field(default_factory=list)  # (name, key Spot, null)
    env_defaults: list = dataclasses.field(default_factory=list)   # (name, key Spot)
    empty_sections: list = dataclasses.field(default_factory=list)  # (name, key Spot)
    registry: list = dataclasses.field(default_factory=list)       # (type, value)

    @property
    def raw(self):
        """The file's bytes (its text is UTF-8: encoding gives them back exactly)."""
        return self.text.encode('utf-8')


@dataclasses.dataclass(eq=False)
class Analysis:
    source: object
    definition: object
    files: dict = dataclasses.field(default_factory=dict)
    diagnostics: list = dataclasses.field(default_factory=list)
    #: a heatplan.plan.cache.AnalysisCache of per-file results, or None
    cache: object = None

    def add(self, d):
        self.diagnostics.append(d)

    @property
    def errors(self):
        return [d for d in self.diagnostics if d.severity == diag.ERROR]


@dataclasses.dataclass(eq=False)
class Plan:
    """The assembled plan: the request body, its digest and manifest."""

    definition: object
    files: dict            # key -> PlanFile (original text)
    texts: dict            # key -> text as sent (rewritten; a RewrittenTexts: see build)
    manifest: dict
    digest: str
    body: dict
    diagnostics: list

    def body_json(self):
        return json.dumps(self.body, sort_keys=True)

    @functools.cached_property
    def body_size(self):
        """Bytes of the body as sent (ASCII JSON: characters are bytes).

        ``len(json.dumps(body))``, computed file by file so that the whole
        JSON text (as large as the plan) is never held at once.
        """
        return json_size(self.body)


def json_size(body):
    """``len(json.dumps(body))`` for a dict whose ``files`` maps keys to strings.

    ``files`` may be a :class:`RewrittenTexts` (each text made as it is
    asked for, one at a time).
    """
    files = body.get('files')
    if not isinstance(files, collections.abc.Mapping) or not files:
        return len(json.dumps(body))
    rest = dict(body)
    rest['files'] = {}
    size = len(json.dumps(rest))  # "files": {} counted as 2 characters
    dumps = json.dumps
    # '{' + '"key": value' joined by ', ' + '}'
    size += sum(len(dumps(k)) + len(dumps(v)) for k, v in files.items())
    size += 2 * len(files) + 2 * (len(files) - 1)
    return size


class RewrittenTexts(collections.abc.MutableMapping):
    """``key -> text as sent``, each file's rewritten text made when asked for.

    A rewritten files map held whole is a second copy of the plan next to the
    original texts (19 MiB of a 5,000-file plan).  This map holds, for each
    plan file, either its text (files with nothing to rewrite: the original
    string itself, no copy) or its replacements (``[(start, end, new)]``, see
    :func:`rewrite`), and applies them to the :class:`PlanFile`'s original
    text on every lookup, so a writer that takes the files one at a time
    (``heatplan build``, :mod:`heatplan.plan.jsonstream`) never holds more
    than one rewritten text.  Keys keep their insertion order, as a dict's.
    It is not a ``dict``: ``json.dumps`` refuses it, so a request body with
    one is for writing out, not for sending (deploy builds a dict).
    """

    __slots__ = ('_files', '_items')

    def __init__(self, files):
        self._files = files   # key -> PlanFile (original text)
        self._items = {}      # key -> str, or a list of replacements

    def set_rewrites(self, key, replacements):
        """``key``'s text is its PlanFile's text with ``replacements`` applied."""
        self._items[key] = list(replacements) if replacements else self._files[key].text

    def __getitem__(self, key):
        item = self._items[key]
        if item.__class__ is str:
            return item
        return rewrite(self._files[key].text, item)[0]

    def __setitem__(self, key, text):
        self._items[key] = text

    def __delitem__(self, key):
        del self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        return key in self._items

    def copy(self):
        other = RewrittenTexts(self._files)
        other._items = dict(self._items)
        return other


def without_gc(func):
    """Run ``func`` with the cyclic garbage collector paused.

    Assembly builds millions of YAML nodes (none in reference cycles); the
    collector would walk them again and again as the heap grows, which made
    assembly cost grow faster than the plan (measured: 70-80% of the time on
    1,000-5,000 file plans).  Reference counting still frees everything.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()
    return wrapper


# ---------------------------------------------------------------------------
# reference resolution

#: Longest reference heatplan follows (Linux's PATH_MAX), and most components.
MAX_PATH_CHARS = 4096
MAX_PATH_PARTS = 256


def resolve(src, origin, value, base=None):
    """Resolve ``value`` (found in ``origin``) to ``(key, remote, problem)``."""
    if len(value) > MAX_PATH_CHARS or value.count('/') >= MAX_PATH_PARTS:
        return None, False, 'the path is longer than %d characters or %d components' % (
            MAX_PATH_CHARS, MAX_PATH_PARTS)
    if value.startswith(('http://', 'https://')):
        return None, True, None
    if base:
        if base.startswith(('http://', 'https://')):
            return None, True, None
        value = base.rstrip('/') + '/' + value
    if value.startswith('file://'):
        path = source_mod.url_to_path(value)
        key = src.absolute_to_key(path) if path else None
        if key is None:
            return None, False, '%s is outside the plan root' % value
        return key, False, None
    if value.startswith('/'):
        key = src.absolute_to_key(value)
        if key is None:
            return None, False, 'absolute path %s is outside the plan root' % value
        return key, False, None
    if _SCHEME.match(value):
        return None, False, 'unsupported URL scheme in %s' % value
    key = source_mod.join_key(origin, value)
    if key is None:
        return None, False, '%s leaves the plan root' % value
    return key, False, None


# ---------------------------------------------------------------------------
# scanning

_WATCHED = frozenset(('get_file', 'type', 'get_resource', 'get_attr', 'get_param'))
_INTRINSICS = frozenset(('get_resource', 'get_attr', 'get_param'))
_TYPE_SUFFIXES = TEMPLATE_SUFFIXES + ('.yml',)


def _duplicates(pf, an, pairs):
    """Report keys given twice in one mapping (YAML keeps the last)."""
    yaml_rules.duplicate_keys(pf.key, pairs, an.add)


def _visit(pf, an, name, v, single, skip, uses):
    """A watched key (:data:`_WATCHED`) and its value node."""
    if name == 'get_file':
        if yn.is_str(v):
            pf.refs.append(Ref(pf.key, 'get_file', v.value, yn.spot(v)))
    elif name == 'type':
        # most types are A::B names: test the text before resolving the tag
        if v.__class__ is not yn.ScalarNode or not v.value.endswith(_TYPE_SUFFIXES):
            return
        if yn.is_str(v):
            if v.value.endswith(TEMPLATE_SUFFIXES):
                pf.refs.append(Ref(pf.key, 'type', v.value, yn.spot(v)))
            elif v.value.endswith('.yml'):
                an.add(reg.at_node(
                    'yml-type', pf.key, v,
                    'type %r ends in .yml: Heat only treats names ending '
                    '.yaml or .template as templates ("Resource Type '
                    'could not be found"); rename the file to .yaml' % v.value))
    elif single and not skip and uses is not None:
        uses.append((name, v))


def _walk(pf, an, skip_ids=(), collect=True, uses=None):
    """One pass over every node: duplicate keys, get_file, type, intrinsics.

    ``uses`` (when given) receives the ``(function, argument node)`` of every
    get_resource/get_attr/get_param outside ``skip_ids`` subtrees.

    This loop is most of assembly's own time: it tests classes by identity,
    checks a mapping's keys for duplicates with one set, and calls out only
    for the few watched keys.  Files with aliases (shared nodes) or skipped
    subtrees take :func:`_walk_general`.
    """
    if skip_ids or ('*' in pf.text and '&' in pf.text):
        return _walk_general(pf, an, skip_ids, collect, uses)
    mapping_cls, sequence_cls, scalar_cls = yn.MappingNode, yn.SequenceNode, yn.ScalarNode
    watched = _WATCHED if collect else ()
    intrinsics = _INTRINSICS
    stack = [pf.node]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        cls = node.__class__
        if cls is mapping_cls:
            pairs = node.value
            if len(pairs) > 1:
                try:
                    unique = len({k.value for k, _v in pairs}) == len(pairs)
                except TypeError:  # a collection as a key
                    unique = False
                if not unique:
                    _duplicates(pf, an, pairs)
            single = len(pairs) == 1
            for k, v in pairs:
                if k.__class__ is scalar_cls:
                    name = k.value
                    if name in watched:
                        if name in intrinsics:
                            if single and uses is not None:
                                uses.append((name, v))
                        else:
                            _visit(pf, an, name, v, single, False, uses)
                else:
                    push(k)
                if v.__class__ is not scalar_cls:
                    push(v)
        elif cls is sequence_cls:
            for child in node.value:
                if child.__class__ is not scalar_cls:
                    push(child)


def _walk_general(pf, an, skip_ids=(), collect=True, uses=None):
    """:func:`_walk` for any graph: shared (aliased) nodes once, skipped subtrees."""
    stack = [(pf.node, False)]
    seen = set()
    while stack:
        node, skip = stack.pop()
        nid = id(node)
        if nid in seen:
            continue
        seen.add(nid)
        if nid in skip_ids:
            skip = True
        if isinstance(node, yn.MappingNode):
            pairs = node.value
            if len(pairs) > 1:
                _duplicates(pf, an, pairs)
            single = len(pairs) == 1
            for k, v in pairs:
                if isinstance(k, yn.ScalarNode):
                    if collect and k.value in _WATCHED:
                        _visit(pf, an, k.value, v, single, skip, uses)
                else:
                    stack.append((k, skip))
                if not isinstance(v, yn.ScalarNode):
                    stack.append((v, skip))
        elif isinstance(node, yn.SequenceNode):
            for child in node.value:
                if not isinstance(child, yn.ScalarNode):
                    stack.append((child, skip))


def _check_aliases(pf, an):
    return yaml_rules.aliases(pf.key, pf.text, pf.node, an.add)


#: Names (parameters, resources, sections) recur across a plan's files: one
#: string each instead of one per file (a 5,000-file plan held 70,000).
_intern = sys.intern


def _scan_template(pf, an):
    root = pf.node
    skip_ids = set()
    sections = []
    resources = {}
    uses = []
    for name, knode, value in yn.items(root):
        sections.append((name, knode))
        if name == 'heat_template_version':
            pf.version = value.value if isinstance(value, yn.ScalarNode) else None
        elif name == 'parameters':
            for pname, _pk, pdef in yn.items(value):
                pf.params.add(_intern(pname))
                hidden = yn.get(pdef, 'hidden')
                if isinstance(hidden, yn.ScalarNode) and hidden.value.lower() in (
                        'true', 'yes', 'on'):
                    pf.hidden.add(pname)
        elif name == 'resources':
            for rname, _rk, rdef in yn.items(value):
                resources[rname] = rdef
                pf.resources.add(_intern(rname))
                # one pass over the definition's keys (the last of a key wins)
                rtype = dep = props = None
                if rdef.__class__ is yn.MappingNode:
                    for k, v in rdef.value:
                        kname = k.value
                        if kname == 'type':
                            rtype = v
                        elif kname == 'properties':
                            props = v
                        elif kname == 'depends_on':
                            dep = v
                if dep is not None:
                    uses.append(('depends_on', dep))
                rtype_value = yn.str_value(rtype)
                if rtype_value == 'OS::Heat::ResourceChain':
                    chain = yn.get(props, 'resources')
                    if isinstance(chain, yn.SequenceNode):
                        for item in chain.value:
                            if yn.is_str(item) and item.value.endswith(TEMPLATE_SUFFIXES):
                                pf.refs.append(Ref(pf.key, 'chain', item.value, yn.spot(item)))
                elif rtype_value == 'OS::Heat::Stack':
                    inline = yn.get(props, 'template')
                    if isinstance(inline, yn.MappingNode):
                        skip_ids.add(id(inline))
    _walk(pf, an, skip_ids, uses=uses)
    template_rules.check_template(pf.key, root, sections, pf.version, pf.params,
                                  resources, uses, pf.checks.append,
                                  is_root=pf.key == an.definition.template)
    pf.sections = [(_intern(name), None) for name, _k in sections]


def _scan_environment(pf, an):
    for name, knode, value in yn.items(pf.node):
        pf.sections.append((name, yn.spot(knode)))
        if _is_null(value):
            pf.empty_sections.append((name, yn.spot(knode)))
        elif name == 'parameters':
            pf.env_params.extend((n, yn.spot(k), _is_null(v)) for n, k, v in yn.items(value))
        elif name == 'parameter_defaults':
            pf.env_defaults.extend((n, yn.spot(k)) for n, k, _v in yn.items(value))
        elif name == 'resource_registry':
            _scan_registry(pf, value)
    _walk(pf, an, collect=False)


def _is_null(node):
    return node.__class__ is yn.ScalarNode and yn.tag_of(node) == NULL_TAG


NULL_TAG = 'tag:yaml.org,2002:null'


def _registry_value(pf, tname, value, base):
    if not yn.is_str(value):
        return
    text = value.value
    pf.registry.append((tname, text))
    if '::' in text:
        return
    pf.refs.append(Ref(pf.key, 'registry', text, yn.spot(value), base=base))


def _scan_registry(pf, reg):
    base = yn.str_value(yn.get(reg, 'base_url'))
    for name, _k, value in yn.items(reg):
        if name == 'base_url':
            continue
        if name == 'resources' and isinstance(value, yn.MappingNode):
            for _rname, _rk, rmap in yn.items(value):
                rbase = yn.str_value(yn.get(rmap, 'base_url')) or base
                for tname, _tk, tvalue in yn.items(rmap):
                    if tname in ('hooks', 'restricted_actions', 'base_url'):
                        continue
                    _registry_value(pf, None, tvalue, rbase)
            continue
        _registry_value(pf, name, value, base)


def _looks_like_template(key, text):
    return key.endswith(('.yaml', '.yml', '.template', '.json')) and \
        _TEMPLATE_MARKER.search(text) is not None


def _load(src, an, key, kind):
    text, raw = src.read_text(key)
    only_get_file = kind == 'get_file'
    if only_get_file:
        kind = 'template' if _looks_like_template(key, text) else 'file'
    pf = PlanFile(key, text, len(raw), kind, only_get_file=only_get_file)
    pf.sha256 = hashlib.sha256(raw).hexdigest()
    an.files[key] = pf
    return _parse(pf, an)


def _unparsed(pf, an, why):
    """A get_file target that looked like a template but is not one: plain text.

    python-heatclient does the same (its ``is_template`` fails, it sends the
    file as read); Heat only ever sees it as a string.
    """
    an.add(reg.make('unparsed-file', pf.key, 1, 1,
                    'looks like a template but %s; it is sent as plain text, with no '
                    'reference inside it followed or rewritten' % why))
    pf.kind = 'file'
    pf.node = None
    return pf


def _parse(pf, an):
    if an.cache is not None and pf.kind in ('template', 'environment'):
        return an.cache.parse(pf, an, _parse_file)
    return _parse_file(pf, an)


def _parse_file(pf, an):
    """Compose and scan one file: its facts on ``pf``, its diagnostics on ``an``.

    A pure function of the file's text, key, kind (and ``only_get_file``)
    and whether it is the root template: :mod:`heatplan.plan.cache` keeps
    its results by those.
    """
    key, text, kind = pf.key, pf.text, pf.kind
    if kind not in ('template', 'environment'):
        return pf
    node, problem = yn.compose(text, key, lazy_tags=True)
    if problem is not None:
        if pf.only_get_file and problem.rule in ('yaml-syntax', 'yaml-depth'):
            return _unparsed(pf, an, 'is not valid YAML (%s)' % problem.format())
        an.add(problem)
        return pf
    if node is None or (kind == 'environment' and _is_null(node)):
        if kind == 'environment':
            an.add(reg.make('empty-environment', key, 1, 1,
                            'the environment file is empty; Heat reads it as no content'))
            pf.parsed = True
            return pf
        an.add(reg.make('empty', key, 1, 1, 'the template file is empty'))
        return pf
    pf.node = node
    pf.parsed = False
    pf.sections, pf.refs, pf.checks, pf.registry = [], [], [], []
    pf.params, pf.hidden, pf.resources = set(), set(), set()
    pf.env_params, pf.env_defaults, pf.empty_sections = [], [], []
    if not isinstance(node, yn.MappingNode):
        if pf.only_get_file:
            return _unparsed(pf, an, 'is not a YAML mapping')
        an.add(reg.at_node('not-mapping', key, node,
                           'a Heat %s must be a YAML mapping' % kind))
        pf.node = None
        return pf
    if not _check_aliases(pf, an):
        pf.node = None
        return pf
    if kind == 'template':
        _scan_template(pf, an)
    else:
        _scan_environment(pf, an)
    pf.parsed = True
    pf.node = None  # the graph is done with: keep only the facts
    return pf


def _want(an, queue, key, kind, ref=None):
    """Read ``key`` as ``kind`` (once) and queue it for its references."""
    src = an.source
    pf = an.files.get(key)
    if pf is not None:
        if kind == 'template' and pf.kind == 'file':
            # read as a plain (get_file) file first, now needed as a template
            pf.kind = 'template'
            pf.only_get_file = False
            queue.append(_parse(pf, an))
        elif kind == 'template':
            pf.only_get_file = False
        return
    if not src.exists(key):
        if ref is None:
            an.add(reg.make('missing', key, 0, 0, 'file not found in the plan'))
        else:
            an.add(reg.at_node(
                'missing', ref.origin, ref.node,
                '%s %r: %s does not exist in the plan' % (ref.kind, ref.value, key)))
        return
    try:
        pf = _load(src, an, key, kind)
    except errors.LimitExceeded:
        raise
    except errors.SourceError as exc:
        if ref is not None:
            an.add(reg.at_node('unreadable', ref.origin, ref.node, str(exc)))
        else:
            an.add(reg.make('unreadable', key, 0, 0, str(exc)))
        return
    queue.append(pf)


def _follow(an, queue, pf):
    """Resolve the references of one file; want each target."""
    src = an.source
    for ref in pf.refs:
        key, remote, problem = resolve(src, pf.key, ref.value, getattr(ref, 'base', None))
        ref.remote = remote
        if remote:
            an.add(reg.at_node(
                'remote', pf.key, ref.node,
                '%s %r is fetched by Heat at deploy time and is not part of the '
                'plan (not versioned, not checked)' % (ref.kind, ref.value)))
            continue
        if problem is not None:
            an.add(reg.at_node('confinement', pf.key, ref.node,
                               'refusing %s %r: %s' % (ref.kind, ref.value, problem)))
            continue
        kind = 'get_file' if ref.kind == 'get_file' else 'template'
        if ref.kind == 'registry' and not key.endswith(TEMPLATE_SUFFIXES):
            an.add(reg.at_node(
                'registry-value', pf.key, ref.node,
                'resource_registry value %r is neither a resource type (A::B) nor a '
                'template ending .yaml or .template%s; Heat fails where a resource '
                'uses it. The file is sent as it is'
                % (ref.value, ' (.yml is not a template suffix: rename it to .yaml)'
                   if key.endswith('.yml') else '')))
            kind = 'get_file'
        ref.target = key
        _want(an, queue, key, kind, ref)


@without_gc
def analyze(src, definition, cache=None):
    """Read every file the plan needs and find every reference.

    Content problems become diagnostics; unsafe or unreadable sources raise.
    ``cache`` (a :class:`heatplan.plan.cache.AnalysisCache`) answers the
    per-file part for files it has seen (the caller calls its ``finish``).
    """
    an = Analysis(src, definition, cache=cache)
    an.diagnostics.extend(definition.diagnostics)
    queue = []
    _want(an, queue, definition.template, 'template')
    for env in definition.environments:
        if env not in definition.inline_environments:
            _want(an, queue, env, 'environment')
    if definition.plan_environment:
        _want(an, queue, definition.plan_environment, 'definition')
    if definition.origin in (definition_mod.MANIFEST_NAME, definition_mod.TRIPLEO_PLAN_ENV):
        # Stored so an export reproduces it byte for byte; not in the digest.
        _want(an, queue, definition.origin, 'definition')
    for name, key in definition.parameter_files.items():
        if not src.exists(key):
            an.add(reg.make('missing', key, 0, 0, 'parameter file for %r not found' % name))
    while queue:
        _follow(an, queue, queue.pop(0))
    _find_cycles(an)
    return an


def _find_cycles(an):
    """Report template reference cycles (Heat would recurse until its depth limit)."""
    graph = {}
    for key, pf in an.files.items():
        if pf.kind != 'template':
            continue
        edges = []
        for ref in pf.refs:
            if ref.target and ref.kind in ('type', 'chain', 'get_file') and \
                    an.files.get(ref.target) is not None and \
                    an.files[ref.target].kind == 'template':
                edges.append((ref.target, ref))
        graph[key] = edges
    state = {}
    for start in graph:
        if state.get(start):
            continue
        stack = [(start, iter(graph[start]))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            target, ref = nxt
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                an.add(reg.at_node('cycle', ref.origin, ref.node,
                                   'template reference cycle: %s' % ' -> '.join(cycle)))
            elif not state.get(target):
                state[target] = 1
                path.append(target)
                stack.append((target, iter(graph.get(target, ()))))


# ---------------------------------------------------------------------------
# rewrite, manifest, digest, body

def render_scalar(value, node, original):
    """Text for a scalar holding ``value``, in the style of ``node`` when safe."""
    if not node.style and _SAFE_PLAIN.match(value) and yn.resolves_to_str(value):
        return value
    if node.style == "'" and '\n' not in value:
        return "'" + value.replace("'", "''") + "'"
    rendered = json.dumps(value, ensure_ascii=False)
    if node.style in ('|', '>'):
        body = original.rstrip(' \n')
        rendered += original[len(body):]
    return rendered


def rewrite(text, replacements):
    """Apply ``[(start, end, new_text)]``; return ``(new_text, edits)``.

    ``edits`` are ``[position in new text, length of new scalar, original
    scalar text]``, in order: enough to restore the original exactly.
    """
    out = []
    edits = []
    last = 0
    shift = 0
    for start, end, new in sorted(replacements):
        out.append(text[last:start])
        out.append(new)
        edits.append([start + shift, len(new), text[start:end]])
        shift += len(new) - (end - start)
        last = end
    out.append(text[last:])
    return ''.join(out), edits


def rewrite_edits(text, replacements):
    """The ``edits`` of :func:`rewrite`, without making the new text."""
    edits = []
    shift = 0
    for start, end, new in sorted(replacements):
        edits.append([start + shift, len(new), text[start:end]])
        shift += len(new) - (end - start)
    return edits


def restore(text, edits):
    """Undo :func:`rewrite`: the original text from the rewritten one."""
    out = []
    last = 0
    for pos, length, original in edits:
        out.append(text[last:pos])
        out.append(original)
        last = pos + length
    out.append(text[last:])
    return ''.join(out)


def scalar_span(text, node):
    """``(start, end)`` of a scalar's own text: past any ``&anchor`` or ``!tag``."""
    # libyaml does not count a leading byte order mark in its positions.
    shift = 1 if text.startswith('\ufeff') else 0
    start, end = node.start_mark.index + shift, node.end_mark.index + shift
    while start < end and text[start] in '&!':
        while start < end and not text[start].isspace():
            start += 1
        while start < end and text[start].isspace():
            start += 1
    return start, end


def _file_rewrites(pf):
    reps = {}
    for ref in pf.refs:
        if ref.target is None or ref.target == ref.value:
            continue
        node = ref.node
        start, end = scalar_span(pf.text, node)
        if start in reps:
            continue
        original = pf.text[start:end]
        reps[start] = (start, end, render_scalar(ref.target, node, original))
    return list(reps.values())


def _canonical_json(data):
    return json.dumps(data, sort_keys=True, separators=(',', ':'), ensure_ascii=False)


def digest_parameters(params, fingerprints):
    """Parameters as the digest sees them: hidden values by fingerprint only."""
    return {k: fingerprints.get(k, v) for k, v in params.items()}


def digest_files(entries):
    """``{key: sha256}`` of the files the digest covers (not definition files)."""
    return {k: e['sha256'] for k, e in entries.items() if not e.get('definition')}


def compute_digest(root, environments, parameters, file_hashes, generated=None):
    """``sha256:<hex>`` over the plan's content, never over where it was read.

    Covers the root key, the ordered environments, the parameters, the sha256
    of every plan file's original bytes and of generated environments.  The
    files naming the definition (heatplan.yaml, plan-environment.yaml) are
    not covered themselves: what they define is.
    """
    doc = {
        'format': MANIFEST_FORMAT,
        'root': root,
        'environments': list(environments),
        'parameters': parameters,
        'files': dict(file_hashes),
    }
    if generated:
        doc['generated'] = generated
    return 'sha256:' + hashlib.sha256(_canonical_json(doc).encode('utf-8')).hexdigest()


def _generated_env(an):
    """The TripleO plan-environment's parameter_defaults as an environment file."""
    d = an.definition
    pf = an.files.get(d.plan_environment)
    if pf is None:
        return None
    node, problem = yn.compose(pf.text, pf.key)
    if problem is not None:
        an.add(problem)
        return None
    try:
        data = definition_mod.node_data(yn.get(node, 'parameter_defaults'), pf.key)
        return yaml.dump({'parameter_defaults': data or {}},
                         Dumper=definition_mod.NoAliasDumper,
                         default_flow_style=False, sort_keys=True)
    except errors.PlanError as exc:
        an.add(reg.make('definition', pf.key, 0, 0, exc.message))
        return None


def _register_environment_secrets(an):
    """Hidden values written in environment files: masked in logs (stored as written)."""
    hidden = set()
    for pf in an.files.values():
        if pf.kind == 'template':
            hidden |= pf.hidden
    if not hidden:
        return
    for env in an.definition.environments:
        pf = an.files.get(env)
        if pf is None or not pf.parsed:
            continue
        names = {n for n, *_rest in pf.env_params} | {n for n, _k in pf.env_defaults}
        if not names & hidden:
            continue
        node, _problem = yn.compose(pf.text, pf.key)
        for section in ('parameters', 'parameter_defaults'):
            for name, _k, value in yn.items(yn.get(node, section)):
                if name in hidden:
                    try:
                        secrets.register(definition_mod.node_data(value, pf.key), name)
                    except errors.PlanError:  # unreadable data: its scalars, at least
                        if isinstance(value, yn.ScalarNode):
                            secrets.register(value.value, name)


@without_gc
def build(an, parameter_values=None, hidden=None, hold_texts=True):
    """Assemble the request body from an analysis without errors.

    ``hold_texts=False``: the files map (``body['files']``, ``Plan.texts``)
    is a :class:`RewrittenTexts`, which makes each rewritten text when it is
    asked for: for writing the body out piece by piece; the body is then
    not a ``dict`` of strings (``json.dumps`` refuses it).
    """
    d = an.definition
    if an.errors:
        raise errors.LintFailed(an.diagnostics)
    texts, entries = _rewritten_files(an, hold_texts)
    params = dict(d.parameters)
    if parameter_values:
        params.update(parameter_values)
    for name, key in sorted(d.parameter_files.items()):
        text, _raw = an.source.read_text(key)
        params[name] = text
    envs, generated = _environments(an, texts)
    root_pf = an.files[d.template]
    hidden = {k for k in set(hidden or ()) | root_pf.hidden if k in params}
    for name in hidden:
        secrets.register(params[name], name)
    _register_environment_secrets(an)
    if d.origin == definition_mod.MANIFEST_NAME and hidden & set(d.parameters):
        # heatplan.yaml holds a hidden value: keep it out of Heat (export will
        # write a heatplan.yaml without it and ask for the value).
        entries.pop(definition_mod.MANIFEST_NAME, None)
        texts.pop(definition_mod.MANIFEST_NAME, None)
    fingerprints = {k: secrets.fingerprint(k, params[k]) for k in sorted(hidden)}
    digest = compute_digest(d.template, envs, digest_parameters(params, fingerprints),
                            digest_files(entries), generated)
    manifest = {
        'heatplan_manifest': MANIFEST_FORMAT,
        'digest': digest,
        'root': d.template,
        'environments': envs,
        'generated': generated,
        'parameters': {k: (secrets.MASK if k in hidden else v) for k, v in params.items()},
        'hidden_parameters': sorted(hidden),
        'hidden_fingerprints': fingerprints,
        'parameter_files': dict(d.parameter_files),
        'origin': d.origin,
        'files': entries,
    }
    files = dict(texts) if hold_texts else texts.copy()
    files[MANIFEST_KEY] = _canonical_json(manifest)
    body = {
        'template': texts[d.template],
        'files': files,
        'environment_files': envs,
        'parameters': params,
    }
    return Plan(d, dict(an.files), texts, manifest, digest, body, list(an.diagnostics))


def _rewritten_files(an, hold_texts=True):
    """``(texts, manifest entries)``: each file rewritten to canonical keys.

    ``hold_texts=False``: ``texts`` is a :class:`RewrittenTexts` (each text
    rewritten when asked for); the edits are computed here all the same.
    """
    texts = {} if hold_texts else RewrittenTexts(an.files)
    entries = {}
    for key in sorted(an.files):
        pf = an.files[key]
        replacements = _file_rewrites(pf)
        if hold_texts:
            texts[key], edits = rewrite(pf.text, replacements)
        else:
            edits = rewrite_edits(pf.text, replacements)
            texts.set_rewrites(key, replacements)
        entry = {'sha256': pf.sha256, 'size': pf.size}
        if edits:
            entry['edits'] = edits
        if pf.kind == 'definition':
            entry['definition'] = True
        entries[key] = entry
    return texts, entries


def _environments(an, texts):
    """``(environment files in order, generated ones)``; generated texts go in ``texts``."""
    d = an.definition
    generated = {}
    envs = list(d.environments)
    for gen_key, gen_text in d.inline_environments.items():
        texts[gen_key] = gen_text
        generated[gen_key] = {
            'from': d.origin.split('+')[-1], 'section': 'environments',
            'sha256': hashlib.sha256(gen_text.encode('utf-8')).hexdigest()}
    if d.plan_environment:
        gen_text = _generated_env(an)
        if gen_text is None and an.errors:
            raise errors.LintFailed(an.diagnostics)
        if gen_text is not None:
            texts[d.generated_key] = gen_text
            generated[d.generated_key] = {
                'from': d.plan_environment, 'section': 'parameter_defaults',
                'sha256': hashlib.sha256(gen_text.encode('utf-8')).hexdigest()}
            envs.append(d.generated_key)
    return envs, generated


def restore_files(files, manifest=None):
    """Original bytes of every plan file from a stored files map.

    Verifies each against the manifest's sha256; raises PlanError on mismatch.
    """
    if manifest is None:
        raw = files.get(MANIFEST_KEY)
        if raw is None:
            raise errors.PlanError('the files map holds no heatplan manifest (%s)'
                                   % MANIFEST_KEY)
        manifest = json.loads(raw)
    out = {}
    for key, entry in manifest['files'].items():
        if key not in files:
            raise errors.PlanError('stored plan is missing %s' % key)
        data = restore(files[key], entry.get('edits', ())).encode('utf-8')
        if hashlib.sha256(data).hexdigest() != entry['sha256']:
            raise errors.PlanError(
                'restored %s does not match its recorded sha256; the stored plan '
                'was changed outside heatplan' % key)
        out[key] = data
    return out
