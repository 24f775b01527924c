"""The registry of search spaces: the one place that knows which spaces exist.  Every
module of ``eznas.spaces`` is imported on first use, and each registers its
``SearchSpace`` records, so a new space module is found without editing any list."""
import importlib
import pkgutil

_SPACES = {}  # name -> SearchSpace, in registration order
_LOADED = []


def register(space):
    if space.name in _SPACES and _SPACES[space.name] is not space:
        raise ValueError(f"search space {space.name!r} is registered twice")
    _SPACES[space.name] = space
    return space


def _load():
    if _LOADED:
        return
    import eznas.spaces as pkg

    for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"eznas.spaces.{m.name}")
    _LOADED.append(True)


def get(name):
    """The SearchSpace ``name``; ValueError listing the known ones."""
    _load()
    if name not in _SPACES:
        raise ValueError(f"unknown search space {name!r}; known: {', '.join(names())}")
    return _SPACES[name]


def names(builtin=None):
    """Names of the registered spaces (only built-in or only external ones when asked)."""
    _load()
    order = sorted(_SPACES.values(), key=lambda s: (s.builtin, s.name))
    return tuple(s.name for s in order if builtin is None or s.builtin == builtin)
