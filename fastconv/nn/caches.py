"""Pickling without per-call caches.

Layers and losses keep what one call leaves for the next backward pass (its
input, output, mask or gradient) in attributes whose names start with an
underscore.  Those are not part of the object's state: a pickled layer, loss
or model carries its configuration, parameters, buffers and optimizer state
only, and the copy predicts exactly what the original does.
"""


class DropsCaches:
    """Mixin: pickle without the underscore attributes and with empty `grads`."""

    def __getstate__(self):
        state = {key: value for key, value in vars(self).items() if not key.startswith("_")}
        if "grads" in state:
            state["grads"] = {}
        return state
