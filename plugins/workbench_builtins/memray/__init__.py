"""memray: live Python memory by PID (attach, snapshots, growing sites) via memray's own machinery."""

from .plugin import MemrayPlugin

plugin = MemrayPlugin()

__all__ = ["MemrayPlugin", "plugin"]
