"""One module per subcommand of the sdlscape command line (see sdlscape.cli)."""
