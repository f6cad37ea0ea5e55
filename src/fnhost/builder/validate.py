"""Static checks of a function's code: the handler file exists and defines a proper `handle`."""

import ast
from pathlib import Path

from fnhost.builder.errors import BuildFailed
from fnhost.runtime.handler import PARAMETERS


def find_code_root(unpacked: Path, function_path: str) -> Path:
    """The directory holding `function_path`: the zip root, or its only top-level folder
    (zipping the folder instead of its contents is the commonest mistake)."""
    if (unpacked / function_path).is_file():
        return unpacked
    entries = [p for p in unpacked.iterdir() if p.name not in ("__MACOSX",)]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / function_path).is_file():
        return entries[0]
    raise BuildFailed(
        f'No Python module found at location "{function_path}" in the code zip: the zip '
        "must contain it at its root (zip the folder's contents, not the folder)"
    )


def _binds_handle(node: ast.stmt) -> bool:
    """A top-level statement that defines `handle` (def, assignment or import)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return node.name == "handle"
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == "handle" for t in node.targets)
    if isinstance(node, ast.ImportFrom | ast.Import):
        return any((alias.asname or alias.name) == "handle" for alias in node.names)
    return False


def check_handle(source_file: Path, function_path: str) -> None:
    """The file parses and defines a top-level `handle` whose parameters are allowed."""
    source = source_file.read_text(encoding="utf-8", errors="replace")
    try:
        tree = ast.parse(source, filename=function_path)
    except SyntaxError as error:
        raise BuildFailed(
            f"{function_path} has a syntax error at line {error.lineno}: {error.msg}",
            trace=f'  File "{function_path}", line {error.lineno}\n'
            f"    {(error.text or '').strip()}\nSyntaxError: {error.msg}",
        ) from None
    handle = next((node for node in tree.body if _binds_handle(node)), None)
    if handle is None:
        raise BuildFailed(f"{function_path} must define a top-level function named 'handle'")
    if isinstance(handle, ast.AsyncFunctionDef):
        raise BuildFailed("'handle' must be a regular function, not 'async def'")
    if isinstance(handle, ast.FunctionDef):
        arguments = handle.args
        names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
        wrong = [name for name in names if name not in PARAMETERS]
        if wrong:
            raise BuildFailed(
                f"'handle' has parameter(s) {', '.join(wrong)}; it may only take "
                f"{', '.join(PARAMETERS)}"
            )
