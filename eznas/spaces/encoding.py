"""Architecture <-> index encodings shared by the spaces: fixed-length choices numbered in
base len(choices), first position slowest; width configurations written "w1:w2:...".
"""


def to_index(values, choices):
    idx = 0
    for v in values:
        idx = idx * len(choices) + choices.index(v)
    return idx


def from_index(index, choices, length, what):
    total = len(choices) ** length
    if not 0 <= index < total:
        raise ValueError(f"{what} index must be in [0, {total}), got {index}")
    out = []
    for _ in range(length):
        index, r = divmod(index, len(choices))
        out.append(choices[r])
    return out[::-1]


def one_change(values, choices):
    """Every sequence that differs from ``values`` in exactly one position (the
    neighbourhood an architecture search mutates in), in a fixed order."""
    values = tuple(values)
    return [values[:k] + (c,) + values[k + 1:] for k in range(len(values)) for c in choices if c != values[k]]


def parse_widths(config, choices, length, what):
    try:
        widths = tuple(int(c) for c in str(config).split(":"))
    except ValueError:
        raise ValueError(f"not a {what} channel config: {config!r}") from None
    if len(widths) != length or any(w not in choices for w in widths):
        raise ValueError(f"{what} config needs {length} widths from {choices}: {config!r}")
    if format_widths(widths) != str(config):  # ' 8', '08', '0_8' are 8: one network, one id
        raise ValueError(f"{what} config {config!r} is not in canonical form; write it as {format_widths(widths)!r}")
    return widths


def format_widths(widths):
    return ":".join(str(w) for w in widths)
