"""ANFL: a Dagster asset pipeline that inventories and takes care of a project estate.

`anfl_assets.domain` holds the plain-Python logic (no Dagster import);
`anfl_assets.assets`, `.resources` and `.sensors` wire it into Dagster, and
`anfl_assets.definitions` is the one `Definitions` object the UI and CLI load.
"""

__version__ = "0.1.0"
