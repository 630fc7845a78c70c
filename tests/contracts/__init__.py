"""Contract suites: the tests every implementation of a port must pass.

A concrete test module imports the suite's tests and provides the fixture they use
(``repository`` for the repository contract).
"""
