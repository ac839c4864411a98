"""Neural networks in PyTorch: modules, batched inference, devices, numpy weights and safetensors checkpoints."""
