"""k8s/nats/values.yaml gives the NATS servers exactly the users and permissions the code
defines (paymesh_cli.stack.nats_auth, which `paymesh dev` and the e2e tests run under), with
each password from the Secret the service's own pods read."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import yaml
from k8s_render import ROOT, pod_specs, render

from paymesh_cli.stack.nats import nats_server_binary
from paymesh_cli.stack.nats_auth import OPERATOR, SERVICE_RIGHTS, nats_config

VALUES = ROOT / "k8s" / "nats" / "values.yaml"


def password_variable(user: str) -> str:
    return f"{user.upper()}_NATS_PASSWORD"


def secret_name(user: str) -> str:
    return f"paymesh-nats-{user.replace('_', '-')}"


def expected_authorization() -> dict[str, object]:
    """nats_config() with each password a variable of the chart (`<< $NAME >>`)."""
    users = [OPERATOR, *SERVICE_RIGHTS]
    passwords = {user: f"<< ${password_variable(user)} >>" for user in users}
    return dict(json.loads(nats_config(passwords)))


def test_the_servers_users_and_permissions_are_those_of_service_rights() -> None:
    values = yaml.safe_load(VALUES.read_text())
    expected = expected_authorization()
    assert values["config"]["merge"] == expected, (
        "k8s/nats/values.yaml differs from SERVICE_RIGHTS; paste under config.merge:\n"
        + yaml.safe_dump(expected, sort_keys=False, width=100)
    )


def test_each_password_comes_from_the_documented_secret_the_service_reads() -> None:
    values = yaml.safe_load(VALUES.read_text())
    env = values["container"]["env"]
    documented = set(
        re.findall(r"^\| `(paymesh-[a-z0-9-]+)` \|", (ROOT / "k8s" / "README.md").read_text(), re.M)
    )
    for user in [OPERATOR, *SERVICE_RIGHTS]:
        ref = env[password_variable(user)]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": secret_name(user), "key": "password"}
        assert secret_name(user) in documented, f"{secret_name(user)} not in k8s/README.md"
    # Every service's pods log in as a user the servers know, with that user's Secret.
    for overlay in ("dev", "prod"):
        nats_clients = {
            name: template
            for name, template in pod_specs(render(overlay)).items()
            if template["metadata"]["labels"].get("paymesh-nats") == "true"
        }
        users = set()
        for name, template in nats_clients.items():
            refs = {
                e["name"]: e["valueFrom"]["secretKeyRef"]
                for e in template["spec"]["containers"][0]["env"]
                if "secretKeyRef" in e.get("valueFrom", {})
            }
            user = name.replace("-", "_")
            assert refs["NATS_USER"] == {"name": secret_name(user), "key": "user"}, name
            assert refs["NATS_PASSWORD"] == {"name": secret_name(user), "key": "password"}, name
            users.add(user)
        assert users == set(SERVICE_RIGHTS), overlay


def chart_config(merge: dict[str, object], store_dir: Path) -> str:
    """nats.conf as the chart writes it from `config.merge` (its nats.formatConfig: JSON, with
    every "<< X >>" string unquoted), with JetStream on `store_dir`."""
    conf = json.dumps({"port": 4222, "jetstream": {"store_dir": str(store_dir)}, **merge}, indent=2)
    return re.sub(r'"<<\s+(.*?)\s+>>"', r"\1", conf)


def test_nats_server_reads_the_config_with_the_passwords_from_its_environment(
    tmp_path: Path,
) -> None:
    values = yaml.safe_load(VALUES.read_text())
    conf = tmp_path / "nats.conf"
    conf.write_text(chart_config(values["config"]["merge"], tmp_path / "js"))
    passwords = {name: os.urandom(12).hex() for name in values["container"]["env"]}

    def check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(nats_server_binary()), "-t", "-c", str(conf)],
            env={"PATH": os.environ.get("PATH", ""), **env},
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert check(passwords).returncode == 0, check(passwords).stderr
    # A password variable the pod does not set: the server refuses to start.
    missing = check({k: v for k, v in passwords.items() if k != "PAYMENT_SVC_NATS_PASSWORD"})
    assert missing.returncode != 0 and "PAYMENT_SVC_NATS_PASSWORD" in missing.stderr
