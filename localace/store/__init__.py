"""SQLite persistence: migrations, the generation cache, and committed work items."""

from localace.store.db import Store, open_store

__all__ = ["Store", "open_store"]
