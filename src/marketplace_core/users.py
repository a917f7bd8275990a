"""Users: the people (and system robots) that act on the marketplace."""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.frozen
class User:
    """A person who acts on the marketplace.

    ``is_staff`` marks platform operators: the default authorizer grants them every
    permission, and their orders skip the consumer review. Usernames are unique.
    """

    id: str
    username: str
    created_at: datetime
    full_name: str = ""
    email: str = ""
    is_staff: bool = False
    version: int = 0
