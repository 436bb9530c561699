"""Read pickled *plain data* without unpickling: no code from the file ever runs.

PyTables pickles any attribute that is not a NumPy value, so lstchain's DL2 tables carry
their ``config`` dict as a protocol-0 pickle (``(dp0\\nVsource_config\\n...``). Unpickling
untrusted data runs arbitrary code (``GLOBAL`` + ``REDUCE``), so :func:`loads_plain`
walks the opcode stream with :func:`pickletools.genops` (a parser: it decodes opcodes
and their arguments, it imports and calls nothing) and rebuilds the value with a small
stack machine that knows only plain data:

* ``None``, ``True``/``False``, ``int``, ``float``, ``str``;
* ``dict`` (keys: str, int, float, bool or None), ``list``; ``tuple``, ``set`` and
  ``frozenset`` become lists (what JSON can hold);
* the memo (``PUT``/``GET``/``MEMOIZE``), marks, ``PROTO``/``FRAME``/``STOP``;
* ``GLOBAL``/``STACK_GLOBAL`` naming one of the pure data constructors ``set``,
  ``frozenset`` (how protocols 0-3 write sets) and ``collections.OrderedDict``, applied
  by ``REDUCE``/``NEWOBJ`` to plain arguments: the constructor is *recognised by name*
  and replaced by its plain equivalent, never imported.

Any other global, any other opcode (``BUILD``, ``INST``, ``OBJ``, persistent ids,
extension codes, out-of-band buffers) and byte strings make it raise
:class:`NotPlainPickle`, naming the first offender; the caller then keeps the bytes
opaque. Cycles, excessive depth or size are refused too.
Protocols 0 to 5 are understood.
"""

from __future__ import annotations

import pickletools
from typing import Any

__all__ = ["MAX_NODES", "NotPlainPickle", "loads_plain", "looks_like_pickle"]

#: Values rebuilt at most (shared memo references are counted each time they appear).
MAX_NODES = 1_000_000
_MAX_DEPTH = 200

_SCALAR_KEYS = (str, int, float, bool, type(None))


class NotPlainPickle(ValueError):
    """The pickle holds something other than plain data (or is not a valid pickle)."""


class _Mark:
    __slots__ = ()


_MARK = _Mark()


class _Constructor:
    """A recognised data constructor named by GLOBAL (never imported)."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind


#: (module, name) of the constructors understood, and what they build
_CONSTRUCTORS = {
    ("__builtin__", "set"): "set",
    ("builtins", "set"): "set",
    ("__builtin__", "frozenset"): "frozenset",
    ("builtins", "frozenset"): "frozenset",
    ("collections", "OrderedDict"): "dict",
}


def _global(module: str, name: str) -> _Constructor:
    kind = _CONSTRUCTORS.get((module, name))
    if kind is None:
        raise NotPlainPickle(f"Python object (GLOBAL {module}.{name})")
    return _Constructor(kind)


def _construct(func: Any, args: Any) -> Any:
    if not isinstance(func, _Constructor) or not isinstance(args, tuple):
        raise NotPlainPickle("Python object (REDUCE)")
    if len(args) > 1:
        raise NotPlainPickle(f"Python object ({func.kind} with {len(args)} arguments)")
    items = args[0] if args else ()
    if func.kind == "dict":
        if isinstance(items, dict):
            return dict(items)
        if isinstance(items, list | tuple):
            out = {}
            for pair in items:
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    raise NotPlainPickle("OrderedDict items are not pairs")
                out[_key(pair[0])] = pair[1]
            return out
        raise NotPlainPickle("OrderedDict of an unexpected argument")
    if not isinstance(items, list | tuple | set | frozenset):
        raise NotPlainPickle(f"{func.kind} of an unexpected argument")
    built = {_key(i) for i in items}
    return built if func.kind == "set" else frozenset(built)


def looks_like_pickle(data: bytes) -> bool:
    """Cheap test: a protocol 2+ header, or a protocol 0/1 dict/list/tuple start and STOP."""
    if not data:
        return False
    if data[:1] == b"\x80" and len(data) > 2:
        return True
    return data[:1] in (b"(", b"}", b"]", b")") and data.rstrip(b"\x00").endswith(b".")


def _pop_mark(stack: list[Any]) -> list[Any]:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _MARK:
            items = stack[i + 1 :]
            del stack[i:]
            return items
    raise NotPlainPickle("not a valid pickle: MARK expected")


def _key(value: Any) -> Any:
    if isinstance(value, _SCALAR_KEYS):
        return value
    raise NotPlainPickle(f"dictionary key of type {type(value).__name__}")


_PUSH_ARG = frozenset(
    {
        "INT",
        "BININT",
        "BININT1",
        "BININT2",
        "LONG",
        "LONG1",
        "LONG4",
        "FLOAT",
        "BINFLOAT",
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "UNICODE",
        "BINUNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE8",
    }
)
_BYTES = frozenset({"BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"})
_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})


def loads_plain(data: bytes) -> Any:
    """The plain value a pickle encodes, rebuilt without unpickling.

    Raises
    ------
    NotPlainPickle
        If the pickle is malformed or holds anything but plain data; the message names
        the first opcode (and, for ``GLOBAL``, the class) that was refused.
    """
    stack: list[Any] = []
    memo: dict[int, Any] = {}
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            name = opcode.name
            if name in _PUSH_ARG:
                stack.append(arg)
            elif name in ("PROTO", "FRAME"):
                continue
            elif name == "STOP":
                break
            elif name == "MARK":
                stack.append(_MARK)
            elif name == "NONE":
                stack.append(None)
            elif name == "NEWTRUE":
                stack.append(True)
            elif name == "NEWFALSE":
                stack.append(False)
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "EMPTY_LIST":
                stack.append([])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "EMPTY_SET":
                stack.append(set())
            elif name == "DICT":
                items = _pop_mark(stack)
                stack.append({_key(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)})
            elif name == "SETITEM":
                value, key = stack.pop(), stack.pop()
                _dict(stack[-1])[_key(key)] = value
            elif name == "SETITEMS":
                items = _pop_mark(stack)
                target = _dict(stack[-1])
                for i in range(0, len(items) - 1, 2):
                    target[_key(items[i])] = items[i + 1]
            elif name == "LIST":
                stack.append(_pop_mark(stack))
            elif name == "APPEND":
                value = stack.pop()
                _list(stack[-1]).append(value)
            elif name == "APPENDS":
                items = _pop_mark(stack)
                _list(stack[-1]).extend(items)
            elif name == "TUPLE":
                stack.append(tuple(_pop_mark(stack)))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                if len(stack) < n:
                    raise NotPlainPickle("not a valid pickle: stack underflow")
                items = stack[-n:]
                del stack[-n:]
                stack.append(tuple(items))
            elif name == "ADDITEMS":
                items = _pop_mark(stack)
                target = stack[-1]
                if not isinstance(target, set):
                    raise NotPlainPickle("ADDITEMS on something that is not a set")
                target.update(_key(i) for i in items)
            elif name == "FROZENSET":
                stack.append(frozenset(_key(i) for i in _pop_mark(stack)))
            elif name == "POP":
                if stack and stack[-1] is not _MARK:
                    stack.pop()
                else:
                    _pop_mark(stack)
            elif name == "POP_MARK":
                _pop_mark(stack)
            elif name == "DUP":
                stack.append(stack[-1])
            elif name in _PUT:
                memo[arg] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in _GET:
                if arg not in memo:
                    raise NotPlainPickle(f"not a valid pickle: memo key {arg} unknown")
                stack.append(memo[arg])
            elif name in _BYTES:
                raise NotPlainPickle(f"byte string ({name})")
            elif name == "GLOBAL":
                module, _, attr = str(arg).partition(" ")
                stack.append(_global(module, attr))
            elif name == "STACK_GLOBAL":
                attr, module = stack.pop(), stack.pop()
                stack.append(_global(str(module), str(attr)))
            elif name in ("REDUCE", "NEWOBJ"):
                args = stack.pop()
                stack.append(_construct(stack.pop(), args))
            elif name == "INST":
                raise NotPlainPickle(f"Python object (INST {str(arg).replace(' ', '.')})")
            else:
                raise NotPlainPickle(f"Python object ({name})")
    except NotPlainPickle:
        raise
    except (ValueError, IndexError, KeyError, TypeError, EOFError, OverflowError) as exc:
        raise NotPlainPickle(f"not a valid pickle: {exc}") from None
    if len(stack) != 1 or stack[0] is _MARK:
        raise NotPlainPickle("not a valid pickle: no single value at STOP")
    return _plain(stack[0])


def _dict(value: Any) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise NotPlainPickle("SETITEM on something that is not a dict")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise NotPlainPickle("APPEND on something that is not a list")
    return value


def _plain(value: Any) -> Any:
    """A fresh JSON-ready copy (tuples and sets as lists), refusing cycles and excess."""
    count = 0

    def copy(v: Any, depth: int, path: set[int]) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise NotPlainPickle(f"more than {MAX_NODES:,} values")
        if depth > _MAX_DEPTH:
            raise NotPlainPickle(f"nested deeper than {_MAX_DEPTH} levels")
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if id(v) in path:
            raise NotPlainPickle("self-referencing structure")
        path.add(id(v))
        try:
            if isinstance(v, dict):
                return {k: copy(x, depth + 1, path) for k, x in v.items()}
            if isinstance(v, list | tuple):
                return [copy(x, depth + 1, path) for x in v]
            if isinstance(v, set | frozenset):
                return [copy(x, depth + 1, path) for x in sorted(v, key=repr)]
        finally:
            path.discard(id(v))
        raise NotPlainPickle(f"value of type {type(v).__name__}")

    return copy(value, 0, set())
