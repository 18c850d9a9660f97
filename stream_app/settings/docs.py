"""docs/settings.md, generated from the models: a test fails when the file drifts from them.

``python -m stream_app.settings.docs`` (or ``make settings-docs``) writes it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from stream_app.settings.base import env_var
from stream_app.settings.root import Settings, env_text

DOCS_FILE = Path("docs/settings.md")

_HEADER = """\
# Settings

Generated from `stream_app/settings/` by `make settings-docs`; do not edit by hand.

Every setting is an environment variable `STREAM_APP_<SECTION>__<FIELD>` (or a line of a
`.env` file in the working directory). Lists, tuples and mappings are JSON, durations ISO
8601 (`P7D`, `PT30S`) or seconds, `null` is none. Variables of the flat settings of earlier
releases (such as `STREAM_APP_REDIS_URL`) are refused at start-up with the new name.
"""


def _type_name(annotation: Any) -> str:
    """``tuple[float, float]`` rather than ``typing.Tuple[float, float]`` or a class repr."""
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation)
    text = re.sub(r"\b(?:typing|pathlib|datetime|pydantic\.types|pydantic)\.", "", text)
    text = re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", text).replace("NoneType", "None")
    text = text.replace("Annotated[Path, PathType(path_type='file')]", "FilePath")
    optional = re.fullmatch(r"Optional\[(.*)\]", text)
    return f"{optional[1]} | None" if optional else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def section_table(name: str, model: type[BaseModel]) -> list[str]:
    """One section: its doc line, then variable, type, default and meaning of each field."""
    defaults = model()
    dumped = defaults.model_dump(mode="json")
    lines = [
        f"## `{name}`",
        "",
        (model.__doc__ or "").strip().splitlines()[0],
        "",
        "| Variable | Type | Default | Meaning |",
        "| --- | --- | --- | --- |",
    ]
    for field, info in model.model_fields.items():
        if not info.description:
            raise ValueError(f"{model.__name__}.{field} has no description")
        default = env_text(getattr(defaults, field), dumped[field])
        lines.append(
            f"| `{env_var(name, field)}` | `{_cell(_type_name(info.annotation))}` "
            f"| `{_cell(default)}` | {_cell(info.description)} |"
        )
    return [*lines, ""]


def settings_markdown() -> str:
    """docs/settings.md as the models say it."""
    lines = [_HEADER]
    for name, model in Settings.sections().items():
        lines += section_table(name, model)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Write docs/settings.md (or the path given)."""
    path = Path(argv[0]) if argv else DOCS_FILE
    path.write_text(settings_markdown(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
