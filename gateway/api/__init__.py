"""S3 operation handlers, one module per family, and the one dispatch table.

Every handler has the same signature: ``async (RequestContext) -> web.StreamResponse``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.api import (
    acl,
    bucket,
    bucket_access,
    bucket_cors,
    bucket_encryption,
    multipart,
    object_copy,
    object_delete,
    object_get,
    object_list,
    object_put,
    tagging,
)
from gateway.api.bucket_config import (
    get_bucket_accelerate_configuration,
    get_bucket_logging,
    get_bucket_request_payment,
    put_bucket_logging,
    put_bucket_request_payment,
)
from gateway.api.bucket_lifecycle import (
    delete_bucket_lifecycle,
    get_bucket_lifecycle_configuration,
    put_bucket_lifecycle_configuration,
)
from gateway.api.bucket_policy import (
    delete_bucket_policy,
    get_bucket_policy,
    get_bucket_policy_status,
    put_bucket_policy,
)
from gateway.api.bucket_versioning import get_bucket_versioning, put_bucket_versioning
from gateway.api.bucket_website import delete_bucket_website, get_bucket_website, put_bucket_website
from gateway.api.object_attributes import get_object_attributes
from gateway.api.object_delete import delete_objects
from gateway.api.object_versions import list_object_versions
from gateway.api.post_object import post_object
from gateway.context import RequestContext

Handler = Callable[[RequestContext], Awaitable[web.StreamResponse]]

HANDLERS: dict[str, Handler] = {
    "ListBuckets": bucket.list_buckets,
    "CreateBucket": bucket.create_bucket,
    "HeadBucket": bucket.head_bucket,
    "DeleteBucket": bucket.delete_bucket,
    "GetBucketLocation": bucket.get_bucket_location,
    "GetBucketAcl": acl.get_bucket_acl,
    "GetObjectAcl": acl.get_object_acl,
    "PutBucketAcl": acl.put_bucket_acl,
    "PutObjectAcl": acl.put_object_acl,
    "PutBucketOwnershipControls": bucket_access.put_bucket_ownership_controls,
    "GetBucketOwnershipControls": bucket_access.get_bucket_ownership_controls,
    "DeleteBucketOwnershipControls": bucket_access.delete_bucket_ownership_controls,
    "PutPublicAccessBlock": bucket_access.put_public_access_block,
    "GetPublicAccessBlock": bucket_access.get_public_access_block,
    "DeletePublicAccessBlock": bucket_access.delete_public_access_block,
    # ---- CORS ----
    "PutBucketCors": bucket_cors.put_bucket_cors,
    "GetBucketCors": bucket_cors.get_bucket_cors,
    "DeleteBucketCors": bucket_cors.delete_bucket_cors,
    "Options": bucket_cors.options_object,
    "PutObject": object_put.put_object,
    "CopyObject": object_copy.copy_object,
    "PutObjectTagging": tagging.put_object_tagging,
    "GetObjectTagging": tagging.get_object_tagging,
    "DeleteObjectTagging": tagging.delete_object_tagging,
    "PutBucketTagging": tagging.put_bucket_tagging,
    "GetBucketTagging": tagging.get_bucket_tagging,
    "DeleteBucketTagging": tagging.delete_bucket_tagging,
    "PostObject": post_object,
    "CreateMultipartUpload": multipart.create_multipart_upload,
    "UploadPart": multipart.upload_part,
    "UploadPartCopy": multipart.upload_part_copy,
    "CompleteMultipartUpload": multipart.complete_multipart_upload,
    "AbortMultipartUpload": multipart.abort_multipart_upload,
    "ListParts": multipart.list_parts,
    "ListMultipartUploads": multipart.list_multipart_uploads,
    "GetObject": object_get.get_object,
    "HeadObject": object_get.head_object,
    "GetObjectAttributes": get_object_attributes,
    "DeleteObject": object_delete.delete_object,
    "DeleteObjects": delete_objects,
    "PutBucketVersioning": put_bucket_versioning,
    "GetBucketVersioning": get_bucket_versioning,
    "ListObjectVersions": list_object_versions,
    "ListObjects": object_list.list_objects,
    "ListObjectsV2": object_list.list_objects_v2,
    # ---- bucket policy ----
    "PutBucketPolicy": put_bucket_policy,
    "GetBucketPolicy": get_bucket_policy,
    "DeleteBucketPolicy": delete_bucket_policy,
    "GetBucketPolicyStatus": get_bucket_policy_status,
    # ---- bucket configuration: request payment, acceleration, logging ----
    "GetBucketRequestPayment": get_bucket_request_payment,
    "PutBucketRequestPayment": put_bucket_request_payment,
    "GetBucketAccelerateConfiguration": get_bucket_accelerate_configuration,
    "PutBucketLogging": put_bucket_logging,
    "GetBucketLogging": get_bucket_logging,
    # ---- encryption at rest: bucket default encryption ----
    "PutBucketEncryption": bucket_encryption.put_bucket_encryption,
    "GetBucketEncryption": bucket_encryption.get_bucket_encryption,
    "DeleteBucketEncryption": bucket_encryption.delete_bucket_encryption,
    # ---- static website configuration ----
    "PutBucketWebsite": put_bucket_website,
    "GetBucketWebsite": get_bucket_website,
    "DeleteBucketWebsite": delete_bucket_website,
    # ---- lifecycle (applied by metanode/lifecycle/worker.py) ----
    "PutBucketLifecycleConfiguration": put_bucket_lifecycle_configuration,
    "GetBucketLifecycleConfiguration": get_bucket_lifecycle_configuration,
    "DeleteBucketLifecycle": delete_bucket_lifecycle,
}
