"""LightningDataModules: the full graph (Team 1) and Cluster-GCN partitions (Team 2)."""
from zeta_rmt.data.base import DataConfigError, ZeroGraphDataModule
from zeta_rmt.data.cluster import ClusterDataModule, NormalizedClusterLoader
from zeta_rmt.data.full_graph import FullGraphDataModule
from zeta_rmt.data.partition import PartitionedClusterData

__all__ = ["ClusterDataModule", "DataConfigError", "FullGraphDataModule", "NormalizedClusterLoader",
           "PartitionedClusterData", "ZeroGraphDataModule"]
