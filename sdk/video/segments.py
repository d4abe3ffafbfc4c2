"""The finished part of a run: segment files and a manifest beside the output.

``OUT.mp4.parts/`` holds ``seg-00000.mp4``, ``seg-00001.mp4`` … (each a complete, playable video
of consecutive frames) and ``manifest.json``, rewritten atomically after every finished segment.
A file not listed in the manifest is an unfinished segment and is removed on resume. With a
temporal blend, ``seg-NNNNN.state.npz`` holds the blend's state after that segment's last frame,
so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from restyle.errors import ConfigError, OutputError
from restyle.paths import atomic_output

__all__ = ["PartsStore", "Segment", "parts_dir", "source_identity"]

log = logging.getLogger("restyle.video")

_VERSION = 1


def parts_dir(dst: Path) -> Path:
    """Where the segments of ``dst`` are kept while it is being made."""
    return dst.with_name(dst.name + ".parts")


@dataclass(frozen=True)
class Segment:
    """One finished segment: ``frames`` frames starting at source frame ``first``."""

    file: str
    first: int
    frames: int


class PartsStore:
    """Segments and manifest of one output.

    Args:
        dst: The final output file.
        job: What must match for a resume (source identity, encode settings, model …).
        resume: Continue a matching earlier run instead of refusing to touch it.

    Raises:
        ConfigError: Earlier parts exist and ``resume`` is false, or they were made by another job.
        OutputError: The parts folder cannot be written.
    """

    def __init__(self, dst: Path, *, job: dict[str, Any], resume: bool) -> None:
        self.dst = dst
        self.dir = parts_dir(dst)
        self.job = json.loads(json.dumps(job))  # as it reads back from the manifest
        self.segments: list[Segment] = []
        manifest = self.dir / "manifest.json"
        if self.dir.exists() and not resume and self._finished_frames(manifest):
            raise ConfigError(
                f"{self.dir} holds the finished part of an interrupted run: add --resume "
                "(resume=True) to continue it, or delete that folder to start over"
            )
        if resume and manifest.exists():
            try:
                data = json.loads(manifest.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{manifest} cannot be read ({exc}): delete {self.dir} to "
                                  "start over") from exc
            if not isinstance(data, dict):
                raise ConfigError(f"{manifest} is damaged (not a JSON object): delete {self.dir} "
                                  "to start over")
            if data.get("version") != _VERSION or data.get("job") != self.job:
                raise ConfigError(
                    f"{self.dir} was made from another source or with other settings: run with "
                    "the same settings to resume, or delete that folder to start over"
                )
            self.segments = _read_segments(data.get("segments"), manifest, dst.suffix)
            for s in self.segments:
                if not (self.dir / s.file).is_file():
                    raise ConfigError(f"{self.dir / s.file} is missing: delete {self.dir} to "
                                      "start over")
            log.info("resuming %s after %d finished frames", dst, self.done)
        elif resume:
            log.info("nothing to resume for %s: starting from the beginning", dst)
        listed = {Path(s.file).stem for s in self.segments}
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            for stray in self.dir.glob("seg-*"):
                if stray.name.split(".")[0] not in listed:
                    stray.unlink()  # unfinished segment of a killed run
        except OSError as exc:
            raise OutputError(f"cannot write {self.dir}: {exc.strerror or exc}; choose a "
                              "writable output folder") from exc
        self._next = len(self.segments)
        self._save()

    @staticmethod
    def _finished_frames(manifest: Path) -> int:
        try:
            data = json.loads(manifest.read_text())
            return sum(int(s["frames"]) for s in data["segments"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    @property
    def done(self) -> int:
        """Frames finished by earlier runs and this one."""
        return sum(s.frames for s in self.segments)

    @property
    def paths(self) -> list[Path]:
        """The finished segment files in order."""
        return [self.dir / s.file for s in self.segments]

    def next_path(self) -> Path:
        """The file for the next segment."""
        path = self.dir / f"seg-{self._next:05d}{self.dst.suffix}"
        self._next += 1
        return path

    def add(self, path: Path, first: int, frames: int,
            state: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Record a finished segment (and the temporal blend state after its last frame)."""
        if first != self.done:
            raise OutputError(f"segment {path.name} starts at frame {first}, expected "
                              f"{self.done}: delete {self.dir} and run again")
        if state is not None:
            with atomic_output(self._state_path(path.name)) as tmp, tmp.open("wb") as f:
                np.savez(f, prev_in=state[0], prev_out=state[1])
        self.segments.append(Segment(file=path.name, first=first, frames=frames))
        self._save()

    def temporal_state(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The blend state saved with the last finished segment, if any."""
        if not self.segments:
            return None
        path = self._state_path(self.segments[-1].file)
        if not path.exists():
            return None
        with np.load(path) as data:
            return data["prev_in"], data["prev_out"]

    def _state_path(self, segment_file: str) -> Path:
        return self.dir / f"{Path(segment_file).stem}.state.npz"

    def _save(self) -> None:
        data = {"version": _VERSION, "job": self.job,
                "segments": [asdict(s) for s in self.segments]}
        with atomic_output(self.dir / "manifest.json") as tmp:
            tmp.write_text(json.dumps(data, indent=1))

    def remove(self) -> None:
        """Delete the parts folder (after the final output is in place)."""
        shutil.rmtree(self.dir, ignore_errors=False)


_SEGMENT_NAME = re.compile(r"^seg-\d{5}\.[A-Za-z0-9]+$")


def _read_segments(raw: object, manifest: Path, suffix: str) -> list[Segment]:
    """The manifest's segment list, checked: plain ``seg-NNNNN`` file names inside the parts
    folder (never a path elsewhere) and consecutive frame ranges.

    Raises:
        ConfigError: Naming what is wrong; the fix is to delete the parts folder.
    """
    def damaged(why: str) -> ConfigError:
        return ConfigError(f"{manifest} is damaged ({why}): delete {manifest.parent} to start "
                           "over")

    if not isinstance(raw, list):
        raise damaged("no segment list")
    segments: list[Segment] = []
    for entry in raw:
        if not isinstance(entry, dict) or set(entry) != {"file", "first", "frames"}:
            raise damaged(f"segment entry {entry!r} needs exactly file, first and frames")
        name, first, frames = entry["file"], entry["first"], entry["frames"]
        if not isinstance(name, str) or not _SEGMENT_NAME.match(name) \
                or not name.endswith(suffix):
            raise damaged(f"segment file {name!r} is not a seg-NNNNN{suffix} name in the folder")
        done = sum(s.frames for s in segments)
        if (not isinstance(first, int) or isinstance(first, bool) or first != done
                or not isinstance(frames, int) or isinstance(frames, bool) or frames < 1):
            raise damaged(f"segment {name} has frames {first!r}+{frames!r}, expected to start "
                          f"at {done}")
        segments.append(Segment(file=name, first=first, frames=frames))
    return segments


def source_identity(path: Path) -> dict[str, Any]:
    """What identifies a source file for a resume: absolute path, size and modification time."""
    st = os.stat(path)
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
