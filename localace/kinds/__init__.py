"""Parameter kinds: what a value *is* (a city, a date, an amount, a sort order), as data plus a few families
of code. The one home of how values are made, said and read back, for apis/, dialogs/ and verify/."""

from localace.kinds.catalogue import KIND_KEY, Catalogue, Kind, Record, catalogue, kind_of
from localace.kinds.families import ANCHOR, Ctx
from localace.kinds.said import Said

__all__ = ["ANCHOR", "KIND_KEY", "Catalogue", "Ctx", "Kind", "Record", "Said", "catalogue", "kind_of"]
