"""Replication of one shard's metadata across its metanode replicas (DESIGN section 5).

- ``log``: the replicated log kept in each replica's RocksDB (``L<index>`` entries, the tip, trimming).
- ``membership``: the shard's replicas and in-sync replica set (ISR) in etcd.
- ``leader``: ships the leader's batches to followers and decides when they are committed.
- ``follower``: appends the leader's entries, installs snapshots.
- ``snapshot``: RocksDB checkpoints streamed over gRPC.
- ``node``: one metanode's replica of a shard: elections, and the switch between the two roles.
"""
