"""Chat load harness (issue 11): edgeroom against two peer servers, side by side, in one run.

``python -m bench.chatload --quick`` (part of ``make bench``) or ``--full`` (``make bench-full``);
see docs/benchmarks.md. Modules: :mod:`.payload` and :mod:`.stats` (pure), :mod:`.adapters`
(one per server protocol), :mod:`.client` and :mod:`.worker` (the load processes),
:mod:`.orchestrator`, :mod:`.servers` and :mod:`.scenarios` (the run), :mod:`.results` and
:mod:`.plots` (what it writes), :mod:`.peers` (the servers compared with).
"""
