"""One root for the project's exceptions, each carrying the exit code it means.

A front end catches `MigrantBotError`, prints its message (written for the person who
must act: a staff member or an operator, with file:line where there is one) and exits
with `exit_code`, instead of listing every class it knows. Exit codes follow the CLI's
contract: 1 the thing checked has problems, 2 bad input or configuration.
"""

from __future__ import annotations

EXIT_PROBLEMS = 1
EXIT_USAGE = 2


class MigrantBotError(Exception):
    """Something the assistant cannot do; the message says what to change."""

    exit_code: int = EXIT_USAGE


class ConfigError(MigrantBotError):
    """The configuration (environment, .env, files it names) cannot work as it is."""


class InputError(MigrantBotError, ValueError):
    """Input a command or calculator cannot use (a date, a file, an option)."""


class ProblemsFound(MigrantBotError):
    """A check found problems in curated files (knowledge entries, deadline rules);
    nothing was built from them. `problems` holds the errors, each with file:line."""

    exit_code = EXIT_PROBLEMS

    def __init__(self, what: str, problems: list) -> None:
        self.problems = [p for p in problems if getattr(p, "severity", "error") == "error"]
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{what} {len(self.problems)} error(s); fix them and retry:\n{lines}")
