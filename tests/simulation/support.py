"""A small valid scenario, as the plain data a file holds, for the simulation tests."""

from __future__ import annotations

import copy
from typing import Any

SMALL: dict[str, Any] = {
    "name": "Small",
    "start": "2026-01",
    "months": 2,
    "seed": 3,
    "process": {"orders_per_month": [1, 2], "steps_per_month": 2, "termination_chance": "0.2"},
    "organizations": [
        {"name": "Provider"},
        {
            "name": "Lab",
            "projects": ["P1", "P2"],
            "tax_percent": 20,
            "policies": [
                {
                    "limit": "40",
                    "actions": [
                        {"kind": "notify_organization_owners", "percent": 80},
                        {"kind": "block_creation", "percent": 100},
                    ],
                }
            ],
        },
    ],
    "offerings": [
        {
            "name": "Cluster",
            "provider": "Provider",
            "usage": {"cpu": [100, 1000]},
            "limits": {"storage": [10, 50]},
            "components": [
                {"type": "cpu", "billing_type": "usage"},
                {
                    "type": "storage",
                    "billing_type": "limit",
                    "min_value": 1,
                    "max_value": 100,
                },
                {"type": "node", "billing_type": "fixed"},
            ],
            "plans": [
                {
                    "name": "Standard",
                    "unit": "month",
                    "prices": {"cpu": "0.02", "storage": "0.10", "node": 5},
                }
            ],
        }
    ],
}


def small() -> dict[str, Any]:
    """A fresh copy of :data:`SMALL` to change."""
    return copy.deepcopy(SMALL)
