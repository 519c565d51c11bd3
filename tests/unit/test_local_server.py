"""The local server's wake-up doorbell for oslo.messaging's fake transport."""

import threading
import time

from heatplan.local import server


def test_a_ring_wakes_a_sleeping_listener_at_once():
    bell = server._Doorbell()
    woke = threading.Event()

    def listener():
        bell.sleep(0)      # a thread's first sleep returns at once (one extra poll)
        bell.sleep(30)     # would sleep 30 s without a ring
        woke.set()

    thread = threading.Thread(target=listener, daemon=True)
    thread.start()
    time.sleep(0.1)
    assert not woke.is_set()
    bell.ring()
    assert woke.wait(5), 'the ring did not wake the listener'


def test_a_ring_between_poll_and_sleep_is_not_missed():
    bell = server._Doorbell()
    bell.sleep(0)          # the listener has looked (generation seen)
    bell.ring()            # a message lands after its empty poll ...
    started = time.monotonic()
    bell.sleep(8)          # ... so this sleep must not wait
    assert time.monotonic() - started < 5


def test_without_a_ring_sleep_waits_its_time():
    bell = server._Doorbell()
    bell.sleep(0)
    started = time.monotonic()
    bell.sleep(0.2)
    assert time.monotonic() - started >= 0.15
