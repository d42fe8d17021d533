"""The setuptools route: `python setup.py build_ext --inplace` builds the same
extension as the scikit-build-core/CMake build (pip install .), from the same
source and flag lists (csrc/sources.txt, csrc/cflags.txt).

FASTCONV_SANITIZE=1 builds with AddressSanitizer and UndefinedBehaviorSanitizer.
"""
import os
import subprocess
import sys
import sysconfig
import tempfile
import warnings

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _lines(name):
    with open(os.path.join(HERE, "csrc", name)) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def _compiler_accepts(flag):
    """Whether the C compiler builds and links a tiny program with `flag`."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "t.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n")
        cmd = cc.split() + [flag, src, "-o", os.path.join(tmp, "t")]
        return subprocess.run(cmd, capture_output=True).returncode == 0


def _compiler_id():
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    out = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
    first = out.splitlines()[0] if out else cc
    if "clang" in first:
        return "Clang " + first.split("version")[-1].split()[0]
    return "GNU " + first.split()[-1] if "gcc" in first or "GCC" in first else first


cflags = _lines("cflags.txt")
ldflags = []
if _compiler_accepts("-fopenmp"):
    cflags.append("-fopenmp")
    ldflags.append("-fopenmp")
else:
    warnings.warn("fastconv: OpenMP not found; building single-threaded kernels")
if os.environ.get("FASTCONV_SANITIZE") == "1":
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
           "-fno-omit-frame-pointer", "-g"]
    cflags += san
    ldflags += ["-fsanitize=address,undefined"]

libraries = ["dl"] if sys.platform.startswith("linux") else []   # dladdr (show_config)
extension = Extension(
    "fastconv._native",
    sources=["fastconv/_native.pyx"] + _lines("sources.txt"),
    # NumPy's C API: the allocation handler of a training step (as CMakeLists.txt)
    include_dirs=["csrc/include", "csrc", numpy.get_include()],
    define_macros=[("FC_COMPILER", '"%s"' % _compiler_id()),
                   ("FC_CFLAGS", '"%s"' % " ".join(cflags)),
                   ("NPY_NO_DEPRECATED_API", "NPY_1_22_API_VERSION"),
                   ("NPY_TARGET_VERSION", "NPY_1_22_API_VERSION")],
    libraries=libraries,
    extra_compile_args=cflags,
    extra_link_args=ldflags,
)

setup(ext_modules=cythonize([extension], language_level=3), packages=["fastconv"])
