"""The check helpers of the Python integration tests (tests/integration/*/*_test.py): each check
counts a pass or records a failure with what was expected, and a test exits non-zero when any
failed. Polling waits on a condition with a deadline, never a fixed sleep.

    sys.path.insert(0, os.path.join(HERE, "..", "..", "support"))
    from checks import check, wait_until, FAILS, PASSES, MODE
"""
import sys
import time

FAILS = []
PASSES = [0]
MODE = [""]  # a prefix naming the run a failure belongs to (a test that runs twice sets it)


def check(cond, what):
    if cond:
        PASSES[0] += 1
    else:
        FAILS.append(MODE[0] + what)
        print("FAIL:", MODE[0] + what, file=sys.stderr)
    return cond


def wait_until(pred, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)  # polling a condition, bounded by the deadline
    check(False, "timed out waiting for " + what)
    return False
