"""Projects are namespaces named by URLs; they exist where something was created in them."""

from sqlalchemy import select, union

from fnhost.store.engine import Tx
from fnhost.store.files import FILES
from fnhost.store.functions import FUNCTIONS


def known(tx: Tx) -> list[str]:
    # UNION removes duplicates itself (a DISTINCT inside it warns, and is an error in tests).
    query = union(select(FUNCTIONS.c.project), select(FILES.c.project))
    return sorted(tx.execute(query).scalars())
