"""A production-shaped Heat (MariaDB, RabbitMQ, Keystone, uWSGI, several engines)."""
