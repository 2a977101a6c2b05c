"""Capture: the plugin API, discovery and the worker pattern."""

from .api import CaptureHandle, CapturePlugin, CaptureStatus, Check, Option, Sink, Target, TargetKind, resolve_options
from .registry import GROUP, PluginEntry, PluginRegistry, default_registry
from .worker import Cancelled, Job, LatestOnly

__all__ = [
    "GROUP",
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
    "resolve_options",
]
