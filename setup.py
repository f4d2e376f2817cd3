"""Only the native extensions live here; everything else about the package is in pyproject.toml.

Both are optional: where they cannot be compiled, the install goes on and the package uses its
Python paths (anfl_assets/domain/walk.py and enrich/code_structure.py pick whichever is there):
  _fastwalk   the inventory's tree walk
  _pyoutline  the outline (definitions, imports) of Python sources for code structure
"""

from setuptools import Extension, setup

_FLAGS = ["-O2", "-std=c11", "-Wall"]

setup(ext_modules=[
    Extension("anfl_assets._fastwalk", ["anfl_assets/_fastwalk.c"], optional=True, extra_compile_args=_FLAGS),
    Extension("anfl_assets._pyoutline", ["anfl_assets/_pyoutline.c"], optional=True, extra_compile_args=_FLAGS),
])
