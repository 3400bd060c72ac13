"""ownscan's built-in plugins. Each module is registered through the ``ownscan`` entry-point
group in pyproject.toml, exactly as a third-party plugin is."""
