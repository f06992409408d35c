"""Docker does not run on the CI machines, so the compose file's wiring is checked by reading it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def variables_read_by_the_app() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "config").rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r'env(?:str|bool|int|list)\("([A-Z_]+)"', text))
        names |= set(re.findall(r'os\.environ(?:\.get)?[\(\[]"([A-Z_]+)"', text))
    return names


def expand(value: str) -> str:
    """Replace ${NAME:-default} with its default, as compose does when NAME is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_it_has_an_app_database_a_sandbox_database_and_the_web_app(compose):
    services = compose["services"]
    assert set(services) == {"db", "sandbox-db", "web", "janitor", "lab"}
    assert services["db"]["image"] == "postgres:16"
    assert services["sandbox-db"]["image"] == "postgres:16"
    assert "mem_limit" in services["sandbox-db"]
    assert "mem_limit" not in services["db"]
    # Learner SQL gets less CPU than the site when both want it (default weight 1024).
    assert services["sandbox-db"]["cpu_shares"] < 1024
    assert "cpu_shares" not in services["web"] and "cpu_shares" not in services["db"]


def test_every_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        assert service["healthcheck"]["test"], name


def test_a_janitor_sweeps_beside_gunicorn_with_the_web_apps_settings(compose):
    # gunicorn alone runs no janitor: expired sandboxes and sessions would pile up.
    services = compose["services"]
    janitor = services["janitor"]
    assert janitor["build"] == services["web"]["build"]
    assert janitor["environment"] == services["web"]["environment"]
    command = janitor["command"]
    assert command[:4] == ["python", "manage.py", "sandbox", "janitor"]
    assert int(command[command.index("--every") + 1]) <= 600
    heartbeat = command[command.index("--heartbeat") + 1]
    assert heartbeat in " ".join(janitor["healthcheck"]["test"])
    assert janitor["depends_on"] == {"web": {"condition": "service_healthy"}}
    assert "ports" not in janitor


def test_the_web_app_waits_for_healthy_databases(compose):
    depends = compose["services"]["web"]["depends_on"]
    assert depends == {
        "db": {"condition": "service_healthy"},
        "sandbox-db": {"condition": "service_healthy"},
    }


def test_the_database_urls_point_at_the_right_services_and_credentials(compose):
    services = compose["services"]
    env = services["web"]["environment"]
    app = urlparse(expand(env["DATABASE_URL"]))
    sandbox = urlparse(expand(env["SANDBOX_DATABASE_URL"]))
    assert (app.hostname, app.port) == ("db", 5432)
    assert (sandbox.hostname, sandbox.port) == ("sandbox-db", 5432)
    db_env = {k: expand(v) for k, v in services["db"]["environment"].items()}
    sandbox_env = {k: expand(v) for k, v in services["sandbox-db"]["environment"].items()}
    assert (app.username, app.password, app.path) == (
        db_env["POSTGRES_USER"],
        db_env["POSTGRES_PASSWORD"],
        "/" + db_env["POSTGRES_DB"],
    )
    assert (sandbox.username, sandbox.password, sandbox.path) == (
        sandbox_env["POSTGRES_USER"],
        sandbox_env["POSTGRES_PASSWORD"],
        "/" + sandbox_env["POSTGRES_DB"],
    )


def test_the_web_app_is_configured_only_with_variables_the_settings_read(compose):
    env = compose["services"]["web"]["environment"]
    unknown = set(env) - variables_read_by_the_app()
    assert not unknown, f"compose sets variables nothing reads: {sorted(unknown)}"
    assert env["DEBUG"] == "0"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_the_web_port_is_published_where_gunicorn_listens(compose):
    web = compose["services"]["web"]
    assert web["ports"] == ["8000:8000"]
    assert web["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"


def test_the_database_data_lives_in_volumes(compose):
    assert set(compose["volumes"]) == {"app-db", "sandbox-db", "lab-socket"}
    assert compose["services"]["db"]["volumes"] == ["app-db:/var/lib/postgresql/data"]
    assert compose["services"]["sandbox-db"]["volumes"] == ["sandbox-db:/var/lib/postgresql/data"]


def test_the_lab_worker_holds_no_app_secret_and_reaches_only_the_sandbox(compose):
    lab = compose["services"]["lab"]
    environment = lab.get("environment", {})
    for secret in ("SECRET_KEY", "DATABASE_URL", "SANDBOX_DATABASE_URL"):
        assert secret not in environment
    assert lab["networks"] == ["sandbox"]
    assert lab["read_only"] is True and lab["cap_drop"] == ["ALL"]
    # The web app talks to it through a socket on a shared volume.
    assert "lab-socket:/run/querylab-lab" in compose["services"]["web"]["volumes"]
