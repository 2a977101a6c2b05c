"""Addresses of exported functions in a running process, from /proc/PID/maps and ELF .dynsym.

gdb would find them too, but reading libpython's debug information keeps the target
stopped for hundreds of milliseconds; with the addresses in hand gdb loads no symbols
at all. Only the dynamic symbol table is read (it is what the dynamic linker uses, so
it exists even in stripped builds). Any surprise returns None and the caller falls
back to gdb's own symbol lookup.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass

PYTHON_FUNCS = (
    "PyEval_SaveThread",
    "PyGILState_Ensure",
    "PyGILState_Release",
    "PyRun_SimpleString",
    "PyErr_Fetch",
    "PyErr_Restore",
    "PyGILState_Check",
    "PyGILState_GetThisThreadState",
)
LIBC_FUNCS = ("mmap", "munmap")
_LIBPYTHON = re.compile(r"/libpython3\.\d+[a-z]*\.so")
_LIBC = re.compile(r"/libc(\.so\.6|-[\d.]+\.so)$")
_SHT_DYNSYM = 11
_MAX_SYMBOLS = 200_000


@dataclass(frozen=True, slots=True)
class _Mapping:
    start: int
    end: int
    perms: str
    offset: int
    path: str


def _maps(pid: int) -> list[_Mapping]:
    out = []
    with open(f"/proc/{pid}/maps") as fh:
        for line in fh:
            parts = line.split(maxsplit=5)
            if len(parts) < 6:
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            out.append(_Mapping(lo, hi, parts[1], int(parts[2], 16), parts[5].strip()))
    return out


def _dynsym(path: str, wanted: set[str]) -> tuple[int, int, dict[str, int]] | None:
    """(e_type, lowest PT_LOAD vaddr, {name: st_value}) for the wanted defined symbols."""
    with open(path, "rb") as fh:
        head = fh.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None  # only 64-bit little-endian
        e_type = struct.unpack_from("<H", head, 16)[0]
        e_phoff, e_shoff = struct.unpack_from("<QQ", head, 32)
        e_phentsize, e_phnum, e_shentsize, e_shnum = struct.unpack_from("<HHHH", head, 54)
        fh.seek(e_phoff)
        ph = fh.read(e_phentsize * e_phnum)
        vaddrs = [
            struct.unpack_from("<Q", ph, i * e_phentsize + 16)[0]
            for i in range(e_phnum)
            if struct.unpack_from("<I", ph, i * e_phentsize)[0] == 1  # PT_LOAD
        ]
        if not vaddrs or e_shnum == 0 or e_shentsize != 64:
            return None
        fh.seek(e_shoff)
        sh = fh.read(e_shentsize * e_shnum)
        sections = [struct.unpack_from("<IIQQQQIIQQ", sh, i * 64) for i in range(e_shnum)]
        for sec in sections:
            if sec[1] != _SHT_DYNSYM:
                continue
            _, _, _, _, off, size, link, _, _, entsize = sec
            if entsize != 24 or link >= len(sections) or size // 24 > _MAX_SYMBOLS:
                return None
            str_off, str_size = sections[link][4], sections[link][5]
            fh.seek(str_off)
            strtab = fh.read(str_size)
            fh.seek(off)
            syms = fh.read(size)
            found: dict[str, int] = {}
            for i in range(size // 24):
                st_name, _info, _other, shndx, value, _sz = struct.unpack_from("<IBBHQQ", syms, i * 24)
                if shndx == 0 or value == 0:
                    continue
                end = strtab.find(b"\0", st_name)
                name = strtab[st_name:end].decode("ascii", "replace")
                # versioned libc names (mmap@@GLIBC_2.2.5) are plain in .dynsym
                if name in wanted:
                    found[name] = value
            return e_type, min(vaddrs) & ~0xFFF, found
    return None


def _resolve_in(pid: int, maps: list[_Mapping], path: str, names: tuple[str, ...]) -> dict[str, int] | None:
    own = [m for m in maps if m.path == path]
    if not own:
        return None
    host_path = f"/proc/{pid}/root{path}"
    parsed = _dynsym(host_path if os.path.exists(host_path) else path, set(names))
    if parsed is None:
        return None
    e_type, low_vaddr, found = parsed
    if set(found) != set(names):
        return None
    base = min(m.start - m.offset for m in own)
    bias = base - low_vaddr if e_type == 3 else 0  # ET_DYN is relocated; ET_EXEC is not
    out = {n: bias + v for n, v in found.items()}
    for addr in out.values():  # every address must land in an executable mapping of this file
        if not any(m.start <= addr < m.end and "x" in m.perms for m in own):
            return None
    return out


def resolve(
    pid: int, python_funcs: tuple[str, ...] = PYTHON_FUNCS, libc_funcs: tuple[str, ...] = LIBC_FUNCS
) -> dict[str, int] | None:
    """{function: address} for the injection, or None when anything does not add up.

    The files are read through /proc/PID/root, so a containerised target's libraries are
    found although the host has no file at their paths. Stdlib only: the memray helper
    loads this file too (for ``dlopen``, ``dlsym``... in a container).
    """
    try:
        maps = _maps(pid)
        paths = {m.path for m in maps if m.path.startswith("/")}
        py = next((p for p in paths if _LIBPYTHON.search(p)), None)
        if py is None:
            exe = os.readlink(f"/proc/{pid}/exe")
            py = exe if exe in paths else None
        libc = next((p for p in paths if _LIBC.search(p)), None)
        if py is None or libc is None:
            return None
        a = _resolve_in(pid, maps, py, python_funcs)
        b = _resolve_in(pid, maps, libc, libc_funcs)
    except (OSError, ValueError, struct.error):
        return None
    if a is None or b is None:
        return None
    return a | b
