"""Business logic as plain functions: explicit arguments in, domain objects out; flush, never commit."""
