"""Allocates far beyond its memory, 64 MB at a time."""


def handle(data):
    kept = []
    for _ in range(data.get("chunks", 1000)):
        kept.append(bytearray(64 * 1024 * 1024))
    return {"allocated_mb": 64 * len(kept)}
