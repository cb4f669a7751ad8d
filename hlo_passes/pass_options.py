"""Pass options: which field types a pass may declare, how pipeline text sets them, how they print back.

A pass's options are its dataclass fields. Scalars (`bool`, `int`, `float`, `str`) are MLIR's `Option`;
the rest follow MLIR's pipeline syntax too, so that a pipeline stays one line of text:

    types: tuple[str, ...] = option(("f32",), "...")    # list:     my-pass{types=f32,bf16}
    mode: Literal["tanh", "erf"] = option("tanh", "...") # enum:     my-pass{mode=erf}
    limit: int | None = option(None, "...")              # optional: unset (None) unless given

A list is comma-separated inside the braces, as MLIR's `ListOption` (`opt=a,b`; `opt=` is the empty list);
the pipeline splitter never splits inside braces. An optional option is `None` until given and is then
parsed as its inner type; it prints back only when set. Values print back in the same syntax, so
`str(pass)` read by `parse_pipeline` gives the same pass again (reproducers rely on it).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass
from typing import Any

from .diagnostics import HloError, did_you_mean

SCALARS = (bool, int, float, str)


@dataclass(frozen=True)
class OptionInfo:
    name: str  # CLI spelling, kebab-case
    type: Any  # the field's annotation: a scalar type, Literal[...], an Enum, tuple[T, ...] or T | None
    default: Any
    help: str

    @property
    def type_name(self) -> str:
        """How `--list-passes` and the README show the type: `int`, `list of str`, `tanh|erf`, `int?`."""
        return type_name(self.type)


def _parts(typ) -> tuple[str, Any]:
    """('scalar'|'enum'|'list'|'optional', inner) of a supported annotation; TypeError otherwise."""
    if typ in SCALARS:
        return "scalar", typ
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        return "enum", typ
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin is typing.Literal and args and all(isinstance(a, str) for a in args):
        return "enum", typ
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis and _parts(args[0])[0] in ("scalar", "enum"):
        return "list", args[0]
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = args[0] if args[1] is type(None) else args[1]
        if _parts(inner)[0] in ("scalar", "enum", "list"):
            return "optional", inner
    raise TypeError(f"type {typ} is not a pass option type (bool, int, float, str, Literal[...] of str, an Enum,"
                    " tuple[T, ...], or T | None)")


def check_type(typ) -> None:
    _parts(typ)


def type_name(typ) -> str:
    kind, inner = _parts(typ)
    if kind == "scalar":
        return inner.__name__
    if kind == "enum":
        return "|".join(_choices(inner))
    if kind == "list":
        return f"list of {type_name(inner)}"
    return f"{type_name(inner)}?"


def _choices(typ) -> list[str]:
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        return [str(m.value) if isinstance(m.value, str) else m.name for m in typ]
    return list(typing.get_args(typ))


def _scalar(typ, text: str) -> Any:
    if typ is bool:
        if text.lower() in ("1", "true", "yes", "on", ""):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError
    return typ(text)


def convert(pass_: str, opt: OptionInfo, text: str) -> Any:
    """Pipeline text -> the option's value; a bad value is one HloError naming the pass and option."""
    kind, inner = _parts(opt.type)
    if kind == "optional":
        kind, inner = _parts(inner)
    if kind == "enum":
        return _enum(pass_, opt, inner, text)
    if kind == "list":
        items = [t.strip() for t in text.split(",")] if text.strip() else []
        return tuple(_enum(pass_, opt, inner, t) if _parts(inner)[0] == "enum" else _typed(pass_, opt, inner, t)
                     for t in items)
    return _typed(pass_, opt, inner, text)


def _typed(pass_: str, opt: OptionInfo, typ, text: str) -> Any:
    try:
        return _scalar(typ, text)
    except ValueError:
        raise HloError(f"option '{opt.name}' of pass '{pass_}' expects {type_name(opt.type)}, got '{text}'") from None


def _enum(pass_: str, opt: OptionInfo, typ, text: str) -> Any:
    choices = _choices(typ)
    if text not in choices:
        raise HloError(f"option '{opt.name}' of pass '{pass_}' must be one of {', '.join(choices)}; got '{text}'"
                       f"{did_you_mean(text, choices)}")
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        return next(m for m in typ if (str(m.value) if isinstance(m.value, str) else m.name) == text)
    return text


def format_value(value: Any) -> str:
    """An option's value as pipeline text (the inverse of `convert`)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, enum.Enum):
        return str(value.value) if isinstance(value.value, str) else value.name
    if isinstance(value, tuple):
        return ",".join(format_value(v) for v in value)
    text = str(value)
    return f"'{text}'" if any(c in text for c in " \t{}(),\"") and "'" not in text else text


def options_of(cls: type) -> tuple[OptionInfo, ...]:
    """The options of a pass class, checked: every field typed as above and with a default."""
    hints = typing.get_type_hints(cls)
    options = []
    for f in dataclasses.fields(cls):
        typ = hints.get(f.name)
        try:
            check_type(typ)
        except TypeError as e:
            raise TypeError(f"option {f.name} of pass {cls.name}: {e}") from None
        if f.default is dataclasses.MISSING:
            raise TypeError(f"option {f.name} of pass {cls.name} needs a default")
        options.append(OptionInfo(f.name.replace("_", "-"), typ, f.default, f.metadata.get("help", "")))
    return tuple(options)
