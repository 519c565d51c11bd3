"""Template rules (HP3xx), run on the YAML nodes while a file is scanned.

Assembly keeps only compact facts of each file (its references, parameter
and resource names, positions), never the whole node graph: these checks
need the graph, so they run while it exists and their diagnostics are kept
on the file for :func:`heatplan.lint.lint` to report.  Pure: no network.
"""

from heatplan.lint import registry as reg
from heatplan.plan import yamlnodes as yn

HOT_VERSIONS = frozenset((
    '2013-05-23', '2014-10-16', '2015-04-30', '2015-10-15', '2016-04-08',
    '2016-10-14', 'newton', '2017-02-24', 'ocata', '2017-09-01', 'pike',
    '2018-03-02', 'queens', '2018-08-31', 'rocky', '2021-04-16', 'wallaby',
))
HOT_SECTIONS = frozenset((
    'heat_template_version', 'description', 'parameter_groups', 'parameters',
    'resources', 'outputs', 'conditions',
))
CFN_SECTIONS = frozenset((
    'AWSTemplateFormatVersion', 'HeatTemplateFormatVersion', 'Description',
    'Mappings', 'Parameters', 'Resources', 'Outputs', 'Conditions', 'Metadata',
))
RESOURCE_KEYS = frozenset((
    'type', 'properties', 'metadata', 'depends_on', 'deletion_policy',
    'update_policy', 'condition', 'external_id',
))
PSEUDO_PARAMS = frozenset(('OS::stack_name', 'OS::stack_id', 'OS::project_id'))


def _first_scalar(node):
    if isinstance(node, yn.SequenceNode) and node.value:
        node = node.value[0]
    return node if isinstance(node, yn.ScalarNode) else None


def check_template(key, root, sections, version, params, resources, uses, add,
                   is_root=False):
    """Template-level findings, as diagnostics via ``add``.

    Only the root template is certainly loaded by Heat: a missing version
    there is an error (HP301); everything else is a warning that Heat's own
    validate judges (a nested template no resource instantiates is never
    loaded, an unused condition never evaluated).

    ``root`` is the template's mapping node, ``sections`` its ``(name, key
    node)`` pairs, ``params`` the declared parameter names, ``resources``
    ``{name: definition node}`` and ``uses`` the ``(function, argument
    node)`` pairs of get_param/get_resource/get_attr/depends_on.
    """
    section_names = {name for name, _k in sections}
    if 'AWSTemplateFormatVersion' in section_names or 'HeatTemplateFormatVersion' in \
            section_names:
        for name, knode in sections:
            if name not in CFN_SECTIONS:
                add(reg.at_node('section', key, knode,
                                'unknown template section %r' % name))
        return
    _check_version(key, root, version, add, is_root)
    for name, knode in sections:
        if name not in HOT_SECTIONS:
            add(reg.at_node('section', key, knode,
                            'unknown template section %r (Heat rejects it where it loads '
                            'this template; known: %s)'
                            % (name, ', '.join(sorted(HOT_SECTIONS)))))
    for rname, rdef in resources.items():
        _check_resource(key, rname, rdef, add)
    for fn, node in uses:
        _check_use(key, fn, node, params, resources, add)


def _check_version(key, root, version, add, is_root):
    version_node = yn.get(root, 'heat_template_version')
    if version_node is None:
        if is_root:
            add(reg.make('not-a-template', key, 1, 1,
                         'not a Heat template: no heat_template_version'))
        else:
            add(reg.make('version', key, 1, 1,
                         'no heat_template_version: Heat cannot load this template '
                         'where a resource uses it'))
    elif version not in HOT_VERSIONS:
        add(reg.at_node('version', key, version_node,
                        'unknown heat_template_version %r (known to heatplan: %s)'
                        % (version, ', '.join(sorted(HOT_VERSIONS)))))


def _check_resource(key, rname, rdef, add):
    if not isinstance(rdef, yn.MappingNode):
        add(reg.at_node('resource', key, rdef, 'resource %r must be a mapping' % rname))
        return
    has_type = False
    for knode, _v in rdef.value:
        if knode.__class__ is not yn.ScalarNode:
            continue
        kname = knode.value
        if kname == 'type':
            has_type = True
        elif kname not in RESOURCE_KEYS:
            add(reg.at_node('resource', key, knode,
                            '%r is not a valid keyword in resource %r' % (kname, rname)))
    if not has_type:
        add(reg.at_node('resource', key, rdef, 'resource %r has no type' % rname))


def _check_use(key, fn, node, params, resources, add):
    """get_param of an undeclared parameter; get_resource/get_attr/depends_on of none."""
    if fn == 'get_param':
        target = _first_scalar(node)
        if target is None or not yn.is_str(target):
            return
        name = target.value
        if name not in params and name not in PSEUDO_PARAMS:
            add(reg.at_node('undeclared-param', key, target,
                            'get_param %r: no such parameter in this template '
                            '(Heat fails only where it evaluates this)' % name))
        return
    if fn == 'depends_on' and isinstance(node, yn.SequenceNode):
        targets = [n for n in node.value if yn.is_str(n)]
    else:
        target = _first_scalar(node)
        targets = [target] if target is not None and yn.is_str(target) else []
    for target in targets:
        if target.value not in resources:
            add(reg.at_node('undefined-resource', key, target,
                            '%s %r: no such resource in this template'
                            % (fn, _short(target.value))))


def _short(value, limit=60):
    """A value for a message (shown with %r): at most ``limit`` characters."""
    return value if len(value) <= limit else value[:limit - 3] + '...'
