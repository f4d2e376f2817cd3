"""Only the native walker lives here; everything else about the package is in pyproject.toml.

The extension is optional: where it cannot be compiled, the install goes on and the inventory
walks in Python (anfl_assets/domain/walk.py picks whichever is there)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("anfl_assets._fastwalk", ["anfl_assets/_fastwalk.c"], optional=True,
                             extra_compile_args=["-O2", "-std=c11", "-Wall"])])
