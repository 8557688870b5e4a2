"""Controls: edge (AWS IoT and Greengrass device policies)."""
