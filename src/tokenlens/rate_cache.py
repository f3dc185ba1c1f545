"""Resolved model prices kept between runs, so that pricing seldom needs genai-prices loaded.

Loading genai-prices and its data takes about a third of a second, as long as reading a small
export. The prices a model has on a given day never change for one release of that data, so each
resolved (model, provider, day, speed) is kept in a small JSON file in the user's cache folder:
one file per genai-prices release, per cache format and per version of the code that resolves
names. A missing, unreadable or damaged file is an empty cache and a failed write is ignored:
the cache can only save time. `TOKENLENS_PRICE_CACHE=0` turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any, Final

import platformdirs

FORMAT: Final = 1
ENV_OFF: Final = "TOKENLENS_PRICE_CACHE"

# (model name after aliases, provider hint, ISO day, fast) -> the resolved rate as JSON values,
# or None for a model genai-prices does not know.
Key = tuple[str, str | None, str, bool]


def _text_key(key: Key) -> str:
    return json.dumps(list(key))


@functools.cache
def _code_fingerprint() -> str:
    """Identifies the code that turns model names into prices (pricing and the name mapping)."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in ("rate_cache.py", "pricing.py", "models.py"):
        with contextlib.suppress(OSError):
            digest.update((here / name).read_bytes())
    return digest.hexdigest()[:12]


@functools.cache
def genai_prices_version() -> str:
    """The installed genai-prices release, read from its `.dist-info` folder's name beside the
    package (importing `importlib.metadata` and searching every distribution costs 30-40 ms)."""
    spec = importlib.util.find_spec("genai_prices")
    if spec is not None and spec.origin is not None:
        found = list(Path(spec.origin).parent.parent.glob("genai_prices-*.dist-info"))
        if len(found) == 1:
            return found[0].name.removeprefix("genai_prices-").removesuffix(".dist-info")
    from importlib.metadata import version  # another layout: ask the slow, general way

    return version("genai-prices")


@functools.cache
def _file_name() -> str:
    data = genai_prices_version()
    return f"rates-genai-prices-{data}-f{FORMAT}-{_code_fingerprint()}.json"


def default_path() -> Path | None:
    """This release's cache file, or None when the cache is turned off."""
    if os.environ.get(ENV_OFF, "").strip() == "0":
        return None
    name = _file_name()
    return Path(platformdirs.user_cache_dir("tokenlens")) / name


class RateCache:
    """The resolved rates of one cache file, loaded once; new ones are written by `save`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, Any] = {}
        self._new = False
        if path is None:
            return
        try:
            loaded = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return
        if isinstance(loaded, dict) and isinstance(loaded.get("rates"), dict):
            self._entries = loaded["rates"]

    @property
    def populated(self) -> bool:
        """Whether earlier runs left rates here (so genai-prices may not be needed at all)."""
        return bool(self._entries)

    def get(self, key: Key) -> tuple[bool, Any]:
        """(found, value): value is the stored rate, or None for a model known to be unknown."""
        text = _text_key(key)
        if text not in self._entries:
            return False, None
        return True, self._entries[text]

    def put(self, key: Key, value: Any) -> None:
        if self.path is None:
            return
        self._entries[_text_key(key)] = value
        self._new = True

    def save(self) -> None:
        """Write the file when rates were added (atomically; any failure is ignored)."""
        if self.path is None or not self._new:
            return
        self._new = False
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            current = RateCache(self.path)._entries  # another run may have added some meanwhile
            body = {"format": FORMAT, "rates": {**current, **self._entries}}
            tmp.write_text(json.dumps(body, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()


_open: dict[Path | None, RateCache] = {}


def current() -> RateCache:
    """The cache for this release and environment (opened once per file)."""
    path = default_path()
    cache = _open.get(path)
    if cache is None:
        cache = _open[path] = RateCache(path)
    return cache
