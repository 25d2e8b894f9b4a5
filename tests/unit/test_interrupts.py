"""interrupts.signals_held: a signal inside the block is raised after it, never lost."""

from __future__ import annotations

import os
import signal

import pytest

from disca_edge.interrupts import signals_held

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX only")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_the_block_is_delivered_when_it_ends(sig):
    def to_interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(sig, to_interrupt)
    steps = []
    try:
        with pytest.raises(KeyboardInterrupt):
            with signals_held():
                os.kill(os.getpid(), sig)
                steps.append("after the signal, still inside")
            steps.append("never reached")
    finally:
        signal.signal(sig, old)
    assert steps == ["after the signal, still inside"]


def test_the_mask_is_restored():
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with signals_held():
        assert {signal.SIGINT, signal.SIGTERM} <= signal.pthread_sigmask(signal.SIG_BLOCK, set())
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before
