"""Log format definitions: TOML data files beside `loader.py`, which reads and checks them."""

from flakehunt.formats.loader import (
    Format,
    FormatDefinitionError,
    FormatListing,
    describe_formats,
    load_format_file,
    load_formats,
)

__all__ = [
    "Format",
    "FormatDefinitionError",
    "FormatListing",
    "describe_formats",
    "load_format_file",
    "load_formats",
]
