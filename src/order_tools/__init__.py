"""Tools around the service: realistic fake orders for demos, tests and benchmarks."""
