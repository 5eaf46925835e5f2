"""The onboarding tests run against the web tests' hub: a real port, a user of every role."""

from __future__ import annotations

from tests.web.conftest import site, start_site

__all__ = ["site", "start_site"]
