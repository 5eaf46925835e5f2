"""Built-in plugins, one folder each; loaded exactly like third-party ones."""
