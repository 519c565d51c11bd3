"""YAML composition with positions, on libyaml (CSafeLoader).

heatplan works on the composed node graph (never on constructed data): it is
what libyaml produces fastest, it carries the position of every scalar (for
diagnostics and for text-preserving rewrites) and aliases stay shared nodes
(so an alias bomb costs nothing until someone expands it).
"""

import yaml

StockLoader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
ScalarNode = yaml.ScalarNode
MappingNode = yaml.MappingNode
SequenceNode = yaml.SequenceNode

STR_TAG = 'tag:yaml.org,2002:str'
SEQ_TAG = 'tag:yaml.org,2002:seq'
MAP_TAG = 'tag:yaml.org,2002:map'


class Loader(StockLoader):
    """libyaml's safe loader with the per-node Python work made cheap.

    The C composer calls back into Python for every node: ``resolve`` (the
    implicit tag of each scalar: a dict lookup and up to a few regular
    expressions) and ``descend_resolver``/``ascend_resolver`` (path
    resolvers, which heatplan never registers).  Together they were about a
    third of composing a plan.  Here:

    * the path-resolver hooks are C builtins that accept the same arguments
      and do nothing useful (``slice(parent, index)``, ``tuple()``): no
      Python frame per node;
    * ``resolve`` answers quoted and block scalars (always strings),
      mappings and sequences at once, plain scalars whose first character
      starts no implicit type (most identifiers) at once, and the rest from
      a memo of the stock resolver's answers.

    Tags come out exactly as with the stock loader (a property test
    compares them); only path resolvers are ignored.
    """

    descend_resolver = slice
    ascend_resolver = tuple
    _memo = {}
    _MEMO_MAX = 65536
    _MEMO_KEY_MAX = 64

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode:
            if not implicit[0]:
                return STR_TAG
            if value[:1] not in _IMPLICIT_FIRST and not _IMPLICIT_WILDCARD:
                return STR_TAG
            tag = self._memo.get(value)
            if tag is None:
                tag = StockLoader.resolve(self, kind, value, implicit)
                if len(value) <= self._MEMO_KEY_MAX and len(self._memo) < self._MEMO_MAX:
                    self._memo[value] = tag
            return tag
        if kind is MappingNode:
            return MAP_TAG
        return SEQ_TAG


class LazyTagLoader(Loader):
    """:class:`Loader` that leaves implicit tags unresolved until asked.

    Assembly looks at the tag of only a few scalars (is a ``get_file`` or
    ``type`` value a string?), yet the composer asks Python to resolve
    every node's.  Here ``resolve`` is the builtin ``slice``: the composer
    stores ``slice(kind, value, implicit)`` as the tag (a C call, no Python
    frame), and :func:`tag_of` resolves it exactly when needed.  Nodes
    composed this way must never be constructed into data (definition
    files and generated environments use :class:`Loader`).
    """

    resolve = slice


def tag_of(node):
    """A node's tag, resolving a :class:`LazyTagLoader` placeholder."""
    tag = node.tag
    if tag.__class__ is slice:
        return Loader.resolve(Loader, tag.start, tag.stop, tag.step)
    return tag


_IMPLICIT_FIRST = frozenset(k for k in StockLoader.yaml_implicit_resolvers if k is not None)
_IMPLICIT_WILDCARD = bool(StockLoader.yaml_implicit_resolvers.get(None))
_resolver = yaml.resolver.Resolver()

#: An aliased document may expand to at most this many nodes.
MAX_EXPANDED_NODES = 1000000


def compose(text, path, lazy_tags=False):
    """Compose ``text``; return ``(node, diagnostic)``, one of them None.

    With ``lazy_tags`` (:class:`LazyTagLoader`) read tags with :func:`tag_of`.
    """
    try:
        return yaml.compose(text, Loader=LazyTagLoader if lazy_tags else Loader), None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or 'invalid YAML'
        if exc.context:
            problem = '%s %s' % (exc.context, problem)
        message = 'YAML syntax error: %s' % problem
        if mark is not None and 0 <= mark.index < len(text) and (
                text[mark.index] == '\t' or '\t' in problem or "'\\t'" in problem):
            message += ' (YAML forbids tabs for indentation; use spaces)'
        line = mark.line + 1 if mark else 0
        col = mark.column + 1 if mark else 0
        rule = 'yaml-depth' if 'nesting depth' in problem else 'yaml-syntax'
        return None, _reg().make(rule, path, line, col, message)
    except yaml.YAMLError as exc:
        return None, _reg().make('yaml-syntax', path, 0, 0, 'YAML error: %s' % exc)
    except RecursionError:
        return None, _reg().make('yaml-depth', path, 0, 0, 'YAML nesting too deep to read')


def _reg():
    # heatplan.lint imports this module: import the registry when first needed.
    from heatplan.lint import registry

    return registry


def is_str(node):
    return isinstance(node, ScalarNode) and tag_of(node) == STR_TAG


def str_value(node):
    return node.value if is_str(node) else None


def get(node, key):
    """The value node for ``key`` in a mapping node (last one wins, as PyYAML)."""
    found = None
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                found = v
    return found


def items(node):
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode):
                yield k.value, k, v


def alias_expansion(root, cap=MAX_EXPANDED_NODES):
    """Return how many nodes ``root`` expands to, stopping past ``cap``.

    Returns -1 for a recursive alias.  Shared (aliased) nodes count once per
    use, which is what any consumer building plain data would pay.
    """
    memo = {}
    onstack = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            onstack.discard(nid)
            if isinstance(node, ScalarNode):
                size = 1
            elif isinstance(node, SequenceNode):
                size = 1 + sum(memo[id(c)] for c in node.value)
            else:
                size = 1 + sum(memo[id(k)] + memo[id(v)] for k, v in node.value)
            memo[nid] = size
            if size > cap:
                return size
            continue
        if nid in memo:
            continue
        if nid in onstack:
            return -1
        onstack.add(nid)
        stack.append((node, True))
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = ()
        for child in children:
            cid = id(child)
            if cid in onstack:
                return -1
            if cid not in memo:
                stack.append((child, False))
    return memo.get(id(root), 1)


def resolves_to_str(value):
    """Would ``value`` written as a plain scalar load as a string?"""
    return _resolver.resolve(ScalarNode, value, (True, False)) == STR_TAG


class Mark:
    """A position (0-based line, column and character index), compactly."""

    __slots__ = ('line', 'column', 'index')

    def __init__(self, line, column, index):
        self.line, self.column, self.index = line, column, index


class Spot:
    """What outlives a file's node graph of one scalar: its value, style, span.

    Quacks like a ScalarNode for :func:`heatplan.lint.registry.at_node` and
    the rewrite (``value``, ``style``, ``start_mark``, ``end_mark``) at a
    quarter of the memory, and holds no reference into the graph.
    """

    __slots__ = ('value', 'style', 'start_mark', 'end_mark')

    def __init__(self, value, style, start_mark, end_mark):
        self.value, self.style = value, style
        self.start_mark, self.end_mark = start_mark, end_mark


def spot(node):
    """A :class:`Spot` for a scalar node (position only for other nodes)."""
    s, e = node.start_mark, node.end_mark
    value = node.value if isinstance(node, ScalarNode) else None
    return Spot(value, getattr(node, 'style', None), Mark(s.line, s.column, s.index),
                Mark(e.line, e.column, e.index))
