"""Terraform's AWS provider against Latticework: apply, re-plan, destroy.

``tests/terraform/lattice_smoke`` declares every core VPC Lattice resource
(service network, service, target groups with and without a health check,
listener, listener rule, service-network association, auth and resource
policies). The test applies it against a Latticework server of its own, then
requires a second plan to show no changes (every field the provider sent
reads back as sent, defaults included), destroys it and checks through boto3
that nothing is left.

The provider comes from a local filesystem mirror, never from the network:
the test skips when ``terraform`` or the mirror is missing (on CI that skip
fails the run: see ``conftest.py`` and ``.ci/run``). The mirror defaults
to /opt/tf-plugins (``LATTICEWORK_TF_MIRROR`` changes it). Set ``TF_LOG=DEBUG``
in the environment to get the provider's requests in the failure output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

import boto3
import pytest


pytestmark = pytest.mark.terraform

CONFIG_DIR = Path(__file__).parent / "terraform" / "lattice_smoke"
MIRROR = Path(os.environ.get("LATTICEWORK_TF_MIRROR", "/opt/tf-plugins"))
PROVIDER = "registry.terraform.io/hashicorp/aws"
PROVIDER_VERSION = "5.100.0"
READY = re.compile(r"Latticework ready on (http://[\d.]+:\d+)")
# Seconds per terraform command; apply and destroy wait on statuses.
TIMEOUTS = {"init": 180, "apply": 420, "plan": 240, "destroy": 420}
OUTPUT_TAIL = 20000  # characters of terraform's output kept in a failure message
CLI_CONFIG = """\
provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["{provider}"]
  }}
  direct {{
    exclude = ["{provider}"]
  }}
}}
"""


def _missing_tools() -> str | None:
    """Why the test cannot run here, or None."""
    if shutil.which("terraform") is None:
        return "terraform is not installed (not on PATH)"
    provider_dir = MIRROR / PROVIDER / PROVIDER_VERSION / "linux_amd64"
    if not provider_dir.is_dir():
        return f"hashicorp/aws {PROVIDER_VERSION} is not in the provider mirror ({provider_dir} missing)"
    return None


# -- a dedicated server, its output kept in a log file ---------------------------

@dataclass
class LoggedServer:
    url: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-OUTPUT_TAIL:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def start_logged_server(base: Path, config: Path | None = None) -> LoggedServer:
    """``latticework up --port 0`` with the default account (test/test), or the accounts of ``config``, output in
    ``base/server.log``."""
    log = base / "server.log"
    cmd = [sys.executable, "-m", "latticework", "up", "--port", "0", "--state", str(base / "state.db")]
    cmd += ["--config", str(config)] if config is not None else []
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in process.stdout:  # blocks until the server prints; ends if it dies
        seen.append(line)
        found = READY.search(line)
        if found:
            _pump(process, log, seen)
            return LoggedServer(found.group(1), process, log)
    raise RuntimeError("latticework did not start:\n" + "".join(seen))


def _pump(process: subprocess.Popen, log: Path, seen: list[str]) -> None:
    """Copy the server's output to its log file so the pipe never fills up."""
    def copy():
        with log.open("w", buffering=1) as out:
            out.writelines(seen)
            for line in process.stdout:
                out.write(line)

    threading.Thread(target=copy, daemon=True).start()


@pytest.fixture
def tf_server(tmp_path):
    reason = _missing_tools()
    if reason:
        pytest.skip(reason)
    server = start_logged_server(tmp_path)
    yield server
    server.stop()


# -- running terraform -------------------------------------------------------------

@dataclass
class Terraform:
    workdir: Path
    env: dict
    server: LoggedServer

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """One terraform command, bounded in time; a timeout fails the test with the output so far."""
        cmd = ["terraform", *args]
        try:
            return subprocess.run(cmd, cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=TIMEOUTS[args[0]])
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
            pytest.fail(self.explain(f"`{' '.join(cmd)}` timed out after {exc.timeout}s", out))

    def expect(self, code: int, *args: str) -> subprocess.CompletedProcess:
        done = self.run(*args)
        if done.returncode != code:
            pytest.fail(self.explain(f"`terraform {' '.join(args)}` exited {done.returncode}, expected {code}",
                                     done.stdout + done.stderr))
        return done

    def explain(self, what: str, output: str) -> str:
        return (f"{what}\n--- terraform output (tail) ---\n{output[-OUTPUT_TAIL:]}"
                f"\n--- latticework log (tail) ---\n{self.server.log_text()}")


def terraform_env(base: Path, endpoint: str) -> dict:
    """The environment of every command: a private CLI config, no prompts, no checkpoint calls."""
    cli_config = base / "terraform.rc"
    cli_config.write_text(CLI_CONFIG.format(mirror=MIRROR, provider=PROVIDER))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1",
               TF_VAR_endpoint=endpoint, TF_DATA_DIR=str(base / "work" / ".terraform"))
    for passthrough in ("TF_LOG", "TF_LOG_PATH"):
        if passthrough in os.environ:
            env[passthrough] = os.environ[passthrough]
    return env


@pytest.fixture
def terraform_in(tf_server, tmp_path) -> Callable[[Path], Terraform]:
    """``terraform_in(config_dir)``: a Terraform runner on a private copy of ``config_dir``."""
    def make(config_dir: Path) -> Terraform:
        workdir = tmp_path / "work"
        shutil.copytree(config_dir, workdir, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
        return Terraform(workdir, terraform_env(tmp_path, tf_server.url), tf_server)

    return make


def apply_replan_destroy(tf: Terraform, leftovers: Callable[[str], dict]) -> None:
    """The lifecycle every configuration must survive: apply, a plan with no changes, destroy, nothing left."""
    tf.expect(0, "init", "-input=false", "-no-color")
    tf.expect(0, "apply", "-auto-approve", "-input=false", "-no-color")
    # 0 = no changes; 2 = a field read back differently from what was sent.
    tf.expect(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
    tf.expect(0, "destroy", "-auto-approve", "-input=false", "-no-color")
    left = leftovers(tf.server.url)
    assert not left, tf.explain(f"resources left after destroy: {left}", "")


def default_client(endpoint: str, service: str):
    """A client of the default account, which the configurations use."""
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def _leftovers(endpoint: str) -> dict:
    """Lattice resources still present in the default account."""
    client = default_client(endpoint, "vpc-lattice")
    found = {
        "service networks": client.list_service_networks()["items"],
        "services": client.list_services()["items"],
        "target groups": client.list_target_groups()["items"],
    }
    return {kind: [item["id"] for item in items] for kind, items in found.items() if items}


@pytest.mark.timeout(sum(TIMEOUTS.values()) + 120)
def test_apply_replan_destroy(terraform_in):
    apply_replan_destroy(terraform_in(CONFIG_DIR), _leftovers)
