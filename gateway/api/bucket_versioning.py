"""PutBucketVersioning and GetBucketVersioning."""

from __future__ import annotations

from aiohttp import web

from gateway.api.common import owned_bucket, update_bucket_settings, xml_response
from gateway.api.config_body import read_small_body
from gateway.api.object_put import require_versions_kept
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.xml import Element, child_text, element, parse
from protos.metadata_pb2 import VERSIONING_ENABLED, VERSIONING_SUSPENDED, VERSIONING_UNSET

STATES = {"Enabled": VERSIONING_ENABLED, "Suspended": VERSIONING_SUSPENDED}
STATE_NAMES = {state: name for name, state in STATES.items()}
MFA_DELETE_VALUES = (None, "Enabled", "Disabled")


def parse_versioning_configuration(body: bytes) -> int:
    """The requested state; MfaDelete=Enabled is refused (MFA delete is not supported)."""
    if not body.strip():
        raise errors.MalformedXML()
    root = parse(body, "VersioningConfiguration")
    status = child_text(root, "Status")
    mfa_delete = child_text(root, "MfaDelete")
    if status not in STATES or mfa_delete not in MFA_DELETE_VALUES:
        raise errors.IllegalVersioningConfigurationException()
    if mfa_delete == "Enabled":
        raise errors.S3NotImplemented("MFA Delete is not supported.")
    return STATES[status]


async def put_bucket_versioning(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    state = parse_versioning_configuration(await read_small_body(ctx))
    if state == VERSIONING_ENABLED:
        await require_versions_kept(ctx, bucket.location or ctx.host_location())
    await update_bucket_settings(ctx, bucket, versioning=state)
    return web.Response(status=200)


async def get_bucket_versioning(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    # Never configured: an empty configuration, as AWS answers.
    status = STATE_NAMES.get(bucket.versioning) if bucket.versioning != VERSIONING_UNSET else None
    return xml_response(
        Element("VersioningConfiguration", None, [element("Status", status) if status else None])
    )
