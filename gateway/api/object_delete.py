"""DeleteObject."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import owned_bucket
from gateway.context import RequestContext
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import DeleteObjectRequest


async def delete_object(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    version_id = ctx.query.get("versionId")
    try:
        removed = await ctx.services.metadata.delete_object(
            DeleteObjectRequest(
                bucket=bucket.name,
                key=ctx.key,
                version_id=version_id or "",
                has_version_id=version_id is not None,
            )
        )
    except StrataError as error:
        # S3 answers 204 for a key that does not exist.
        if error.reason not in (ErrorReason.NO_SUCH_KEY, ErrorReason.NO_SUCH_VERSION):
            raise
        return web.Response(status=204)
    response = web.Response(status=204)
    if version_id is not None:
        response.headers["x-amz-version-id"] = version_id
    if removed.removed.is_delete_marker:
        response.headers["x-amz-delete-marker"] = "true"
    return response
