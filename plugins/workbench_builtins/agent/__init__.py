"""Python runtime agent: injected into a running CPython on explicit consent.

``inject`` gets ``in_target/agent.py`` running in the target (gdb for 3.9-3.13,
``sys.remote_exec`` for 3.14+); ``client`` talks to it over loopback with a token;
``reports`` turns its GC, container-census and pool reports into session batches;
``plugin`` ties them into the capture API as the ``agent`` source.
"""

from .capture import AgentHandle
from .plugin import AgentPlugin, plugin

__all__ = ["AgentHandle", "AgentPlugin", "plugin"]
