"""The 34 tensor operations of the EZNAS paper (Table 5).

Every op works on *stacks*: each operand has a leading axis of length L (one
slice per layer) and the op is applied to every slice independently.  A value
whose per-slice shape is ``()`` is a per-layer scalar and has shape ``(L,)``.
``apply_single`` evaluates an op on plain (unstacked) tensors.

The opset imports torch only; nothing here knows about statistics or DEAP.
"""
from opset.errors import OpError
from opset.registry import OPS, BY_NAME, BY_ID, Op, get, apply_single

__all__ = ["OpError", "OPS", "BY_NAME", "BY_ID", "Op", "get", "apply_single"]
