"""The JSON type a field's name makes certain, shared by the drafting schemas (draft) and the naming rules (naming)."""

from __future__ import annotations

from typing import Any


def field_type(name: str) -> dict[str, Any] | None:
    """The JSON type a field's name makes certain (`start_date` is a date string, `max_results` an integer), or None."""
    parts = name.split("_")
    last = parts[-1]
    if last in ("date", "day", "birthday") or name in ("date",):
        return {"type": "string", "format": "date"}
    if last == "at" or last in ("time", "datetime", "timestamp"):
        return {"type": "string"}
    if last in ("id", "code", "name", "title", "description", "text", "url", "email", "query", "language", "units",
                "message", "status", "by"):
        return {"type": "string"}
    if last in ("count", "limit", "page", "quantity", "year", "results", "total", "number") and parts[0] in (
            "max", "min", "page", "limit", "total", "count", "year", "quantity", "number") or name in (
            "limit", "page", "total", "count", "quantity", "year"):
        return {"type": "integer"}
    if last in ("type", "category", "kind", "mode", "format", "genre"):
        return {"type": "string"}  # a 135M model made `activity_type` an integer
    if last in ("price", "amount", "rate", "latitude", "longitude", "score", "percent", "distance", "yield"):
        return {"type": "number"}
    if parts[0] in ("include", "is", "has", "only"):
        return {"type": "boolean"}
    return None
