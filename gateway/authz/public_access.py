"""The bucket's public access block (PublicAccessBlockConfiguration): stored, parsed, applied.

Stored in ``BucketInfo.public_access_block`` as four characters, one per flag ("1"/"0", in the
order of :data:`FLAGS`); empty bytes mean the bucket has no configuration (no flag set).
"""

from __future__ import annotations

from dataclasses import dataclass

from protos.metadata_pb2 import BucketInfo

FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@dataclass(frozen=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def encode(self) -> bytes:
        return "".join("1" if flag else "0" for flag in self.flags()).encode()

    def flags(self) -> tuple[bool, bool, bool, bool]:
        return (
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets,
        )

    @classmethod
    def decode(cls, stored: bytes) -> PublicAccessBlock:
        if not stored:
            return NO_BLOCK
        values = [character == ord("1") for character in stored]
        return cls(*values)


NO_BLOCK = PublicAccessBlock()


def block_config(bucket_info: BucketInfo) -> PublicAccessBlock:
    """The bucket's public access block; every flag off when it has none."""
    return PublicAccessBlock.decode(bucket_info.public_access_block)
