"""Read a configuration file: YAML with the line of every value, `!secret` and `!env` tags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hub.config.base import CONFIG_DIR, SKIP_REFERENCES
from hub.config.errors import (
    ConfigError,
    ConfigIssue,
    Loc,
    describe_value,
    error_location,
    error_value,
    format_path,
    is_sensitive,
    plain_message,
)
from hub.config.models import (
    Config,
    field_names_at,
    reference_problems,
)

_YAML = "tag:yaml.org,2002:"
_STR, _NULL, _MAP, _SEQ = _YAML + "str", _YAML + "null", _YAML + "map", _YAML + "seq"
_MERGE, _VALUE = _YAML + "merge", _YAML + "value"
_SCALAR_TAGS = frozenset(
    _YAML + name for name in ("null", "bool", "int", "float", "binary", "timestamp", "str")
)
_COLLECTION_TAGS = frozenset(_YAML + name for name in ("omap", "pairs", "set", "seq", "map"))
# Anchors and aliases can make a small file expand enormously ("billion laughs").
_MOST_NODES = 100_000


@dataclass
class YamlDocument:
    """A parsed YAML file, with the line of each value and what went wrong while reading it."""

    file: str
    data: Any = None
    lines: dict[Loc, int] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    unresolved: set[Loc] = field(default_factory=set)
    """Values replaced by null because their tag failed; their problem is already told."""
    secrets: set[str] = field(default_factory=set)
    """Values read through `!secret`."""
    readable: bool = True

    def line_of(self, loc: Loc) -> int | None:
        """The line of the value at `loc`, or of the nearest mapping or list around it."""
        while loc not in self.lines:
            if not loc:
                return None
            loc = loc[:-1]
        return self.lines[loc]

    def is_unresolved(self, loc: Loc) -> bool:
        """Whether `loc` lies in a value whose tag failed (and was already reported)."""
        return any(loc[: len(bad)] == bad for bad in self.unresolved)

    def add(self, line: int | None, loc: Loc, message: str, file: str | None = None) -> None:
        """Record a problem found while reading."""
        self.issues.append(ConfigIssue(file or self.file, line, format_path(loc), message))

    def fail(self, line: int | None, message: str, file: str | None = None) -> None:
        """Record a problem that leaves nothing to validate."""
        self.add(line, (), message, file)
        self.readable = False


class _Unreadable(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _show_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


def _yaml_problem(err: yaml.YAMLError, text: str) -> tuple[int | None, str]:
    if isinstance(err, yaml.reader.ReaderError):
        code = ord(err.character) if isinstance(err.character, str) else int(err.character)
        message = f"could not parse YAML: character #x{code:04x} is not allowed"
        return text.count("\n", 0, err.position) + 1, message
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = int(mark.line) + 1 if mark is not None else None
        problem = err.problem or err.context or "unknown problem"
        if err.context and problem.startswith("but "):  # "expected a single document, but ..."
            problem = f"{err.context}, {problem}"
        return where, f"could not parse YAML: {problem}"
    return None, f"could not parse YAML: {err}"


class _TagResolver:
    """Walks the nodes before construction: notes lines, resolves tags, finds duplicate keys."""

    def __init__(
        self, doc: YamlDocument, loader: yaml.SafeLoader, source: Path, environ: Mapping[str, str]
    ) -> None:
        self.doc = doc
        self.loader = loader
        self.environ = environ
        self.secrets_path = source.parent / "secrets.yaml"
        self.secrets_shown = str(Path(doc.file).parent / "secrets.yaml")
        self._secrets: dict[str, Any] | ConfigIssue | None = None
        self._secrets_read = False
        self._count = 0
        self._open: set[int] = set()

    def walk(self, node: Node, loc: Loc, *, keep_lines: bool = False) -> None:
        self._count += 1
        if self._count > _MOST_NODES:
            raise _Unreadable(None, "the file is too large, or its aliases expand too far")
        if id(node) in self._open:
            raise _Unreadable(_line(node), "an alias refers to the value that contains it")
        if isinstance(node, ScalarNode):
            self.scalar(node, loc)
            return
        self._open.add(id(node))
        try:
            kind = _MAP if isinstance(node, MappingNode) else _SEQ
            if node.tag not in _COLLECTION_TAGS:
                self.doc.add(
                    _line(node), loc, f"tag {_show_tag(node.tag)} does not fit a list or mapping"
                )
                self.doc.unresolved.add(loc)
                node.tag = kind
            if isinstance(node, MappingNode):
                self.mapping(node, loc, keep_lines=keep_lines)
            elif isinstance(node, SequenceNode):
                for index, item in enumerate(node.value):
                    self.set_line((*loc, index), _line(item), keep=keep_lines)
                    self.walk(item, (*loc, index), keep_lines=keep_lines)
        finally:
            self._open.discard(id(node))

    def set_line(self, loc: Loc, line: int, *, keep: bool) -> None:
        if keep:
            self.doc.lines.setdefault(loc, line)
        else:
            self.doc.lines[loc] = line

    def mapping(self, node: MappingNode, loc: Loc, *, keep_lines: bool) -> None:
        first_line: dict[tuple[str, str], int] = {}
        merged: list[Node] = []
        for key_node, value_node in list(node.value):
            if key_node.tag == _MERGE:
                merged.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.walk(key_node, (*loc, "<key>"))  # construction reports the unhashable key
                self.walk(value_node, (*loc, "<key>"))
                continue
            if key_node.tag == _VALUE:
                key_node.tag = _STR
            key, line = str(key_node.value), _line(key_node)
            child = (*loc, key)
            self.scalar(key_node, child)  # a tagged key (`!env X: 1`) is odd, but legal YAML
            if child in self.doc.unresolved:  # told already; leave the entry out
                node.value.remove((key_node, value_node))
                continue
            if (key_node.tag, key) in first_line:
                first = first_line[key_node.tag, key]
                self.doc.add(line, child, f"key '{key}' appears twice (first at line {first})")
            else:
                first_line[key_node.tag, key] = line
            self.set_line(child, line, keep=keep_lines)
            self.walk(value_node, child, keep_lines=keep_lines)
        # merged keys (`<<: *defaults`) come after the mapping's own, which win
        for value_node in merged:
            if isinstance(value_node, SequenceNode):
                for item in value_node.value:
                    self.walk(item, loc, keep_lines=True)
            else:
                self.walk(value_node, loc, keep_lines=True)

    def scalar(self, node: ScalarNode, loc: Loc) -> None:
        if node.tag == "!secret":
            self.secret(node, loc)
        elif node.tag == "!env":
            self.env(node, loc)
        elif node.tag in _COLLECTION_TAGS:
            self.unresolved(node, loc, f"is not a valid {node.tag.removeprefix(_YAML)}")
        elif node.tag in _SCALAR_TAGS:
            try:
                SafeConstructor.yaml_constructors[node.tag](self.loader, node)
            except Exception:
                # never quote the value: it may be a password
                self.unresolved(node, loc, f"is not a valid {node.tag.removeprefix(_YAML)}")
        else:
            message = f"unknown tag {_show_tag(node.tag)}; only !secret and !env are supported"
            self.unresolved(node, loc, message)

    def unresolved(self, node: ScalarNode, loc: Loc, message: str) -> None:
        self.doc.add(_line(node), loc, message)
        self.doc.unresolved.add(loc)
        node.tag, node.value = _NULL, ""

    def resolved(self, node: ScalarNode, value: str) -> None:
        node.tag, node.value = _STR, value

    def secret(self, node: ScalarNode, loc: Loc) -> None:
        name = str(node.value).strip()
        if not name:
            self.unresolved(
                node, loc, "!secret needs the name of a secret, like !secret nvr_password"
            )
            return
        secrets = self.load_secrets()
        if isinstance(secrets, ConfigIssue):  # the file is broken, and that is reported once
            self.doc.unresolved.add(loc)
            node.tag, node.value = _NULL, ""
            return
        if secrets is None:
            message = f"secret '{name}' not found: {self.secrets_shown} does not exist"
            self.unresolved(node, loc, message)
            return
        if name not in secrets:
            self.unresolved(node, loc, f"secret '{name}' not found in {self.secrets_shown}")
            return
        value = secrets[name]
        if not isinstance(value, str):
            self.unresolved(
                node, loc, f"secret '{name}' in {self.secrets_shown} must be a single value"
            )
            return
        if value:
            self.doc.secrets.add(value)
        self.resolved(node, value)

    def env(self, node: ScalarNode, loc: Loc) -> None:
        name = str(node.value).strip()
        if not name:
            self.unresolved(
                node, loc, "!env needs the name of an environment variable, like !env PANTAU_DB"
            )
        elif name not in self.environ:
            self.unresolved(node, loc, f"environment variable {name} is not set")
        else:
            self.resolved(node, self.environ[name])

    def load_secrets(self) -> dict[str, Any] | ConfigIssue | None:
        if not self._secrets_read:
            self._secrets_read = True
            self._secrets = _read_secrets(self.secrets_path, self.secrets_shown)
            if isinstance(self._secrets, ConfigIssue):
                self.doc.issues.append(self._secrets)
        return self._secrets


def _read_secrets(path: Path, shown: str) -> dict[str, Any] | ConfigIssue | None:
    """The secrets file as a mapping; None if there is none; the issue if it is broken."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        return ConfigIssue(shown, None, "", f"could not read the file: {err.strerror or err}")
    except UnicodeDecodeError:
        return ConfigIssue(shown, None, "", "could not read the file: it is not UTF-8 text")
    loader = None
    try:
        # BaseLoader keeps every value as written: a password 0123 stays "0123", not 83
        loader = yaml.BaseLoader(text)
        data = loader.get_single_data()
    except yaml.YAMLError as err:
        line, message = _yaml_problem(err, text)
        return ConfigIssue(shown, line, "", message)
    except RecursionError:
        return ConfigIssue(shown, None, "", "could not parse YAML: it is nested too deeply")
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        return ConfigIssue(shown, 1, "", "must map secret names to values, like nvr_password: ...")
    return data


def read_yaml(path: Path | str, environ: Mapping[str, str] | None = None) -> YamlDocument:
    """Parse a YAML file into plain data, resolving tags and noting the line of each value."""
    doc = YamlDocument(str(path))
    source = Path(path)
    try:
        text = source.read_bytes().decode("utf-8")
    except OSError as err:
        doc.fail(None, f"could not read the file: {err.strerror or err}")
        return doc
    except UnicodeDecodeError:
        doc.fail(None, "could not read the file: it is not UTF-8 text")
        return doc
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # checks every character first
        node = loader.get_single_node()
        if node is None:
            return doc
        doc.lines[()] = _line(node)
        _TagResolver(doc, loader, source, os.environ if environ is None else environ).walk(node, ())
        doc.data = loader.construct_document(node)
    except yaml.YAMLError as err:
        doc.fail(*_yaml_problem(err, text))
    except _Unreadable as err:
        doc.fail(err.line, err.message)
    except RecursionError:
        doc.fail(None, "could not parse YAML: it is nested too deeply")
    finally:
        if loader is not None:
            loader.dispose()
    return doc


def load_config(path: Path | str, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a configuration file; raise ConfigError listing every problem in it."""
    doc = read_yaml(path, environ)
    if not doc.readable:
        raise ConfigError(_in_order(doc))
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        got = describe_value(data)
        doc.add(doc.line_of(()), (), f"must hold sections such as hub: and cameras:, got {got}")
        raise ConfigError(_in_order(doc))
    config = None
    try:
        config = Config.model_validate(
            data, context={SKIP_REFERENCES: True, CONFIG_DIR: Path(path).parent}
        )
    except ValidationError as err:
        for error in err.errors(include_url=False):
            loc = error_location(error)
            if doc.is_unresolved(loc):
                continue
            value = error_value(error)
            hide = is_sensitive(loc) or (isinstance(value, str) and value in doc.secrets)
            known = field_names_at(loc[:-1]) if error["type"] == "extra_forbidden" else []
            doc.add(
                doc.line_of(loc), loc, plain_message(error, hide_value=hide, known_fields=known)
            )
    for problem in reference_problems(data):
        if doc.is_unresolved(problem.loc):
            continue
        first = problem.first
        first_line = doc.line_of(first) if first is not None else None
        first_at = f"line {first_line}" if first_line is not None else None
        if first is not None and first_at is None:
            first_at = format_path(first)
        doc.add(doc.line_of(problem.loc), problem.loc, problem.describe(first_at))
    if doc.issues or config is None:
        raise ConfigError(_in_order(doc))
    config._tagged_secrets = set(doc.secrets)
    return config


def _in_order(doc: YamlDocument) -> list[ConfigIssue]:
    # the configuration file first, top to bottom; then the secrets file
    return sorted(doc.issues, key=lambda issue: (issue.file != doc.file, issue.line or 0))
