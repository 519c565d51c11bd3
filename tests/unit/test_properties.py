"""Property tests: random plans rewrite exactly, restore exactly, digest anywhere.

Each generated plan is a random directory layout of templates that reference
each other (``type:`` in resources, ResourceGroup ``resource_def``, flow
style) and scripts (``get_file`` in block, flow, list and ``str_replace``
positions) through relative paths decorated with ``./`` and ``dir/..``
detours, written plain, single- or double-quoted, with random comments and
spacing, plus an environment whose resource_registry names templates too.
"""

import copy
import json
import os
import posixpath
import tempfile

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import yaml

from heatplan import actions
from heatplan.plan import assemble
from heatplan.plan import yamlnodes as yn
from tests.unit.conftest import tar_bytes
from tests.unit.conftest import write_bytes
from tests.unit.conftest import write_files

NAMES = st.sampled_from(['a', 'b', 'lib', 'x-y', 'n_1', 'deep.d', 'Z'])
DIRS = st.lists(NAMES, min_size=0, max_size=3).map(lambda parts: '/'.join(parts))
COMMENT = st.text(alphabet='abc XYZ019:#{}[],-é☕😀', max_size=16)
SCRIPT = st.text(alphabet=st.characters(blacklist_categories=('Cs',)), max_size=40)
STYLE = st.sampled_from(['plain', 'single', 'double'])
SPACES = st.sampled_from([' ', ' ', '  ', '   '])


class Ref:
    def __init__(self, path, canonical):
        self.path = path          # where the value is in the loaded YAML data
        self.canonical = canonical


def _decorated_relpath(draw, from_key, to_key):
    from_dir = posixpath.dirname(from_key) or '.'
    rel = posixpath.relpath(to_key, from_dir)
    out = []
    for part in rel.split('/'):
        if draw(st.integers(0, 4)) == 0:
            out.append('.')
        if draw(st.integers(0, 5)) == 0:
            out.extend([draw(NAMES), '..'])
        out.append(part)
    return '/'.join(out)


def _scalar(draw, text):
    style = draw(STYLE)
    if style == 'single':
        return "'%s'" % text
    if style == 'double':
        return '"%s"' % text
    return text


def _trailing(draw):
    if draw(st.booleans()):
        return ''
    return draw(SPACES) + '# ' + draw(COMMENT)


def _comment_lines(draw, indent):
    lines = []
    for _ in range(draw(st.integers(0, 2))):
        if draw(st.booleans()):
            lines.append('')
        else:
            lines.append(indent + '# ' + draw(COMMENT))
    return ''.join(line + '\n' for line in lines)


def _type_resource(draw, name, ref_text):
    """A resource whose nested template is ``ref_text``; returns (text, path)."""
    form = draw(st.sampled_from(['block', 'flow', 'group']))
    sp = draw(SPACES)
    if form == 'block':
        return ('  %s:\n    type:%s%s%s\n' % (name, sp, ref_text, _trailing(draw)),
                ('resources', name, 'type'))
    if form == 'flow':
        return ('  %s: {type:%s%s}%s\n' % (name, sp, ref_text, _trailing(draw)),
                ('resources', name, 'type'))
    return ('  %s:\n    type: OS::Heat::ResourceGroup\n    properties:\n      count: 2\n'
            '      resource_def:\n        type:%s%s%s\n'
            % (name, sp, ref_text, _trailing(draw)),
            ('resources', name, 'properties', 'resource_def', 'type'))


def _get_file_resource(draw, name, ref_text):
    form = draw(st.sampled_from(['flow', 'block', 'list', 'str_replace']))
    head = '  %s:\n    type: OS::Heat::Value\n    properties:\n' % name
    sp = draw(SPACES)
    if form == 'flow':
        return (head + '      value: {get_file:%s%s}%s\n' % (sp, ref_text, _trailing(draw)),
                ('resources', name, 'properties', 'value', 'get_file'))
    if form == 'block':
        return (head + '      value:\n        get_file:%s%s%s\n'
                % (sp, ref_text, _trailing(draw)),
                ('resources', name, 'properties', 'value', 'get_file'))
    if form == 'list':
        return (head + '      value: [x, {get_file:%s%s}]\n' % (sp, ref_text),
                ('resources', name, 'properties', 'value', 1, 'get_file'))
    return (head + '      value:\n        str_replace:\n'
            '          template: {get_file:%s%s}%s\n          params: {$X: y}\n'
            % (sp, ref_text, _trailing(draw)),
            ('resources', name, 'properties', 'value', 'str_replace', 'template', 'get_file'))


@st.composite
def plans(draw):
    n_templates = draw(st.integers(1, 5))
    n_scripts = draw(st.integers(0, 3))
    templates = []
    for i in range(n_templates):
        d = draw(DIRS)
        suffix = draw(st.sampled_from(['.yaml', '.yaml', '.template']))
        templates.append(posixpath.join(d, 't%d%s' % (i, suffix)) if d else 't%d%s' % (i, suffix))
    scripts = []
    for i in range(n_scripts):
        d = draw(DIRS)
        scripts.append(posixpath.join(d, 's%d.sh' % i) if d else 's%d.sh' % i)
    files = {}
    refs = {}
    for i, key in enumerate(templates):
        text = ('heat_template_version:%s2021-04-16%s\n' % (draw(SPACES), _trailing(draw))
                + _comment_lines(draw, '') + 'resources:\n')
        key_refs = []
        targets = [('type', t) for t in templates[i + 1:]
                   if t == templates[min(i + 1, n_templates - 1)] or draw(st.booleans())]
        targets += [('get_file', s) for s in scripts if draw(st.booleans())]
        text += '  none:\n    type: OS::Heat::None\n'
        for n, (kind, target) in enumerate(draw(st.permutations(targets))):
            ref_text = _scalar(draw, _decorated_relpath(draw, key, target))
            if kind == 'type':
                chunk, path = _type_resource(draw, 'r%d' % n, ref_text)
            else:
                chunk, path = _get_file_resource(draw, 'r%d' % n, ref_text)
            text += _comment_lines(draw, '  ') + chunk
            key_refs.append(Ref(path, target))
        files[key] = text
        refs[key] = key_refs
    for key in scripts:
        files[key] = draw(SCRIPT)
    environments = []
    if draw(st.booleans()):
        d = draw(DIRS)
        env_key = posixpath.join(d, 'env.yaml') if d else 'env.yaml'
        if env_key not in files:
            text = '# environment\nresource_registry:\n'
            env_refs = []
            for n, target in enumerate(templates):
                if draw(st.booleans()):
                    ref_text = _scalar(draw, _decorated_relpath(draw, env_key, target))
                    text += '  My::T%d:%s%s%s\n' % (n, draw(SPACES), ref_text, _trailing(draw))
                    env_refs.append(Ref(('resource_registry', 'My::T%d' % n), target))
            if draw(st.booleans()) and templates:
                ref_text = _scalar(draw, _decorated_relpath(draw, env_key, templates[-1]))
                text += ('  resources:\n    server:\n      My::Per: %s\n'
                         '      hooks: [pre-create]\n' % ref_text)
                env_refs.append(Ref(('resource_registry', 'resources', 'server', 'My::Per'),
                                    templates[-1]))
            if not env_refs:  # an empty section: Heat rejects the file (HP401)
                text = text.replace('resource_registry:\n', 'resource_registry: {}\n')
            files[env_key] = text
            refs[env_key] = env_refs
            environments.append(env_key)
    return files, templates[0], environments, refs


def _set(data, path, value):
    for step in path[:-1]:
        data = data[step]
    data[path[-1]] = value


def _build(root, tmpl, envs):
    _src, plan = actions.build_plan(actions.PlanOptions(
        source=root, template=tmpl, environments=envs or None))
    return plan


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_random_plans_rewrite_restore_and_digest(generated):
    files, tmpl, envs, refs = generated
    with tempfile.TemporaryDirectory() as tmp:
        first = write_files(os.path.join(tmp, 'one'), files)
        second = write_files(os.path.join(tmp, 'somewhere', 'else', 'two'), files)
        plan = _build(first, tmpl, envs)
        sent = plan.body['files']
        plan_keys = [k for k in sent if not k.startswith('heatplan://')]
        assert tmpl in plan_keys and set(envs) <= set(plan_keys)
        assert set(plan_keys) <= set(files)

        # (a) only the reference values change, and they become canonical keys
        for key in plan_keys:
            if key not in refs:
                assert sent[key] == files[key]          # scripts: untouched
                continue
            expected = copy.deepcopy(yaml.safe_load(files[key]))
            for ref in refs[key]:
                _set(expected, ref.path, ref.canonical)
            assert yaml.safe_load(sent[key]) == expected, key
        assert plan.body['template'] == sent[tmpl]

        # (b) the original bytes come back exactly
        restored = assemble.restore_files(sent)
        assert set(restored) == set(plan_keys)
        for key in plan_keys:
            assert restored[key] == files[key].encode('utf-8'), key

        # (c) the digest and the whole document do not depend on where the plan is
        other = _build(second, tmpl, envs)
        assert other.digest == plan.digest
        assert actions.document(other) == actions.document(plan)
        arc = write_bytes(os.path.join(tmp, 'p.tar.gz'), tar_bytes(
            {'top/' + k: v for k, v in files.items()}, 'w:gz'))
        assert _build(arc, tmpl, envs).digest == plan.digest
        assert tmp not in actions.document(plan)


@given(
    files=st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=8),
    template=st.text(max_size=100),
    params=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4))
def test_json_size_equals_length_of_the_whole_dump(files, template, params):
    body = {'template': template, 'files': files, 'environment_files': sorted(files),
            'parameters': params}
    assert assemble.json_size(body) == len(json.dumps(body))


def _node_facts(node):
    out = []
    stack = [node]
    while stack:
        n = stack.pop()
        value = n.value if isinstance(n, yaml.ScalarNode) else None
        out.append((type(n).__name__, yn.tag_of(n), value, n.start_mark.index,
                    n.end_mark.index, getattr(n, 'style', None)))
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack += [k, v]
        elif isinstance(n, yaml.SequenceNode):
            stack += n.value
    return out


_TRICKY = ['yes', 'No', 'ON', '~', 'null', '0x1F', '0o17', '1_000', '.inf', '-.Inf', '.NaN',
           '2001-12-14', '2001-12-14t21:59:43.10-05:00', '<<', '=', '+1', '-', '.', '1e3',
           '0b101', 'OS::Heat::None', 'get_param', 'true', 'False', '']
_scalars = st.one_of(st.text(max_size=12), st.integers(), st.floats(allow_nan=False),
                     st.booleans(), st.none(), st.sampled_from(_TRICKY))
_docs = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20)
_plain = st.one_of(st.sampled_from(_TRICKY), st.from_regex(r'[A-Za-z0-9_.+:~=<-]{0,8}',
                                                          fullmatch=True))


@given(doc=_docs, style=st.sampled_from([None, '"', "'", '|']), flow=st.booleans(),
       plain=st.lists(_plain, max_size=8))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_fast_loader_composes_exactly_as_the_stock_loader(doc, style, flow, plain):
    """Tags, values, spans and styles: yamlnodes.Loader and LazyTagLoader (its
    tags read with tag_of) == libyaml's CSafeLoader."""
    texts = [yaml.safe_dump(doc, default_style=style, default_flow_style=flow),
             ''.join('- %s\n' % p for p in plain) or '[]',
             ''.join('k%d: %s\n' % (i, p) for i, p in enumerate(plain)) or '{}']
    for text in texts:
        try:
            stock = [_node_facts(n) for n in yaml.compose_all(text, Loader=yn.StockLoader)]
        except yaml.YAMLError:
            continue
        fast = [_node_facts(n) for n in yaml.compose_all(text, Loader=yn.Loader)]
        assert fast == stock, text
        lazy = [_node_facts(n) for n in yaml.compose_all(text, Loader=yn.LazyTagLoader)]
        assert lazy == stock, text
