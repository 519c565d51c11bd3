"""Ctrl-C and "no" at the prompt say what happened and what to run next (issue 11, point 6).

The commands run for real against the in-memory Heat of test_secrets
(requests-mock).  Before the fix: Ctrl-C printed ``heatplan: interrupted``
only (every test below on it failed), the prompt left ``^C`` on its line, and
answering "n" printed ``heatplan: error: the update would destroy
resources:`` and the list again.
"""

import io
import os

import pytest
import requests_mock

from heatplan import errors
from heatplan.actions import apply
from heatplan.cli import app
from heatplan.cli import stack as stack_cli
from heatplan.heat.adapter import HeatAdapter
from tests.unit import test_secrets

URL = test_secrets.HEAT_URL
HOT = test_secrets.HOT
REPLACED = {'resource_name': 'v', 'resource_type': 'OS::Heat::Value', 'stack_name': 's1'}


class ReplacingHeat(test_secrets.FakeHeat):
    """Its update preview says resource ``v`` would be replaced."""

    def handle(self, request):
        if request.method == 'PUT' and request.url.split('?')[0].endswith('/preview'):
            changes = {k: [] for k in ('added', 'deleted', 'replaced', 'updated', 'unchanged')}
            changes['replaced'] = [REPLACED]
            return test_secrets._response(request, json={'resource_changes': changes})
        return super().handle(request)


@pytest.fixture
def heat():
    fake = ReplacingHeat()
    with requests_mock.Mocker(real_http=False) as mocker:
        fake.install(mocker)
        yield fake


class Tty(io.StringIO):
    def isatty(self):
        return True


class CtrlC(Tty):
    def readline(self, *args):
        raise KeyboardInterrupt


@pytest.fixture
def source(tmp_path):
    root = tmp_path / 'plan'
    root.mkdir()
    (root / 'heatplan.yaml').write_text('template: main.yaml\n')
    (root / 'main.yaml').write_text(
        HOT + 'parameters:\n  label: {type: string, default: a}\nresources:\n'
        '  v:\n    type: OS::Heat::Value\n    properties: {value: {get_param: label}}\n')
    return str(root)


def run(*args, stdin=None, tty=False, monkeypatch=None):
    out, err = io.StringIO(), (Tty() if tty else io.StringIO())
    monkeypatch.setattr('sys.stdout', out)
    monkeypatch.setattr('sys.stderr', err)
    if stdin is not None:
        monkeypatch.setattr('sys.stdin', stdin)
    code = app.main([str(a) for a in args] + ['--heat-url', URL])
    return code, out.getvalue(), err.getvalue()


def test_ctrl_c_while_waiting_names_the_stack_revision_and_next_steps(heat, source,
                                                                      monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(apply, 'wait', interrupted)
    code, _out, err = run('deploy', source, '--stack', 's1', monkeypatch=monkeypatch)
    assert code == 130
    assert err.startswith('creating s1: revision 1')
    assert '\nheatplan: interrupted: heatplan stopped watching, but Heat goes on creating ' \
        'stack s1 with revision 1 (recorded as pending)' in err
    assert '"heatplan wait s1"' in err and '"heatplan recover s1"' in err


def test_ctrl_c_while_sending_says_heat_may_have_it(heat, source, monkeypatch):
    real = HeatAdapter.create_stack

    def interrupted(self, name, *args, **kwargs):
        if name.startswith('hp.'):  # the revision record (the lock) is created
            return real(self, name, *args, **kwargs)
        raise KeyboardInterrupt
    monkeypatch.setattr(HeatAdapter, 'create_stack', interrupted)
    code, _out, err = run('deploy', source, '--stack', 's1', monkeypatch=monkeypatch)
    assert code == 130
    assert 'interrupted while sending revision 1 to stack s1' in err
    assert 'heatplan recover s1' in err


def test_ctrl_c_before_anything_was_sent(heat, source, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(HeatAdapter, 'get_stack', interrupted)
    code, _out, err = run('deploy', source, '--stack', 's1', monkeypatch=monkeypatch)
    assert code == 130
    assert 'nothing was sent: stack s1 is unchanged' in err


def test_ctrl_c_while_taking_the_lock(heat, source, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(HeatAdapter, 'create_stack', interrupted)
    code, _out, err = run('deploy', source, '--stack', 's1', monkeypatch=monkeypatch)
    assert code == 130
    assert 'interrupted while taking the deploy lock (the pending record of revision 1' in err
    assert 'heatplan recover s1' in err


def _deployed(heat, source, monkeypatch):
    code, _out, err = run('deploy', source, '--stack', 's1', monkeypatch=monkeypatch)
    assert code == 0, err
    return len(heat.bodies)


def test_no_at_the_prompt_is_not_an_error(heat, source, monkeypatch):
    _deployed(heat, source, monkeypatch)
    code, out, err = run('deploy', source, '--stack', 's1', '--parameter', 'label=b',
                         stdin=Tty('n\n'), tty=True, monkeypatch=monkeypatch)
    assert code == errors.ExitCode.REFUSED
    assert 'Go ahead? [y/N] ' in err
    assert err.endswith('Go ahead? [y/N] aborted, nothing changed\n')
    assert 'error' not in err
    assert err.count('would be replaced') == 1
    assert out == ''


def test_ctrl_c_at_the_prompt_is_aborted_on_its_own_line(heat, source, monkeypatch):
    _deployed(heat, source, monkeypatch)
    code, _out, err = run('deploy', source, '--stack', 's1', '--parameter', 'label=b',
                          stdin=CtrlC(), tty=True, monkeypatch=monkeypatch)
    assert code == errors.ExitCode.REFUSED
    assert err.endswith('Go ahead? [y/N] \naborted, nothing changed\n')
    assert 'Traceback' not in err and 'error' not in err


def test_confirm_at_end_of_input_aborts():
    reporter = stack_cli.CliReporter(stream=Tty())
    old = os.sys.stdin
    os.sys.stdin = Tty('')
    try:
        with pytest.raises(errors.Aborted):
            reporter.confirm('Go ahead?')
    finally:
        os.sys.stdin = old
    assert reporter.stream.getvalue() == 'Go ahead? [y/N] \n'
