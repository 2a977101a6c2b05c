"""Node.js inspector: CPU and heap sampling profiles and heap series over the V8 inspector (CDP).

Registered as the ``inspector`` entry point (``workbench_builtins.inspector:plugin``).
"""

from .plugin import InspectorPlugin

plugin = InspectorPlugin()

__all__ = ["InspectorPlugin", "plugin"]
