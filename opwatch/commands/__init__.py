"""The opwatch subcommands, one module each; `opwatch.cli` registers them."""
