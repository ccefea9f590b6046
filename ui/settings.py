"""What the window remembers between runs (QSettings, organisation and application "dancepose")."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from PySide6.QtCore import QSettings


@dataclass(frozen=True)
class UiSettings:
    """Persistent choices.

    Attributes:
        input: the last input ('' = default device; a device name or an audio file path).
        resolution: '4th', '8th' or '16th'.
        top_k: poses per event.
        mode: 'predictive' or 'centred'.
        encoder: 'auto', 'edsa' or 'reactive'.
        bank: the pose bank folder ('' = the bundled bank).
        perf_image: whether the performance view shows the image beside the body.
        screen: screen number for the performance view.
    """

    input: str = ""
    resolution: str = "8th"
    top_k: int = 5
    mode: str = "predictive"
    encoder: str = "auto"
    bank: str = ""
    perf_image: bool = True
    screen: int = 0


def store() -> QSettings:
    return QSettings("dancepose", "dancepose")


def load_settings() -> UiSettings:
    """The saved settings (defaults for what was never saved or does not parse)."""
    saved, default = store(), UiSettings()
    values = {}
    for field in fields(UiSettings):
        value = saved.value(field.name, getattr(default, field.name))
        kind = type(getattr(default, field.name))
        try:
            values[field.name] = (str(value).lower() in ("true", "1")) if kind is bool else kind(value)
        except (TypeError, ValueError):
            values[field.name] = getattr(default, field.name)
    return UiSettings(**values)


def save_settings(settings: UiSettings) -> None:
    saved = store()
    for name, value in asdict(settings).items():
        saved.setValue(name, value)
    saved.sync()
