"""fastconv: fast CPU convolution, pooling and matrix multiply for NumPy.

Hot loops run in C (csrc/) behind a thin Cython bridge; fastconv.reference
holds the pure-NumPy versions used as the test oracle.
"""
__version__ = "0.1.0"


def _require_extension():
    """Import the compiled bridge, or say how to build it.  Python run from a
    clone's root imports this source folder before any installed fastconv, and
    the source folder holds no compiled extension until it is built for it."""
    import os

    try:
        from . import _native  # noqa: F401
    except ImportError as exc:
        here = os.path.dirname(os.path.abspath(__file__))
        root = os.path.dirname(here)
        if os.path.exists(os.path.join(root, "pyproject.toml")):
            hint = (f"this is fastconv's source tree ({here}), which has no built extension. "
                    f"Run `pip install -e .` in {root} to build it for this tree "
                    "(or `python setup.py build_ext --inplace`), or run Python from "
                    "another folder to use an installed fastconv.")
        else:
            hint = f"the installation in {here} is incomplete; reinstall fastconv."
        raise ImportError(f"fastconv: the compiled extension fastconv._native could not be "
                          f"imported: {hint}") from exc


_require_extension()

from . import _config
from ._config import (get_num_threads, kept_array_blocks, release_workspace, set_num_threads,
                      show_config)
from .activations import (add_activation, leaky_relu, leaky_relu_backward, relu, relu_backward,
                          sigmoid, sigmoid_backward, softmax, softmax_backward, tanh,
                          tanh_backward)
from .batchnorm import batch_norm, batch_norm_backward, batch_norm_train
from .conv import conv2d, conv2d_backward, conv2d_plan
from .conv_transpose import conv_transpose2d, conv_transpose2d_backward
from .linalg import gemm, matmul
from .linear import linear, linear_backward
from .pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_max_pool2d,
                   global_max_pool2d_backward, max_pool2d, max_pool2d_backward, max_unpool2d)
from . import reference

_config._init_from_environment()

__all__ = [
    "conv2d", "conv2d_backward", "conv2d_plan", "conv_transpose2d", "conv_transpose2d_backward", "max_pool2d", "max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_backward", "global_avg_pool2d", "global_max_pool2d",
    "global_max_pool2d_backward", "max_unpool2d", "matmul", "gemm", "linear",
    "linear_backward", "batch_norm", "batch_norm_train", "batch_norm_backward", "relu",
    "relu_backward",
    "leaky_relu", "leaky_relu_backward", "sigmoid", "sigmoid_backward", "tanh",
    "tanh_backward", "softmax", "softmax_backward", "add_activation", "set_num_threads",
    "get_num_threads", "kept_array_blocks", "release_workspace",
    "show_config", "reference",
]
