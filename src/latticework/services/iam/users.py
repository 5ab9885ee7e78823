"""IAM users and their access keys.

A user is an ``iam-user`` record (``records.iam``); ``GetUser`` without a name answers the caller
(an IAM user's key: that user; the accounts file's credentials: the account's root, as AWS answers
its root user). A user holds at most two access keys; ``UpdateAccessKey`` makes one ``Inactive``
(refused like an unknown key from then on) or ``Active`` again. A user with access keys, inline
policies or attached policies cannot be deleted (``DeleteConflict``), as in AWS
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteUser.html).
"""

from __future__ import annotations

from latticework.api.context import RequestContext
from latticework.records import iam
from latticework.services.iam import api_types as shapes
from latticework.services.iam import common as c
from latticework.store import NameTaken, Record


def _user_shape(record: Record, tags: bool = True) -> shapes.User:
    body = {k: v for k, v in record.body.items() if tags or k != "Tags"}
    if not body.get("Tags"):
        body.pop("Tags", None)
    return body  # type: ignore[return-value]


def _caller_user(ctx: RequestContext) -> shapes.User:
    """``GetUser`` without ``UserName``: the caller's own user (or the root user)."""
    identity = ctx.credential.identity
    if identity is not None and identity.type == "User":
        return _user_shape(c.require(ctx, iam.USER, identity.arn.rpartition("/")[2]))
    if identity is not None and identity.type == "AssumedRole":
        raise c.error("ValidationError", "Must specify userName when calling with non-User credentials")
    return {"UserId": ctx.account, "Arn": ctx.credential.principal_arn, "Path": "/",  # type: ignore[typeddict-item]
            "CreateDate": "2010-01-01T00:00:00.000Z"}


def _key_owner(ctx: RequestContext, name: str | None) -> Record:
    """The user named, or the calling IAM user when no name is given."""
    if name:
        return c.require(ctx, iam.USER, name)
    identity = ctx.credential.identity
    if identity is None or identity.type != "User":
        raise c.error("ValidationError", "Must specify userName when calling with non-User credentials")
    return c.require(ctx, iam.USER, identity.arn.rpartition("/")[2])


def _key(ctx: RequestContext, user: Record, key_id: str) -> Record:
    record = ctx.tx.get(iam.ACCESS_KEY, key_id)
    if record is None or record.parent != user.id:
        raise c.no_such_entity(f"The Access Key with id {key_id} cannot be found.")
    return record


class UserOps:
    def create_user(self, ctx: RequestContext, params: shapes.CreateUserRequest) -> shapes.CreateUserResponse:
        name, path = params["UserName"], c.path_of(params)
        user_id = c.unique_id("AIDA")
        body: dict = {"Path": path, "UserName": name, "UserId": user_id, "Arn": c.iam_arn(ctx.account, f"user{path}{name}"),
                "CreateDate": ctx.timestamp()}
        tags = c.clean_tags(params.get("Tags"), "User")
        if tags:
            body["Tags"] = tags
        record = Record(iam.USER, user_id, ctx.account, iam.GLOBAL, body, name=name.lower(), arn=body["Arn"],
                        internal={"Policies": {}, "Attached": []})
        try:
            ctx.tx.put(record)
        except NameTaken:
            raise c.error("EntityAlreadyExists", f"User with name {name} already exists.") from None
        return {"User": _user_shape(record)}

    def get_user(self, ctx: RequestContext, params: shapes.GetUserRequest) -> shapes.GetUserResponse:
        if not params.get("UserName"):
            return {"User": _caller_user(ctx)}
        return {"User": _user_shape(c.require(ctx, iam.USER, params["UserName"]))}

    def list_users(self, ctx: RequestContext, params: shapes.ListUsersRequest) -> shapes.ListUsersResponse:
        # ListUsers leaves tags out (https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListUsers.html).
        users = c.with_path_prefix(ctx.tx.list(iam.USER), params)
        return c.page([_user_shape(r, tags=False) for r in users], params, "Users")

    def delete_user(self, ctx: RequestContext, params: shapes.DeleteUserRequest) -> shapes.NoOutput:
        record = c.require(ctx, iam.USER, params["UserName"])
        if ctx.tx.list(iam.ACCESS_KEY, parent=record.id):
            raise c.error("DeleteConflict", "Cannot delete entity, must delete access keys first.")
        if c.inline_policies(record):
            raise c.error("DeleteConflict", "Cannot delete entity, must delete policies first.")
        if c.attached(record):
            raise c.error("DeleteConflict", "Cannot delete entity, must detach all policies first.")
        ctx.tx.delete(iam.USER, record.id)
        return {}

    # -- access keys ---------------------------------------------------------------------

    def create_access_key(self, ctx: RequestContext,
                          params: shapes.CreateAccessKeyRequest) -> shapes.CreateAccessKeyResponse:
        user = _key_owner(ctx, params.get("UserName"))
        if len(ctx.tx.list(iam.ACCESS_KEY, parent=user.id)) >= c.MAX_KEYS_PER_USER:
            raise c.error("LimitExceeded", f"Cannot exceed quota for AccessKeysPerUser: {c.MAX_KEYS_PER_USER}")
        key_id, secret = c.unique_id("AKIA", 20), c.secret_key()
        body = {"UserName": user.body["UserName"], "AccessKeyId": key_id, "Status": iam.ACTIVE,
                "CreateDate": ctx.timestamp()}
        ctx.tx.put(Record(iam.ACCESS_KEY, key_id, ctx.account, iam.GLOBAL, body, parent=user.id,
                          internal={"Secret": secret}))
        return {"AccessKey": {**body, "SecretAccessKey": secret}}  # type: ignore[typeddict-item]

    def list_access_keys(self, ctx: RequestContext,
                         params: shapes.ListAccessKeysRequest) -> shapes.ListAccessKeysResponse:
        user = _key_owner(ctx, params.get("UserName"))
        keys = [dict(r.body) for r in ctx.tx.list(iam.ACCESS_KEY, parent=user.id)]
        return c.page(keys, params, "AccessKeyMetadata")

    def update_access_key(self, ctx: RequestContext, params: shapes.UpdateAccessKeyRequest) -> shapes.NoOutput:
        record = _key(ctx, _key_owner(ctx, params.get("UserName")), params["AccessKeyId"])
        record.body["Status"] = params["Status"]
        ctx.tx.put(record)
        return {}

    def delete_access_key(self, ctx: RequestContext, params: shapes.DeleteAccessKeyRequest) -> shapes.NoOutput:
        record = _key(ctx, _key_owner(ctx, params.get("UserName")), params["AccessKeyId"])
        ctx.tx.delete(iam.ACCESS_KEY, record.id)
        return {}
