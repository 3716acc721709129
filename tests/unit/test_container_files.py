"""The Containerfile and the compose set-up say what docs/CONTAINER.md says (the image itself
is built and run in tests/image/)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy/container/compose.yaml"
NGINX = ROOT / "deploy/container/nginx.conf"


def test_containerfile_runs_unprivileged_from_the_wheel_with_a_health_check():
    text = (ROOT / "Containerfile").read_text()
    user = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.MULTILINE)
    assert "COPY dist/" in text and "npm" not in text.replace("(needs npm here)", "")
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "*" in ignored and "!dist/*.whl" in ignored  # the context is the wheels only


def test_compose_has_redis_an_agent_two_workers_and_nginx():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert set(services) == {"redis", "agent", "worker1", "worker2", "nginx"}
    agent = services["agent"]
    assert agent["command"][0] == "agent" and "--host-root" in agent["command"]
    assert {"/proc:/host/proc:ro", "/sys:/host/sys:ro"} <= set(agent["volumes"])
    nginx_ip = services["nginx"]["networks"]["hostpulse"]["ipv4_address"]
    for name in ("worker1", "worker2"):
        worker = services[name]
        assert worker["command"][:3] == ["serve", "--redis", "redis://redis:6379/0"]
        assert worker["environment"]["HOSTPULSE_TRUSTED_PROXIES"] == nginx_ip
        assert "credentials:/credentials" in worker["volumes"]  # one password for both
    assert services["nginx"]["ports"] == ["127.0.0.1:8080:80"]


def test_nginx_is_sticky_over_both_workers_and_passes_websockets():
    text = NGINX.read_text()
    upstream = re.search(r"upstream hostpulse \{(.*?)\}", text, re.DOTALL).group(1)
    assert "ip_hash;" in upstream
    assert re.findall(r"server (\S+);", upstream) == ["worker1:8080", "worker2:8080"]
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $hostpulse_connection_upgrade;" in text
