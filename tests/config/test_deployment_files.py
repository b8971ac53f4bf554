"""The docker compose deployment's variables are all documented in .env.example."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def documented():
    example = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z0-9_]+)=", example, re.M))


def test_every_variable_docker_compose_reads_is_in_the_env_example():
    compose = (ROOT / "docker-compose.yml").read_text()
    read = set(re.findall(r"\$\{([A-Z0-9_]+)", compose))

    assert {"DOMAIN", "POSTGRES_PASSWORD", "HTTP_PORT"} <= read
    assert read - documented() == set()


def test_every_variable_the_container_scripts_read_is_in_the_env_example():
    sources = [
        ROOT / "docker" / "gunicorn.conf.py",
        ROOT / "accounts" / "management" / "commands" / "ensure_admin.py",
    ]
    read = set()
    for source in sources:
        read |= set(re.findall(r'os\.environ\.get\("([A-Z0-9_]+)"', source.read_text()))

    assert {"ADMIN_PASSWORD", "WEB_CONCURRENCY"} <= read
    assert read - documented() == set()
