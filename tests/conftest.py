import os

pytest_plugins = ["tests.servers.fixtures", "tests.servers.api_fixtures"]

# Rules measured from "now" (availability_date at most a year ahead) read FEEDSYNC_NOW:
# fix it for the whole suite, in process and in every CLI subprocess (they inherit the
# environment), so that no result depends on the day the tests run.
TEST_NOW = "2026-12-01T00:00:00Z"
os.environ.setdefault("FEEDSYNC_NOW", TEST_NOW)
