"""The AWS credentials ``latticework exec --sign`` signs with.

- Neither ``--profile`` nor ``--role``: botocore's default chain, as any AWS
  SDK finds credentials (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/
  ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``~/.aws/credentials`` and
  ``~/.aws/config``, SSO, credential processes, container and instance
  metadata).
- ``--profile P``: the credentials of profile P in those files (a profile
  that itself assumes a role, ``role_arn`` with ``source_profile``, works
  as in the aws CLI, through AWS's STS).
- ``--role ARN``: the role assumed with STS ``AssumeRole`` at the
  Latticework server (``--endpoint``, the same API endpoint as every other
  call), signed with the credentials above (the base credentials), in the
  Region the proxy signs for by default. The session is named
  ``latticework-exec-<pid>``, lasts STS's default hour, and is assumed again
  ahead of its expiry (botocore's refreshing credentials: 15 minutes ahead
  when possible, 10 at the latest), so a long-running command keeps
  signing with valid credentials.

Credentials are checked before the command starts (``frozen``): missing ones
or a refused ``AssumeRole`` stop ``exec`` with its setup status, 125.
"""

from __future__ import annotations

import os
from typing import Callable

from botocore.credentials import (
    AssumeRoleCredentialFetcher, Credentials, DeferredRefreshableCredentials, ReadOnlyCredentials,
)
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import Session

SESSION_PREFIX = "latticework-exec"
NO_CREDENTIALS = ("no AWS credentials to sign with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                  "name a profile of ~/.aws/credentials with --profile (or AWS_PROFILE), or configure one "
                  "with `aws configure`")

# How a client of STS is made: botocore's ``Session.create_client`` arguments (service name, keys).
ClientCreator = Callable[..., BaseClient]


class CredentialsError(Exception):
    """No credentials to sign with, or the role could not be assumed."""


def caller_credentials(profile: str | None, role_arn: str | None, endpoint: str, region: str,
                       client_creator: ClientCreator | None = None) -> Credentials:
    """The credentials requests are signed with (refreshing ones for a role); see the module docstring."""
    session = Session(profile=profile)
    base = _base_credentials(session)
    if role_arn is None:
        return base
    creator = client_creator or sts_client_creator(session, endpoint, region)
    fetcher = AssumeRoleCredentialFetcher(creator, base, role_arn,
                                          extra_args={"RoleSessionName": session_name()})
    return DeferredRefreshableCredentials(fetcher.fetch_credentials, "assume-role")


def _base_credentials(session: Session) -> Credentials:
    try:
        found = session.get_credentials()
    except BotoCoreError as exc:  # an unknown profile, a malformed config file...
        raise CredentialsError(str(exc)) from None
    if found is None:
        raise CredentialsError(NO_CREDENTIALS)
    return found


def sts_client_creator(session: Session, endpoint: str, region: str) -> ClientCreator:
    """Clients of STS at the Latticework endpoint, in ``region``."""
    def create(service_name: str, aws_access_key_id: str | None = None, aws_secret_access_key: str | None = None,
               aws_session_token: str | None = None) -> BaseClient:
        return session.create_client(service_name, region_name=region, endpoint_url=endpoint,
                                     aws_access_key_id=aws_access_key_id, aws_secret_access_key=aws_secret_access_key,
                                     aws_session_token=aws_session_token)
    return create


def session_name() -> str:
    return f"{SESSION_PREFIX}-{os.getpid()}"


def frozen(credentials: Credentials) -> ReadOnlyCredentials:
    """The credentials as of now (assuming the role or refreshing when due); ``CredentialsError`` when
    they cannot be had."""
    try:
        return credentials.get_frozen_credentials()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CredentialsError(f"cannot assume the role: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise CredentialsError(str(exc)) from None
