"""interrupts.signals_held: a signal inside the block is raised after it, never lost."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from disca_edge.interrupts import signals_held

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX only")


_CHILD = """
import os, signal, sys
from disca_edge.interrupts import signals_held
def to_interrupt(signum, frame):
    raise KeyboardInterrupt
signal.signal({sig}, to_interrupt)
steps = []
try:
    with signals_held():
        os.kill(os.getpid(), {sig})
        steps.append("inside")
    steps.append("never reached")
except KeyboardInterrupt:
    steps.append("raised after the block")
print(",".join(steps))
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_the_block_is_delivered_when_it_ends(sig):
    # a fresh process: with other threads (a test session may hold some) the kernel may
    # hand the signal to one that does not block it, which signals_held cannot prevent
    code = _CHILD.format(sig=int(sig))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    assert done.stdout.strip() == "inside,raised after the block"


def test_the_mask_is_restored():
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with signals_held():
        assert {signal.SIGINT, signal.SIGTERM} <= signal.pthread_sigmask(signal.SIG_BLOCK, set())
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == before
