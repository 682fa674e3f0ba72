"""Chat attachments: a message's upload ids resolved to what clients render (checked against D1)."""

from __future__ import annotations

from typing import Any

from app.chat.protocol import ProtocolError

__all__ = ["resolve_attachments"]


async def resolve_attachments(
    env: Any, user: str, ids: tuple[str, ...]
) -> tuple[dict[str, Any], ...]:
    """``[{id, name, kind, content_type, size, width, height, url, preview, full}]`` in ``ids`` order.

    Each id must be a finished, public upload of ``user`` (a private file's signed links expire,
    so it cannot live in a message); anything else raises ``ProtocolError("bad_attachment")``.
    """
    marks = ", ".join("?" for _ in ids)
    rows = (
        await env.DB.prepare(
            "SELECT id, owner, name, kind, content_type, size, width, height, variants, private, state"
            f" FROM uploads WHERE id IN ({marks})"
        )
        .bind(*ids)
        .all()
    )["results"]
    found = {row["id"]: row for row in rows}
    resolved = []
    for file_id in ids:
        row = found.get(file_id)
        if row is None or row["state"] != "ready" or row["owner"] != user:
            raise ProtocolError("bad_attachment", f"{file_id} is not one of your uploads")
        if row["private"]:
            raise ProtocolError("bad_attachment", f"{file_id} is private and cannot be attached")
        variants = [v for v in str(row["variants"] or "").split(",") if v]
        resolved.append(
            {
                "id": file_id,
                "name": row["name"],
                "kind": row["kind"],
                "content_type": row["content_type"],
                "size": row["size"],
                "width": row["width"],
                "height": row["height"],
                "url": f"/files/{file_id}",
                "preview": f"/files/{file_id}/256" if "256" in variants else None,
                "full": f"/files/{file_id}/1024" if "1024" in variants else None,
            }
        )
    return tuple(resolved)
