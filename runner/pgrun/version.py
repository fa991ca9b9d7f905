"""pgrun's version, in one place (read by the package, the installer and the build)."""

__version__ = "0.1.0"


def version_tuple(version: str) -> tuple[int, ...]:
    """'1.10.2' -> (1, 10, 2); a non-numeric part ends the tuple ('1.2.0rc1' -> (1, 2))."""
    parts = []
    for part in version.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)
