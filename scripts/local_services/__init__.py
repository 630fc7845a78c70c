"""Local backing servers for order-service (scripts/services.sh): one module per kind of server,
the base they stand on (service), the machine (system), the command line (cli).

Python 3.11 standard library only: it runs before the project's virtualenv exists.
"""
