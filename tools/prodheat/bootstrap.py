"""Keystone bootstrap for Heat; run with the prodheat venv's Python, JSON on stdin.

Idempotent: every object is looked up before it is created.  Makes:

* projects ``service`` and the member's project;
* roles ``member`` (bootstrap made it), ``heat_stack_owner``, ``heat_stack_user``;
* user ``heat`` (admin in ``service``), the member user (``member`` and
  ``heat_stack_owner`` in its project);
* Heat's stack-user domain ``heat`` with ``heat_domain_admin`` (admin on it);
* services and endpoints ``orchestration`` and ``cloudformation``.
"""

import json
import sys

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client


def one(manager, name, **filters):
    for item in manager.list(**filters):
        if item.name == name:
            return item
    return None


def ensure(manager, name, create_kwargs=None, **filters):
    found = one(manager, name, **filters)
    if found is not None:
        return found
    return manager.create(name=name, **(create_kwargs or {}))


def main():
    args = json.load(sys.stdin)
    auth = v3.Password(auth_url=args['auth_url'], username='admin',
                       password=args['admin_password'], project_name='admin',
                       user_domain_name='Default', project_domain_name='Default')
    sess = ks_session.Session(auth=auth, timeout=60)
    ks = ks_client.Client(session=sess, interface='public')

    default = ks.domains.get('default')
    service = ensure(ks.projects, 'service', {'domain': default}, domain=default)
    project = ensure(ks.projects, args['project'], {'domain': default}, domain=default)
    admin_role = one(ks.roles, 'admin')
    member_role = ensure(ks.roles, 'member')
    owner_role = ensure(ks.roles, 'heat_stack_owner')
    ensure(ks.roles, 'heat_stack_user')

    heat_user = ensure(ks.users, 'heat', {'domain': default, 'password': args['heat_password']},
                       domain=default)
    ks.users.update(heat_user, password=args['heat_password'])
    ks.roles.grant(admin_role, user=heat_user, project=service)

    member = ensure(ks.users, args['member'],
                    {'domain': default, 'password': args['member_password'],
                     'default_project': project}, domain=default)
    ks.users.update(member, password=args['member_password'])
    for role in (member_role, owner_role):
        ks.roles.grant(role, user=member, project=project)

    heat_domain = ensure(ks.domains, 'heat',
                         {'description': 'Owns users and projects created by heat'})
    domain_admin = ensure(ks.users, 'heat_domain_admin',
                          {'domain': heat_domain,
                           'password': args['domain_admin_password']},
                          domain=heat_domain)
    ks.users.update(domain_admin, password=args['domain_admin_password'])
    ks.roles.grant(admin_role, user=domain_admin, domain=heat_domain)

    for name, stype, url in (('heat', 'orchestration', args['heat_url']),
                             ('heat-cfn', 'cloudformation', args['cfn_url'])):
        svc = None
        for s in ks.services.list(type=stype):
            svc = s
        if svc is None:
            svc = ks.services.create(name=name, type=stype)
        have = {e.interface for e in ks.endpoints.list(service=svc)}
        for interface in ('public', 'internal', 'admin'):
            if interface not in have:
                ks.endpoints.create(service=svc, url=url, interface=interface,
                                    region=args['region'])
    print('bootstrapped: project %s, member %s, domain heat' % (args['project'],
                                                              args['member']))


if __name__ == '__main__':
    main()
