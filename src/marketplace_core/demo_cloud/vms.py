"""The demo's cloud: the program the ``script`` plugin runs to create, resize and delete VMs.

It reads the order as JSON on stdin and the action from ``MARKETPLACE_ACTION``, keeps each
VM as a JSON file in ``$DEMO_CLOUD_DIR`` named after the resource (so running it twice for
one order does the work once), and answers one JSON object on stdout. It is what a
provider's own script looks like, minus the cloud API calls.
"""

import json
import os
import sys
from pathlib import Path


def main() -> None:
    """Do what ``MARKETPLACE_ACTION`` asks for, and print the answer."""
    request = json.load(sys.stdin)
    action = os.environ["MARKETPLACE_ACTION"]
    resource = request["resource"]
    number = resource["id"].rsplit("-", 1)[-1]
    vm = Path(os.environ["DEMO_CLOUD_DIR"]) / f"vm-{number}.json"
    limits = request["limits"]
    if action == "create":
        vm.write_text(json.dumps(limits), encoding="utf-8")
        hostname = "-".join(resource["name"].lower().split()) + ".vms.example.org"
        answer = {
            "backend_id": vm.stem,
            "metadata": {"hostname": hostname, "ip": f"10.20.0.{number}"},
        }
    elif action == "update":
        vm.write_text(json.dumps(limits), encoding="utf-8")
        answer = {"metadata": {"vcpus": limits["vcpu"]}}
    elif action == "terminate":
        vm.unlink(missing_ok=True)
        answer = {}
    else:
        print(f"vms.py does not know how to {action}", file=sys.stderr)
        sys.exit(2)
    print(f"{action} {vm.stem}: {limits}", file=sys.stderr)
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
