"""Hub weights names: a name such as ``"imagenet"`` found in the libraries' own caches, or
downloaded into them, without ever waiting offline.

For a name, the model builder lists the files it stands for (:class:`HubFile`, :class:`UrlFile`)
and :func:`resolve_weights` takes the first one cached where the library itself caches it: the
Hugging Face cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``; smp 0.6 and timm) or torch hub's
(``$TORCH_HOME/hub/checkpoints``; torchvision, timm's older URLs). Otherwise it downloads into that
cache if the server answers within :data:`CONNECT_TIMEOUT` s. Offline (``HF_HUB_OFFLINE=1``
forces it for every source) the :class:`~seglab.errors.ConfigError` comes at once, naming the
places looked in and how to pass a file: nothing waits on a library's retries (smp's alone last
~25 s). See docs/architecture.md, "Pretrained encoders". The file found is read by
:func:`seglab.models.weights.load_weights_file`, like a user's.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import torch

from seglab.errors import ConfigError
from seglab.models.weights import WEIGHT_SUFFIXES

__all__ = ["CONNECT_TIMEOUT", "HubFile", "UrlFile", "resolve_weights"]

CONNECT_TIMEOUT = 5.0
"""Seconds to reach a download server before calling the machine offline."""

_TRUE = ("1", "ON", "YES", "TRUE")  # huggingface_hub's spelling of a true environment variable


@dataclass(frozen=True)
class HubFile:
    """A file of a Hugging Face hub repository (how smp 0.6 and timm publish weights)."""

    repo_id: str
    filename: str
    revision: str | None = None

    def __str__(self) -> str:
        at = f"@{self.revision[:8]}" if self.revision else ""
        return f"{self.repo_id}{at}/{self.filename} in the Hugging Face cache {_hf_cache()}"


@dataclass(frozen=True)
class UrlFile:
    """A URL torch.hub caches as ``<torch hub dir>/checkpoints/<file name>`` (torchvision)."""

    url: str

    @property
    def cache_path(self) -> Path:
        return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlsplit(self.url).path).name

    def __str__(self) -> str:
        return f"{self.cache_path} (torch hub cache of {self.url})"


WeightsSource = HubFile | UrlFile


def resolve_weights(
    value: object,
    *,
    option: str,
    what: str,
    sources: Callable[[str], Sequence[WeightsSource]],
) -> Path | None:
    """The weights file a weights option stands for: ``None``, a local file, or a cached one.

    Parameters
    ----------
    value:
        ``None``, a file path, or a hub name such as ``"imagenet"``.
    option:
        The option's name, for messages (``"encoder_weights"``).
    what:
        What the weights are for, for messages (``"encoder 'resnet18'"``).
    sources:
        Maps a hub name to the files it stands for, in order of preference; raises a
        ConfigError (listing the valid names) for a name the model does not know.

    Raises
    ------
    ConfigError
        At once for a missing file or an unknown name; for a name that is neither cached nor
        downloadable (offline: ``HF_HUB_OFFLINE=1``, or no server reached within
        :data:`CONNECT_TIMEOUT` s), naming the caches looked in and how to pass a file.

    Examples
    --------
    >>> resolve_weights(None, option="encoder_weights", what="encoder", sources=list) is None
    True
    """
    if value is None:
        return None
    if not isinstance(value, (str, Path)) or not str(value):
        raise ConfigError(
            f"{option}={value!r}: expected the path of a weights file or a hub name such as "
            "'imagenet'"
        )
    path = Path(value).expanduser()
    if path.is_file():
        return path
    text = str(value)
    if path.suffix in WEIGHT_SUFFIXES or "/" in text or "\\" in text:
        raise ConfigError(f"{option}: weights file not found: {path}")
    files = list(sources(text))
    for file in files:
        cached = _cached(file)
        if cached is not None:
            return cached
    reachable, offline = _reachable_sources(files)
    failures = []
    for file in reachable:
        try:
            return _download(file)
        except Exception as error:  # many libraries, many failure types: report them all
            failures.append(f"{file}: {type(error).__name__}: {error}")
    reason = f"a download is impossible here: {offline}" if offline else "; ".join(failures)
    raise _not_available(text, files, reason, option=option, what=what)


def _not_available(
    name: str, files: list[WeightsSource], reason: str, *, option: str, what: str
) -> ConfigError:
    flag = "--" + option.replace("_", "-")
    return ConfigError(
        f"{option}={name!r} for {what}: the weights are not in the local caches and were not "
        f"downloaded ({reason}). Looked for: {'; '.join(map(str, files))}. Fetch them once on a "
        "connected machine and copy its cache (TORCH_HOME, HF_HOME), or save the state dict as "
        f".safetensors or .pth and pass the file: {flag} PATH "
        f"(Python: {option}='path/to/weights.safetensors'); or pass none for random "
        "initialisation."
    )


def _hf_cache() -> Path:
    """huggingface_hub's cache folder, read from the environment now (the library reads it
    once, at import)."""
    env = os.environ
    home = env.get("HF_HOME") or os.path.join(
        env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface"
    )
    cache = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE") or os.path.join(home, "hub")
    return Path(os.path.expandvars(os.path.expanduser(cache)))


def _cached(file: WeightsSource) -> Path | None:
    if isinstance(file, UrlFile):
        return file.cache_path if file.cache_path.is_file() else None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = hf_hub_download(
            file.repo_id,
            file.filename,
            revision=file.revision,
            cache_dir=_hf_cache(),
            local_files_only=True,
        )
    except LocalEntryNotFoundError:
        return None
    return Path(path)


def _server(file: WeightsSource) -> str:
    if isinstance(file, UrlFile):
        return file.url
    from huggingface_hub import constants

    return constants.ENDPOINT  # what hf_hub_download uses (HF_ENDPOINT at import)


def _reachable_sources(files: list[WeightsSource]) -> tuple[list[WeightsSource], str]:
    """The files whose server answers, and why none does (``""`` when some do)."""
    if os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE:
        return [], "offline, HF_HUB_OFFLINE is set"
    answers: dict[str, bool] = {}
    for file in files:
        host = urlsplit(_server(file)).netloc
        if host not in answers:
            answers[host] = _answers(_server(file), timeout=CONNECT_TIMEOUT)
    reachable = [file for file in files if answers[urlsplit(_server(file)).netloc]]
    if reachable or not files:
        return reachable, ""
    return [], f"offline, {' and '.join(answers)} not reached within {CONNECT_TIMEOUT:g} s"


def _answers(url: str, *, timeout: float) -> bool:
    """Whether a TCP connection to ``url``'s server (or its proxy) opens within ``timeout``.

    The attempt runs in a daemon thread so that a name lookup, which socket timeouts do not
    cover, cannot hold the caller either.
    """
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    address = (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    finished, opened = threading.Event(), []

    def connect() -> None:
        try:
            socket.create_connection(address, timeout=timeout).close()
            opened.append(True)
        except OSError:
            pass
        finally:
            finished.set()

    threading.Thread(target=connect, daemon=True).start()
    finished.wait(timeout)
    return bool(opened)


def _download(file: WeightsSource) -> Path:
    """Fetch ``file`` into its library's cache; connecting, and any stall of the transfer,
    time out after :data:`CONNECT_TIMEOUT` s (huggingface_hub: its own 10 s read timeout)."""
    if isinstance(file, HubFile):
        from huggingface_hub import hf_hub_download

        return Path(
            hf_hub_download(
                file.repo_id,
                file.filename,
                revision=file.revision,
                cache_dir=_hf_cache(),
                etag_timeout=CONNECT_TIMEOUT,
            )
        )
    target = file.cache_path
    target.parent.mkdir(parents=True, exist_ok=True)
    # torch.hub's check: a file name ``name-<sha256 prefix>.ext`` carries its hash.
    match = torch.hub.HASH_REGEX.search(target.name)
    digest = hashlib.sha256()
    handle, partial = tempfile.mkstemp(dir=target.parent, suffix=".partial")
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(file.url, timeout=CONNECT_TIMEOUT) as response,
        ):
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if match and not digest.hexdigest().startswith(match.group(1)):
            raise ValueError(f"the download's sha256 does not start with {match.group(1)!r}")
        os.replace(partial, target)  # atomic: concurrent processes (DDP ranks) see whole files
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target
