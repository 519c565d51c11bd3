"""The progress display: a total known from the start, a clock that ticks, clean redraws."""

import io
import os
import re

from heatplan import errors
from heatplan.actions import progress
from heatplan.cli import stack as stack_cli


class Tty(io.StringIO):
    def isatty(self):
        return True


class Events:
    """Stands in for the adapter: the events Heat has listed so far."""

    def __init__(self):
        self.events = []

    def list_events(self, ident, nested_depth=None, marker=None):
        return list(self.events)


def ev(i, name, status, stack='s'):
    return {'id': str(i), 'resource_name': name, 'stack_name': stack,
            'resource_status': status, 'event_time': '2026-12-01T10:00:%02dZ' % i}


def screen_lines(text):
    """What a terminal shows: each \\r starts the line again, \\033[K clears it."""
    lines = []
    for raw in text.split('\n'):
        shown = raw.split('\r')[-1].replace('\033[K', '')
        lines.append(shown)
    return lines


def test_the_total_is_known_before_the_first_event(monkeypatch):
    # issue 16: the total grew as events arrived (0/0, 0/1, 6/12, 15/16, 16/16)
    stream = Tty()
    reporter = stack_cli.CliReporter(stream)
    heat = Events()
    watcher = progress.EventWatcher(heat, 's/1', reporter, expected=4)
    watcher.poll()
    assert re.search(r' 0/4 resources', stream.getvalue())
    heat.events = [ev(1, 'a', 'UPDATE_IN_PROGRESS'), ev(2, 'a', 'UPDATE_COMPLETE')]
    watcher.poll()
    assert screen_lines(stream.getvalue())[-1].startswith('[') and ' 1/4 resources' in \
        screen_lines(stream.getvalue())[-1]
    # more resources than expected: the total follows, it never shows done > total
    heat.events += [ev(i, 'r%d' % i, 'UPDATE_COMPLETE') for i in range(3, 9)]
    watcher.poll()
    assert ' 7/7 resources' in screen_lines(stream.getvalue())[-1]


def test_the_clock_ticks_without_events(monkeypatch):
    ticks = []
    reporter = stack_cli.CliReporter(Tty())
    reporter.progress = lambda done, total, elapsed: ticks.append(elapsed)
    watcher = progress.EventWatcher(Events(), 's/1', reporter, expected=2)
    watcher.sleep(0.35, step=0.1)
    assert len(ticks) >= 3 and ticks == sorted(ticks)


def test_redraws_never_wrap_on_a_narrow_terminal(monkeypatch):
    # issue 16: a stale line was left at 48 columns (the bar wrapped)
    for columns in (20, 48, 80, 200):
        monkeypatch.setattr(stack_cli.shutil, 'get_terminal_size',
                            lambda fallback=None, c=columns: os.terminal_size((c, 24)))
        stream = Tty()
        reporter = stack_cli.CliReporter(stream)
        for done in range(0, 1201, 300):
            reporter.progress(done, 1200, 3725)
        reporter.info('a note')
        for line in screen_lines(stream.getvalue()):
            assert len(line) < columns, (columns, line)
        assert '1200/1200 resources  62:05' in stream.getvalue() or columns < 30


def test_plain_lines_when_not_a_terminal():
    stream = io.StringIO()
    reporter = stack_cli.CliReporter(stream)
    reporter.progress(3, 10, 65)
    assert stream.getvalue() == 'progress: 3/10 resources done, 01:05 elapsed\n'
    assert '\r' not in stream.getvalue() and '\033' not in stream.getvalue()


class Flaky(Events):
    """Refuses the events list ``failures`` times, then lists them."""

    def __init__(self, failures):
        super().__init__()
        self.failures = failures
        self.calls = 0

    def list_events(self, ident, nested_depth=None, marker=None):
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise errors.HeatRejected('Heat answered 503 Service Unavailable')
        return super().list_events(ident, nested_depth, marker)


class Recorder:
    def __init__(self):
        self.events, self.notes = [], []

    def event(self, ev):
        self.events.append(ev)

    def note(self, message):
        self.notes.append(message)

    def progress(self, done, total, elapsed):
        pass


def test_the_last_poll_is_retried_when_heat_refuses_it(monkeypatch):
    # a refused final list dropped the last events (the failed resource's
    # CREATE_FAILED) from the display, silently
    monkeypatch.setattr(progress.time, 'sleep', lambda s: None)
    heat = Flaky(failures=2)
    heat.events = [ev(1, 'broken', 'CREATE_FAILED')]
    reporter = Recorder()
    watcher = progress.EventWatcher(heat, 's/1', reporter)
    watcher.final()
    assert [e['resource_name'] for e in reporter.events] == ['broken']
    assert heat.calls == 3 and reporter.notes == []


def test_last_events_that_cannot_be_read_are_said(monkeypatch):
    monkeypatch.setattr(progress.time, 'sleep', lambda s: None)
    heat = Flaky(failures=99)
    reporter = Recorder()
    watcher = progress.EventWatcher(heat, 's/1', reporter)
    watcher.poll()      # while the stack runs: one try, nothing said
    assert heat.calls == 1 and reporter.notes == []
    watcher.final()
    assert heat.calls == 1 + progress.FINAL_TRIES
    assert reporter.notes == [
        'could not list the last events of s (Heat answered 503 Service Unavailable): '
        '"heatplan events s" shows them']
