"""doc/source/cli.rst's verb reference against the commands themselves.

Each entry names a verb and its arguments, and lists its own options, its
option groups, its columns or JSON keys, and its exit codes.  Every one is
compared with what the command really has: its parser (the options
``--help`` shows), the COLUMNS it returns, the keys of its JSON, and the
EXIT_CODES its ``--help`` prints (tests/contract.py makes the suites check
that runs exit with those codes only).
"""

import argparse
import configparser
import dataclasses
import json
import os
import re

import pytest

from heatplan.actions import deploy as deploy_mod
from heatplan.cli import app as app_mod
from heatplan.cli import base
from heatplan.cli import connect
from heatplan.cli import plan as plan_cli
from heatplan.cli import stack as stack_cli
from tests.unit.conftest import make_plan
from tests.unit.conftest import template

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
ENTRY = re.compile(r'^``([^`]+)``\n((?:(?: {4}.*)?\n)+)', re.M)
FIELD = re.compile(r'^ {4}:([a-z ]+):[ ]*(.*)$')
LITERAL = re.compile(r'``([^`]+)``')


def verbs():
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, 'setup.cfg'))
    return [line.split('=')[0].strip().replace('_', ' ')
            for line in cfg['entry_points']['heatplan.cli'].strip().splitlines()]


def sections():
    with open(os.path.join(ROOT, 'doc', 'source', 'cli.rst'), encoding='utf-8') as f:
        doc = f.read()
    ref = doc[doc.index('\nVerb reference\n'):doc.index('\nOption groups\n')]
    groups = doc[doc.index('\nOption groups\n'):doc.index('\nOutput paths\n')]
    return ref, groups


def entries(text):
    """``{heading: {field: value}}`` of the entries (continuation lines joined)."""
    out = {}
    for match in ENTRY.finditer(text):
        fields, current = {}, None
        for line in match.group(2).splitlines():
            m = FIELD.match(line)
            if m:
                current = m.group(1)
                fields[current] = m.group(2).strip()
            elif current and line.startswith(' ' * 8):
                fields[current] += ' ' + line.strip()
            elif line.strip():
                current = None
        assert match.group(1) not in out, 'documented twice: %s' % match.group(1)
        out[match.group(1)] = fields
    return out


def reference():
    """``{verb: (argument words, fields)}`` of the verb reference."""
    ref, _groups = sections()
    known = sorted(verbs(), key=len, reverse=True)
    out = {}
    for heading, fields in entries(ref).items():
        verb = next((v for v in known if heading == v or heading.startswith(v + ' ')), None)
        assert verb is not None, 'cli.rst documents %r, which is no verb' % heading
        out[verb] = (heading[len(verb):].split(), fields)
    return out


def literals(value):
    return LITERAL.findall(value or '')


def names(value):
    return [n.strip() for n in (value or '').split(',') if n.strip()]


@pytest.fixture(scope='module')
def app():
    return app_mod.HeatplanApp()


def command(app, verb):
    cls, _name, _rest = app.command_manager.find_command(verb.split())
    return cls(app, None)


def option_actions(parser):
    return {tuple(a.option_strings): a for a in parser._actions
            if a.option_strings and '--help' not in a.option_strings}


def group_actions(app):
    """What each documented option group adds to a parser, from the code."""
    def built(add):
        parser = argparse.ArgumentParser(add_help=False)
        add(parser)
        return option_actions(parser)

    class Rows(base.Lister):
        def take_action(self, parsed_args):
            return (), ()

    class Fields(base.ShowOne):
        def take_action(self, parsed_args):
            return (), ()

    return {
        'plan': built(plan_cli.add_plan_arguments),
        'deploy': built(stack_cli.add_deploy_arguments),
        'heat': built(lambda p: connect.add_heat_arguments(p, app)),
        'list output': option_actions(Rows(app, None).get_parser('x')),
        'show output': option_actions(Fields(app, None).get_parser('x')),
    }


def check_options(documented, actions, where):
    """Each literal names one action, with a value word when it takes one."""
    seen = set()
    for text in documented:
        flag, *value = text.split()
        key = next((k for k in actions if flag in k), None)
        assert key is not None, '%s: documents %s, which it does not have' % (where, flag)
        action = actions[key]
        takes_value = action.nargs != 0
        assert bool(value) == takes_value, '%s: %s %s a value' % (
            where, flag, 'takes' if takes_value else 'takes no')
        if value and action.metavar:
            assert value == [action.metavar], '%s: %s %s, not %s' % (
                where, flag, action.metavar, ' '.join(value))
        assert key not in seen, '%s: %s listed twice' % (where, flag)
        seen.add(key)
    return seen


def test_every_verb_has_one_entry():
    assert sorted(reference()) == sorted(verbs())


def test_the_option_groups_are_what_the_code_adds(app):
    _ref, text = sections()
    documented = entries(text)
    actual = group_actions(app)
    assert sorted(documented) == sorted(actual)
    for name, fields in documented.items():
        seen = check_options(literals(fields.get('options')), actual[name], 'group ' + name)
        assert seen == set(actual[name]), 'group %s: not documented: %s' % (
            name, sorted(k[-1] for k in set(actual[name]) - seen))


@pytest.mark.parametrize('verb', verbs())
def test_arguments_and_options(app, verb):
    words, fields = reference()[verb]
    parser = command(app, verb).get_parser('heatplan ' + verb)
    positionals = [a for a in parser._actions if not a.option_strings]
    assert words == [('[%s]' if a.nargs == '?' else '%s') % (a.metavar or a.dest.upper())
                     for a in positionals], verb
    actions = option_actions(parser)
    own = check_options(literals(fields.get('options')), actions, verb)
    groups = group_actions(app)
    covered = set(own)
    for name in names(fields.get('groups')):
        assert name in groups, '%s: no option group %r' % (verb, name)
        missing = set(groups[name]) - set(actions)
        assert not missing, '%s: does not take all of group %s' % (verb, name)
        assert not covered & set(groups[name]), '%s: listed in group %s too' % (verb, name)
        covered |= set(groups[name])
    assert covered == set(actions), '%s: options not documented: %s' % (
        verb, sorted(k[-1] for k in set(actions) - covered))


@pytest.mark.parametrize('verb', verbs())
def test_columns(app, verb):
    _words, fields = reference()[verb]
    cmd = command(app, verb)
    if isinstance(cmd, (base.Lister, base.ShowOne)):
        assert cmd.COLUMNS, '%s declares no COLUMNS' % verb
        assert literals(fields.get('columns')) == list(cmd.COLUMNS), verb
    else:
        assert 'columns' not in fields, '%s prints no columns' % verb


@pytest.mark.parametrize('verb', verbs())
def test_exit_codes_match_the_help(app, verb, capsys):
    _words, fields = reference()[verb]
    cmd = command(app, verb)
    documented = [int(c) for c in names(fields.get('exit'))]
    assert documented == list(cmd.EXIT_CODES), verb
    try:
        assert app_mod.main(verb.split() + ['--help']) == 0
    except SystemExit as exc:
        assert not exc.code
    out = ' '.join(capsys.readouterr().out.split())
    shown = out[out.index('Exit codes: '):out.index('; and as for every verb')]
    assert [int(c) for c in re.findall(r'(?:: |, )(\d+) ', shown)] == documented, shown
    for code, meaning in cmd.EXIT_CODES.items():
        assert '%d %s' % (code, meaning) in shown


def test_json_keys_of_the_text_verbs(tmp_path, capsys):
    """The verbs that print text by default: -f json writes their columns."""
    ref = reference()
    result_keys = [f.name for f in dataclasses.fields(deploy_mod.DeployResult)]
    for verb in ('deploy', 'rollback', 'apply'):
        assert literals(ref[verb][1].get('columns')) == result_keys, verb
    assert list(deploy_mod.DeployResult('x', 's', 'd').as_dict()) == result_keys
    plan = make_plan(tmp_path, {'root.yaml': template(
        resources='  a:\n    type: https://example.com/x.yaml\n')})  # a lint warning
    assert app_mod.main(['validate', plan, '-t', 'root.yaml', '-f', 'json']) == 0
    found = json.loads(capsys.readouterr().out)
    assert found and all(list(d) == literals(ref['validate'][1]['columns']) for d in found)
    assert app_mod.main(['build', plan, '-t', 'root.yaml']) == 0
    assert list(json.loads(capsys.readouterr().out)) == literals(ref['build'][1]['json'])
    out = str(tmp_path / 'plan.json')
    assert app_mod.main(['build', plan, '-t', 'root.yaml', '-o', out, '-f', 'json']) == 0
    assert list(json.loads(capsys.readouterr().out)) == literals(ref['build'][1]['columns'])
    assert app_mod.main(['package', plan, '-t', 'root.yaml', '-o', out + '.tgz',
                         '-f', 'json']) == 0
    assert list(json.loads(capsys.readouterr().out)) == literals(
        ref['package'][1]['columns'])
    documented = {v for v, (_w, fields) in ref.items() if 'json' in fields}
    assert documented == {'build'}


def test_lint_rules_returns_its_columns(capsys):
    assert app_mod.main(['lint', 'rules', '-f', 'json']) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(list(r) == list(plan_cli.LintRules.COLUMNS) for r in rows)


def test_hints_name_the_verb_they_mean():
    """A hint or error message that says to recover or wait names the verb:
    "heatplan recover STACK", "heatplan wait STACK" (not "run recover")."""
    import ast

    vague = re.compile(r'(?<!heatplan )\brecover\b|(?<!heatplan )\bwait\b(?! (%d|\d|for|until))')
    error = re.compile(r'(Error|NotFound|Failed|TimedOut|Rejected|Interrupted|Aborted|Locked|'
                       r'timed_out)$')
    found, checked = [], 0
    for dirpath, _dirs, files in os.walk(os.path.join(ROOT, 'heatplan')):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding='utf-8') as f:
                tree = ast.parse(f.read())
            for call in ast.walk(tree):
                if not isinstance(call, ast.Call):
                    continue
                func = call.func.attr if isinstance(call.func, ast.Attribute) else \
                    getattr(call.func, 'id', '')
                parts = [k.value for k in call.keywords if k.arg == 'hint']
                if error.search(func or ''):
                    parts += call.args[:1]
                for part in parts:
                    for node in ast.walk(part):
                        if isinstance(node, ast.Constant) and isinstance(node.value, str):
                            checked += 1
                            if vague.search(node.value):
                                found.append('%s:%d: %s' % (os.path.relpath(path, ROOT),
                                                            node.lineno, node.value))
    assert checked > 100  # the scan sees the messages
    assert not found, '\n'.join(found)
