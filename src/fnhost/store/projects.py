"""Projects are namespaces named by URLs; they exist where something was created in them."""

from sqlalchemy import distinct, select, union

from fnhost.store.engine import Tx
from fnhost.store.files import FILES
from fnhost.store.functions import FUNCTIONS


def known(tx: Tx) -> list[str]:
    query = union(select(distinct(FUNCTIONS.c.project)), select(distinct(FILES.c.project)))
    return sorted(tx.execute(query).scalars())
