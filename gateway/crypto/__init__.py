"""Encryption at rest: envelope encryption of object data and the key management behind it.

``envelope`` encrypts an object's bytes with a fresh data key in independently authenticated
chunks, so a ranged read decrypts only the chunks it needs; ``kms`` defines the key manager's
protocol (data keys wrapped by named master keys) and its errors; ``file_kms`` keeps master keys in
a directory. Nothing here speaks S3: the gateway maps these errors to S3's.
"""
