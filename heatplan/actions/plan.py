"""Actions: what the commands do, composed from source, assembly and lint.

Each action is a plain function a command (or a test) calls; no argument
parsing and no printing here.
"""

import dataclasses
import json
import os

from heatplan import errors
from heatplan import lint as lint_mod
from heatplan import output
from heatplan import secrets
from heatplan.lint import diagnostics as diag
from heatplan.plan import assemble
from heatplan.plan import definition as definition_mod
from heatplan.plan import package as package_mod
from heatplan.plan import source as source_mod


@dataclasses.dataclass
class PlanOptions:
    """Where the plan is and how to read it (the options every plan verb takes)."""

    source: str
    template: str = None
    environments: list = None
    parameters: list = None        # ["KEY=VALUE", ...]
    parameter_files: list = None   # ["KEY=PATH", ...]
    limits: source_mod.Limits = dataclasses.field(default_factory=source_mod.Limits)
    max_body_bytes: int = lint_mod.DEFAULT_MAX_BODY_BYTES
    strict: bool = False           # --strict: warnings are errors
    ignore: list = None            # --ignore CODE ...: rules not reported
    #: use the per-file analysis cache (heatplan.plan.cache); the CLI turns it
    #: on unless --no-cache / HEATPLAN_NO_CACHE
    cache: bool = False


def open_plan(opts):
    src = source_mod.open_source(opts.source, opts.limits)
    d = definition_mod.load_definition(
        src, template=opts.template, environments=opts.environments,
        parameters=opts.parameters, parameter_files=opts.parameter_files)
    return src, d


def open_cache(src, opts):
    """The analysis cache ``opts`` asks for, or None (off, or not safely usable)."""
    if not opts.cache:
        return None
    from heatplan.plan import cache as cache_mod

    if cache_mod.disabled_by_environment():
        return None
    root = getattr(src, 'root', None)
    return cache_mod.AnalysisCache.open(
        plan_root=root, source_id=root or os.path.realpath(src.label))


@dataclasses.dataclass
class LintResult:
    """What lint found, after the team's policy (strict, ignore)."""

    diagnostics: list      # reported, sorted (errors and warnings)
    ignored: list          # matched an --ignore / lint: ignore entry
    plan: object = None    # the assembled plan when there were no errors
    source: object = None

    @property
    def errors(self):
        return [d for d in self.diagnostics if d.severity == diag.ERROR]

    @property
    def warnings(self):
        return [d for d in self.diagnostics if d.severity == diag.WARNING]


@assemble.without_gc
def lint_plan(opts, hold_texts=True):
    """Read, analyse, lint and (when no error is left) assemble the plan.

    ``hold_texts=False``: the plan's files map makes each rewritten text
    when asked for (see :func:`heatplan.plan.assemble.build`): for writing
    it out with :func:`document_pieces`, not for sending it.
    """
    src, d = open_plan(opts)
    policy = lint_mod.Policy.from_options(opts.strict, opts.ignore, d.lint)
    cache = open_cache(src, opts)
    an = assemble.analyze(src, d, cache=cache)
    if cache is not None:
        cache.finish()
    lint_mod.lint(an)
    found = list(an.diagnostics)
    an.diagnostics, ignored = policy.apply(an.diagnostics)
    result = LintResult(an.diagnostics, ignored, source=src)
    if result.errors:
        return result
    plan = assemble.build(an, hold_texts=hold_texts)
    body, body_ignored = policy.apply(lint_mod.check_body(plan, opts.max_body_bytes))
    result.diagnostics = sorted(an.diagnostics + body, key=diag.Diagnostic.sort_key)
    result.ignored.extend(body_ignored)
    plan.diagnostics = list(result.diagnostics)
    if not result.errors:
        result.plan = plan
    if cache is not None and _summarisable(src, plan):
        cache.store_summary(d, _files_read(an, src), plan.digest, plan.body_size, found)
    return result


def _summarisable(src, plan):
    """A plan summary answers only for directories (an archive's skipped members
    count in lint) and plans whose digest holds no hidden value."""
    return isinstance(src, source_mod.DirectorySource) and \
        not plan.manifest.get('hidden_parameters')


def _files_read(an, src):
    """``[(key, sha256)]`` of every file the assembly read, parameter files included."""
    import hashlib

    files = [(k, pf.sha256) for k, pf in an.files.items()]
    for key in sorted(set(an.definition.parameter_files.values()) - set(an.files)):
        files.append((key, hashlib.sha256(src.read_bytes(key)).hexdigest()))
    return files


def prepare_plan(opts):
    """:func:`build_plan` for deploy: ``(src, plan)``, the body built only if needed.

    With the cache on, a directory plan whose every file has the bytes a
    stored plan summary lists (read again, hashed) is known by its digest,
    lint findings and body size without any file being analysed: the plan
    returned (a :class:`heatplan.plan.lazy.LazyPlan`) builds the request body
    the first time it is asked for it.  A deploy that finds the digest
    deployed never asks.
    """
    src, d = open_plan(opts)
    cache = open_cache(src, opts)
    if cache is None or not isinstance(src, source_mod.DirectorySource):
        return build_plan(opts)
    summary = cache.plan_summary(src, d)
    if summary is None:
        return build_plan(opts)
    from heatplan.plan import lazy

    policy = lint_mod.Policy.from_options(opts.strict, opts.ignore, d.lint)
    kept, _ignored = policy.apply(summary['diagnostics'])
    plan = lazy.LazyPlan(d, summary['digest'], summary['body_size'], kept,
                         lambda: build_plan(opts)[1])
    body, _body_ignored = policy.apply(lint_mod.check_body(plan, opts.max_body_bytes))
    plan.diagnostics = sorted(kept + body, key=diag.Diagnostic.sort_key)
    if any(x.severity == diag.ERROR for x in plan.diagnostics):
        return build_plan(opts)   # the full assembly reports them
    return src, plan


def validate(opts):
    """Lint the plan; return the sorted diagnostics (errors and warnings)."""
    return lint_plan(opts).diagnostics


def build_plan(opts, hold_texts=True):
    """Assemble and lint; raise LintFailed on any error.  Returns (src, plan).

    ``hold_texts``: see :func:`lint_plan`.
    """
    result = lint_plan(opts, hold_texts=hold_texts)
    if result.errors:
        raise errors.LintFailed(result.diagnostics)
    return result.source, result.plan


def definition_notes(src, opts, plan):
    """Notes on how the flags changed the plan's own definition.

    ``-e`` replaces the manifest's whole environment list (it does not add
    to it): say so, naming what was left out.
    """
    if not opts.environments or plan.definition is None:
        return []
    try:
        own = definition_mod.load_definition(src)
    except errors.HeatplanError:
        return []
    if not own.environments or own.environments == plan.definition.environments:
        return []
    dropped = [e for e in own.environments if e not in plan.definition.environments]
    text = ('note: -e replaced the environment list of %s (%s) with %s'
            % (own.origin, ', '.join(own.environments),
               ', '.join(plan.definition.environments)))
    if dropped:
        text += '; not deployed: %s' % ', '.join(dropped)
    return [text]


def build(opts, out=None):
    src, plan = build_plan(opts)
    if out:
        output.atomic_write(out, (document(plan) + '\n').encode('utf-8'))
    return plan


def document(plan):
    """The ``heatplan build`` output: digest plus the exact request body."""
    return json.dumps({'digest': plan.digest, 'body': plan.body}, sort_keys=True)


def document_pieces(plan, body_only=False):
    """:func:`document` (or, ``body_only``, the body's JSON) as UTF-8 pieces and a newline.

    The same bytes as ``(document(plan) + '\\n').encode()``, never held whole.
    """
    from heatplan.plan import jsonstream

    obj = plan.body if body_only else {'digest': plan.digest, 'body': plan.body}
    return jsonstream.encoded(jsonstream.chunks(obj), end='\n')


def package(opts, out, stdout=None):
    src, plan = build_plan(opts)
    members = package_mod.package_members(plan, src)
    output.atomic_write(out, package_mod.package_bytes(plan, src, members), stdout=stdout)
    plan.package_members = len(members)  # for the summary line
    return plan


def masked(plan):
    """A copy of ``plan`` whose body shows hidden parameter values as ******."""
    hidden = plan.manifest.get('hidden_parameters', [])
    if not hidden:
        return plan
    body = dict(plan.body)
    body['parameters'] = {k: (secrets.MASK if k in hidden else v)
                          for k, v in plan.body['parameters'].items()}
    return dataclasses.replace(plan, body=body)
