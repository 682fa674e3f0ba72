"""Durable Object classes: glue between the sans-I/O rules in ``app.chat`` and storage, sockets, alarms."""
