"""Shared by the tests of this directory: fakesnow patches the Snowflake connector for the session."""

import fakesnow
import pytest


@pytest.fixture(scope="session")
def fake_snowflake():
    with fakesnow.patch():
        yield
