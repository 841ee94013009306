"""Ctrl-C / SIGTERM while training: the first asks for a stop, a second interrupts the step, and
none of them ever interrupts a save (they wait for it). In-process, with real signals."""

import os
import signal
import time

import pytest

from ebm_studio.core.stop_signals import StopSignals, critical_section


def send(sig=signal.SIGINT):
    os.kill(os.getpid(), sig)
    time.sleep(0.01)  # the handler runs at the next bytecode boundary of the main thread


def test_the_first_signal_asks_for_a_stop_and_a_second_interrupts_the_step():
    with StopSignals(announce=lambda text: None) as stop:
        with stop.interruptible():
            send(signal.SIGTERM)
            assert stop.requested
            with pytest.raises(KeyboardInterrupt):
                send(signal.SIGINT)


def test_signals_during_a_save_wait_for_it_to_finish():
    told = []
    with StopSignals(announce=told.append) as stop:
        with stop.interruptible():
            finished = False
            with critical_section():
                send()
                send()
                send(signal.SIGTERM)  # three impatient presses
                finished = True
            assert finished and stop.count == 3 and stop.deferred == 3
            assert told and "saving" in told[0]


def test_after_the_loop_a_second_signal_no_longer_interrupts_the_final_save():
    with StopSignals(announce=lambda text: None) as stop:
        send()
        send()  # outside interruptible(): counted only
        assert stop.count == 2


def test_the_previous_handlers_come_back_on_exit():
    before = signal.getsignal(signal.SIGINT)
    with StopSignals():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
