"""Starts a child that sleeps, says so on stderr, writes both process ids to ``$PIDS_TO``
and sleeps: a program that never finishes, with a descendant in its process group (or, when
``SLEEPER_ESCAPE`` is set, one that left the group and still holds stdout and stderr)."""

import os
import subprocess
import sys
import time
from pathlib import Path

child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)"],
    start_new_session="SLEEPER_ESCAPE" in os.environ,
)
print("started, now sleeping", file=sys.stderr, flush=True)
pids = Path(os.environ["PIDS_TO"])
pids.with_suffix(".new").write_text(f"{os.getpid()} {child.pid}", encoding="utf-8")
pids.with_suffix(".new").replace(pids)  # whole or not at all
time.sleep(60)
