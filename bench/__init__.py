"""synthloc-bench: does diffusion-generated data help multi-label protein localization classifiers?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("synthloc-bench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
