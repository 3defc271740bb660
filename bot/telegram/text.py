"""Splitting Telegram HTML into messages under the 4096-character limit.

Cuts prefer paragraph breaks, then line breaks, then spaces; a cut never falls inside a
tag or an entity, and tags open at the cut are closed at the end of one part and opened
again at the start of the next, so every part is valid HTML on its own.
"""

from __future__ import annotations

import re

TELEGRAM_LIMIT = 4096

_UNIT = re.compile(r"<[^<>]*>|&#?\w+;|\n\n|\n| |[^<&\n ]{1,64}|[<&]")
_BREAKS = ("\n\n", "\n", " ")


def _len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _tag_name(unit: str) -> str:
    return re.split(r"[\s>/]", unit.lstrip("</"), maxsplit=1)[0].lower()


def _stack_after(units: list[str], stack: list[str]) -> list[str]:
    """The opening tags still open after `units`, starting from `stack`."""
    stack = list(stack)
    for u in units:
        if u.startswith("</"):
            name = _tag_name(u)
            for i in range(len(stack) - 1, -1, -1):
                if _tag_name(stack[i]) == name:
                    del stack[i:]
                    break
        elif u.startswith("<") and u.endswith(">") and not u.endswith("/>"):
            stack.append(u)
    return stack


def _closers(stack: list[str]) -> str:
    return "".join(f"</{_tag_name(t)}>" for t in reversed(stack))


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """`text` in parts of at most `limit` characters each (counting tags, so the
    visible text is shorter still)."""
    if _len(text) <= limit:
        return [text]
    units = _UNIT.findall(text)
    parts: list[str] = []
    opened: list[str] = []  # tags open at the start of the current part
    current: list[str] = []
    size = 0
    for unit in units:
        stack = _stack_after(current, opened)
        room = limit - _len("".join(opened)) - _len(_closers(_stack_after([unit], stack)))
        if current and size + _len(unit) > room:
            cut = len(current)
            for brk in _BREAKS:
                found = [i for i, u in enumerate(current) if u == brk and i > 0]
                if found:
                    cut = found[-1]
                    break
            head, tail = current[:cut], current[cut + 1 :] if cut < len(current) else []
            head_stack = _stack_after(head, opened)
            parts.append(("".join(opened) + "".join(head)).rstrip() + _closers(head_stack))
            opened = head_stack
            current = tail
            size = sum(_len(u) for u in current)
        current.append(unit)
        size += _len(unit)
    if current:
        last = ("".join(opened) + "".join(current)).rstrip()
        parts.append(last + _closers(_stack_after(current, opened)))
    return [p for p in parts if p.strip()]
