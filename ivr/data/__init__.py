"""Menu and prompt data files shipped with Hotline (TOML; admins may copy and edit them)."""
