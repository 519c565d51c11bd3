"""Synthetic Heat plans shaped like tripleo-heat-templates, deterministic by seed.

``generate(out_dir, n_files, seed)`` writes a plan of about ``n_files`` plan
files (templates, environments and get_file scripts; the plan's own
``heatplan.yaml`` is not counted) and returns a :class:`PlanInfo`.

Shape (as in tripleo-heat-templates, most files are reached only through an
environment's ``resource_registry``)::

    heatplan.yaml                       template + ordered environments + parameters
    overcloud.yaml                      root: one ResourceGroup per role (count 0-1)
    overcloud-resource-registry.yaml    1st environment: maps every service, role, port
    environments/network-isolation.yaml         ports -> ../network/ports/<net>.yaml
    environments/services-ha.yaml               services -> ../deployment/*/*-pacemaker.yaml
    environments/disable-telemetry.yaml         services -> OS::Heat::None
    environments/features/<feature>.yaml        more variants (../../), from_pool ports
    environments/parameters.yaml                parameters + parameter_defaults
    roles/<role>.yaml                   ResourceChain of services, ports, get_file script
    deployment/<group>/[<sub>/]<svc>-container.yaml   nested type ../../common/*.yaml,
                                                      get_file ../../scripts/<group>/*
    common/[sub/]<name>.yaml            shared nested templates
    network/ports/*.yaml                port templates
    scripts/<group>/*.sh|*.py|*.yaml    get_file targets (non-template text)

Every template deploys on the local Heat with no cloud service: only
OS::Heat::None, Value, RandomString and SoftwareConfig resources.  Only a
bounded part of the plan is instantiated (``deploy_services`` services per
role, two roles with count 1), so a deploy takes seconds whatever the plan
size, while both tools still read, assemble and send every file.

Run ``python bench/genplan.py --files 1000 OUT`` to write one plan.
"""

import argparse
import dataclasses
import os
import random

GROUPS = (
    'nova', 'neutron', 'glance', 'cinder', 'keystone', 'heat', 'swift', 'ceilometer',
    'aodh', 'gnocchi', 'horizon', 'ironic', 'manila', 'octavia', 'designate', 'barbican',
    'placement', 'haproxy', 'rabbitmq', 'mysql', 'redis', 'memcached', 'pacemaker', 'ovn',
    'ceph', 'logging', 'metrics', 'timesync', 'kernel', 'sshd', 'tuned', 'snmp',
    'certmonger', 'iscsid', 'multipathd', 'frr', 'qdr', 'collectd', 'rsyslog', 'podman',
)
SUFFIXES = ('api', 'engine', 'scheduler', 'conductor', 'worker', 'agent', 'compute',
            'metadata', 'db', 'cache', 'proxy', 'notifier', 'listener', 'manager', 'backup',
            'volume', 'dhcp', 'l3', 'sriov', 'bgp', 'exporter', 'collector', 'registry')
ROLES = ('Controller', 'Compute', 'CephStorage', 'Networker', 'ObjectStorage')
NETS = ('External', 'InternalApi', 'Storage', 'StorageMgmt', 'Tenant', 'Management')
FEATURES = ('tls-everywhere', 'ceph-ansible', 'ovn-dvr', 'sriov', 'octavia', 'manila-cephfs',
            'ironic-overcloud', 'barbican-backend', 'collectd', 'fluentd', 'ipv6', 'dcn')
WORDS = ('alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india',
         'juliet', 'kilo', 'lima', 'mike', 'november', 'oscar', 'papa', 'quebec', 'romeo')

HOT_VERSION = 'rocky'


@dataclasses.dataclass
class PlanInfo:
    """What :func:`generate` wrote."""

    root: str                 # absolute plan directory
    template: str             # key of the root template
    environments: list        # keys, in order
    parameters: dict
    files: list               # keys of every plan file (not heatplan.yaml)
    yaml_files: list          # keys of the templates and environments
    total_bytes: int          # bytes of every plan file
    seed: int

    def path(self, key):
        return os.path.join(self.root, *key.split('/'))


def _camel(name):
    return ''.join(p.capitalize() for p in name.replace('_', '-').split('-'))


def _q(rng, text):
    """``text`` as a YAML scalar in a random (valid) style."""
    r = rng.random()
    if r < 0.6:
        return text
    if r < 0.8:
        return "'%s'" % text
    return '"%s"' % text


class _Writer:
    def __init__(self, root):
        self.root = root
        self.keys = []
        self.yaml_keys = []
        self.total = 0

    def write(self, key, text, yaml_file=True):
        path = os.path.join(self.root, *key.split('/'))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = text.encode('utf-8')
        with open(path, 'wb') as f:
            f.write(data)
        self.keys.append(key)
        if yaml_file:
            self.yaml_keys.append(key)
        self.total += len(data)


def _rel(from_key, to_key):
    """Relative reference from the directory of ``from_key`` to ``to_key``."""
    depth = from_key.count('/')
    return '../' * depth + to_key


@dataclasses.dataclass
class _Service:
    name: str       # camel case: NovaApi
    group: str
    key: str        # file key
    type: str       # OS::TripleO::Services::NovaApi
    common: str     # key of its nested common template
    scripts: list   # keys of get_file targets
    params: list    # extra parameter names (the first one is a string)
    alt: bool = False


def _service_template(rng, svc, seed):
    lines = []
    a = lines.append
    a('heat_template_version: %s' % HOT_VERSION)
    a('')
    a('description: >')
    a('  OpenStack containerized %s service (%s group), generated by heatplan bench'
      % (svc.name, svc.group))
    a('  with seed %d.  Shaped like a tripleo-heat-templates deployment template.' % seed)
    a('')
    a('parameters:')
    for pname, ptype, default in (
            ('ServiceData', 'json', '{}'), ('ServiceNetMap', 'json', '{}'),
            ('EndpointMap', 'json', '{}'), ('RoleName', 'string', "''"),
            ('RoleParameters', 'json', '{}')):
        a('  %s:' % pname)
        a('    default: %s' % default)
        a('    description: Mapping of service %s, passed by the role.' % pname)
        a('    type: %s' % ptype)
    for i, pname in enumerate(svc.params):
        # the first one is a string: environments set it in parameter_defaults
        kind = 'string' if i == 0 else rng.choice(
            ('string', 'number', 'boolean', 'comma_delimited_list', 'json'))
        a('  %s:' % pname)
        if kind == 'number':
            a('    default: %d' % rng.randint(1, 64))
        elif kind == 'boolean':
            a('    default: %s' % rng.choice(('true', 'false')))
        elif kind == 'comma_delimited_list':
            a('    default: %s' % ','.join(rng.sample(WORDS, 3)))
        elif kind == 'json':
            k1, k2 = rng.sample(WORDS, 2)
            a('    default: {%s: %d, %s: %s}' % (k1, rng.randint(1, 9), k2,
                                                _q(rng, rng.choice(WORDS))))
        else:
            a('    default: %s' % _q(rng, '-'.join(rng.sample(WORDS, 2))))
        if rng.random() < 0.2:
            a('    hidden: true')
        a('    description: >')
        a('      %s setting of %s (%s).' % (pname, svc.name, ' '.join(rng.sample(WORDS, 4))))
        a('    type: %s' % kind)
    a('')
    a('resources:')
    a('')
    a('  ContainersCommon:')
    a('    type: %s' % _rel(svc.key, svc.common))
    a('    properties:')
    a('      ServiceName: %s' % svc.name.lower())
    a('')
    a('  %sConfig:' % svc.name)
    a('    type: OS::Heat::SoftwareConfig')
    a('    properties:')
    a('      group: script')
    a('      config: {get_file: %s}' % _q(rng, _rel(svc.key, svc.scripts[0])))
    a('')
    a('  %sData:' % svc.name)
    a('    type: OS::Heat::Value')
    a('    properties:')
    a('      type: json')
    a('      value:')
    a('        service: %s' % svc.name.lower())
    a('        role: {get_param: RoleName}')
    for extra in svc.scripts[1:]:
        a('        %s:' % os.path.basename(extra).replace('.', '_'))
        a('          get_file: %s' % _rel(svc.key, extra))
    a('')
    a('outputs:')
    a('  role_data:')
    a('    description: Role data for the %s role.' % svc.name)
    a('    value:')
    a('      service_name: %s' % svc.name.lower())
    a('      config_settings:')
    for i in range(rng.randint(6, 16)):
        a('        %s::%s::%s_%d: %s' % (svc.group, svc.name.lower(), rng.choice(WORDS), i,
                                        _q(rng, rng.choice(WORDS) + str(rng.randint(0, 999)))))
    for pname in svc.params:
        a('        %s::%s: {get_param: %s}' % (svc.group, pname.lower(), pname))
    a('      service_config_settings:')
    a('        %s: {get_attr: [%sData, value]}' % (svc.group, svc.name))
    a('      docker_config:')
    for step in range(1, rng.randint(2, 5)):
        a('        step_%d:' % step)
        a('          %s_%s:' % (svc.name.lower(), rng.choice(WORDS)))
        a('            image: registry.example.com/%s-%s:latest' % (svc.group, svc.name.lower()))
        a('            net: host')
        a('            privileged: %s' % rng.choice(('false', 'true')))
        a('            restart: always')
        a('            volumes:')
        for _ in range(rng.randint(2, 6)):
            a('              - /var/lib/%s/%s:/var/lib/%s:ro' % (svc.group, rng.choice(WORDS),
                                                               rng.choice(WORDS)))
        a('            environment:')
        a('              KOLLA_CONFIG_STRATEGY: COPY_ALWAYS')
    a('      step_config: {get_attr: [%sConfig, config]}' % svc.name)
    a('      upgrade_tasks: []   # nothing to upgrade in a benchmark')
    a('')
    return '\n'.join(lines)


def _common_template(rng, key, index):
    words = rng.sample(WORDS, 4)
    return '\n'.join([
        'heat_template_version: %s' % HOT_VERSION,
        '',
        'description: Shared container settings #%d (%s).' % (index, ' '.join(words)),
        '',
        'parameters:',
        '  ServiceName:',
        '    type: string',
        '    default: %s' % words[0],
        '',
        'resources:',
        '  Settings:',
        '    type: OS::Heat::Value',
        '    properties:',
        '      type: json',
        '      value:',
        '        name: {get_param: ServiceName}',
        '        log_driver: %s' % rng.choice(('journald', 'k8s-file')),
        '        volumes:',
    ] + ['          - /etc/%s:/etc/%s:ro' % (w, w) for w in words] + [
        '',
        'outputs:',
        '  volumes:',
        '    value: {get_attr: [Settings, value, volumes]}',
        '',
    ])


def _port_template(rng, net, variant):
    if variant == 'noop':
        body = ['  Port:', '    type: OS::Heat::None']
        ip = '{get_param: ControlPlaneIP}'
    else:
        body = ['  Port:', '    type: OS::Heat::Value', '    properties:',
                '      value: 172.%d.%d.%d' % (rng.randint(16, 31), rng.randint(0, 255),
                                                rng.randint(2, 250))]
        ip = '{get_attr: [Port, value]}'
    return '\n'.join([
        'heat_template_version: %s' % HOT_VERSION,
        '',
        'description: %s port for the %s network.' % (variant, net),
        '',
        'parameters:',
        '  ControlPlaneIP:',
        '    type: string',
        '    default: 192.0.2.10',
        '  PortName:',
        '    type: string',
        '    default: port',
        '',
        'resources:',
    ] + body + [
        '',
        'outputs:',
        '  ip_address:',
        '    value: %s' % ip,
        '',
    ])


def _script(rng, key):
    name = os.path.basename(key)
    if key.endswith('.yaml'):
        lines = ['# ansible tasks %s (a get_file target, not a template)' % name, '- name: %s'
                 % ' '.join(rng.sample(WORDS, 3)), '  tasks:']
        for _ in range(rng.randint(3, 12)):
            lines += ['    - name: ensure %s' % rng.choice(WORDS),
                      '      file: {path: /var/lib/%s, state: directory}' % rng.choice(WORDS)]
        return '\n'.join(lines) + '\n'
    if key.endswith('.py'):
        lines = ['#!/usr/bin/env python3', '"""%s: generated helper."""' % name, 'import sys', '']
        for i in range(rng.randint(4, 20)):
            lines += ['def step_%d(arg):' % i,
                      '    return "%s-%%s" %% arg' % rng.choice(WORDS), '']
        lines += ['if __name__ == "__main__":', '    print(step_0(sys.argv[-1]))']
        return '\n'.join(lines) + '\n'
    lines = ['#!/bin/bash', '# %s: generated setup script' % name, 'set -eu']
    for _ in range(rng.randint(5, 40)):
        lines.append('echo "%s $SERVICE %s" >> /var/log/setup-%s.log'
                     % (rng.choice(WORDS), rng.randint(0, 99999), rng.choice(WORDS)))
    return '\n'.join(lines) + '\n'


def _role_template(rng, role, chain_types, port_types, script_rel, seed):
    lines = [
        'heat_template_version: %s' % HOT_VERSION,
        '',
        'description: >',
        '  %s role: its service chain, network ports and node configuration' % role,
        '  (heatplan bench, seed %d).' % seed,
        '',
        'parameters:',
        '  RoleName: {type: string, default: %s}' % role,
        '  ServiceNetMap: {type: json, default: {}}',
        '  EndpointMap: {type: json, default: {}}',
        '  DeployIdentifier: {type: string, default: ""}',
        '  %sExtraConfig: {type: json, default: {}}' % role,
        '',
        'resources:',
        '  ServiceChain:',
        '    type: OS::Heat::ResourceChain',
        '    properties:',
        '      concurrent: true',
        '      resources:',
    ]
    lines += ['        - %s' % t for t in chain_types]
    lines += [
        # Heat replaces a chain whose resource_properties change: keep them
        # independent of DeployIdentifier and of other resources' attributes.
        '      resource_properties:',
        '        ServiceData: {net_cidr_map: {}}',
        '        ServiceNetMap: {get_param: ServiceNetMap}',
        '        RoleName: {get_param: RoleName}',
        '        RoleParameters: {get_param: %sExtraConfig}' % role,
        '',
    ]
    for net, ptype in port_types:
        lines += ['  %sPort:' % net, '    type: %s' % ptype, '    properties:',
                  '      PortName: %s-%s' % (role.lower(), net.lower()), '']
    lines += [
        '  NodeConfig:',
        '    type: OS::Heat::SoftwareConfig',
        '    properties:',
        '      group: script',
        '      config: {get_file: %s}' % script_rel,
        '',
        '  DeployMarker:',
        '    type: OS::Heat::Value',
        '    properties:',
        '      value: {get_param: DeployIdentifier}',
        '',
        'outputs:',
        '  services:',
        '    value: {get_attr: [ServiceChain, refs]}',
        '  deploy_identifier:',
        '    value: {get_attr: [DeployMarker, value]}',
    ]
    for net, _ptype in port_types:
        lines.append('  %s_ip:' % net.lower())
        lines.append('    value: {get_attr: [%sPort, ip_address]}' % net)
    return '\n'.join(lines) + '\n'


def _root_template(rng, roles, deployed_roles, seed):
    lines = [
        'heat_template_version: %s' % HOT_VERSION,
        '',
        'description: >',
        '  Synthetic overcloud (heatplan bench, seed %d): one ResourceGroup per role,' % seed,
        '  every role and service type mapped through the resource_registry.',
        '',
        'parameters:',
        '  CloudName:',
        '    type: string',
        '    default: overcloud.localdomain',
        '  DeployIdentifier:',
        '    type: string',
        '    default: ""',
        '    description: Changed on every deploy to force configuration to run.',
        '  AdminPassword:',
        '    type: string',
        '    hidden: true',
        '    default: not-a-secret',
    ]
    for role in roles:
        lines += ['  %sCount:' % role, '    type: number',
                  '    default: %d' % (1 if role in deployed_roles else 0)]
    lines += ['', 'resources:', '']
    for role in roles:
        lines += [
            '  %s:' % role,
            '    type: OS::Heat::ResourceGroup',
            '    properties:',
            '      count: {get_param: %sCount}' % role,
            '      resource_def:',
            '        type: OS::TripleO::%s' % role,
            '        properties:',
            '          RoleName: %s' % role,
            '          DeployIdentifier: {get_param: DeployIdentifier}',
            '          EndpointMap: {get_attr: [EndpointMap, value]}',
            '',
        ]
    lines += [
        '  HeatAuthEncryptionKey:',
        '    type: OS::Heat::RandomString',
        '    properties:',
        '      length: 32',
        '',
        '  EndpointMap:',
        '    type: OS::Heat::Value',
        '    properties:',
        '      type: json',
        '      value:',
    ]
    for g in GROUPS[:20]:
        lines.append('        %s: {protocol: https, host: {get_param: CloudName}, port: %d}'
                     % (_camel(g) + 'Public', rng.randint(5000, 9999)))
    lines += [
        '',
        'outputs:',
        '  endpoint_map:',
        '    value: {get_attr: [EndpointMap, value]}',
        '  deploy_identifier:',
        '    value: {get_param: DeployIdentifier}',
        '',
    ]
    return '\n'.join(lines)


def generate(out_dir, n_files, seed=1, deploy_services=2, deploy_ports=1):
    """Write a plan of about ``n_files`` files into ``out_dir``; return PlanInfo."""
    rng = random.Random('%d:%d' % (seed, n_files))
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    w = _Writer(out_dir)

    n_env = min(12, 6 + n_files // 400)
    n_roles = 2 if n_files < 500 else 3 if n_files < 2000 else 5
    n_nets = 3 if n_files < 500 else 4 if n_files < 2000 else 6
    roles = ROLES[:n_roles]
    deployed_roles = ROLES[:2]
    nets = NETS[:n_nets]
    n_ports = 2 * n_nets + 1
    n_common = max(2, n_files // 100)
    n_scripts = max(4, n_files * 15 // 100)
    n_services = max(8, n_files - (1 + n_env + n_roles + n_ports + n_common + n_scripts))
    n_alt = n_services // 8
    n_primary = n_services - n_alt

    # -- file names -------------------------------------------------------
    common_keys = []
    for i in range(n_common):
        if i == 0:
            common_keys.append('common/containers-common.yaml')
        elif i % 3 == 0:
            common_keys.append('common/%s/%s-%d.yaml' % (rng.choice(GROUPS),
                                                         rng.choice(WORDS), i))
        else:
            common_keys.append('common/%s-common-%d.yaml' % (rng.choice(WORDS), i))
    script_keys = []
    for i in range(n_scripts):
        group = GROUPS[i % len(GROUPS)]
        ext = '.yaml' if i % 10 == 3 else '.py' if i % 10 == 7 else '.sh'
        script_keys.append('scripts/%s/%s-%d%s' % (group, rng.choice(WORDS), i, ext))
    role_script = 'scripts/role/node-config.sh'
    script_keys[0] = role_script

    services = []
    used_names = set()
    for i in range(n_services):
        group = GROUPS[i % len(GROUPS)]
        while True:
            name = _camel(group) + _camel(rng.choice(SUFFIXES))
            if name not in used_names:
                break
            name += str(i)
            if name not in used_names:
                break
        used_names.add(name)
        alt = i >= n_primary
        fname = '%s-%s.yaml' % (name.lower(), 'pacemaker' if alt else 'container-puppet')
        if rng.random() < 0.25:
            key = 'deployment/%s/%s/%s' % (group, rng.choice(SUFFIXES), fname)
        else:
            key = 'deployment/%s/%s' % (group, fname)
        params = ['%s%s' % (name, _camel(rng.choice(WORDS)))
                  for _ in range(rng.randint(2, 6))]
        params = list(dict.fromkeys(params))
        services.append(_Service(name, group, key, 'OS::TripleO::Services::' + name,
                                 rng.choice(common_keys), [], params, alt))
    # every script used at least once (shared ones more), the role script by roles only
    for i, skey in enumerate(script_keys[1:]):
        services[i % n_services].scripts.append(skey)
    for svc in services:
        if not svc.scripts or rng.random() < 0.5:
            svc.scripts.append(rng.choice(script_keys[1:]))
        svc.scripts = list(dict.fromkeys(svc.scripts))
    primary = services[:n_primary]
    alternates = services[n_primary:]
    # a variant implements an existing service type (one variant per type)
    for alt, impl in zip(alternates, rng.sample(primary, len(alternates)), strict=True):
        alt.type = impl.type

    # -- templates ----------------------------------------------------------
    for i, key in enumerate(common_keys):
        w.write(key, _common_template(rng, key, i))
    for svc in services:
        w.write(svc.key, _service_template(rng, svc, seed))
    for skey in script_keys:
        w.write(skey, _script(rng, skey), yaml_file=False)
    port_keys = {'noop': 'network/ports/noop.yaml'}
    w.write(port_keys['noop'], _port_template(rng, 'any', 'noop'))
    for net in nets:
        for variant in ('isolated', 'from_pool'):
            key = 'network/ports/%s%s.yaml' % (
                _camel(net).lower(), '' if variant == 'isolated' else '_from_pool')
            port_keys[(net, variant)] = key
            w.write(key, _port_template(rng, net, variant))

    # which services the deployed roles instantiate: primaries not overridden later
    overridden = {alt.type for alt in alternates}
    candidates = [s for s in primary if s.type not in overridden]
    disabled = set()
    chains = {}
    for role in roles:
        chains[role] = [s.type for s in rng.sample(candidates, min(deploy_services,
                                                                   len(candidates)))]
    in_chains = {t for c in chains.values() for t in c}
    for s in candidates:
        if s.type not in in_chains and rng.random() < 0.1:
            disabled.add(s.type)
    role_keys = {}
    for role in roles:
        key = 'roles/%s.yaml' % role.lower()
        role_keys[role] = key
        ports = [(net, 'OS::TripleO::%s::Ports::%sPort' % (role, net))
                 for net in nets[:deploy_ports]]
        w.write(key, _role_template(rng, role, chains[role], ports,
                                    _rel(key, role_script), seed))

    # -- environments -------------------------------------------------------
    envs = []

    def env_text(key, header, registry, defaults=None, params=None):
        lines = ['# %s' % header, '# (heatplan bench, seed %d)' % seed]
        if params:
            lines.append('parameters:')
            lines += ['  %s: %s' % (k, v) for k, v in params]
        if registry:
            lines.append('resource_registry:')
            for t, target in registry:
                value = target if '::' in target else _rel(key, target)
                lines.append('  %s: %s' % (t, _q(rng, value)))
        if defaults:
            lines.append('parameter_defaults:')
            lines += ['  %s: %s' % (k, v) for k, v in defaults]
        return '\n'.join(lines) + '\n'

    key = 'overcloud-resource-registry.yaml'
    reg = [('OS::TripleO::%s' % r, role_keys[r]) for r in roles]
    reg += [(s.type, s.key) for s in primary]
    reg += [('OS::TripleO::%s::Ports::%sPort' % (r, n), port_keys['noop'])
            for r in roles for n in nets]
    w.write(key, env_text(key, 'Default resource registry: every role, service and port.',
                          reg))
    envs.append(key)

    features = list(FEATURES[:max(0, n_env - 5)])
    feature_keys = ['environments/features/%s.yaml' % f for f in features]
    # variants: split between services-ha.yaml and the feature environments
    ha_alts = alternates[:max(1, len(alternates) // (len(features) + 1))]
    rest = alternates[len(ha_alts):]

    key = 'environments/network-isolation.yaml'
    w.write(key, env_text(
        key, 'Network isolation: real ports for every role.',
        [('OS::TripleO::%s::Ports::%sPort' % (r, n), port_keys[(n, 'isolated')])
         for r in roles for n in nets]))
    envs.append(key)

    key = 'environments/services-ha.yaml'
    w.write(key, env_text(key, 'Pacemaker-managed variants of some services.',
                          [(s.type, s.key) for s in ha_alts],
                          defaults=[(s.params[0], _q(rng, rng.choice(WORDS)))
                                    for s in ha_alts[:3]]))
    envs.append(key)

    for i, key in enumerate(feature_keys):
        mine = rest[i::len(feature_keys)] if feature_keys else []
        reg = [(s.type, s.key) for s in mine]
        if i == 0:
            reg += [('OS::TripleO::%s::Ports::%sPort' % (r, n), port_keys[(n, 'from_pool')])
                    for r in roles for n in nets]
        defaults = [(p, _q(rng, rng.choice(WORDS))) for s in mine[:3] for p in s.params[:1]]
        w.write(key, env_text(key, 'Feature %s.' % features[i], reg, defaults=defaults))
        envs.append(key)
    if not feature_keys and rest:   # small plans: no features, variants go to HA
        raise AssertionError('unreferenced variants')

    key = 'environments/disable-telemetry.yaml'
    w.write(key, env_text(key, 'Disable services nobody deploys here.',
                          [(t, 'OS::Heat::None') for t in sorted(disabled)] or
                          [('OS::TripleO::Services::Unused', 'OS::Heat::None')]))
    envs.append(key)

    key = 'environments/parameters.yaml'
    defaults = [('CloudName', 'bench.example.com')]
    for s in rng.sample(services, min(len(services), 40)):
        defaults.append((s.params[0], _q(rng, rng.choice(WORDS))))
    defaults = list(dict(defaults).items())
    w.write(key, env_text(key, 'Site parameters.', None, defaults=defaults,
                          params=[('%sCount' % r, 1 if r in deployed_roles else 0)
                                  for r in roles]))
    envs.append(key)

    root = 'overcloud.yaml'
    w.write(root, _root_template(rng, roles, deployed_roles, seed))
    parameters = {'DeployIdentifier': 'initial'}
    manifest = ['# heatplan.yaml of a synthetic bench plan (seed %d, %d files)'
                % (seed, len(w.keys)), 'template: %s' % root, 'environments:']
    manifest += ['  - %s' % e for e in envs]
    manifest += ['parameters:'] + ['  %s: %s' % kv for kv in parameters.items()]
    with open(os.path.join(out_dir, 'heatplan.yaml'), 'w') as f:
        f.write('\n'.join(manifest) + '\n')
    return PlanInfo(out_dir, root, envs, parameters, list(w.keys), list(w.yaml_keys),
                    w.total, seed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out', help='directory to write the plan into')
    parser.add_argument('--files', type=int, default=1000, help='about this many files')
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args(argv)
    info = generate(args.out, args.files, args.seed)
    print('%s: %d files, %d bytes, %d environments'
          % (info.root, len(info.files), info.total_bytes, len(info.environments)))


if __name__ == '__main__':
    main()
