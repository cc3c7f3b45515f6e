"""Builds trw._codec, the C decoders: python/src/trw/_codec.c plus the repository's own
kernels (Sources/CTRWCodecKernels/kernels.c: plane-fit row terms, CRC-32C), linked with
the system libzstd (Debian: libzstd-dev). Build from the repository checkout
(`pip install ./python`): the kernels are read from ../Sources."""
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
KERNELS = os.path.normpath(os.path.join(HERE, "..", "Sources", "CTRWCodecKernels"))
if not os.path.isfile(os.path.join(KERNELS, "kernels.c")):
    raise SystemExit(f"trw: {KERNELS}/kernels.c not found; build this package from a trw checkout (pip install ./python)")

setup(
    ext_modules=[
        Extension(
            "trw._codec",
            sources=["src/trw/_codec.c", os.path.relpath(os.path.join(KERNELS, "kernels.c"), HERE)],
            include_dirs=[os.path.join(KERNELS, "include")],
            libraries=["zstd"],
            extra_compile_args=["-O3", "-std=c11", "-Wall"],
        )
    ]
)
