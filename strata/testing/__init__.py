"""Test helpers for Strata and for users' own integration suites.

- ``strata.testing.etcd.EtcdProcess``: a real etcd on free 127.0.0.1 ports.
- ``strata.testing.embedded.EmbeddedThread``: the embedded server in a background thread.
- ``strata.testing.cluster.LocalCluster``: a real multi-process cluster.
"""
