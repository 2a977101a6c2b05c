"""pprof's ``profile.proto`` message classes, built at import time (no generated code).

The descriptor below mirrors google/pprof ``proto/profile.proto`` (package
``perftools.profiles``, proto3) field for field, by number and type, so the
protobuf runtime (upb backend) does the wire decoding and encoding in C. Building it
here instead of committing ``protoc`` output keeps the schema reviewable in one place
and ties us to no protoc version.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_OPT = _F.LABEL_OPTIONAL
_REP = _F.LABEL_REPEATED
_I64 = _F.TYPE_INT64
_U64 = _F.TYPE_UINT64
_BOOL = _F.TYPE_BOOL
_STR = _F.TYPE_STRING
_MSG = _F.TYPE_MESSAGE

PACKAGE = "perftools.profiles"

# message -> [(field name, number, label, type, message type name or "")]
_SCHEMA: dict[str, list[tuple[str, int, int, int, str]]] = {
    "Profile": [
        ("sample_type", 1, _REP, _MSG, "ValueType"),
        ("sample", 2, _REP, _MSG, "Sample"),
        ("mapping", 3, _REP, _MSG, "Mapping"),
        ("location", 4, _REP, _MSG, "Location"),
        ("function", 5, _REP, _MSG, "Function"),
        ("string_table", 6, _REP, _STR, ""),
        ("drop_frames", 7, _OPT, _I64, ""),
        ("keep_frames", 8, _OPT, _I64, ""),
        ("time_nanos", 9, _OPT, _I64, ""),
        ("duration_nanos", 10, _OPT, _I64, ""),
        ("period_type", 11, _OPT, _MSG, "ValueType"),
        ("period", 12, _OPT, _I64, ""),
        ("comment", 13, _REP, _I64, ""),
        ("default_sample_type", 14, _OPT, _I64, ""),
        ("doc_url", 15, _OPT, _I64, ""),
    ],
    "ValueType": [
        ("type", 1, _OPT, _I64, ""),
        ("unit", 2, _OPT, _I64, ""),
    ],
    "Sample": [
        ("location_id", 1, _REP, _U64, ""),
        ("value", 2, _REP, _I64, ""),
        ("label", 3, _REP, _MSG, "Label"),
    ],
    "Label": [
        ("key", 1, _OPT, _I64, ""),
        ("str", 2, _OPT, _I64, ""),
        ("num", 3, _OPT, _I64, ""),
        ("num_unit", 4, _OPT, _I64, ""),
    ],
    "Mapping": [
        ("id", 1, _OPT, _U64, ""),
        ("memory_start", 2, _OPT, _U64, ""),
        ("memory_limit", 3, _OPT, _U64, ""),
        ("file_offset", 4, _OPT, _U64, ""),
        ("filename", 5, _OPT, _I64, ""),
        ("build_id", 6, _OPT, _I64, ""),
        ("has_functions", 7, _OPT, _BOOL, ""),
        ("has_filenames", 8, _OPT, _BOOL, ""),
        ("has_line_numbers", 9, _OPT, _BOOL, ""),
        ("has_inline_frames", 10, _OPT, _BOOL, ""),
    ],
    "Location": [
        ("id", 1, _OPT, _U64, ""),
        ("mapping_id", 2, _OPT, _U64, ""),
        ("address", 3, _OPT, _U64, ""),
        ("line", 4, _REP, _MSG, "Line"),
        ("is_folded", 5, _OPT, _BOOL, ""),
    ],
    "Line": [
        ("function_id", 1, _OPT, _U64, ""),
        ("line", 2, _OPT, _I64, ""),
        ("column", 3, _OPT, _I64, ""),
    ],
    "Function": [
        ("id", 1, _OPT, _U64, ""),
        ("name", 2, _OPT, _I64, ""),
        ("system_name", 3, _OPT, _I64, ""),
        ("filename", 4, _OPT, _I64, ""),
        ("start_line", 5, _OPT, _I64, ""),
    ],
}


# The wire view: the same Profile with its bulky repeated fields seen as raw bytes.
# Length-delimited messages and strings are bytes on the wire, so this parses any
# valid pprof; upb splits the top level in C and the small messages are decoded in
# bulk by ``_protowire`` (per-message Python access through upb costs microseconds
# each). Strings as bytes also let invalid UTF-8 in names degrade to U+FFFD instead
# of failing the whole file.
_WIRE_AS_BYTES = ("sample", "location", "function", "string_table")
WIRE_PACKAGE = "workbench.pprofwire"


def _file_descriptor(wire_view: bool = False) -> descriptor_pb2.FileDescriptorProto:
    package = WIRE_PACKAGE if wire_view else PACKAGE
    fd = descriptor_pb2.FileDescriptorProto(
        # a private file name: never clashes with a generated profile.proto another library registered
        name=f"workbench/{package}/profile.proto",
        package=package,
        syntax="proto3",
    )
    for msg_name, fields in _SCHEMA.items():
        msg = fd.message_type.add(name=msg_name)
        for name, number, label, ftype, type_name in fields:
            if wire_view and msg_name == "Profile" and name in _WIRE_AS_BYTES:
                msg.field.add(name=name, number=number, label=label, type=_F.TYPE_BYTES)
                continue
            f = msg.field.add(name=name, number=number, label=label, type=ftype)
            if type_name:
                f.type_name = f".{package}.{type_name}"
    return fd


# A private pool: the default pool may already hold perftools.profiles from another library.
_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file_descriptor())
_POOL.Add(_file_descriptor(wire_view=True))


def _cls(name: str, package: str = PACKAGE) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{package}.{name}"))


ProfileMsg: Any = _cls("Profile")
ValueTypeMsg: Any = _cls("ValueType")
SampleMsg: Any = _cls("Sample")
LabelMsg: Any = _cls("Label")
MappingMsg: Any = _cls("Mapping")
LocationMsg: Any = _cls("Location")
LineMsg: Any = _cls("Line")
FunctionMsg: Any = _cls("Function")

# Profile with sample/location/function/string_table as ``repeated bytes``.
ProfileWireMsg: Any = _cls("Profile", WIRE_PACKAGE)
