"""Models of the kernel's kernel directory."""
