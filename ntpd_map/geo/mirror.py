"""Where the upstream boundary dumps come from: local mirror folders first, then GitHub at pinned commits.

A relative path names a file inside one upstream repository, prefixed by the repository's folder name,
exactly as the offline mirror lays them out: ``wilayah_boundaries/db/kec/wilayah_boundaries_kec_53.sql``,
``wilayah/db/wilayah.sql``. The same path is looked up in each search folder in order, then in the download
cache, then downloaded from raw.githubusercontent.com at the pinned commit and cached.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Upstream:
    """One upstream repository, pinned to a commit so every build reads the same data."""

    folder: str
    repo: str
    commit: str
    license_path: str = "LICENSE"

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repo}/tree/{self.commit}"


BOUNDARIES_COMMIT = "3c5a7960f4d227a38489094d84252bdbb3f978a5"
WILAYAH_COMMIT = "b7ad440a1322e7be3189a16a8cac35f7d4c3d7f7"
BOUNDARIES = Upstream("wilayah_boundaries", "cahyadsn/wilayah_boundaries", BOUNDARIES_COMMIT)
WILAYAH = Upstream("wilayah", "cahyadsn/wilayah", WILAYAH_COMMIT)
UPSTREAMS: dict[str, Upstream] = {u.folder: u for u in (BOUNDARIES, WILAYAH)}
RAW_BASE_URL = "https://raw.githubusercontent.com"
DEFAULT_TIMEOUT_S = 15.0
MIRROR_ENV = "NTPD_MIRROR_DIR"


class MirrorNotFound(FileNotFoundError):
    """An upstream file is in none of the mirror folders, not cached, and could not be downloaded."""


def how_to_get_mirror() -> str:
    """The instructions every MirrorNotFound ends with."""
    clones = "; ".join(
        f"git clone https://github.com/{u.repo} {u.folder} && git -C {u.folder} checkout {u.commit}"
        for u in UPSTREAMS.values()
    )
    return (
        f"To work offline, clone the upstream repositories at the pinned commits into one folder "
        f"(cd /some/mirror; {clones}) and set {MIRROR_ENV}=/some/mirror; "
        f"or allow downloads (NTPD_ALLOW_DOWNLOAD=1) on a machine with internet."
    )


def upstream_for(relpath: str) -> tuple[Upstream, str]:
    """The repository a relative path belongs to, and the path inside that repository."""
    parts = PurePosixPath(relpath).parts
    if len(parts) < 2 or parts[0] not in UPSTREAMS or ".." in parts or PurePosixPath(relpath).is_absolute():
        known = ", ".join(f"{k}/..." for k in UPSTREAMS)
        raise ValueError(f"{relpath!r} is not an upstream path; it must start with one of {known}")
    return UPSTREAMS[parts[0]], "/".join(parts[1:])


def default_search_dirs(project_root: Path, mirror_dir: str | Path | None = None) -> list[Path]:
    """The lookup order the app uses: the configured mirror, <project>/data/mirror, ../shared/data."""
    dirs = [Path(mirror_dir)] if mirror_dir else []
    return [*dirs, project_root / "data" / "mirror", project_root.parent / "shared" / "data"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class DataSource:
    """Finds upstream files: ``search_dirs`` in order, then ``cache_dir``, then a download (if allowed)."""

    search_dirs: Sequence[str | Path] = ()
    cache_dir: str | Path | None = None
    allow_download: bool = True
    base_url: str | None = None  # None: RAW_BASE_URL, read when used (tests point it at a local server)
    timeout: float = DEFAULT_TIMEOUT_S
    # Where each file read so far was found; the region cache records it to notice a changed source.
    used: dict[str, Path] = field(default_factory=dict)

    def cached_path(self, relpath: str) -> Path | None:
        """Where a download of ``relpath`` is kept; the commit is in the path, so a new pin refetches."""
        if self.cache_dir is None:
            return None
        upstream, inner = upstream_for(relpath)
        return Path(self.cache_dir) / "downloads" / f"{upstream.folder}@{upstream.commit}" / inner

    def locate(self, relpath: str) -> Path | None:
        """The local file for ``relpath`` (mirror folders, then the download cache), without downloading."""
        upstream_for(relpath)
        for folder in self.search_dirs:
            candidate = Path(folder) / relpath
            if candidate.is_file():
                return candidate
        cached = self.cached_path(relpath)
        if cached is not None and cached.is_file():
            return cached
        return None

    def url_for(self, relpath: str) -> str:
        upstream, inner = upstream_for(relpath)
        base = RAW_BASE_URL if self.base_url is None else self.base_url
        return f"{base.rstrip('/')}/{upstream.repo}/{upstream.commit}/{inner}"

    def fetch(self, relpath: str) -> Path:
        """A local path holding ``relpath``, downloading it into the cache when no folder has it."""
        found = self.locate(relpath)
        if found is not None:
            self.used[relpath] = found
            return found
        looked = [str(Path(d) / relpath) + " (no such file)" for d in self.search_dirs]
        cached = self.cached_path(relpath)
        if cached is not None:
            looked.append(f"{cached} (download cache, empty)")
        url = self.url_for(relpath)
        if not self.allow_download:
            looked.append(f"{url} (downloads are switched off)")
        elif cached is None:
            looked.append(f"{url} (not tried: no cache folder to keep the download in)")
        else:
            problem = self._download(url, cached)
            if problem is None:
                self.used[relpath] = cached
                return cached
            looked.append(f"{url} ({problem})")
        places = "\n  ".join(looked) if looked else "(no folder was given)"
        msg = f"upstream file {relpath} not found. Looked in:\n  {places}\n{how_to_get_mirror()}"
        raise MirrorNotFound(msg)

    def read(self, relpath: str) -> str:
        """The text of ``relpath`` (UTF-8; wilayah.sql has CRLF line ends, which are kept)."""
        path = self.fetch(relpath)
        with path.open(encoding="utf-8", newline="") as fh:
            return fh.read()

    def _download(self, url: str, target: Path) -> str | None:
        """Download ``url`` into ``target`` atomically; return None on success, else what went wrong."""
        import urllib.error
        import urllib.request  # imported here: it pulls in ssl, which the offline path never needs

        if not url.startswith(("https://", "http://")):
            return "not an http(s) URL"
        # The scheme is checked above; file: and custom schemes never reach urlopen.
        request = urllib.request.Request(url, headers={"User-Agent": "ntpd-map"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"download failed: {reason}"
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return None

    def fingerprint(self, relpaths: Iterable[str] | None = None) -> dict[str, str]:
        """sha256 of each file read so far (or of ``relpaths``), by relative path."""
        names = sorted(self.used if relpaths is None else relpaths)
        out: dict[str, str] = {}
        for name in names:
            path = self.used.get(name) or self.locate(name)
            if path is not None:
                out[name] = sha256_of(path)
        return out


def read_upstream(
    relpath: str,
    search_dirs: Sequence[str | Path],
    allow_download: bool = True,
    *,
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> str:
    """The text of one upstream file; see ``DataSource`` for the lookup order. Raises MirrorNotFound."""
    source = DataSource(search_dirs, cache_dir, allow_download, base_url, timeout)
    return source.read(relpath)
