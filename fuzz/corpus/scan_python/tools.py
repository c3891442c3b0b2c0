@tool
def search(query: str, limit: int = 10, tags: Optional[list[str]] = None, mode: Literal["a", "b"] = "a") -> str:
    """Search the index.

    Args:
        query: what to look for
        limit: how many results
    """

class Tools:
    @server.tool(name="files.read")
    async def read(self, path: Annotated[str, Field(description="File path", min_length=1)]): ...

@mcp.tool()
def pick(items: dict[str, list[tuple[int, float]]], flag: bool | None = None) -> dict:
    '''Pick one.'''
