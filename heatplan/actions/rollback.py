"""``heatplan rollback STACK [N]``: deploy an earlier revision's exact plan again."""



from heatplan import errors
from heatplan import secrets
from heatplan import store as store_mod
from heatplan.actions import deploy as deploy_mod
from heatplan.actions import export as export_mod
from heatplan.actions import guard
from heatplan.actions import revisions
from heatplan.actions._stack import LIST_HINT
from heatplan.plan import assemble


def plan_from_record(files, manifest, parameters=None):
    """An assembled plan (for deploy) from a stored files map and manifest."""
    hidden = set(manifest.get('hidden_parameters', []))
    params = dict(manifest['parameters'])
    supplied = {k: v for k, v in export_mod._self_described_params(
        export_mod.original_files(files, manifest), manifest).items() if k in hidden}
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
    files, manifest, _rec = revisions.load_revision(adapter, stack_name, revision)
    manifest = revisions.need_manifest(manifest, stack_name)
    plan = plan_from_record(files, manifest, parameters)
    opts.action = 'rollback'
    opts.meta = dict(opts.meta, rollback_to=revision)
    carried = revisions.record_notes(adapter, _rec, manifest['digest'])['vcs_revision']
    if carried:  # the very plan of that revision: its source revision too
        opts.meta['vcs_revision'] = carried
    result = deploy_mod.deploy(adapter, plan, opts, reporter)
    result.messages.append('rolled back to revision %d' % revision)
    return result
