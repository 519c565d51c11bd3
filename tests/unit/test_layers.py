"""The layout (doc/source/design.rst): each layer imports only what it may."""

import ast
import pathlib

import heatplan

ROOT = pathlib.Path(heatplan.__file__).parent

#: layer -> heatplan layers it may import ('' is the package itself: __version__)
ALLOWED = {
    'errors': set(),
    'secrets': {'errors'},
    'output': {'errors'},
    'plan': {'errors', 'secrets', 'lint'},
    'lint': {'errors', 'secrets', 'plan'},
    'heat': {'errors'},
    'store': {'', 'errors', 'plan', 'heat'},
    'actions': {'', 'errors', 'secrets', 'output', 'plan', 'lint', 'store', 'heat'},
    'local': {'', 'errors', 'store'},
    'osc': {'', 'cli'},
    'cli': {'', 'errors', 'secrets', 'output', 'plan', 'lint', 'store', 'heat', 'actions',
            'local'},
    'demo': {'cli', 'local'},
}
#: outside libraries only the command layer (and the embedded Heat) may use
CLI_ONLY = ('cliff', 'osc_lib')


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def _layer(path):
    rel = path.relative_to(ROOT).with_suffix('').parts
    return rel[0]


def test_every_module_belongs_to_a_known_layer():
    layers = {_layer(p) for p in ROOT.rglob('*.py') if p.name != '__init__.py' or
              p.parent != ROOT}
    assert layers <= set(ALLOWED) | {'__init__'}, layers - set(ALLOWED)


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for path in sorted(ROOT.rglob('*.py')):
        if path.parent == ROOT and path.name == '__init__.py':
            continue
        layer = _layer(path)
        for module, names in _imports(path):
            parts = module.split('.')
            if parts[0] in CLI_ONLY and layer not in ('cli', 'osc'):
                wrong.append('%s imports %s' % (path.relative_to(ROOT), module))
            if parts[0] != 'heatplan':
                continue
            targets = [parts[1]] if len(parts) > 1 else [n for n in names]
            for target in targets:
                target = '' if target == '__version__' else target
                if target != layer and target not in ALLOWED[layer]:
                    wrong.append('%s imports heatplan.%s' % (path.relative_to(ROOT), target))
    assert wrong == []


def test_only_the_heat_layer_talks_http():
    talking = []
    for path in sorted(ROOT.rglob('*.py')):
        for module, _names in _imports(path):
            if module.split('.')[0] in ('heatclient', 'requests', 'keystoneauth1') and \
                    _layer(path) not in ('heat', 'cli', 'local', 'osc'):
                talking.append('%s imports %s' % (path.relative_to(ROOT), module))
    assert talking == []
