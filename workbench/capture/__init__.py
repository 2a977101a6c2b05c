"""Capture: the plugin API, discovery and the worker pattern."""

from .api import (
    Action,
    CaptureHandle,
    CapturePlugin,
    CaptureStatus,
    Check,
    Option,
    Sink,
    Target,
    TargetKind,
    plugin_actions,
    resolve_options,
    run_action,
)
from .registry import GROUP, PluginEntry, PluginRegistry, default_registry
from .worker import Cancelled, Job, LatestOnly

__all__ = [
    "GROUP",
    "Action",
    "CaptureHandle",
    "CapturePlugin",
    "CaptureStatus",
    "Cancelled",
    "Check",
    "Job",
    "LatestOnly",
    "Option",
    "PluginEntry",
    "PluginRegistry",
    "Sink",
    "Target",
    "TargetKind",
    "default_registry",
    "plugin_actions",
    "resolve_options",
    "run_action",
]
