"""The one exception type the opset raises."""


class OpError(ValueError):
    """An operation cannot be applied to its operands (shape, rank or domain).

    The evolution treats a raised ``OpError`` as an invalid program; ops never
    hide such failures behind magic values.
    """
