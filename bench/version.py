"""The installed harness version (what `bench --version` prints and every record carries)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("synthloc-bench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
