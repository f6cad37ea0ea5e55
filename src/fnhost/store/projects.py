"""Projects are namespaces named by URLs; they exist where something was created in them."""

from sqlalchemy import distinct, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import File, Function


async def known(session: AsyncSession) -> list[str]:
    query = union(select(distinct(Function.project)), select(distinct(File.project)))
    return sorted((await session.execute(query)).scalars())
