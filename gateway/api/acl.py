"""GetBucketAcl and GetObjectAcl: the owner's FULL_CONTROL grant (ACL storage comes later)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import owned_bucket, xml_response
from gateway.api.versioning import DeleteMarkerRule, find_object
from gateway.context import RequestContext
from gateway.s3.xml import Element, element

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _policy(owner_id: str, owner_name: str) -> web.Response:
    grantee = Element(
        "Grantee",
        None,
        [element("ID", owner_id), element("DisplayName", owner_name)],
        {"xmlns:xsi": XSI, "xsi:type": "CanonicalUser"},
    )
    return xml_response(
        element(
            "AccessControlPolicy",
            None,
            element("Owner", None, element("ID", owner_id), element("DisplayName", owner_name)),
            element(
                "AccessControlList",
                None,
                element("Grant", None, grantee, element("Permission", "FULL_CONTROL")),
            ),
        )
    )


async def get_bucket_acl(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    return _policy(bucket.owner_id, bucket.owner_display_name)


async def get_object_acl(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    md = await find_object(ctx, bucket, ctx.key, ctx.query.get("versionId"), DeleteMarkerRule.READ)
    response = _policy(md.owner_id, md.owner_display_name)
    if md.version_id:
        response.headers["x-amz-version-id"] = md.version_id
    return response
