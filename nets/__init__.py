"""Neural networks in PyTorch: modules, batched inference and safetensors checkpoints (issue 4)."""
