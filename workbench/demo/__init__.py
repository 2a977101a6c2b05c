"""The bundled demo service a first-time user can profile (``python -m workbench.demo``).

Its shape mirrors what the workbench is for: a CPU hotspot, a dict that grows for
ever (``SessionStore._sessions``), a bytearray that grows (``AuditLog._buffer``), a
bounded LRU that plateaus (``PriceCache``), a small sqlite connection pool, and a load
generator that keeps all of it busy. ``launch.start_demo()`` runs it as a child.
"""
