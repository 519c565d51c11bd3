"""History actions: list, show, export, diff, rollback, recover, delete."""

import io
import json
import os
import shutil
import tarfile
import tempfile

import yaml

from heatplan import errors
from heatplan import output
from heatplan import secrets
from heatplan import store as store_mod
from heatplan.actions import apply
from heatplan.actions import deploy as deploy_mod
from heatplan.actions import guard
from heatplan.actions._stack import LIST_HINT
from heatplan.plan import assemble
from heatplan.plan import compare
from heatplan.plan import definition as definition_mod
from heatplan.plan import manifest as manifest_mod
from heatplan.plan import package as package_mod


def _stack_or_fail(adapter, stack_name):
    stack = adapter.get_stack(stack_name)
    if stack is None or stack.get('stack_status') == 'DELETE_COMPLETE':
        return None
    return stack


def history(adapter, stack_name):
    """Rows of revision, status, digest, time, by, action, summary (oldest first)."""
    st = store_mod.Store(adapter)
    records = st.records(stack_name)
    if not records:
        if _stack_or_fail(adapter, stack_name) is None:
            raise errors.NotFound(
                'no stack %s and no heatplan history for it' % stack_name,
                hint=LIST_HINT)
        raise errors.NotFound(
            'stack %s has no heatplan history: heatplan never deployed it' % stack_name,
            hint='deploy it with "heatplan deploy SOURCE --stack %s" to start its history'
            % stack_name)
    rows = []
    previous = None
    for rec in records:
        files = st.files(rec)
        try:
            meta = st.meta(rec, files)
            manifest = _manifest(files, 'revision %d' % rec.revision)
        except manifest_mod.DamagedRecord as exc:
            # one damaged record never hides the others
            rows.append({
                'revision': rec.revision, 'status': 'damaged', 'digest': rec.digest,
                'created': rec.created, 'by': rec.by, 'action': '',
                'changes': 'damaged record (%s): %s' % (rec.name, exc.message),
                'description': '', 'vcs_revision': ''})
            continue
        changes = compare.compare_manifests(previous, manifest) if manifest else None
        rows.append({
            'revision': rec.revision,
            'status': rec.status,
            'digest': rec.digest,
            'created': meta.get('created_at') or rec.created,
            'by': meta.get('by') or rec.by,
            'action': meta.get('action', 'deploy'),
            'changes': changes.summary() if changes else '',
            'description': meta.get('description') or '',
            'vcs_revision': meta.get('vcs_revision') or '',
        })
        previous = manifest
    return rows


def _manifest(files, where='the stack'):
    raw = files.get(assemble.MANIFEST_KEY)
    if raw is None:
        return None
    try:
        return manifest_mod.load_manifest(raw, 'the heatplan manifest of %s' % where)
    except manifest_mod.DamagedRecord as exc:
        raise manifest_mod.DamagedRecord(
            exc.message, hint='the stored plan was changed outside heatplan; use another '
            'revision (see "heatplan history"), or delete the damaged record stack')


def load_revision(adapter, stack_name, revision=None):
    """(files map, manifest, record or None) of a revision; None = what the stack runs.

    Reads one stored record: one consistent snapshot.
    """
    st = store_mod.Store(adapter)
    if revision is None:
        stack = _stack_or_fail(adapter, stack_name)
        if stack is None:
            raise errors.NotFound(
                'no stack %s' % stack_name,
                hint='name a revision with --revision (see "heatplan history %s"); %s'
                % (stack_name, LIST_HINT))
        files = adapter.get_files('%s/%s' % (stack['stack_name'], stack['id']))
        held = store_mod.held_revision(stack)
        rec = None
        if held and held.isdigit():
            rec = next((r for r in st.records(stack_name) if r.revision == int(held)), None)
        return files, _manifest(files, 'stack %s' % stack_name), rec
    rec = st.get(stack_name, revision)
    files = st.files(rec)
    rec.meta_text = files.pop(store_mod.RECORD_FILE, None)
    return files, _manifest(files, 'revision %d of %s' % (revision, stack_name)), rec


def _need_manifest(manifest, stack_name):
    if manifest is None:
        raise errors.NotFound(
            'stack %s was not deployed by heatplan (no %s in its files)'
            % (stack_name, assemble.MANIFEST_KEY),
            hint='deploy it once with "heatplan deploy" to start its history')
    return manifest


def show(adapter, stack_name, revision=None):
    files, manifest, rec = load_revision(adapter, stack_name, revision)
    manifest = _need_manifest(manifest, stack_name)
    return {
        'stack': stack_name,
        'revision': rec.revision if rec else None,
        'status': rec.status if rec else None,
        'digest': manifest['digest'],
        'root': manifest['root'],
        'environments': manifest['environments'],
        'parameters': manifest['parameters'],
        'hidden_parameters': manifest.get('hidden_parameters', []),
        'files': sorted(manifest['files']),
        'file_count': len(manifest['files']),
        **record_notes(adapter, rec, manifest['digest']),
    }


def record_notes(adapter, rec, digest):
    """``description`` and ``vcs_revision`` of a revision's record ('' if none).

    Only from the record of the plan shown (same digest), and never an error:
    a damaged record leaves them empty.
    """
    meta = {}
    if rec is not None and rec.digest == digest:
        st = store_mod.Store(adapter)
        try:
            meta = st.meta(rec, {store_mod.RECORD_FILE: rec.meta_text}
                           if rec.meta_text is not None else None)
        except manifest_mod.DamagedRecord:
            pass
    return {'description': meta.get('description') or '',
            'vcs_revision': meta.get('vcs_revision') or ''}


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
        return
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
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise errors.OutputError('%s: directory %s does not exist' % (out, parent))
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
    files, manifest, rec = load_revision(adapter, stack_name, revision)
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


def diff_revisions(adapter, stack_name, old, new):
    """Unified diff lines between two loaded plans ``(files, manifest)``."""
    old_files, old_manifest = old
    new_files, new_manifest = new
    a = original_files(old_files, old_manifest)
    b = original_files(new_files, new_manifest)
    lines = compare.unified_diff(a, b)
    changes = compare.compare_manifests(old_manifest, new_manifest)
    for name in changes.parameters:
        lines.append('parameter %s: %s -> %s\n' % (
            name, json.dumps(old_manifest['parameters'].get(name)),
            json.dumps(new_manifest['parameters'].get(name))))
    for name in changes.hidden_changed:
        lines.append('hidden parameter %s changed (values are not shown)\n' % name)
    if changes.environments_changed:
        lines.append('environments: %s -> %s\n' % (
            json.dumps(old_manifest['environments']), json.dumps(new_manifest['environments'])))
    if changes.root_changed:
        lines.append('root template: %s -> %s\n' % (old_manifest['root'], new_manifest['root']))
    return lines


def plan_from_record(files, manifest, parameters=None):
    """An assembled plan (for deploy) from a stored files map and manifest."""
    hidden = set(manifest.get('hidden_parameters', []))
    params = dict(manifest['parameters'])
    supplied = {k: v for k, v in _self_described_params(
        original_files(files, manifest), manifest).items() if k in hidden}
    supplied.update(parameters or {})
    missing = sorted(k for k in hidden if k not in supplied)
    if missing:
        raise guard.missing_hidden_error(missing, 'revision')
    params.update(supplied)
    fingerprints = {}
    for name in hidden:
        secrets.register(params[name], name)
        fingerprints[name] = secrets.fingerprint(name, params[name])
    body_files = {k: v for k, v in files.items() if k != store_mod.RECORD_FILE}
    digest = assemble.compute_digest(
        manifest['root'], manifest['environments'],
        assemble.digest_parameters(params, fingerprints),
        assemble.digest_files(manifest['files']), manifest.get('generated'))
    recorded = manifest.get('hidden_fingerprints', {})
    changed = sorted(k for k in hidden if k in recorded and recorded[k] != fingerprints[k])
    if changed:
        raise errors.RefusedError(
            'the value given for hidden parameter(s) %s differs from the one revision '
            'was deployed with' % ', '.join(changed),
            hint='pass the same value(s) to redeploy that revision exactly')
    body = {
        'template': body_files[manifest['root']],
        'files': body_files,
        'environment_files': list(manifest['environments']),
        'parameters': params,
    }
    return assemble.Plan(None, {}, {}, manifest, digest, body, [])


def rollback(adapter, stack_name, revision, opts, parameters=None, reporter=None):
    st = store_mod.Store(adapter)
    records = st.records(stack_name)
    if revision is None:
        # The last revision deployed successfully before the current (latest)
        # one: after a failed deploy, that is the one that is still deployed.
        good = [r for r in records if r.status in (store_mod.DEPLOYED, store_mod.SUPERSEDED)]
        latest = records[-1] if records else None
        if latest is not None and latest.status == store_mod.DEPLOYED:
            earlier = [r for r in good if r.revision < latest.revision]
        else:
            earlier = good
        if not records:
            raise errors.NotFound('no stack %s and no heatplan history for it'
                                  % stack_name, hint=LIST_HINT)
        if not earlier:
            raise errors.RefusedError(
                'stack %s has no earlier successfully deployed revision to roll back to'
                % stack_name, hint='see "heatplan history %s"' % stack_name)
        revision = earlier[-1].revision
    files, manifest, _rec = load_revision(adapter, stack_name, revision)
    manifest = _need_manifest(manifest, stack_name)
    plan = plan_from_record(files, manifest, parameters)
    opts.action = 'rollback'
    opts.meta = dict(opts.meta, rollback_to=revision)
    carried = record_notes(adapter, _rec, manifest['digest'])['vcs_revision']
    if carried:  # the very plan of that revision: its source revision too
        opts.meta['vcs_revision'] = carried
    result = deploy_mod.deploy(adapter, plan, opts, reporter)
    result.messages.append('rolled back to revision %d' % revision)
    return result


def recover(adapter, stack_name, force=False):
    """Settle pending records from the stack's real state; release the lock."""
    st = store_mod.Store(adapter)
    stack = _stack_or_fail(adapter, stack_name)
    records = st.records(stack_name)
    if stack is None and not records:
        raise errors.NotFound('no stack %s and no heatplan history for it' % stack_name,
                              hint=LIST_HINT)
    return store_mod.recover(st, stack_name, records, stack, force=force)


def delete(adapter, stack_name, keep_history=False, wait=True, dry_run=False,
           wait_timeout=None):
    """Delete the stack and (unless ``keep_history``) its records; ``dry_run`` only checks.

    The wait lasts at most ``wait_timeout`` seconds (default: the stack's
    timeout plus deploy's margin); past it
    :class:`~heatplan.errors.DeployTimedOut` says the delete goes on in Heat.
    """
    st = store_mod.Store(adapter)
    stack = _stack_or_fail(adapter, stack_name)
    records = st.records(stack_name)
    if stack is None and (keep_history or not records):
        raise errors.NotFound('no stack %s' % stack_name, hint=LIST_HINT)
    if dry_run:
        return None
    status = None
    if stack is not None:
        ident = '%s/%s' % (stack['stack_name'], stack['id'])
        if wait_timeout is None:
            wait_timeout = apply.wait_timeout(deploy_mod.DeployOptions(
                stack=stack_name, timeout_mins=stack.get('timeout_mins')))
        status = adapter.delete_stack(ident, wait=False)
        if wait:
            try:
                status = adapter.wait_for_stack(ident, timeout=wait_timeout, poll=2.0)
            except errors.DeployTimedOut:
                current = adapter.get_stack(ident)
                raise apply.timed_out(
                    stack_name, store_mod.status_of(current) or 'DELETE_IN_PROGRESS',
                    wait_timeout, 'the delete')
        if wait and status != 'DELETE_COMPLETE':
            raise errors.DeployFailed('deleting stack %s ended %s' % (stack_name, status))
    removed = []
    if not keep_history:
        for rec in records:
            st.delete(rec)
            removed.append(rec.revision)
        for rec in records:
            if wait:
                adapter.wait_for_stack(rec.ident, timeout=300, poll=1.0)
    return {'stack': stack_name, 'status': status, 'records_deleted': removed}
