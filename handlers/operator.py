"""What the operator commands (`redshield week|hazards|reports|…`) share."""
from __future__ import annotations

from bot.core.registry import CliError
from storage.directory import project_by_code


async def project_of(session, code: str):
    """The project with this code; an unknown code stops the command with a message."""
    project = await project_by_code(session, code)
    if project is None:
        raise CliError(f"no project {code!r}")
    return project
