"""Builders for spaces beyond NB201 / NATS-SSS (the built-in benchmark spaces)."""
_BUILDERS = {}


def register(name, fn):
    _BUILDERS[name] = fn
    return fn


def builder(name):
    if name not in _BUILDERS:
        import eznas.bench.spaces  # noqa: F401  registers the built-in spaces
    if name not in _BUILDERS:
        raise KeyError(f"unknown search space {name!r}; known: nb201, nats_sss, {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name]
