"""Small plans for the deploy and history functional tests.

Each plan is a directory holding only plan files plus ``heatplan.yaml``.  Its
resources need no cloud service (OS::Heat::Value, RandomString and
TestResource), so a deploy takes a few seconds on the local Heat.  The files
keep comments, odd layout, non-ASCII text, a CRLF file and a file without a
final newline, so that byte-for-byte round trips are really tested.
"""

import hashlib
import os
import re
import tarfile
import time

from heatplan import store as store_mod
from heatplan.actions import plan as plan_actions

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'examples', 'demo')

MANIFEST = """\
# heatplan.yaml of a small test plan -- comments are part of the plan
template: main.yaml
environments:
  - env/base.yaml     # registry + defaults
parameters:
  label: {label}
"""

ENV = """\
# résumé: the environment maps a custom type to a nested template
resource_registry:
  "My::Nested":   ../templates/nested.yaml

parameter_defaults:
    length: 8
"""

NESTED = """\
heat_template_version: 2021-04-16
description: nested part   # trailing comment

parameters:
  length: {type: number, default: 6}

resources:
  secret:
    type: OS::Heat::RandomString
    properties: {length: {get_param: length}}
  echo:
    type: OS::Heat::Value
    properties:
      value: { get_file: '../files/data.txt' }

outputs:
  secret: {value: {get_attr: [secret, value]}}
"""

MAIN_HEAD = """\
heat_template_version: 2021-04-16
# The root template.  Flow style, comments and blank lines
# must all come back byte for byte.

description: >
  heatplan functional test plan

parameters:
  label:
    type: string
  length:
    type: number
    default: 4

resources:
  keeper:      # its value is made of a parameter and two plan files
    type: OS::Heat::TestResource
    properties:
      value:
        list_join:
        - '|'
        - [{{get_param: label}}, {{get_file: files/data.txt}}, {{get_file: "./files/crlf.txt"}}]
      # changing update_replace_value makes Heat replace the resource
      update_replace_value: {replace}
      action_wait_secs: {{create: 0, update: {update_wait}}}
"""

NESTED_RESOURCE = """\

  nested:
    type: My::Nested
    properties:
      length: {get_param: length}
"""

DOOMED = """\

  doomed:
    type: OS::Heat::TestResource
    properties: {value: "removing me is a deletion"}
"""

BROKEN = """\

  broken:
    type: OS::Heat::TestResource
    properties:
      value: never
      fail: true
"""

OUTPUTS = """\

outputs:
  value: {value: {get_attr: [keeper, output]}}
"""

DATA = 'first version of the data, sans newline at the end: ünïcødé ✓'
CRLF = 'line one\r\nline two\r\n'


def plan_files(data=DATA, label='one', replace='a', nested=False, doomed=False,
               broken=False, update_wait=0, extra=None):
    """``{relative path: text}`` of a small plan; the keywords vary it.

    The environment always maps ``My::Nested`` to the nested template (so the
    plan has a rewritten reference); ``nested`` also uses it, at the cost of a
    second or two per deploy.
    """
    main = MAIN_HEAD.format(replace=replace, update_wait=update_wait)
    if nested:
        main += NESTED_RESOURCE
    if doomed:
        main += DOOMED
    if broken:
        main += BROKEN
    main += OUTPUTS
    files = {
        'heatplan.yaml': MANIFEST.format(label=label),
        'main.yaml': main,
        'env/base.yaml': ENV,
        'templates/nested.yaml': NESTED,
        'files/data.txt': data,
        'files/crlf.txt': CRLF,
    }
    files.update(extra or {})
    return files


def write_plan(path, files):
    """Write ``files`` (as from :func:`plan_files`) to directory ``path``."""
    os.makedirs(path, exist_ok=True)
    for key, text in files.items():
        full = os.path.join(path, *key.split('/'))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'wb') as f:
            f.write(text.encode('utf-8') if isinstance(text, str) else text)
    return str(path)


def make_plan(tmp_path, name='plan', **kwargs):
    """Write a small plan under ``tmp_path/name``; return its path."""
    return write_plan(os.path.join(str(tmp_path), name), plan_files(**kwargs))


def build(source):
    """The assembled plan of ``source`` (a directory or archive)."""
    _src, plan = plan_actions.build_plan(plan_actions.PlanOptions(source=str(source)))
    return plan


def tree_bytes(path):
    """``{relative POSIX path: bytes}`` of every file under directory ``path``."""
    out = {}
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, path).replace(os.sep, '/')
            with open(full, 'rb') as f:
                out[rel] = f.read()
    return out


def tar_bytes(path):
    """``{member name: bytes}`` of the regular files of a tar archive."""
    out = {}
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.isfile():
                out[member.name] = tar.extractfile(member).read()
    return out


#: Appended to every test stack name: empty for the embedded Heat (new each
#: session); random per run on a cloud (see conftest), whose stacks outlive it.
RUN_TAG = ''


def stack_name(request, suffix=''):
    """A stack name unique to the test (the local Heat is shared)."""
    full = request.node.nodeid
    readable = re.sub(r'[^A-Za-z0-9]+', '-', request.node.name).strip('-')
    if readable.startswith('test-'):
        readable = readable[len('test-'):]
    tail = hashlib.sha256(full.encode('utf-8')).hexdigest()[:6]
    return 'ft-%s-%s%s%s' % (readable[:50].strip('-'), tail, RUN_TAG, suffix)


def tags(adapter, stack):
    return store_mod.tags_of(adapter.get_stack(stack))


def tag(adapter, stack, prefix):
    return store_mod.tag_value(tags(adapter, stack), prefix)


def records(adapter, stack):
    return store_mod.Store(adapter).records(stack)


def revisions(adapter, stack):
    """``[(revision, status), ...]`` of the stack's records, oldest first."""
    return [(r.revision, r.status) for r in records(adapter, stack)]


def eventually(read, expected, timeout=30.0):
    """Poll ``read()`` until it returns ``expected``; return its last value.

    For what Heat finishes after answering (deleting a record stack).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.3)
