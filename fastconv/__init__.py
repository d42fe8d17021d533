"""fastconv: fast CPU convolution, pooling and matrix multiply for NumPy.

Hot loops run in C (csrc/) behind a thin Cython bridge; fastconv.reference
holds the pure-NumPy versions used as the test oracle.
"""
__version__ = "0.1.0"

from . import _config
from ._config import get_num_threads, set_num_threads, show_config
from .activations import (leaky_relu, leaky_relu_backward, relu, relu_backward, sigmoid,
                          sigmoid_backward, softmax, softmax_backward, tanh, tanh_backward)
from .conv import conv2d, conv2d_backward
from .linalg import gemm, matmul
from .pool import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d, max_pool2d,
                   max_pool2d_backward)
from . import reference

_config._init_from_environment()

__all__ = [
    "conv2d", "conv2d_backward", "max_pool2d", "max_pool2d_backward", "avg_pool2d",
    "avg_pool2d_backward", "global_avg_pool2d", "matmul", "gemm", "relu", "relu_backward",
    "leaky_relu", "leaky_relu_backward", "sigmoid", "sigmoid_backward", "tanh",
    "tanh_backward", "softmax", "softmax_backward", "set_num_threads", "get_num_threads",
    "show_config", "reference",
]
