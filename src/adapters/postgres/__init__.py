"""PostgreSQL: the source of truth (psycopg 3 with psycopg_pool)."""
