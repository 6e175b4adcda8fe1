"""The one error a broken catalog raises, naming exactly where the data is wrong."""

from __future__ import annotations


class CatalogError(ValueError):
    """A catalog file is unreadable or violates a rule; says which file, material and field.

    The catalog is reviewed data, so the message must let a reviewer find the line to fix
    without reading the loader.
    """

    def __init__(
        self, file: str, message: str, *, entry: str | None = None, field: str | None = None
    ) -> None:
        """`entry` names the record, e.g. "material 'gallium'" or "country 'CN'"."""
        self.file = file
        self.entry = entry
        self.field = field
        self.reason = message
        where = [file]
        if entry is not None:
            where.append(entry)
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{': '.join(where)}: {message}")
