"""The EQL functions Elasticsearch knows, with their arities.

Elasticsearch looks function names up case-insensitively (its registry lower-cases the name), so
``STARTSWITH(...)`` and ``startswith~(...)`` are valid; the parser stores the documented spelling.
Only functions whose matching depends on case accept the ``~`` suffix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


@dataclass(frozen=True, kw_only=True, slots=True)
class FunctionSpec:
    """One function: its documented name and how many arguments it takes."""

    name: str
    min_args: int
    max_args: int | None  # None: any number (variadic)
    case_aware: bool = False  # accepts the `fn~(...)` case-insensitive form

    def accepts(self, count: int) -> bool:
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)

    def arity_text(self) -> str:
        """How Elasticsearch words the expected count ("exactly two arguments")."""
        low = _NUMBER_WORDS.get(self.min_args, str(self.min_args))
        if self.max_args is None:
            noun = "argument" if self.min_args == 1 else "arguments"
            return f"at least {low} {noun}"
        if self.max_args == self.min_args:
            noun = "argument" if self.min_args == 1 else "arguments"
            return f"exactly {low} {noun}"
        high = _NUMBER_WORDS.get(self.max_args, str(self.max_args))
        return f"{low} or {high} arguments"


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name.lower(): spec
    for spec in (
        FunctionSpec(name="add", min_args=2, max_args=2),
        FunctionSpec(name="between", min_args=3, max_args=4, case_aware=True),
        FunctionSpec(name="cidrMatch", min_args=2, max_args=None),
        FunctionSpec(name="concat", min_args=1, max_args=None),
        FunctionSpec(name="divide", min_args=2, max_args=2),
        FunctionSpec(name="endsWith", min_args=2, max_args=2, case_aware=True),
        FunctionSpec(name="indexOf", min_args=2, max_args=3, case_aware=True),
        FunctionSpec(name="length", min_args=1, max_args=1),
        FunctionSpec(name="modulo", min_args=2, max_args=2),
        FunctionSpec(name="multiply", min_args=2, max_args=2),
        FunctionSpec(name="number", min_args=1, max_args=2),
        FunctionSpec(name="startsWith", min_args=2, max_args=2, case_aware=True),
        FunctionSpec(name="string", min_args=1, max_args=1),
        FunctionSpec(name="stringContains", min_args=2, max_args=2, case_aware=True),
        FunctionSpec(name="substring", min_args=2, max_args=3),
        FunctionSpec(name="subtract", min_args=2, max_args=2),
    )
}


def lookup(name: str) -> FunctionSpec | None:
    """The function called ``name`` (any letter case), or None when Elasticsearch has none."""
    return FUNCTIONS.get(name.lower())


def suggest(name: str) -> list[str]:
    """Documented names close to an unknown ``name``, best first (for "did you mean")."""
    matches = difflib.get_close_matches(name.lower(), list(FUNCTIONS), n=3, cutoff=0.7)
    return [FUNCTIONS[m].name for m in matches]
