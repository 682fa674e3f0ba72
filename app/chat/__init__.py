"""Chat rules, sans-I/O: protocol parsing, the ordered stream, presence, typing, rate limits.

Nothing here awaits, reads a clock or touches a socket: time comes in as arguments. The
``ChatRoom`` Durable Object is the glue that stores, sends and schedules.
"""
