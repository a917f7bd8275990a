"""Behaves as the environment says: writes ``EMIT_STDOUT`` to stdout, ``EMIT_STDERR`` to
stderr ``EMIT_STDERR_REPEAT`` times and then ``EMIT_STDERR_LAST``, and exits with
``EMIT_EXIT`` or, if set, kills itself with the signal named by ``EMIT_SIGNAL``."""

import os
import signal
import sys

sys.stdout.write(os.environ.get("EMIT_STDOUT", ""))
sys.stdout.flush()
sys.stderr.write(os.environ.get("EMIT_STDERR", "") * int(os.environ.get("EMIT_STDERR_REPEAT", "1")))
sys.stderr.write(os.environ.get("EMIT_STDERR_LAST", ""))
sys.stderr.flush()
if "EMIT_SIGNAL" in os.environ:
    os.kill(os.getpid(), signal.Signals[os.environ["EMIT_SIGNAL"]])
sys.exit(int(os.environ.get("EMIT_EXIT", "0")))
