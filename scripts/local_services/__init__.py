"""Local backing servers for order-service (scripts/services.sh): one module per server.

Python 3.11 standard library only: it runs before the project's virtualenv exists.
"""
