"""YAML rules (HP1xx) that need a file's node graph, run while it is scanned."""

from heatplan.lint import registry as reg
from heatplan.plan import yamlnodes as yn


def duplicate_keys(key, pairs, add):
    """HP104 at every occurrence of a key that a later one overrides."""
    seen = {}
    for k, _v in pairs:
        if isinstance(k, yn.ScalarNode):
            seen.setdefault(k.value, []).append(k)
    for name, nodes in seen.items():
        if len(nodes) < 2:
            continue
        last = nodes[-1]
        for node in nodes[:-1]:
            add(reg.at_node(
                'duplicate-key', key, node,
                'duplicate key %r: YAML keeps only the last occurrence (line %d), '
                'which is what Heat uses; this one is ignored'
                % (name, last.start_mark.line + 1)))


def aliases(key, text, node, add):
    """HP103 for a recursive alias or an alias bomb; False when the file must stop."""
    if '*' not in text or '&' not in text:
        return True
    size = yn.alias_expansion(node)
    if size < 0:
        add(reg.make('yaml-alias', key, 0, 0,
                     'recursive YAML alias; Heat cannot load this file'))
        return False
    if size > yn.MAX_EXPANDED_NODES:
        add(reg.make('yaml-alias', key, 0, 0,
                     'YAML aliases expand this file to more than %d nodes '
                     '(an alias bomb); refusing it' % yn.MAX_EXPANDED_NODES))
        return False
    return True
