"""User-facing errors.

Everything a user can get wrong (a bad file, an unknown pass, an option of the wrong type, a pass that
fails) ends up as one `HloError`: a message, and where it happened when that is known. The CLI prints it
as `file:line:col: error: message` and exits non-zero; the Python API lets it propagate. Nothing in this
module touches MLIR, so it can be imported from anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The part of an MLIR location that points into a file: `"path":line:col`, possibly nested in
# fused/callsite/name locations. The first such triple is the most specific place there is.
_FILE_LOC = re.compile(r'"((?:[^"\\]|\\.)*)":(\d+):(\d+)')


def _unescape(text: str) -> str:
    r"""A file name as MLIR prints it in a location (`\\` for a backslash, `\XX` for any byte that is not
    printable ASCII, so `héllo` is `h\C3\A9llo`) back to the name the user gave."""
    if "\\" not in text:  # (nearly every name: no escapes to undo)
        return text
    out, i = bytearray(), 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1:i + 2] == "\\":
            out += b"\\"
            i += 2
        elif text[i] == "\\" and re.fullmatch(r"[0-9A-Fa-f]{2}", text[i + 1:i + 3]):
            out.append(int(text[i + 1:i + 3], 16))
            i += 3
        else:
            out += text[i].encode()
            i += 1
    return out.decode(errors="replace")


@dataclass(frozen=True)
class SourceLoc:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @staticmethod
    def parse(text: str, filename: str | None = None) -> SourceLoc | None:
        """Find `"file":line:col` in the printed form of an MLIR location.

        MLIR names text parsed from a string `-`; `filename` replaces that so that users see their file.
        """
        m = _FILE_LOC.search(text)
        if not m:
            return None
        file = _unescape(m.group(1))
        if filename and file in ("-", ""):
            file = filename
        return SourceLoc(file, int(m.group(2)), int(m.group(3)))


# A note is context, not a dump: MLIR's "see current operation" note prints the whole operation, which
# for a module of 20k ops is megabytes. `str(error)` keeps the first lines; `error.notes` keep it all.
MAX_NOTE_LINES = 12
MAX_LINE_CHARS = 400
MAX_NOTES = 20
MAX_MESSAGE_CHARS = 2000


def shorten(text: str, max_lines: int = MAX_NOTE_LINES, max_chars: int = MAX_LINE_CHARS) -> str:
    """The first `max_lines` lines of `text`, each cut at `max_chars`, then `... (N more lines)`."""
    lines = text.split("\n")
    kept = [line if len(line) <= max_chars else f"{line[:max_chars]}... ({len(line) - max_chars} more characters)"
            for line in lines[:max_lines]]
    if len(lines) > max_lines:
        kept.append(f"... ({len(lines) - max_lines} more lines)")
    return "\n".join(kept)


class HloError(Exception):
    """An error the user can act on. `loc` says where, `notes` add context lines."""

    def __init__(self, message: str, loc: SourceLoc | None = None, notes: tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.notes = tuple(notes)

    def __str__(self) -> str:
        message = shorten(self.message, max_chars=MAX_MESSAGE_CHARS)  # (an attribute's text can be megabytes)
        head = f"{self.loc}: error: {message}" if self.loc else f"error: {message}"
        shown = list(self.notes)
        if len(shown) > MAX_NOTES:  # the last note stays: it is where the CLI says what it wrote
            shown = [*shown[:MAX_NOTES - 1], f"... ({len(shown) - MAX_NOTES} more notes)", shown[-1]]
        notes = [f"  note: {shorten(n)}" for n in shown]
        return "\n".join([head, *notes])

    def with_filename(self, filename: str) -> HloError:
        """The same error with MLIR's `-` (text parsed from a string) shown as `filename`."""
        if self.loc and self.loc.file in ("-", ""):
            return HloError(self.message, SourceLoc(filename, self.loc.line, self.loc.col), self.notes)
        return self


def did_you_mean(word: str, choices) -> str:
    """` (did you mean 'x'?)` for the closest choice, or nothing when none is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Decline(Exception):
    """A refusal with its reason: "not here, because ...". The one failure type of matching and rewriting:
    a pattern's `where` may raise it instead of returning a string (the match fails with that reason, which
    --debug-patterns prints), a conversion rule raises it when it cannot convert an op (the reason is listed
    if the op stays), and the constant evaluators raise it for an instance they do not fold. Not an error:
    the op is simply left as it is."""
