"""Controls: network (VPCs, security groups, flow logs)."""
