"""The test suite: unit/, dagster/, e2e/ and their shared helpers, support/ (tests/conftest.py
says what goes where)."""

import pytest

# The helpers' own asserts report like the tests' (registered before anything imports them).
pytest.register_assert_rewrite("tests.support")
