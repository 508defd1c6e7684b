"""Stage A: API specifications, their checks, tool-format converters, importers and seed documents."""
