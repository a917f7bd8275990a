"""A small backend for the script plugin's tests, one program for every action.

It keeps its state in the directory named by ``SCRIPT_STATE_DIR``: ``resources/<backend id>``
holds each resource's limits, ``orders/<order id>`` the backend id an order created (so an
order handed over twice creates once), ``usage.json`` the answer to give to a usage pull, and
``fail_next`` a message: when present it is removed, written to stderr, and the run exits 1.
"""

import json
import os
import sys
from pathlib import Path

state = Path(os.environ["SCRIPT_STATE_DIR"])
request = json.load(sys.stdin)
action = os.environ["MARKETPLACE_ACTION"]
failure = state / "fail_next"
if failure.exists():
    message = failure.read_text(encoding="utf-8")
    failure.unlink()
    print(message, file=sys.stderr)
    sys.exit(1)
resources, orders = state / "resources", state / "orders"
resources.mkdir(exist_ok=True)
orders.mkdir(exist_ok=True)
if action == "create":
    known = orders / os.environ["MARKETPLACE_ORDER_ID"]
    if known.exists():
        backend_id = known.read_text(encoding="utf-8")
    else:
        backend_id = f"vm-{len(list(orders.iterdir())) + 1}"
        known.write_text(backend_id, encoding="utf-8")
        (resources / backend_id).write_text(json.dumps(request["limits"]), encoding="utf-8")
    print(json.dumps({"backend_id": backend_id, "metadata": {"host": "node-1"}}))
elif action == "update":
    backend_id = os.environ["MARKETPLACE_BACKEND_ID"]
    (resources / backend_id).write_text(json.dumps(request["limits"]), encoding="utf-8")
elif action == "terminate":
    (resources / os.environ["MARKETPLACE_BACKEND_ID"]).unlink(missing_ok=True)
elif action == "pull_usage":
    answer = state / "usage.json"
    sys.stdout.write(answer.read_text(encoding="utf-8") if answer.exists() else "")
