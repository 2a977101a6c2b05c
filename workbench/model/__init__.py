"""The Qt-free data model: frames, profiles, series, findings and the session."""

from typing import TYPE_CHECKING, Any

from .frames import FRAMES_OVERFLOW, NODES_OVERFLOW, TRUNCATED_STACK, Frame, FrameTable, Runtime, package_of
from .keys import PROFILE_KINDS, ProfileKey
from .profile import (
    ALLOC_OBJECTS,
    ALLOC_SPACE,
    CPU_NS,
    GOROUTINES,
    INUSE_OBJECTS,
    INUSE_SPACE,
    SAMPLES,
    WALL_NS,
    Profile,
    ProfileBatch,
    ProfileLimits,
    SampleType,
    StackSet,
    TimeSlice,
    merge_profiles,
    profile_from_stacks,
    stackset_from_lists,
)

if TYPE_CHECKING:
    from .findings import CENSUS_SOURCE, Finding
    from .series import RingSeries, SeriesPoint
    from .session import Batch, EventBatch, EventKind, FindingsBatch, SeriesBatch, Session

# Series, findings and the session (threading, locks) load on first use (PEP 562): a file
# conversion (``workbench convert``/``info``) needs profiles only, and pays for no more.
_LAZY = {
    "CENSUS_SOURCE": "findings",
    "Finding": "findings",
    "RingSeries": "series",
    "SeriesPoint": "series",
    "Batch": "session",
    "EventBatch": "session",
    "EventKind": "session",
    "FindingsBatch": "session",
    "SeriesBatch": "session",
    "Session": "session",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


__all__ = [
    "CENSUS_SOURCE",
    "ALLOC_OBJECTS",
    "ALLOC_SPACE",
    "CPU_NS",
    "FRAMES_OVERFLOW",
    "GOROUTINES",
    "INUSE_OBJECTS",
    "INUSE_SPACE",
    "NODES_OVERFLOW",
    "SAMPLES",
    "TRUNCATED_STACK",
    "WALL_NS",
    "Batch",
    "EventBatch",
    "EventKind",
    "Finding",
    "FindingsBatch",
    "Frame",
    "FrameTable",
    "Profile",
    "PROFILE_KINDS",
    "ProfileBatch",
    "ProfileKey",
    "ProfileLimits",
    "RingSeries",
    "Runtime",
    "SampleType",
    "SeriesBatch",
    "SeriesPoint",
    "Session",
    "StackSet",
    "TimeSlice",
    "merge_profiles",
    "package_of",
    "profile_from_stacks",
    "stackset_from_lists",
]
