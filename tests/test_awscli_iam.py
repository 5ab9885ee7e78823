"""The aws CLI (v1, in-process) for IAM and STS: a role made with ``aws iam``, assumed with ``aws sts``.

The CLI decodes IAM's URL-encoded policy documents like boto3 does; ``assume-role`` is run with an IAM
user's access key (the accounts file's credentials are root users, which may not assume roles).
"""

from __future__ import annotations

import json

from awscli_inproc import Cli, isolate


def test_create_a_role_and_assume_it(clients, monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path, clients.n, "us-east-1")
    admin = Cli(clients.server.url)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": clients.account}, "Action": "sts:AssumeRole"}]}
    role = admin.call("iam", "create-role", "--role-name", "cli-role", "--assume-role-policy-document", trust)["Role"]
    assert role["AssumeRolePolicyDocument"] == trust
    admin.call("iam", "attach-role-policy", "--role-name", "cli-role", "--policy-arn",
               "arn:aws:iam::aws:policy/VPCLatticeReadOnlyAccess")
    admin.call("iam", "create-user", "--user-name", "cli-user")
    admin.call("iam", "attach-user-policy", "--user-name", "cli-user", "--policy-arn",
               "arn:aws:iam::aws:policy/AdministratorAccess")
    key = admin.call("iam", "create-access-key", "--user-name", "cli-user")["AccessKey"]
    admin.fails("NoSuchEntity", "iam", "get-role", "--role-name", "missing")
    admin.fails("AccessDenied", "sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "root")

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    user = Cli(clients.server.url)
    answer = user.call("sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "cli-session")
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{clients.account}:assumed-role/cli-role/cli-session"
    creds = answer["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])
    session = Cli(clients.server.url)
    assert session.call("sts", "get-caller-identity")["Arn"] == answer["AssumedRoleUser"]["Arn"]
    assert json.loads(json.dumps(session.call("vpc-lattice", "list-services")))["items"] == []
