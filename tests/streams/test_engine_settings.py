"""The configuration's hub.streams section and the engine's settings: one set of knobs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hub.config import load_config
from hub.config.errors import ConfigError
from hub.config.models import StreamSettings
from hub.streams.worker import EngineSettings

SHARED = sorted(
    f.name for f in dataclasses.fields(EngineSettings) if f.name in StreamSettings.model_fields
)


def test_the_section_and_the_engine_agree_on_every_default() -> None:
    section, engine = StreamSettings(), EngineSettings()
    shared = {"activity_lease", "motion_lease", "motion_hold", "t3_dismiss", "keyframe_interval"}
    assert shared <= set(SHARED)
    for name in SHARED:
        assert getattr(section, name) == getattr(engine, name), name
    assert EngineSettings.from_config(section) == engine


def test_every_shared_setting_reaches_the_engine() -> None:
    changed: dict[str, object] = {}
    for name in SHARED:
        value = getattr(StreamSettings(), name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        changed[name] = value * 2 if value else 1
    changed["ring"] = "memory"
    section = StreamSettings.model_validate(changed)
    engine = EngineSettings.from_config(section)
    for name, value in changed.items():
        assert getattr(engine, name) == value, name
    assert engine.t3_backlog == EngineSettings().t3_backlog  # not a configuration setting


def test_t3_dismiss_zero_means_never() -> None:
    section = StreamSettings.model_validate({"t3_dismiss": 0})
    assert EngineSettings.from_config(section).t3_dismiss is None


def test_motion_hold_zero_means_as_long_as_motion_lasts() -> None:
    section = StreamSettings.model_validate({"motion_hold": 0})
    assert EngineSettings.from_config(section).motion_hold is None
    assert EngineSettings.from_config(StreamSettings()).motion_hold == 20.0


def test_a_negative_lease_names_its_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "pantau.yaml"
    path.write_text("hub:\n  streams:\n    keyframe_interval: 10\n    motion_lease: -2\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "pantau.yaml" in message and ":4" in message
    assert "motion_lease" in message
