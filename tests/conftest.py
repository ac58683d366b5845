# Every test fails if a server it talks to answers 5xx or logs a traceback (strata/testing/pytest_plugin.py).
pytest_plugins = ["strata.testing.pytest_plugin"]
