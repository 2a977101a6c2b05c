"""The Qt-free data model: frames, profiles, series, findings and the session."""

from .findings import CENSUS_SOURCE, Finding
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
from .series import RingSeries, SeriesPoint
from .session import Batch, EventBatch, FindingsBatch, SeriesBatch, Session

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
