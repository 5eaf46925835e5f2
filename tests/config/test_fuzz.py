"""Whatever text a file holds, loading it gives a Config or a ConfigError, never another error."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.config import Config, ConfigError, load_config

SECTIONS = list(Config.model_fields)
FIELDS = [
    "id", "name", "owner", "site", "kind", "lat", "lon", "url", "host", "port", "password",
    "web", "timezone", "database_url", "plugin_dir", "enabled", "events", "channels", "tags",
]  # fmt: skip
YAMLISH = st.lists(
    st.sampled_from(
        [*"abcxyz0129.-_:,[]{}!&*#'\"|>?%@`<= \t\n", "!secret ", "!env ", "<<: ", "- ", "\n  "]
    ),
    max_size=80,
).map("".join)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["opd", "private", "rtsp://u:p@10.0.0.1/live", "Asia/Jakarta", "camera.*"]),
)
KEYS = st.sampled_from(SECTIONS + FIELDS) | st.text(max_size=8)
STRUCTURES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
DOCUMENTS = st.dictionaries(st.sampled_from(SECTIONS), STRUCTURES, max_size=4)


def load_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pantau.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        (Path(folder) / "secrets.yaml").write_text("x: geheim\n", encoding="utf-8")
        try:
            assert isinstance(load_config(path, environ={"x": "1"}), Config)
        except ConfigError as err:
            assert err.issues
            assert all(
                str(issue).startswith(str(path)) or "secrets.yaml" in str(issue)
                for issue in err.issues
            )


@settings(max_examples=300, deadline=None)
@given(YAMLISH)
def test_yaml_like_text_loads_or_raises_config_error(text: str) -> None:
    load_text(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_raises_config_error(text: str) -> None:
    load_text(text)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_config_shaped_data_loads_or_raises_config_error(document: dict[str, Any]) -> None:
    load_text(yaml.safe_dump(document, allow_unicode=True))
