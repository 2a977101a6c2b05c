"""`make dist`: wheel + sdist, a PyInstaller one-folder build, its tarball and a .deb.

Reproducible from a clean clone with one command: everything is derived from
pyproject.toml (name, version) and SOURCE_DATE_EPOCH (the last commit's time when unset)
pins timestamps in the archives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
BUILD = ROOT / "build"
PY = sys.executable
TOOLS = ["pyinstaller==6.22.3", "build==1.6.1"]
DEB_DEPENDS = [
    "gdb",  # memray attach and the runtime agent inject through gdb
    "libegl1",
    "libgl1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    # Qt's xcb platform plugin (>= 6.5 also needs xcb-cursor)
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-image0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-xkb1",
    "libfontconfig1",
    "libdbus-1-3",
    "libglib2.0-0",
]


def sh(*cmd: str, **kw: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


def project() -> tuple[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return meta["name"], meta["version"]


def source_date_epoch() -> int:
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True, check=True)
        return int(out.stdout.strip())
    except (subprocess.CalledProcessError, ValueError, FileNotFoundError):
        return 0


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _reset(info: tarfile.TarInfo, epoch: int) -> tarfile.TarInfo:
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def make_tarball(src: Path, out: Path, arcname: str, epoch: int) -> None:
    with tarfile.open(out, "w:gz", compresslevel=9) as tar:
        for path in sorted([src, *src.rglob("*")]):
            rel = path.relative_to(src)
            name = arcname if str(rel) == "." else f"{arcname}/{rel}"
            info = tar.gettarinfo(str(path), arcname=name)
            info = _reset(info, epoch)
            if path.is_file() and not path.is_symlink():
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)


def make_deb(onedir: Path, name: str, version: str, epoch: int) -> Path:
    stage = BUILD / "deb" / name
    shutil.rmtree(stage, ignore_errors=True)
    opt = stage / "opt" / name
    shutil.copytree(onedir, opt, symlinks=True)
    (stage / "usr" / "bin").mkdir(parents=True)
    os.symlink(f"/opt/{name}/workbench", stage / "usr" / "bin" / "workbench")
    apps = stage / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy(ROOT / "packaging" / "linux" / "profiling-workbench.desktop", apps)
    icons = stage / "usr" / "share" / "icons" / "hicolor" / "scalable" / "apps"
    icons.mkdir(parents=True)
    shutil.copy(ROOT / "resources" / "icons" / "profiling-workbench.svg", icons)
    debian = stage / "DEBIAN"
    debian.mkdir()
    installed_kb = du(stage) // 1024
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    (debian / "control").write_text(
        f"Package: {name}\n"
        f"Version: {version}\n"
        "Section: devel\n"
        "Priority: optional\n"
        f"Architecture: {arch}\n"
        f"Depends: {', '.join(DEB_DEPENDS)}\n"
        f"Installed-Size: {installed_kb}\n"
        "Maintainer: Profiling Workbench developers <dev@workbench.invalid>\n"
        "Description: live profiler for running services\n"
        " CPU flame graphs (py-spy, pprof), memory (memray), GC, connection pools and\n"
        " leak detection for Python and Go services, with a headless CLI.\n"
    )
    for p in [stage, *stage.rglob("*")]:
        if not p.is_symlink():
            os.utime(p, (epoch, epoch))
    out = DIST / f"{name}_{version}_{arch}.deb"
    sh("dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", str(stage), str(out))
    return out


def main() -> int:
    name, version = project()
    epoch = source_date_epoch()
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    os.environ["PYTHONHASHSEED"] = "0"
    sh(PY, "-m", "pip", "install", "-q", *TOOLS)
    shutil.rmtree(DIST, ignore_errors=True)
    DIST.mkdir()
    sh(PY, "-m", "build", "--wheel", "--sdist", "--outdir", str(DIST), ".")
    sh(
        PY, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
        "--distpath", str(BUILD / "pyinstaller-dist"), "--workpath", str(BUILD / "pyinstaller"),
        str(ROOT / "packaging" / "workbench.spec"),
    )  # fmt: skip
    onedir = BUILD / "pyinstaller-dist" / "workbench"
    tarball = DIST / f"{name}-{version}-linux-{os.uname().machine}.tar.gz"
    make_tarball(onedir, tarball, f"{name}-{version}", epoch)
    deb = make_deb(onedir, name, version, epoch)
    print(f"\nonedir   {du(onedir) / 1e6:8.1f} MB  {onedir}")
    for f in sorted(DIST.iterdir()):
        print(f"{f.name:60s} {f.stat().st_size / 1e6:8.1f} MB")
    print(f"deb: {deb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
