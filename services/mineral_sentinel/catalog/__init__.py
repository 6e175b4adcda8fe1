"""The materials catalog: reference data (JSON with provenance) and the loader that checks it."""

from .errors import CatalogError
from .loader import load_catalog
from .model import STAGES, Catalog, CountryProfile, MaterialProfile, Stage

__all__ = [
    "STAGES",
    "Catalog",
    "CatalogError",
    "CountryProfile",
    "MaterialProfile",
    "Stage",
    "load_catalog",
]
