"""Hash-checked, atomic, lock-protected file downloads into the learnedaug cache.

Environment:
    LEARNEDAUG_HOME      cache root (else ``$XDG_CACHE_HOME/learnedaug``, else ``~/.cache/learnedaug``)
    LEARNEDAUG_OFFLINE   ``1``/``true``/``yes``/``on``: never touch the network
    LEARNEDAUG_MIRROR    ``https://host/base/``: fetch every file from ``<mirror>/<last path segment of its URL>``
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from filelock import FileLock
from tqdm.auto import tqdm

from .._version import __version__
from .._io import atomic_path

_CHUNK = 1 << 20
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SCHEMES = ("http", "https", "file")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class DownloadError(OSError):
    """A file could not be fetched: network failure, HTTP error, short transfer, or offline mode."""


class ChecksumError(DownloadError):
    """A file's SHA-256 digest differs from the expected one."""


def cache_dir() -> Path:
    """The learnedaug cache root: ``$LEARNEDAUG_HOME``, else ``$XDG_CACHE_HOME/learnedaug``, else ``~/.cache/learnedaug``."""
    home = os.environ.get("LEARNEDAUG_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "learnedaug"
    return Path("~/.cache/learnedaug").expanduser()


def is_offline() -> bool:
    """True when ``LEARNEDAUG_OFFLINE`` is set to a true value (``1``, ``true``, ``yes``, ``on``)."""
    value = os.environ.get("LEARNEDAUG_OFFLINE", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"LEARNEDAUG_OFFLINE must be one of 1/0/true/false/yes/no/on/off, got {value!r}")


def check_url(url: str, name: str = "url") -> str:
    """Return ``url`` if it is an http(s) or file URL; else raise ValueError naming ``name``."""
    if not isinstance(url, str):
        raise TypeError(f"{name} must be a str, got {type(url).__name__}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in _SCHEMES or (parts.scheme != "file" and not parts.netloc):
        raise ValueError(f"{name} must be an http://, https:// or file:// URL, got {url!r}")
    return url


def check_sha256(digest: str, name: str = "sha256") -> str:
    """Return ``digest`` lower-cased if it is 64 hex digits; else raise ValueError naming ``name``."""
    if not isinstance(digest, str) or not _SHA256_RE.match(digest.lower()):
        raise ValueError(f"{name} must be 64 hexadecimal digits, got {digest!r}")
    return digest.lower()


def check_filename(filename: str, name: str = "filename") -> str:
    """Return ``filename`` if it is a plain file name (no directory part); else raise ValueError naming ``name``."""
    if not isinstance(filename, str):
        raise TypeError(f"{name} must be a str, got {type(filename).__name__}")
    if filename in ("", ".", "..") or "/" in filename or "\\" in filename or filename.endswith(".lock"):
        raise ValueError(f"{name} must be a plain file name without directories (and not *.lock), got {filename!r}")
    return filename


def url_filename(url: str) -> str:
    """The last segment of the URL's path, percent-decoded: the default file name of a download."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])


def mirrored(url: str) -> str:
    """``url`` with its base replaced by ``$LEARNEDAUG_MIRROR`` when set, else ``url`` unchanged.

    ``https://github.com/o/r/releases/download/v1/m.safetensors?x=1`` with
    ``LEARNEDAUG_MIRROR=https://host/base/`` becomes ``https://host/base/m.safetensors``:
    everything up to the last ``/`` of the path (and any query) is replaced by the mirror.
    """
    mirror = os.environ.get("LEARNEDAUG_MIRROR", "")
    if not mirror:
        return url
    check_url(mirror, "LEARNEDAUG_MIRROR")
    segment = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]
    if not segment:
        raise ValueError(f"cannot mirror {url!r}: its path has no file name")
    return mirror.rstrip("/") + "/" + segment


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: str | os.PathLike, sha256: str | None) -> Path:
    """Return ``path`` if its digest is ``sha256`` (or ``sha256`` is None); else raise ChecksumError."""
    path = Path(path)
    if sha256 is not None:
        actual = file_sha256(path)
        if actual != sha256:
            raise ChecksumError(
                f"{path} has SHA-256 {actual} but {sha256} is expected; delete it (or replace it with the right file)"
            )
    return path


def download_file(
    url: str,
    *,
    sha256: str | None = None,
    filename: str | None = None,
    dest_dir: str | os.PathLike | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Return ``dest_dir/filename``, downloading ``url`` there first unless it already exists.

    ``dest_dir`` defaults to :func:`cache_dir` and ``filename`` to the URL's last path segment.
    The body streams into a temporary file beside the target while its SHA-256 is computed; only a
    complete, matching file is renamed into place, so an interrupted or corrupt transfer leaves no
    file behind. Concurrent callers (threads or processes) serialise on ``<target>.lock`` and the
    file is fetched once. An existing target is checked against ``sha256`` (ChecksumError on mismatch).
    ``timeout`` (seconds) bounds the connection and each read. ``$LEARNEDAUG_MIRROR`` and
    ``$LEARNEDAUG_OFFLINE`` apply (see module docstring).
    """
    check_url(url)
    sha256 = None if sha256 is None else check_sha256(sha256)
    filename = check_filename(url_filename(url) if filename is None else filename)
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    target = Path(cache_dir() if dest_dir is None else dest_dir).expanduser() / filename
    if target.is_file():
        return verify_file(target, sha256)
    source = mirrored(url)
    if is_offline():
        raise DownloadError(
            f"{target} is missing and LEARNEDAUG_OFFLINE is set, so it is not downloaded: "
            f"fetch {source} elsewhere and copy it to {target}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = Path(str(target) + ".lock")
    with FileLock(str(lock)):
        try:
            if target.is_file():  # another process finished it while we waited for the lock
                return verify_file(target, sha256)
            with atomic_path(target) as tmp:
                actual = _stream(source, tmp, progress=progress, timeout=timeout, desc=filename)
                if sha256 is not None and actual != sha256:
                    raise ChecksumError(f"download of {source} has SHA-256 {actual} but {sha256} is expected; nothing was saved")
        finally:
            # Leave no 0-byte .lock behind. It is unlinked while still held: a waiter then locks the unlinked inode,
            # which filelock detects (st_nlink == 0) and retries on a fresh file, so two holders never overlap.
            # Windows cannot unlink an open file (PermissionError): there the file stays, harmlessly.
            with contextlib.suppress(FileNotFoundError, PermissionError):
                lock.unlink()
    return target


def _stream(url: str, dest: Path, *, progress: bool, timeout: float, desc: str) -> str:
    """Write the body of ``url`` to ``dest``; return its SHA-256. Raise DownloadError on any failure or short read."""
    request = urllib.request.Request(url, headers={"User-Agent": f"learnedaug/{__version__}"})
    h = hashlib.sha256()
    received, expected = 0, None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            with open(dest, "wb") as f, tqdm(
                total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, disable=not progress
            ) as bar:
                while chunk := response.read(_CHUNK):
                    f.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        raise DownloadError(f"download of {url} failed: HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise DownloadError(f"download of {url} failed: {e.reason}") from e
    except http.client.IncompleteRead as e:
        raise DownloadError(
            f"download of {url} was cut off after {received + len(e.partial)} of {expected} bytes; nothing was saved"
        ) from e
    except (OSError, http.client.HTTPException) as e:
        raise DownloadError(f"download of {url} failed after {received} bytes: {e!r}; nothing was saved") from e
    if expected is not None and received != expected:
        raise DownloadError(f"download of {url} was cut off after {received} of {expected} bytes; nothing was saved")
    return h.hexdigest()
