"""Models of the kernel's net/ipv4 directory."""
