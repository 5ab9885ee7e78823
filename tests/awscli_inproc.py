"""The aws CLI (v1) run in-process against a test server, and the environment that isolates it.

Starting ``aws`` as a process costs about a second per command; the CLI's own
driver runs the very same code in this process. A hook on the driver's
session records which operation each command sent, per service.
"""

from __future__ import annotations

import contextlib
import io
import json

from awscli.clidriver import create_clidriver

from conftest import access_key, secret_key


def _arg(value) -> str:
    """CLI argument text: structures and lists as JSON, scalars as themselves."""
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


class Cli:
    """``aws --endpoint-url <server> --output json <service> ...`` in this process."""

    def __init__(self, url: str):
        self.url = url
        self.driver = create_clidriver()
        self.driven: dict[str, set[str]] = {}
        self.driver.session.register("before-call", self._record)

    def _record(self, model, **_):
        self.driven.setdefault(model.service_model.endpoint_prefix, set()).add(model.name)

    def run(self, service: str, command: str, *args) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        argv = ["--endpoint-url", self.url, "--output", "json", service, command, *map(_arg, args)]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = self.driver.main(argv)
        return rc, out.getvalue(), err.getvalue()

    def call(self, service: str, command: str, *args) -> dict:
        rc, out, err = self.run(service, command, *args)
        assert rc == 0, f"aws {service} {command} {' '.join(map(_arg, args))} exited {rc}: {err}"
        return json.loads(out) if out.strip() else {}

    def ec2(self, command: str, *args) -> dict:
        return self.call("ec2", command, *args)

    def elbv2(self, command: str, *args) -> dict:
        return self.call("elbv2", command, *args)

    def fails(self, code: str, service: str, command: str, *args) -> str:
        """Run a command that must fail with AWS error ``code``; the CLI exits 254/255 and names it."""
        rc, out, err = self.run(service, command, *args)
        assert rc in (254, 255) and out == "", (rc, out, err)
        assert f"({code})" in err, err
        return err


def isolate(monkeypatch, tmp_path, n: int, region: str) -> None:
    """Authenticate as test account ``n``, blind to any user-level aws config, with no retries."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key(n))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key(n))
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
