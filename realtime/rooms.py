"""Socket.io room names. `crm` uses these and `realtime.publish`, nothing else of realtime."""


def org_room(org_id: int) -> str:
    return f"org:{org_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def session_room(session_id: str) -> str:
    return f"sess:{session_id}"


def org_user_room(org_id: int, user_id: int) -> str:
    """One user's sockets that joined one org: where events for named users of that org go."""
    return f"org:{org_id}:user:{user_id}"
