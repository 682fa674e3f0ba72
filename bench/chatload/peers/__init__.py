"""Peer servers written for comparison, each run by the harness as its own process.

* :mod:`.raw`: a minimal broadcast server on the ``websockets`` library (no sign-in, no storage,
  no presence): the ceiling of a Python WebSocket server.
* :mod:`.sio`: a python-socketio room server under uvicorn: what a Python developer would pick.
* :mod:`.bare_asgi`: the raw peer's protocol as a bare ASGI app on uvicorn: uvicorn's own cost
  (only when asked for: ``--servers uvicorn``).
"""
