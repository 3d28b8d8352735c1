"""Models of the kernel's net directory."""
