"""Models of the kernel's kernel/bpf directory."""
