"""Deterministic plan archives (``heatplan package``).

Members are the plan's original files (byte for byte) plus a generated
``heatplan.yaml`` naming the root, environments and parameters, sorted by
name, with fixed mtime, owner and mode, gzip-compressed with no timestamp:
the same plan always gives the same archive bytes, and the archive builds to
the same digest.
"""

import gzip
import io
import tarfile

import yaml

from heatplan import errors
from heatplan.plan import definition as definition_mod

FIXED_MTIME = 0


def manifest_text(plan):
    d = plan.definition
    if d.inline_environments:
        raise errors.PlanError(
            'the plan takes inline environment data from %s (%s) and command-line '
            'overrides; package cannot write a heatplan.yaml that reproduces it'
            % (d.origin.split('+')[-1], ', '.join(d.inline_environments)),
            hint='package without -t/-e/--parameter overrides (the plan-environment.yaml '
                 'is then packaged as it is), or move the inline data into files')
    hidden = set(plan.manifest.get('hidden_parameters', []))
    doc = {'template': d.template}
    if d.environments:
        doc['environments'] = list(d.environments)
    if d.plan_environment:
        doc['plan_environment'] = d.plan_environment
    params = {k: v for k, v in d.parameters.items() if k not in hidden}
    if params:
        doc['parameters'] = params
    kept_files = {k: v for k, v in d.parameter_files.items() if k not in hidden_files(plan)}
    if kept_files:
        doc['parameter_files'] = kept_files
    header = '# heatplan plan manifest, written by "heatplan package"\n'
    given = sorted(hidden & (set(d.parameters) | set(hidden_files(plan))))
    if given:
        header += ('# hidden parameters are not written here; supply them again:\n'
                   + ''.join('#   --parameter %s=...\n' % k for k in given))
    return header + yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)


def hidden_files(plan):
    """``{parameter: key}`` of parameter files holding a hidden value, left out.

    A file the plan also references (get_file, ...) is part of the plan and
    stays; one read only as a hidden parameter's value is a secret.
    """
    hidden = set(plan.manifest.get('hidden_parameters', []))
    return {name: key for name, key in sorted(plan.definition.parameter_files.items())
            if name in hidden and key not in plan.files}


def package_members(plan, src):
    members = {key: pf.raw for key, pf in plan.files.items()}
    left_out = set(hidden_files(plan).values())
    for key in plan.definition.parameter_files.values():
        if key not in left_out:
            members[key] = src.read_bytes(key)
    if plan.definition.origin in (definition_mod.MANIFEST_NAME,
                                  definition_mod.TRIPLEO_PLAN_ENV):
        return members  # the plan's own definition file is among its files
    members[definition_mod.MANIFEST_NAME] = manifest_text(plan).encode('utf-8')
    return members


def package_bytes(plan, src, members=None):
    buf = io.BytesIO()
    with gzip.GzipFile(filename='', mode='wb', fileobj=buf, mtime=FIXED_MTIME,
                       compresslevel=9) as gz:
        with tarfile.open(fileobj=gz, mode='w', format=tarfile.PAX_FORMAT) as tar:
            members = members if members is not None else package_members(plan, src)
            for key, data in sorted(members.items()):
                info = tarfile.TarInfo(key)
                info.size = len(data)
                info.mtime = FIXED_MTIME
                info.mode = 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ''
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
