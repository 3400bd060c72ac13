"""One module per ``ownscan`` subcommand (see :mod:`ownscan.core.cli`)."""
