"""``heatplan export STACK OUT``: a revision back as the original files, byte for byte."""

import io
import os
import shutil
import tarfile
import tempfile

import yaml

from heatplan import errors
from heatplan import output
from heatplan.actions import revisions
from heatplan.plan import assemble
from heatplan.plan import definition as definition_mod
from heatplan.plan import package as package_mod


def original_files(files, manifest):
    return assemble.restore_files(files, manifest)


def _self_described(manifest):
    origin = manifest.get('origin')
    return origin in (definition_mod.MANIFEST_NAME, definition_mod.TRIPLEO_PLAN_ENV) and \
        origin in manifest.get('files', {})


def _self_described_params(original, manifest):
    """Parameter values written in the plan's own stored heatplan.yaml."""
    if manifest.get('origin') != definition_mod.MANIFEST_NAME:
        return {}
    raw = original.get(definition_mod.MANIFEST_NAME)
    if raw is None:
        return {}
    data = yaml.safe_load(raw) or {}
    params = data.get('parameters') if isinstance(data, dict) else None
    return params if isinstance(params, dict) else {}


def export_tree(files, manifest):
    """``{path: bytes}`` of the plan's original files plus a heatplan.yaml."""
    out = dict(original_files(files, manifest))
    hidden = set(manifest.get('hidden_parameters', [])) - set(_self_described_params(out,
                                                                                   manifest))
    param_files = manifest.get('parameter_files', {})
    if _self_described(manifest):
        # The plan described itself: its own file is stored, byte for byte.
        for name, key in param_files.items():
            if name not in hidden:
                out[key] = manifest['parameters'][name].encode('utf-8')
        return out, sorted(hidden)
    out.pop(definition_mod.MANIFEST_NAME, None)
    generated = manifest.get('generated', {})
    inline = sorted(k for k, g in generated.items() if g.get('section') == 'environments')
    if inline:
        # heatplan.yaml cannot express a plan-environment's inline data
        # environments; writing one without them would drop them silently.
        raise errors.PlanError(
            'this revision was deployed from %s with inline environment data (%s) and '
            'command-line overrides; export cannot write a heatplan.yaml that '
            'reproduces it' % (generated[inline[0]]['from'], ', '.join(inline)),
            hint='deploy from the plan-environment.yaml without -t/-e/--parameter '
                 'overrides (then export stores it byte for byte), or move the inline '
                 'data into environment files')
    envs = [e for e in manifest['environments'] if e not in generated]
    doc = {'template': manifest['root']}
    if envs:
        doc['environments'] = envs
    plan_env = [g['from'] for g in generated.values()]
    if plan_env:
        doc['plan_environment'] = plan_env[0]
    params = {k: v for k, v in manifest['parameters'].items()
              if k not in hidden and k not in param_files}
    if params:
        doc['parameters'] = params
    if param_files:
        doc['parameter_files'] = dict(param_files)
        for name, key in param_files.items():
            if name not in hidden:
                out[key] = manifest['parameters'][name].encode('utf-8')
    text = '# written by "heatplan export"\n'
    if hidden:
        text += ('# hidden parameters are not stored by heatplan; supply them again:\n'
                 + ''.join('#   --parameter %s=...\n' % k for k in sorted(hidden)))
    text += yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)
    out[definition_mod.MANIFEST_NAME] = text.encode('utf-8')
    return out, sorted(hidden)


def write_tree(tree, out, force=False):
    """Write ``{path: bytes}`` to directory ``out`` or a .tar.gz, atomically."""
    for path in tree:
        if assemble.source_mod.normalize_key(path) != path:
            raise errors.ConfinementError('refusing to write %r: not a plain relative path'
                                          % path)
    if out == '-':
        raise errors.OutputError(
            'export writes a directory or a .tar.gz, not standard output',
            hint='name a directory or a path ending .tar.gz')
    if out.endswith(('.tar.gz', '.tgz')):
        _write_tar(tree, out, force)
    else:
        _write_dir(tree, _target_dir(out, force))


def _write_tar(tree, out, force):
    """A deterministic .tar.gz of ``tree`` (fixed mtimes and modes), written whole."""
    if os.path.isfile(out) and not force:
        # (a device or fifo is written through, never replaced: see output.py)
        raise errors.OutputError('%s exists' % out, hint='pass --force to replace it')
    buf = io.BytesIO()
    import gzip

    with gzip.GzipFile(filename='', mode='wb', fileobj=buf, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode='w', format=tarfile.PAX_FORMAT) as tar:
            for key, data in sorted(tree.items()):
                info = tarfile.TarInfo(key)
                info.size = len(data)
                info.mode = 0o644
                info.mtime = package_mod.FIXED_MTIME
                tar.addfile(info, io.BytesIO(data))
    output.atomic_write(out, buf.getvalue())


def _target_dir(out, force):
    """The directory to write: a symlink's target; refused if not a directory or not empty."""
    given = out
    if os.path.islink(out):
        # Write into the directory the link points to; the link stays.
        if not os.path.isdir(out):
            raise errors.OutputError(
                '%s is a symlink to %s, which is not a directory' % (out, os.path.realpath(out)),
                hint='name a directory, or a path ending .tar.gz')
        out = os.path.realpath(out)
    out = os.path.abspath(out)
    if os.path.lexists(out):
        if not os.path.isdir(out):
            raise errors.OutputError('%s exists and is %s, not a directory' % (
                given, output.describe(os.lstat(out).st_mode)),
                hint='name a directory, or a path ending .tar.gz')
        if os.listdir(out) and not force:
            raise errors.OutputError('%s is not empty' % out,
                                     hint='pass --force to replace its contents')
    if not os.path.isdir(os.path.dirname(out)):
        raise errors.OutputError('%s: directory %s does not exist' % (out, os.path.dirname(out)))
    return out


def _write_dir(tree, out):
    """Write ``tree`` into a new directory beside ``out``, then swap it in."""
    parent = os.path.dirname(out)
    try:
        tmp = tempfile.mkdtemp(prefix='.heatplan-export-', dir=parent)
    except OSError as exc:
        raise errors.OutputError('%s: cannot write: %s' % (out, exc.strerror))
    try:
        for key, data in tree.items():
            path = os.path.join(tmp, *key.split('/'))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'wb') as f:
                f.write(data)
        os.chmod(tmp, 0o755)
        if os.path.exists(out):
            old = tempfile.mkdtemp(prefix='.heatplan-old-', dir=parent)
            os.rmdir(old)
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise errors.OutputError('%s: cannot write: %s' % (out, exc.strerror))


def export(adapter, stack_name, out, revision=None, force=False):
    files, manifest, rec = revisions.load_revision(adapter, stack_name, revision)
    if manifest is None:
        # A stack heatplan did not deploy (e.g. "openstack stack create").
        from heatplan.plan import foreign

        stack = adapter.get_stack(stack_name)
        ident = '%s/%s' % (stack['stack_name'], stack['id'])
        tree, hidden = foreign.import_stack(adapter.get_template(ident), files,
                                            adapter.get_environment(ident))
        write_tree(tree, out, force=force)
        return {'stack': stack_name, 'revision': None, 'digest': None,
                'files': len(tree), 'output': out, 'hidden_parameters': hidden}
    tree, hidden = export_tree(files, manifest)
    write_tree(tree, out, force=force)
    return {'stack': stack_name, 'revision': rec.revision if rec else None,
            'digest': manifest['digest'], 'files': len(tree), 'output': out,
            'hidden_parameters': hidden}
