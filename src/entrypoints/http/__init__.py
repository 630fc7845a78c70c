"""The Starlette HTTP app: order lookups, the web page, health, metrics and admin."""
