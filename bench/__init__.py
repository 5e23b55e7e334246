"""synthloc-bench: does diffusion-generated data help multi-label protein localization classifiers?

The Python API (`bench.library`), for notebooks: `bench.run(...)`, `bench.run_seeds(...)`,
`bench.generate(...)`, `bench.sweep(...)`, `bench.configure(...)`, `bench.load_runs(runs_dir)` and
`bench.register(kind, name)`. Importing `bench` stays light: each loads the harness when first called.
"""

from bench.version import __version__


def run(*args, **kwargs):
    """Train and evaluate one configuration; see `bench.library.run`."""
    from bench import library

    return library.run(*args, **kwargs)


def run_seeds(*args, **kwargs):
    """One configuration over several run seeds, with their mean and interval; see `bench.library.run_seeds`."""
    from bench import library

    return library.run_seeds(*args, **kwargs)


def generate(*args, **kwargs):
    """Build one synthetic set and its fidelity; see `bench.library.generate`."""
    from bench import library

    return library.generate(*args, **kwargs)


def sweep(*args, **kwargs):
    """Run every configuration of a grid; see `bench.library.sweep`."""
    from bench import library

    return library.sweep(*args, **kwargs)


def configure(*args, **kwargs):
    """The RunConfig the other functions would use; see `bench.library.configure`."""
    from bench import library

    return library.configure(*args, **kwargs)


def register(kind, name, plugin=None):
    """Register a plugin class defined in this session (a notebook) as `name`, e.g. as a decorator
    `@bench.register("strategy", "my_mix")`; see `bench.registry.register`."""
    from bench import registry

    return registry.register(kind, name, plugin)


def load_runs(*args, **kwargs):
    """Every finished run as one pandas row; see `bench.library.load_runs`."""
    from bench import library

    return library.load_runs(*args, **kwargs)


__all__ = ["__version__", "configure", "generate", "load_runs", "register", "run", "run_seeds", "sweep"]
