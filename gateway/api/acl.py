"""GetBucketAcl and GetObjectAcl: the owner's FULL_CONTROL grant (ACL storage comes later)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import owned_bucket, xml_add, xml_document, xml_response
from gateway.context import RequestContext
from protos.metadata_pb2 import GetObjectRequest

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def _policy(owner_id: str, owner_name: str) -> web.Response:
    root = xml_document("AccessControlPolicy")
    owner = xml_add(root, "Owner")
    xml_add(owner, "ID", owner_id)
    xml_add(owner, "DisplayName", owner_name)
    grant = xml_add(xml_add(root, "AccessControlList"), "Grant")
    grantee = xml_add(grant, "Grantee")
    grantee.set("xmlns:xsi", XSI)
    grantee.set("xsi:type", "CanonicalUser")
    xml_add(grantee, "ID", owner_id)
    xml_add(grantee, "DisplayName", owner_name)
    xml_add(grant, "Permission", "FULL_CONTROL")
    return xml_response(root)


async def get_bucket_acl(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    return _policy(bucket.owner_id, bucket.owner_display_name)


async def get_object_acl(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    version_id = ctx.query.get("versionId")
    md = await ctx.services.metadata.get_object(
        GetObjectRequest(
            bucket=bucket.name,
            key=ctx.key,
            version_id=version_id or "",
            has_version_id=version_id is not None,
        )
    )
    return _policy(md.owner_id, md.owner_display_name)
