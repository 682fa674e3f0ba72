"""The public surface of primitives: sorted, complete, importable."""

from __future__ import annotations

import primitives


def test_all_is_sorted_and_importable() -> None:
    names = [n for n in primitives.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in primitives.__all__:
        assert hasattr(primitives, name), name


def test_workers_sdk_names_are_exported() -> None:
    for name in (
        "Request",
        "Response",
        "Headers",
        "WorkerEntrypoint",
        "WebSocketPair",
        "FormData",
        "File",
    ):
        assert name in primitives.__all__
